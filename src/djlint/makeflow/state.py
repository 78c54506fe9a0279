"""The state one make() run keeps, and how it records facts: what ``RunState`` holds is shared by every
part of the interpreter (``statements``, ``expressions``, ``lookups``, ``calls``, ``datajoint_api``,
``consumption``, ``key_consistency``), which ``interpreter.MakeRun`` combines. Facts are placed where a
table is *named* (``placed``/``fact_place``): a read in a helper names the call chain from make().

The parts call each other through ``self``; the methods one part offers the others are declared here
(for the type checker only), so each part reads as a whole without importing the others.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint.makeflow.facts import Location, MakeFacts, Read, Write
from djlint.makeflow.frames import (
    MAX_CALLS, Args, Consumed, ExternalCall, Frame, Kwargs, LocalFunction, Shared,
)
from djlint.makeflow.syntax import FunctionCode
from djlint.makeflow.values import Atom, Tab, Value, tables_in, unknowns_in

if TYPE_CHECKING:
    from djlint.model import ModuleInfo, Symbol

# a call already interpreted: (function node id, arguments bound to parameters, parameters left None)
CallSignature = tuple[int, tuple[tuple[str, Value], ...], frozenset[str]]


class RunState:
    """What one make() run of ``owner`` knows so far, and the facts it adds to ``facts``."""

    def __init__(self, shared: Shared, owner: str, facts: MakeFacts, key_attributes: frozenset[str]) -> None:
        self.shared = shared
        self.model = shared.model
        self.sources = shared.sources
        self.owner = owner
        self.facts = facts
        self.own_entity = frozenset(self.model.allowed.own_entity(owner))
        self.key_attributes = set(key_attributes)
        info = self.model.tables.get(owner)
        definition = getattr(info, "definition", None)
        # attributes below --- of the table itself are never in its make key
        self.secondary = frozenset(a.name for a in definition.attributes if not a.in_key) if definition \
            else frozenset()
        # one-shot iterables (consumption.py): ident -> (count, first location, last location); the ones read
        # a prefix at a time by design (``next``, ``islice``, a loop that may break), never reported; the
        # expression that made each, and its last consumer, for the message
        self.consumed: Consumed = {}
        self.manual: set[int] = set()
        self.names: dict[int, ast.AST] = {}
        self.consumers: dict[int, str] = {}
        # values of class-level, instance and module-level names, evaluated once (lookups.py, statements.py)
        self.class_values: dict[tuple[str, str], Value] = {}
        self.instance_values: dict[tuple[str, str], Value] = {}
        self.module_values: dict[tuple[str, str], Value] = {}
        # call following (calls.py): defaults per function, calls running and done, nested defs and lambdas
        self.default_values: dict[int, dict[str, Value]] = {}
        self.active: set[CallSignature] = set()
        self.done: dict[CallSignature, Value] = {}
        self.local_functions: list[LocalFunction] = []
        self.depth = 0
        self.budget = MAX_CALLS
        # where each place naming a table was first reached from: (call chain, call in make())
        self.origins: dict[Location, tuple[tuple[str, ...], Location | None]] = {}
        # inputs of this run, for the facts cache: modules interpreted, names resolved, unknowns noted
        self.touched: dict[str, str] = {}
        self.resolved: dict[tuple[str, str | None, str], Symbol | None] = {}  # (module, schema, name)
        self.notes: list[tuple[str, str, int, int]] = []

    def resolve(self, module: str, dotted: str, schema: str | None = None) -> Symbol | None:
        """``dotted`` in ``module``'s globals, or (``schema``) among the tables of its virtual module."""
        symbol = self.shared.resolve(module, dotted, schema)
        self.resolved[module, schema, dotted] = symbol
        return symbol

    def touch(self, module: ModuleInfo) -> None:
        self.touched[module.name] = getattr(module, "digest", "")

    def loc(self, frame: Frame, node: ast.AST) -> Location:
        return self.shared.location(frame.module, node)

    def named_at(self, frame: Frame, node: ast.AST) -> Location:
        """Where ``a.B`` names ``B``: the expression's start when it is on one line (the column convention
        of every diagnostic), the attribute name's own line and column when ``.B`` is on a later line."""
        end = getattr(node, "end_lineno", None)
        if isinstance(node, ast.Attribute) and end is not None and end != node.lineno \
                and node.end_col_offset is not None:
            column = node.end_col_offset - len(node.attr.encode()) + 1
            return self.placed(frame, Location(frame.module.display_path, end, column))
        return self.placed(frame, self.loc(frame, node))

    def placed(self, frame: Frame, where: Location) -> Location:
        """``where`` names a table: remember which call chain holds that line (the first one to reach it),
        so a read reported there names the function that contains it."""
        self.origins.setdefault(where, (frame.chain, frame.call))
        return where

    def fact_place(self, kind: type[Read] | type[Write], how: str, target: str, where: Location, frame: Frame,
                   node: ast.AST, alternatives: tuple[str, ...] = ()) -> None:
        """Add a Read or Write of ``target`` reported at ``where``, which may lie in another function than
        the one executing it (a table named in one helper, fetched in another). ``alternatives``: the
        tables a read's table is chosen among at run time."""
        here = self.loc(frame, node)
        chain, call = self.origins.get(where, (frame.chain, frame.call))
        executes = None if here == where else here
        if kind is Read:
            self.facts.add(Read(self.owner, where, how, target, chain, executes, call if chain else None,
                                alternatives))
        else:
            self.facts.add(Write(self.owner, where, how, target, chain, executes, call if chain else None))

    def read(self, value: Value, node: ast.AST, frame: Frame, how: str, *, through_seq: bool = True) -> None:
        for tab in tables_in(value, through_seq=through_seq):
            self.fact_place(Read, how, tab.table, tab.origin or self.loc(frame, node), frame, node,
                            tuple(sorted(tab.alt)) if tab.alt else ())
        self.note_unknowns(value)

    def note_unknowns(self, value: Value) -> None:
        """Unknown names used as tables: one informational DJ001 each (the model keeps the first place)."""
        for unknown in unknowns_in(value):
            if unknown.name.rsplit(".", 1)[-1][:1].isupper():
                note = getattr(self.model, "note_unknown", None)
                if note is not None:
                    where = unknown.location
                    note(unknown.name, where.path, where.line, where.column)
                    self.notes.append((unknown.name, where.path, where.line, where.column))

    def write(self, tab: Tab, node: ast.AST, frame: Frame, how: str) -> None:
        self.fact_place(Write, how, tab.table, tab.origin or self.loc(frame, node), frame, node)

    if TYPE_CHECKING:
        # What each part offers the others (defined in the module named), for the type checker.
        # statements.py
        def exec_block(self, statements: Iterable[ast.stmt], frame: Frame) -> bool: ...
        def bind(self, target: ast.AST, value: Value, frame: Frame, source: ast.AST | None = None) -> None: ...
        def element(self, value: Value) -> Value: ...
        def truth(self, value: Value, node: ast.AST, frame: Frame) -> None: ...
        def static_truth(self, node: ast.AST, frame: Frame) -> bool | None: ...
        def choice_reads(self, spans: list[tuple[int, int]], chosen: Value) -> None: ...

        # expressions.py
        def ev(self, node: ast.AST, frame: Frame, *, write_receiver: bool = False) -> Value: ...

        # lookups.py
        def global_value(self, frame: Frame, dotted: str, node: ast.AST) -> Value: ...
        def symbol_value(self, symbol: Symbol | None, where: Location | None) -> Value: ...
        def attribute(self, base: Value, name: str, node: ast.AST, frame: Frame) -> Value: ...
        def user_method(self, table: str, name: str) -> bool: ...

        # calls.py, and the dispatch of outside callables in interpreter.py
        def call(self, atom: Atom, node: ast.AST, positional: Args, keywords: Kwargs, starred: Args,
                 frame: Frame) -> Value: ...
        def invoke(self, module: ModuleInfo, function: FunctionCode, class_id: str | None,
                   self_value: Value | None, positional: Args, keywords: Kwargs, call_node: ast.AST,
                   caller: Frame, closure: dict[str, Value] | None = None) -> Value: ...
        def call_external(self, call: ExternalCall) -> Value: ...

        # datajoint_api.py
        def ev_BinOp(self, node: ast.BinOp, frame: Frame, *, write_receiver: bool = False) -> Value: ...
        def table_method(self, tab: Tab, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                         frame: Frame, through_class: bool = False) -> Value: ...
        def query_sql(self, value: Value, node: ast.AST, frame: Frame) -> None: ...

        # consumption.py
        def consume(self, value: Value, node: ast.AST, frame: Frame, how: str) -> None: ...
        def consumed_again_by_loop(self, before: Consumed, first_new: int) -> None: ...

        # key_consistency.py
        def check_rows(self, value: Value, tab: Tab, how: str, frame: Frame) -> None: ...
