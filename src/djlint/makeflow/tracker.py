"""Abstract interpretation of make() code: what each local name holds, and what the code reads,
writes, opens and consumes.

One ``MakeRun`` analyses one make() entry point (``make``, ``make_fetch``/``make_compute``/
``make_insert``, ``_make_tuples``) for one table, with ``self`` bound to that table; calls into
functions and methods of the repository are followed (arguments bound to parameters, a visited set
stops recursion). Statements run in order; both arms of a branch run and their states merge; loop
bodies run once. A name we know nothing about holds the empty value, which never raises an alarm.
The code is read as Python ``ast`` (see ``source.py`` for why not libcst).
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from operator import ge, gt, le, lt
from typing import Any, ClassVar

from djlint.makeflow import names as N
from djlint.makeflow.facts import (
    Connect,
    KeyMismatch,
    Location,
    MakeFacts,
    OneShotReuse,
    Read,
    UpstreamIndex,
    Write,
)
from djlint.makeflow.source import FunctionNode, Sources, is_generator
from djlint.makeflow.values import (
    NOTHING,
    Atom,
    Attr,
    Cls,
    Const,
    Ext,
    Field,
    Fn,
    Gen,
    Inst,
    Key,
    KeyField,
    LocalFn,
    Mod,
    Partial,
    Row,
    Seq,
    Super,
    Tab,
    Unk,
    Upstream,
    Value,
    carry_choice,
    choose,
    gens_in,
    tables_in,
    unknowns_in,
)

MAX_DEPTH = 12       # calls followed below make()
MAX_CALLS = 2000     # function bodies interpreted per make(): bounds pathological call graphs
_ids = itertools.count(1)
UNPLACED = Location("", 0, 0)   # origin of a table imported inside a function: placed where used

Args = list[tuple[Value, ast.AST]]
Kwargs = dict[str, tuple[Value, ast.AST]]
State = tuple[dict[str, Value], dict[int, tuple[int, Location, Location]]]


class Frame:
    """One activation: a function body being interpreted."""

    def __init__(self, module: Any, function: str, class_id: str | None, env: dict[str, Value],
                 entry: bool, chain: tuple[str, ...] = (), call: Location | None = None) -> None:
        self.module = module            # ModuleInfo
        self.function = function        # "module.qualname", for messages
        self.class_id = class_id        # class defining the function (for super())
        self.env = env
        self.entry = entry              # True for the make() body itself
        self.chain = chain              # the functions called from make() down to this one
        self.call = call                # the call in make()'s own body that leads here
        self.returns: list[Value] = []
        self.yields: list[Value] = []
        self.exits: list[dict[int, tuple[int, Location, Location]]] = []   # consumption at each return
        self.node: Any = None               # the function node (for the parameters it never rebinds)
        self.constants: frozenset[str] | None = None    # those parameters, computed when first asked
        # parameters holding their ``None`` default (defaults of None are no value, see ``MakeRun.defaults``)
        self.none_defaults: frozenset[str] = frozenset()

    def inner(self) -> Frame:
        """A comprehension's scope: the names of this one, plus its targets."""
        frame = Frame(self.module, self.function, self.class_id, dict(self.env), self.entry, self.chain, self.call)
        frame.node, frame.constants, frame.none_defaults = self.node, self.constants, self.none_defaults
        return frame


class Shared:
    """Per-model caches shared by every run: sources, resolved symbols, generator-ness."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.sources = Sources(model)
        self._symbols: dict[tuple[str, str], Any] = {}
        self._generator: dict[int, bool] = {}
        self._rebound: dict[int, frozenset[str]] = {}
        self._none: dict[int, frozenset[str]] = {}
        self._linking: dict[str, str] | None = None

    @staticmethod
    def location(module: Any, node: ast.AST) -> Location:
        return Location(module.display_path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)

    def resolve(self, module: str, dotted: str) -> Any:
        """``dotted`` in ``module``'s global scope; ``module`` may be "name\0schema" for an attribute
        of a virtual module (``dj.create_virtual_module``)."""
        key = (module, dotted)
        if key not in self._symbols:
            try:
                if "\0" in module:
                    from djlint.model import Symbol

                    name, _, schema = module.partition("\0")
                    self._symbols[key] = self.model.attribute(Symbol("module", name, schema=schema), dotted)
                else:
                    self._symbols[key] = self.model.resolve(module, dotted)
            except Exception:  # noqa: BLE001 - a resolution bug must not stop the analysis
                self._symbols[key] = None
        return self._symbols[key]

    def linked_module(self, module: str, name: str) -> str | None:
        """DataJoint Elements: ``element.activate(..., linking_module=__name__)`` stores the workflow
        module in the element's ``_linking_module`` global; ``_linking_module.helper(key)`` calls into it."""
        if "linking_module" not in name:
            return None
        if self._linking is None:
            self._linking = self._find_linking()
        return self._linking.get(module)

    def _find_linking(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for caller, info in self.model.modules.items():
            if "linking_module" not in info.source:
                continue
            tree = self.sources.tree(info)
            if tree is None:
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                argument = next((k.value for k in node.keywords if k.arg == "linking_module"), None)
                if argument is None:
                    continue
                element = self._callee_module(caller, node.func)
                linked = self._module_named_by(caller, argument)
                if element is not None and linked is not None and element != linked:
                    found.setdefault(element, linked)
        return found

    def _callee_module(self, caller: str, func: ast.AST) -> str | None:
        if isinstance(func, ast.Attribute):
            symbol = self.resolve(caller, _dotted(func.value) or "")
            return symbol.target if symbol is not None and symbol.kind == "module" else None
        if isinstance(func, ast.Name):
            symbol = self.resolve(caller, func.id)
            return symbol.module if symbol is not None and symbol.kind == "function" else None
        return None

    def _module_named_by(self, caller: str, argument: ast.AST) -> str | None:
        if isinstance(argument, ast.Name) and argument.id == "__name__":
            return caller
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            return argument.value if argument.value in self.model.modules else None
        dotted = _dotted(argument)
        symbol = self.resolve(caller, dotted) if dotted else None
        return symbol.target if symbol is not None and symbol.kind == "module" else None

    def linking_map(self) -> dict[str, str]:
        if self._linking is None:
            self._linking = self._find_linking()
        return self._linking

    def none_defaults(self, function: Any) -> frozenset[str]:
        """Parameters whose default is the literal ``None``."""
        cached = self._none.get(id(function))
        if cached is None:
            cached = _none_default_params(function)
            self._none[id(function)] = cached
        return cached

    def rebound(self, function: Any) -> frozenset[str]:
        """Names the function body (nested scopes included) assigns, deletes or declares global."""
        cached = self._rebound.get(id(function))
        if cached is None:
            cached = _rebound_names(function)
            self._rebound[id(function)] = cached
        return cached

    def is_generator(self, function: ast.AST) -> bool:
        cached = self._generator.get(id(function))
        if cached is None:
            cached = is_generator(function)
            self._generator[id(function)] = cached
        return cached


def _literal(node: ast.AST) -> Const | None:
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, type(...))):
        return Const(node.value, repr(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand)
        if inner is not None and isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
            return Const(-inner.value, repr(-inner.value))
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return "?"


def _short(node: ast.AST) -> str:
    text = _text(node)
    return text if len(text) < 60 and "\n" not in text else "the iterable"


def _breaks(body: list[ast.stmt]) -> bool:
    """A ``break`` of this loop (not of a nested loop) in its body."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While, *FunctionNode, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


_NOT_IN_DEFAULTS = (ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                    ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await)


def _decorated(function: ast.AST, *names: str) -> bool:
    return any((_dotted(d) or "").rsplit(".", 1)[-1] in names for d in getattr(function, "decorator_list", []))


def _binds_receiver(function: Any, through_class: bool, given: int | None = None) -> bool:
    """Whether calling ``receiver.f(...)`` passes the receiver as f's first parameter. A function stored in
    a class without ``self``/``cls`` (``def helper(key)``) and called through the class
    (``Table.helper(key)``) is a plain function: ``key`` is the first argument, not the table. Through a
    name that may hold the class (``table = Camera``), ``given`` positional arguments that fill every
    parameter without a default tell the same."""
    if getattr(function, "decorator_list", None):
        if _decorated(function, "staticmethod"):
            return False
        if _decorated(function, "classmethod"):
            return True
    params = [*function.args.posonlyargs, *function.args.args]
    if not params or params[0].arg in ("self", "cls"):
        return bool(params)
    if through_class:
        return False
    required = len(params) - len(function.args.defaults)
    return given is None or given < required


def _class_reference(node: ast.AST) -> bool:
    """``Table``, ``module.Table``, ``self.Part``, ``cls``, ``type(self)``, ``self.__class__``: an expression
    naming a class rather than an instance (by Python's naming convention for the names)."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "type"
    if isinstance(node, ast.Attribute):
        return node.attr == "__class__" or node.attr[:1].isupper()
    if isinstance(node, ast.Name):
        return node.id == "cls" or node.id[:1].isupper()
    return False


def _rebound_names(function: Any) -> frozenset[str]:
    names: set[str] = set()
    body = function.body if isinstance(function.body, list) else [function.body]
    for node in itertools.chain.from_iterable(ast.walk(statement) for statement in body):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (*FunctionNode, ast.ClassDef, ast.ExceptHandler)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif type(node).__name__ in ("MatchAs", "MatchStar", "MatchMapping"):
            name = getattr(node, "name", None) or getattr(node, "rest", None)
            if name:
                names.add(name)
    return frozenset(names)


def _none_default_params(function: Any) -> frozenset[str]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
    pairs += [(p, d) for p, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
    return frozenset(p.arg for p, d in pairs if isinstance(d, ast.Constant) and d.value is None)


_SINGLETONS = (None, True, False)


_ORDER = {ast.Lt: lt, ast.LtE: le, ast.Gt: gt, ast.GtE: ge}


def _compare(op: ast.cmpop, left: object, right: object) -> bool | None:
    """``left op right`` for two literal values; None when Python would not decide it the same way."""
    if isinstance(op, ast.Eq):
        return left == right
    if isinstance(op, ast.NotEq):
        return left != right
    if isinstance(op, (ast.Is, ast.IsNot)):
        if not any(left is s or right is s for s in _SINGLETONS):
            return None
        return (left is right) == isinstance(op, ast.Is)
    if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, tuple):
        return (left in right) == isinstance(op, ast.In)
    order = _ORDER.get(type(op))
    if order is not None:
        try:
            return bool(order(left, right))
        except TypeError:   # None < 1, "a" < 1
            return None
    return None


class MakeRun:
    """Analyse one make() entry point of ``owner``, adding facts to ``facts``."""

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
        self.secondary = frozenset(a.name for a in definition.attributes if not a.in_key) if definition else frozenset()
        # one-shot consumption: ident -> (count, first location, last location)
        self.consumed: dict[int, tuple[int, Location, Location]] = {}
        self.manual: set[int] = set()
        self.names: dict[int, ast.AST] = {}
        self.consumers: dict[int, str] = {}
        self.class_values: dict[tuple[str, str], Value] = {}
        self.instance_values: dict[tuple[str, str], Value] = {}
        self.module_values: dict[tuple[str, str], Value] = {}
        self.default_values: dict[int, dict[str, Value]] = {}
        self.active: set[Any] = set()
        self.done: dict[Any, Value] = {}
        self.local_functions: list[tuple[Any, Any, dict[str, Value], str | None]] = []
        self.depth = 0
        self.budget = MAX_CALLS
        # inputs of this run, for the facts cache: modules interpreted, names resolved, unknowns noted
        self.origins: dict[Location, tuple[tuple[str, ...], Location | None]] = {}
        self.touched: dict[str, str] = {}
        self.resolved: dict[tuple[str, str], Any] = {}
        self.notes: list[tuple[str, str, int, int]] = []

    def resolve(self, module: str, dotted: str) -> Any:
        symbol = self.shared.resolve(module, dotted)
        self.resolved[module, dotted] = symbol
        return symbol

    def touch(self, module: Any) -> None:
        self.touched[module.name] = getattr(module, "digest", "")

    # ------------------------------------------------------------------ entry
    def run_entry(self, module: Any, function: ast.AST, class_id: str, qualname: str) -> None:
        self_value = frozenset({Tab(self.owner, None)})
        params = self._positional_params(function)
        env: dict[str, Value] = {}
        if params:
            env[params[0].arg] = self_value
        if len(params) > 1:
            env[params[1].arg] = frozenset({Key()})
        frame = Frame(module, qualname, class_id, env, entry=True)
        frame.node = function
        self.touch(module)
        self.exec_block(function.body, frame)

    # ------------------------------------------------------------------ reporting
    def loc(self, frame: Frame, node: ast.AST) -> Location:
        return self.shared.location(frame.module, node)

    def named_at(self, frame: Frame, node: ast.AST) -> Location:
        """Where ``a.B`` names ``B``: the expression's start when it is on one line (the column convention
        of every diagnostic), the attribute name's own line and column when ``.B`` is on a later line."""
        end = getattr(node, "end_lineno", None)
        if isinstance(node, ast.Attribute) and end is not None and end != node.lineno:
            column = node.end_col_offset - len(node.attr.encode()) + 1
            return self.placed(frame, Location(frame.module.display_path, end, column))
        return self.placed(frame, self.loc(frame, node))

    def placed(self, frame: Frame, where: Location) -> Location:
        """``where`` names a table: remember which call chain holds that line (the first one to reach it),
        so a read reported there names the function that contains it."""
        self.origins.setdefault(where, (frame.chain, frame.call))
        return where

    def fact_place(self, kind: type, how: str, target: str, where: Location, frame: Frame,
                   node: ast.AST, alternatives: tuple[str, ...] = ()) -> None:
        """Add a Read or Write of ``target`` reported at ``where``, which may lie in another function than
        the one executing it (a table named in one helper, fetched in another). ``alternatives``: the
        tables a read's table is chosen among at run time."""
        here = self.loc(frame, node)
        chain, call = self.origins.get(where, (frame.chain, frame.call))
        fact = kind(self.owner, where, how, target, chain, None if here == where else here, call if chain else None)
        self.facts.add(dataclasses.replace(fact, alternatives=alternatives) if alternatives else fact)

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

    def consume(self, value: Value, node: ast.AST, frame: Frame, how: str) -> None:
        """A one-shot iterable in ``value`` is iterated to the end here."""
        for gen in gens_in(value):
            if gen.ident in self.manual:
                continue
            here = self.loc(frame, node)
            self.names.setdefault(gen.ident, node)
            self.consumers[gen.ident] = how
            seen = self.consumed.get(gen.ident)
            if seen is None:
                self.consumed[gen.ident] = (1, here, here)
            else:
                count, first, _ = seen
                self.consumed[gen.ident] = (count + 1, first, here)
                if count == 1:
                    self.facts.add(OneShotReuse(self.owner, here, how, _short(node), first))

    # ------------------------------------------------------------------ statements
    def exec_block(self, statements: Iterable[ast.stmt], frame: Frame) -> bool:
        """Run statements in order; False once a return/raise/continue/break ends the path."""
        for statement in statements:
            if not self.exec_stmt(statement, frame):
                return False
        return True

    def _snapshot(self, frame: Frame) -> State:
        return dict(frame.env), dict(self.consumed)

    def _restore(self, frame: Frame, state: State) -> None:
        frame.env = dict(state[0])
        self.consumed = dict(state[1])

    def _merge(self, frame: Frame, states: list[State]) -> None:
        if not states:
            return
        env: dict[str, Value] = {}
        consumed: dict[int, tuple[int, Location, Location]] = {}
        arms: dict[str, list[Value]] = {}
        for names, counts in states:
            for name, value in names.items():
                arms.setdefault(name, []).append(value)
            for ident, entry in counts.items():
                if ident not in consumed or consumed[ident][0] < entry[0]:
                    consumed[ident] = entry
        for name, values in arms.items():
            first = values[0]
            # a name the arms bind to different tables or modules holds one of them (``choose``)
            env[name] = first if all(v is first or v == first for v in values) else choose(values)
        frame.env = env
        self.consumed = consumed

    def _branches(self, frame: Frame, blocks: list[Sequence[ast.stmt]], fallthrough: bool) -> bool:
        """Run alternative blocks from the same state; merge the states of the arms that continue."""
        start = self._snapshot(frame)
        states = []
        spans = []
        if fallthrough:
            states.append(start)
        for block in blocks:
            self._restore(frame, start)
            mark = len(self.facts.reads)
            if self.exec_block(block, frame):
                states.append(self._snapshot(frame))
            spans.append((mark, len(self.facts.reads)))
        if not states:
            self._restore(frame, start)
            return False
        self._merge(frame, states)
        if any(a != b for a, b in spans):
            before = start[0]
            chosen = [v for name, v in frame.env.items() if before.get(name) is not v and before.get(name) != v]
            self._choice_reads(spans, frozenset().union(*chosen) if chosen else NOTHING)
        return True

    def _choice_reads(self, spans: list[tuple[int, int]], chosen: Value) -> None:
        """The reads made while building one alternative of a run-time choice (``q = A & key`` in one arm,
        ``q = B & key`` in the other; ``(A & key) if c else (B & key)``) are reads of that alternative:
        they carry the choice's tables, like the later reads of the chosen value."""
        alternatives = {(t.table, t.origin): t.alt for t in tables_in(chosen, through_seq=False)
                        if t.alt and t.origin is not None}
        if not alternatives:
            return
        reads = self.facts.reads
        for start, end in spans:
            for index in range(start, end):
                read = reads[index]
                alt = alternatives.get((read.target, read.location))
                if alt is not None and not read.alternatives:
                    reads[index] = dataclasses.replace(read, alternatives=tuple(sorted(alt)))

    def _loop(self, statement: ast.For | ast.AsyncFor | ast.While, frame: Frame) -> None:
        """Run the body once (merged with skipping it). A one-shot iterable created before the loop
        and consumed on the body's straight path is consumed again by the next iteration."""
        start = self._snapshot(frame)
        first_new = next(_ids)
        completed = self.exec_block(statement.body, frame)
        if completed:
            for ident, (count, first, last) in list(self.consumed.items()):
                before = start[1].get(ident, (0, first, first))[0]
                if ident < first_new and before == 0 and count == 1 and ident not in self.manual:
                    self.consumed[ident] = (2, first, last)
                    named = self.names.get(ident)
                    self.facts.add(OneShotReuse(self.owner, last, self.consumers.get(ident, "loop"),
                                                _short(named) if named is not None else "the iterable", first))
        states = [start, self._snapshot(frame)] if completed else [start]
        if statement.orelse:
            self._restore(frame, states[-1])
            if self.exec_block(statement.orelse, frame):
                states.append(self._snapshot(frame))
        self._merge(frame, states)

    def exec_stmt(self, statement: ast.stmt, frame: Frame) -> bool:
        method = getattr(self, "st_" + type(statement).__name__, None)
        if method is None:
            return True
        return method(statement, frame)

    def st_If(self, statement: ast.If, frame: Frame) -> bool:
        self.truth(self.ev(statement.test, frame), statement.test, frame)
        known = self.static_truth(statement.test, frame)
        if known is not None:
            # the test is fixed for this call (``if not period:`` with ``period=30`` passed or defaulted):
            # the other arm cannot run, so nothing in it is read or consumed
            return self.exec_block(statement.body if known else statement.orelse, frame)
        blocks = [statement.body]
        if statement.orelse:
            blocks.append(statement.orelse)
        return self._branches(frame, blocks, fallthrough=not statement.orelse)

    def st_For(self, statement: ast.For, frame: Frame) -> bool:
        iterable = self.ev(statement.iter, frame)
        self.read(iterable, statement.iter, frame, "iteration", through_seq=False)
        if _breaks(statement.body):
            # a loop that may stop early reads a prefix (skipping a header): what follows reads the rest
            self.manual.update(g.ident for g in gens_in(iterable))
        self.consume(iterable, statement.iter, frame, "for loop")
        self.bind(statement.target, self.element(iterable), frame)
        self._loop(statement, frame)
        return True

    st_AsyncFor = st_For

    def st_While(self, statement: ast.While, frame: Frame) -> bool:
        self.truth(self.ev(statement.test, frame), statement.test, frame)
        self._loop(statement, frame)
        return True

    def st_Try(self, statement: ast.Try, frame: Frame) -> bool:
        # handlers run from the names bound before the try body (the body may have failed anywhere),
        # the else-block after it; both outcomes merge. An iterable the body consumed counts as consumed
        # in the handlers: the usual failure is the consuming call itself (an insert that hit a duplicate
        # has drained its generator, so a retry in ``except`` inserts nothing).
        before = self._snapshot(frame)
        completed = self.exec_block(statement.body, frame)
        drained = dict(self.consumed)
        if completed and statement.orelse:
            completed = self.exec_block(statement.orelse, frame)
        states = [self._snapshot(frame)] if completed else []
        for handler in statement.handlers:
            self._restore(frame, (before[0], drained))
            if handler.type is not None:
                self.ev(handler.type, frame)
            if handler.name:
                frame.env[handler.name] = NOTHING
            if self.exec_block(handler.body, frame):
                states.append(self._snapshot(frame))
        if states:
            self._merge(frame, states)
        else:
            self._restore(frame, before)
        if statement.finalbody:
            self.exec_block(statement.finalbody, frame)
        return bool(states)

    st_TryStar = st_Try

    def st_With(self, statement: ast.With, frame: Frame) -> bool:
        for item in statement.items:
            value = self.ev(item.context_expr, frame)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, value, frame)
        return self.exec_block(statement.body, frame)

    st_AsyncWith = st_With

    def st_FunctionDef(self, statement: ast.FunctionDef, frame: Frame) -> bool:
        index = len(self.local_functions)
        self.local_functions.append((statement, frame.module, frame.env, frame.class_id))
        frame.env[statement.name] = frozenset({LocalFn(index)})
        return True

    st_AsyncFunctionDef = st_FunctionDef

    def st_ClassDef(self, statement: ast.ClassDef, frame: Frame) -> bool:
        frame.env[statement.name] = NOTHING
        return True

    def st_Match(self, statement: Any, frame: Frame) -> bool:
        self.ev(statement.subject, frame)
        self._branches(frame, [case.body for case in statement.cases], fallthrough=True)
        return True

    def st_Expr(self, statement: ast.Expr, frame: Frame) -> bool:
        self.ev(statement.value, frame)
        return True

    def st_Assign(self, statement: ast.Assign, frame: Frame) -> bool:
        value = self.ev(statement.value, frame)
        for target in statement.targets:
            self.bind(target, value, frame, statement.value)
        return True

    def st_AnnAssign(self, statement: ast.AnnAssign, frame: Frame) -> bool:
        if statement.value is not None:
            self.bind(statement.target, self.ev(statement.value, frame), frame, statement.value)
        return True

    def st_AugAssign(self, statement: ast.AugAssign, frame: Frame) -> bool:
        value = self.ev(statement.value, frame)
        if isinstance(statement.target, ast.Name):
            name = statement.target.id
            frame.env[name] = frame.env.get(name, NOTHING) | frozenset(
                a for a in value if isinstance(a, (Seq, Row)))
        return True

    def st_Return(self, statement: ast.Return, frame: Frame) -> bool:
        if statement.value is not None:
            frame.returns.append(self.ev(statement.value, frame))
        frame.exits.append(dict(self.consumed))
        return False

    def st_Raise(self, statement: ast.Raise, frame: Frame) -> bool:
        if statement.exc is not None:
            self.ev(statement.exc, frame)
        return False

    def st_Continue(self, statement: ast.stmt, frame: Frame) -> bool:
        return False

    st_Break = st_Continue

    def st_Assert(self, statement: ast.Assert, frame: Frame) -> bool:
        self.truth(self.ev(statement.test, frame), statement.test, frame)
        return True

    def st_Import(self, statement: ast.Import, frame: Frame) -> bool:
        for alias in statement.names:
            if alias.asname:
                frame.env[alias.asname] = self._module_value(alias.name)
            else:
                root = alias.name.split(".")[0]
                frame.env[root] = self._module_value(root)
        return True

    def _module_value(self, dotted: str) -> Value:
        if dotted in self.model.modules:
            return frozenset({Mod(dotted)})
        return frozenset({Ext(dotted)})

    def st_ImportFrom(self, statement: ast.ImportFrom, frame: Frame) -> bool:
        level = statement.level or 0
        source = statement.module or ""
        absolute = source
        if level:
            try:
                absolute = self.model._absolute(frame.module.name, level, source)
            except Exception:  # noqa: BLE001
                absolute = source
        for alias in statement.names:
            if alias.name == "*":
                continue
            name = alias.name
            value: Value = NOTHING
            if absolute in self.model.modules:
                value = self._symbol_value(self.resolve(absolute, name), UNPLACED)
                if not value and f"{absolute}.{name}" in self.model.modules:
                    value = frozenset({Mod(f"{absolute}.{name}")})
            elif f"{absolute}.{name}" in self.model.modules:
                value = frozenset({Mod(f"{absolute}.{name}")})
            elif not level:
                value = frozenset({Ext(f"{absolute}.{name}")})
            frame.env[alias.asname or name] = value
        return True

    def bind(self, target: ast.AST, value: Value, frame: Frame, source: ast.AST | None = None) -> None:
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            element = self.element(value)
            for item in target.elts:
                self.bind(item, element, frame)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, NOTHING, frame)
        elif isinstance(target, ast.Attribute):
            # self.source = Table (in __init__ or make): later ``self.source.fetch()`` reads Table
            kept = frozenset(a for a in value if isinstance(a, (Tab, Mod, Cls, Inst, Seq, Row, Const)))
            for owner in self.ev(target.value, frame):
                holder = owner.table if isinstance(owner, Tab) else owner.class_id if isinstance(
                    owner, Inst) else None
                if holder is not None and kept:
                    slot = (holder, target.attr)
                    self.instance_values[slot] = self.instance_values.get(slot, NOTHING) | kept
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            # row['attr'] = v  (also key['attr'] = v: the key dict itself is changed)
            name = target.value.id
            current = frame.env.get(name)
            literal = _literal(target.slice)
            field_name = literal.value if literal is not None and isinstance(literal.value, str) else None
            if not current or field_name is None:
                return
            field = Field(field_name, value, source if source is not None else target, self.loc(frame, target))
            changed = set()
            for atom in current:
                if isinstance(atom, Row):
                    changed.add(atom.with_field(field))
                elif isinstance(atom, Key):
                    changed.add(Row((field,), True, False))
                else:
                    changed.add(atom)
            frame.env[name] = frozenset(changed)

    def element(self, value: Value) -> Value:
        """What iterating ``value`` yields, when known (items of literal lists, of generators)."""
        items: set[Atom] = set()
        for atom in value:
            if isinstance(atom, (Seq, Gen)):
                items |= atom.items
        return frozenset(items)

    # ------------------------------------------------------------------ contexts
    def truth(self, value: Value, node: ast.AST, frame: Frame) -> None:
        self.read(value, node, frame, "truth value", through_seq=False)

    def _fixed(self, frame: Frame, name: str) -> bool:
        """``name`` is a parameter of the frame's function that its body never rebinds."""
        if frame.node is None:
            return False
        if frame.constants is None:
            arguments = frame.node.args
            params = {p.arg for p in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]}
            frame.constants = frozenset(params - self.shared.rebound(frame.node))
        return name in frame.constants

    def static_values(self, node: ast.AST, frame: Frame) -> list[object] | None:
        """The literal values ``node`` can have in this call, when they are fixed: a literal, or a
        parameter the function never rebinds that holds literals (passed by the call, or its default)."""
        literal = _literal(node)
        if literal is not None:
            return [literal.value]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):      # ``mode in ("a", "b")``
            items = [_literal(e) for e in node.elts]
            return [tuple(i.value for i in items)] if all(i is not None for i in items) else None
        if isinstance(node, ast.Name):
            value = frame.env.get(node.id, NOTHING)
            if node.id in frame.none_defaults and not value:
                found = [None]
            elif value and all(isinstance(a, Const) for a in value):
                found = [a.value for a in value]
            else:
                return None
            return found if self._fixed(frame, node.id) else None
        return None

    def static_truth(self, node: ast.AST, frame: Frame) -> bool | None:
        """The truth of a test when ``static_values`` fix it (``not p``, ``p is None``, ``p == 'x'``,
        ``and``/``or`` of those); None when it may go either way."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.static_truth(node.operand, frame)
            return None if inner is None else not inner
        if isinstance(node, ast.BoolOp):
            outcomes = [self.static_truth(v, frame) for v in node.values]
            decisive = isinstance(node.op, ast.Or)     # one True decides `or`, one False decides `and`
            if decisive in outcomes:
                return decisive
            return None if None in outcomes else not decisive
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left = self.static_values(node.left, frame)
            right = self.static_values(node.comparators[0], frame)
            if left is None or right is None:
                return None
            results = {_compare(node.ops[0], a, b) for a in left for b in right}
            return results.pop() if len(results) == 1 else None
        values = self.static_values(node, frame)
        if values is None:
            return None
        truths = {bool(v) for v in values}
        return truths.pop() if len(truths) == 1 else None

    # ------------------------------------------------------------------ expressions
    def ev(self, node: ast.AST, frame: Frame, *, write_receiver: bool = False) -> Value:
        method = getattr(self, "ev_" + type(node).__name__, None)
        if method is None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.ev(child, frame)
            return NOTHING
        if write_receiver and isinstance(node, ast.BinOp):
            return self.ev_BinOp(node, frame, write_receiver=True)
        return method(node, frame)

    def ev_Constant(self, node: ast.Constant, frame: Frame) -> Value:
        literal = _literal(node)
        return frozenset({literal}) if literal is not None else NOTHING

    def ev_Name(self, node: ast.Name, frame: Frame) -> Value:
        if node.id in frame.env:
            value = frame.env[node.id]
            if any(isinstance(a, Tab) and a.origin == UNPLACED or isinstance(a, Unk) and a.location == UNPLACED
                   for a in value):
                # a table imported inside the function: it is named where it is used
                here = self.placed(frame, self.loc(frame, node))
                value = frozenset(
                    dataclasses.replace(a, origin=here) if isinstance(a, Tab) and a.origin == UNPLACED
                    else Unk(a.name, here) if isinstance(a, Unk) and a.location == UNPLACED else a
                    for a in value)
            return value
        linked = self.shared.linked_module(frame.module.name, node.id)
        if linked is not None:
            return frozenset({Mod(linked)})
        return self._global(frame, node.id, node)

    def _global(self, frame: Frame, dotted: str, node: ast.AST) -> Value:
        symbol = self.resolve(frame.module.name, dotted)
        if symbol is None:
            return NOTHING
        return self._symbol_value(symbol, self.placed(frame, self.loc(frame, node)) if symbol.kind == "table"
                                  else self.loc(frame, node))

    def _symbol_value(self, symbol: Any, where: Location | None) -> Value:
        if symbol is None:
            return NOTHING
        kind = symbol.kind
        if kind == "table":
            return frozenset({Tab(symbol.target, where)})
        if kind == "class":
            return frozenset({Cls(symbol.target)})
        if kind == "function":
            return frozenset({Fn(symbol.target)})
        if kind == "module":
            if symbol.schema is not None:
                return frozenset({Mod(symbol.target + "\0" + symbol.schema)})
            return frozenset({Mod(symbol.target)})
        if kind == "external":
            return frozenset({Ext(symbol.target)})
        if kind == "unknown" and where is not None:
            return frozenset({Unk(symbol.target, where)})
        if kind == "value" and symbol.module in self.model.modules:
            return self.module_value(symbol.module, symbol.target[len(symbol.module) + 1:])
        return NOTHING

    def module_value(self, module_name: str, name: str) -> Value:
        """A module-level variable (``TABLES = {"a": A}``): its value, evaluated silently (import time)."""
        key = (module_name, name)
        if key in self.module_values:
            return self.module_values[key]
        self.module_values[key] = NOTHING      # guards self-reference
        module = self.model.modules[module_name]
        tree = self.sources.tree(module)
        value: Value = NOTHING
        if tree is not None and name:
            frame = Frame(module, f"{module_name}.{name}", None, {}, entry=False)
            value = self.assigned_value(tree.body, name, frame)
            self.touch(module)
        value = frozenset(a for a in value if isinstance(a, (Tab, Mod, Cls, Seq, Row, Const, Partial)))
        self.module_values[key] = value
        return value

    def assigned_value(self, body: list[ast.stmt], name: str, frame: Frame) -> Value:
        """The value the last top-level ``name = ...`` of a module or class body gives ``name``. Such a body
        runs at import time: what it reads is not read by make(), so its facts are discarded."""
        value: Value = NOTHING
        facts, self.facts = self.facts, MakeFacts()
        try:
            for statement in body:
                if isinstance(statement, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == name for t in statement.targets) or (
                        isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                        and statement.target.id == name and statement.value is not None):
                    value = self.ev(statement.value, frame)
        finally:
            self.facts = facts
        return value

    def ev_Attribute(self, node: ast.Attribute, frame: Frame) -> Value:
        root = _root_name(node)
        dotted = _dotted(node)
        if dotted is not None and root is not None and root not in frame.env:
            symbol = self.resolve(frame.module.name, dotted)
            # methods reached through a class are looked up step by step, keeping the receiver
            if symbol is not None and symbol.kind not in ("unknown", "function"):
                return self._symbol_value(symbol, self.named_at(frame, node))
        base = self.ev(node.value, frame)
        return self.attribute(base, node.attr, node, frame)

    def attribute(self, base: Value, name: str, node: ast.AST, frame: Frame) -> Value:
        if len(base) == 1:
            for atom in base:
                if not (isinstance(atom, (Tab, Mod)) and atom.alt):
                    return self._attribute(atom, name, node, frame)
        result: set[Atom] = set()
        chosen: dict[str, frozenset[str]] = {}
        derived: dict[str, Value] = {}
        for atom in base:
            found = self._attribute(atom, name, node, frame)
            if isinstance(atom, (Tab, Mod)) and atom.alt:
                # ``mod.Clustering`` of ``mod = acute if ... else chronic``: a choice among their tables
                label = atom.table if isinstance(atom, Tab) else atom.name
                chosen[label] = atom.alt
                derived[label] = derived.get(label, NOTHING) | found
            else:
                result |= found
        if derived:
            for value in carry_choice(chosen, derived).values():
                result |= value
        return frozenset(result)

    def _attribute(self, atom: Atom, name: str, node: ast.AST, frame: Frame) -> Value:
        """``atom.name`` for one atom of the receiver."""
        if isinstance(atom, Tab):
            info = self.model.tables.get(atom.table)
            part = f"{atom.table}.{name}"
            if name == "upstream":
                return frozenset({Upstream()})
            if name == "__class__":
                return frozenset({atom})
            if part in self.model.tables:
                return frozenset({Tab(part, self.named_at(frame, node))})
            if name == "master" and info is not None and info.master:
                return frozenset({Tab(info.master, self.named_at(frame, node))})
            if name in N.METADATA and not self._user_method(atom.table, name):
                return NOTHING
            member = self.class_member(atom.table, atom, name, node, frame)
            if member is None:
                member = self.instance_values.get((atom.table, name))
            through_class = isinstance(node, ast.Attribute) and _class_reference(node.value)
            return member if member is not None else frozenset({Attr(atom, name, through_class)})
        if isinstance(atom, Unk):
            return frozenset({Unk(f"{atom.name}.{name}", atom.location) if name[:1].isupper() else Attr(atom, name)})
        if isinstance(atom, Mod):
            return self._symbol_value(self.resolve(atom.name, name), self.named_at(frame, node))
        if isinstance(atom, Ext):
            return frozenset({Ext(f"{atom.name}.{name}")})
        if isinstance(atom, Cls):
            nested = f"{atom.class_id}.{name}"
            if nested in self.model.tables:
                return frozenset({Tab(nested, self.named_at(frame, node))})
            if nested in self.model.classes:
                return frozenset({Cls(nested)})
            return frozenset({Attr(atom, name)})
        if isinstance(atom, Inst):
            member = self.class_member(atom.class_id, atom, name, node, frame)
            if member is None:
                member = self.instance_values.get((atom.class_id, name))
            return member if member is not None else frozenset({Attr(atom, name)})
        if isinstance(atom, (Key, Row, Super, Const, Seq, Gen, Upstream)):
            return frozenset({Attr(atom, name)})
        return NOTHING

    def _user_method(self, table: str, name: str) -> bool:
        """The table or one of its repo bases defines ``name`` (``log``, ``describe``...) as a method:
        it shadows datajoint's attribute of that name. ``key_source`` stays metadata: populate() reads it."""
        return name != "key_source" and self.model.method_info(table, name) is not None

    def class_member(self, class_id: str, receiver: Atom, name: str, node: ast.AST,
                     frame: Frame) -> Value | None:
        """``obj.name`` when the repo class defines it as a property (run it) or as a class-level
        assignment (its value, evaluated in the class's module); None for methods and the unknown."""
        found = self.sources.method(class_id, name)
        if found is not None:
            module, function, info = found
            if not _decorated(function, "property", "cached_property"):
                return None
            return self.invoke(module, function, info.class_id, frozenset({receiver}), [], {}, node, frame)
        if self.model.method_info(class_id, name) is not None:
            return None
        cls = self.model.classes.get(class_id)
        if cls is None:
            return None
        for candidate in [cls.id, *cls.bases]:
            owner = self.model.classes.get(candidate)
            if owner is not None and name in owner.attributes:
                return self.class_attribute(owner, name)
        return None

    def class_attribute(self, owner: Any, name: str) -> Value:
        key = (owner.id, name)
        if key in self.class_values:
            return self.class_values[key]
        self.class_values[key] = NOTHING      # guards self-reference
        found = self.sources.klass(owner)
        value: Value = NOTHING
        if found is not None:
            module, klass = found
            self.touch(module)
            frame = Frame(module, f"{owner.id}.{name}", owner.id, {}, entry=False)
            # the class body runs at import time: what it reads is not read by make(); only the value
            # (e.g. a table the attribute names) matters when make() uses it
            value = self.assigned_value(klass.body, name, frame)
        value = frozenset(a for a in value if isinstance(a, (Tab, Mod, Cls, Seq, Const)))
        self.class_values[key] = value
        return value

    def ev_Subscript(self, node: ast.Subscript, frame: Frame) -> Value:
        base = self.ev(node.value, frame)
        index_node = node.slice
        index = self.ev(index_node, frame)
        literal = _literal(index_node)
        field_name = literal.value if literal is not None and isinstance(literal.value, str) else None
        result: set[Atom] = set()
        for atom in base:
            if isinstance(atom, Upstream):
                for tab in tables_in(index, through_seq=False):
                    where = tab.origin or self.loc(frame, index_node)
                    self.facts.add(UpstreamIndex(self.owner, where, "self.upstream[...]", tab.table))
                    result.add(tab)
            elif isinstance(atom, Key):
                if field_name is not None:
                    if field_name not in self.secondary:
                        self.key_attributes.add(field_name)
                    result.add(KeyField(field_name))
            elif isinstance(atom, Row):
                for field in atom.fields:
                    if field.name == field_name:
                        result |= field.value
                if atom.spread_key and field_name is not None and not any(f.name == field_name for f in atom.fields):
                    result.add(KeyField(field_name))
            elif isinstance(atom, Seq):
                result |= atom.items
        return frozenset(result)

    def ev_Call(self, node: ast.Call, frame: Frame) -> Value:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in N.WRITE_METHODS:
            receiver = self.ev(func.value, frame, write_receiver=True)
            callee = self.attribute(receiver, func.attr, func, frame)
        else:
            callee = self.ev(func, frame)
        positional: Args = []
        keywords: Kwargs = {}
        starred: Args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value = self.ev(arg.value, frame)
                starred.append((value, arg.value))
                self.consume(value, arg.value, frame, "* unpacking")
            else:
                positional.append((self.ev(arg, frame), arg))
        for keyword in node.keywords:
            value = self.ev(keyword.value, frame)
            if keyword.arg is None:
                starred.append((value, keyword.value))
            else:
                keywords[keyword.arg] = (value, keyword.value)
        if isinstance(func, ast.Attribute) and func.attr == "query" and positional:
            if isinstance(positional[0][1], ast.JoinedStr):
                self.formatted_sql(positional[0][1], frame)
            else:
                self.raw_sql(positional[0][0], positional[0][1], frame)   # dj.conn().query("INSERT ...")
        result: set[Atom] = set()
        for atom in callee:
            result |= self.call(atom, node, positional, keywords, starred, frame)
        return frozenset(result)

    def call(self, atom: Atom, node: ast.AST, positional: Args, keywords: Kwargs, starred: Args,
             frame: Frame) -> Value:
        if isinstance(atom, (Tab, Unk)):
            return frozenset({atom})          # Table() -> an instance of the same table
        if isinstance(atom, Cls):
            instance = frozenset({Inst(atom.class_id)})
            found = self.sources.method(atom.class_id, "__init__")
            if found is not None:
                module, function, info = found
                self.invoke(module, function, info.class_id, instance, positional, keywords, node, frame)
            return instance
        if isinstance(atom, Fn):
            info = self.model.functions.get(atom.function_id)
            found = self.sources.function(info)
            if found is None:
                return NOTHING
            module, function = found
            self_value = None
            if info.class_id is not None and _binds_receiver(function, through_class=True):
                # Class.method(obj, ...) called through the class: first argument is self
                if positional:
                    self_value, positional = positional[0][0], positional[1:]
                else:
                    self_value = NOTHING
            return self.invoke(module, function, info.class_id, self_value, positional, keywords, node, frame)
        if isinstance(atom, LocalFn):
            function, module, closure, class_id = self.local_functions[atom.index]
            return self.invoke(module, function, class_id, None, positional, keywords, node, frame,
                               closure=closure)
        if isinstance(atom, Ext):
            return self.call_external(atom.name, node, positional, keywords, starred, frame)
        if isinstance(atom, Attr):
            return self.call_method(atom.receiver, atom.name, node, positional, keywords, frame,
                                    through_class=atom.through_class)
        if isinstance(atom, Partial):
            result: set[Atom] = set()
            bound = [*atom.args, *positional]
            named = {**dict(atom.keywords), **keywords}
            for inner in atom.func:
                result |= self.call(inner, node, bound, named, starred, frame)
            return frozenset(result)
        return NOTHING

    # ------------------------------------------------------------------ methods of values
    def call_method(self, receiver: Atom, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                    frame: Frame, *, through_class: bool = False) -> Value:
        if isinstance(receiver, Tab):
            return self.table_method(receiver, name, node, positional, keywords, frame, through_class)
        if isinstance(receiver, Unk):
            if name in N.READ_METHODS or name in N.WRITE_METHODS or name in N.QUERY_METHODS:
                self.note_unknowns(frozenset({receiver}))
            return frozenset({receiver}) if name in N.QUERY_METHODS else NOTHING
        if isinstance(receiver, Key):
            if name == "get" and positional:
                literal = _literal(positional[0][1])
                if literal is not None and isinstance(literal.value, str):
                    return frozenset({KeyField(literal.value)})   # may be absent: not a key attribute
            if name == "copy":
                return frozenset({Key()})
            if name == "update":
                self._row_update(receiver, node, positional, keywords, frame)
            return NOTHING
        if isinstance(receiver, Row):
            if name == "copy":
                return frozenset({receiver})
            if name == "update":
                self._row_update(receiver, node, positional, keywords, frame)
            if name == "get" and positional:
                literal = _literal(positional[0][1])
                for field in receiver.fields:
                    if literal is not None and field.name == literal.value:
                        return field.value
            return NOTHING
        if isinstance(receiver, (Inst, Cls)):
            found = self.sources.method(receiver.class_id, name)
            if found is None:
                return NOTHING
            module, function, info = found
            binds = _binds_receiver(function, isinstance(receiver, Cls), len(positional))
            self_value = frozenset({receiver}) if binds else None
            return self.invoke(module, function, info.class_id, self_value, positional, keywords, node, frame)
        if isinstance(receiver, Super):
            return self.call_super(receiver, name, node, positional, keywords, frame)
        if isinstance(receiver, Const) and name == "join" and positional:
            self.consume(positional[0][0], positional[0][1], frame, "str.join()")
        return NOTHING

    def _row_update(self, row: Row | Key, node: ast.AST, positional: Args, keywords: Kwargs,
                    frame: Frame) -> None:
        func = getattr(node, "func", None)
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        name = func.value.id
        updated = row if isinstance(row, Row) else Row((), True, False)   # key.update(...) changes the key
        for keyword, (value, arg) in keywords.items():
            updated = updated.with_field(Field(keyword, value, arg, self.loc(frame, arg)))
        for value, _ in positional:
            for atom in value:
                if isinstance(atom, Row):
                    for field in atom.fields:
                        updated = updated.with_field(field)
        current = frame.env.get(name, NOTHING)
        frame.env[name] = frozenset(updated if a == row else a for a in current)

    def table_method(self, tab: Tab, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                     frame: Frame, through_class: bool = False) -> Value:
        if name in N.WRITE_METHODS:
            self.write(tab, node, frame, name)
            for value, arg in positional + list(keywords.values()):
                self.read(value, arg, frame, f"argument of {name}()", through_seq=False)
            if positional:
                self.consume(positional[0][0], positional[0][1], frame, f"{name}()")
                if name in N.ROW_WRITE_METHODS and tab.table in self.own_entity:
                    self.check_rows(positional[0][0], tab, name, frame)
            return NOTHING
        if name in N.READ_METHODS:
            self.read(frozenset({tab}), node, frame, name)
            return NOTHING
        if name in N.QUERY_METHODS:
            self.read(frozenset({tab}), node, frame, f".{name}()")
            result = {tab}
            if name in N.OPERAND_ARG_METHODS:
                for value, arg in positional:
                    self.read(value, arg, frame, f"argument of .{name}()")
                    if name in ("join", "__mul__", "__add__"):
                        result.update(tables_in(value))
            return frozenset(result)
        if name in N.METADATA and not self._user_method(tab.table, name):
            return NOTHING
        found = self.sources.method(tab.table, name)
        if found is None:
            return NOTHING
        module, function, info = found
        self_value = frozenset({tab}) if _binds_receiver(function, through_class, len(positional)) else None
        return self.invoke(module, function, info.class_id, self_value, positional, keywords, node, frame)

    def call_super(self, receiver: Super, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                   frame: Frame) -> Value:
        owners = [a.table if isinstance(a, Tab) else a.class_id for a in receiver.self_value
                  if isinstance(a, (Tab, Inst))]
        for owner in owners:
            cls = self.model.classes.get(owner)
            if cls is None:
                continue
            order = [cls.id, *cls.bases]
            if receiver.class_id in order:
                order = order[order.index(receiver.class_id) + 1:]
            for candidate in order:
                info = self.model.classes.get(candidate)
                if info is not None and name in info.methods:
                    found = self.sources.function(info.methods[name])
                    if found is not None:
                        bound = receiver.self_value if _binds_receiver(found[1], False, len(positional)) else None
                        return self.invoke(found[0], found[1], candidate, bound, positional,
                                           keywords, node, frame)
        return NOTHING

    # ------------------------------------------------------------------ external callables
    def call_external(self, name: str, node: ast.AST, positional: Args, keywords: Kwargs, starred: Args,
                      frame: Frame) -> Value:
        if name in N.CONNECTION_OPENERS:
            self.facts.add(Connect(self.owner, self.loc(frame, node), name))
            return NOTHING
        if name in N.DJ_CONN:
            # dj.conn(host, user, ...) returns the connection already open; only reset=True opens another
            reset = keywords.get("reset")
            literal = _literal(reset[1]) if reset is not None else None
            if literal is not None and literal.value is True:
                self.facts.add(Connect(self.owner, self.loc(frame, node), "datajoint.conn(..., reset=True)"))
            return NOTHING
        if name in N.VIRTUAL_MODULE:
            # m = dj.create_virtual_module("m", "schema") inside the analysed code
            named = positional[1] if len(positional) > 1 else keywords.get("schema_name")
            literal = _literal(named[1]) if named is not None else None
            modules = getattr(self.model, "_schema_modules", {})
            if literal is not None and isinstance(literal.value, str) and modules.get(literal.value):
                return frozenset({Mod(f"{modules[literal.value][0]}\0{literal.value}")})
            return NOTHING
        if name in N.FREE_TABLE:
            # dj.FreeTable(conn, "`db`.`table`"): a table named by its database name
            named = positional[1] if len(positional) > 1 else keywords.get("full_table_name")
            literal = _literal(named[1]) if named is not None else None
            if literal is not None and isinstance(literal.value, str):
                parts = [p.strip("`\"") for p in literal.value.split(".")]
                target = self.table_of_sql(parts[0], parts[1]) if len(parts) == 2 else None
                if target is not None:
                    return frozenset({Tab(target, self.placed(frame, self.loc(frame, named[1])))})
            return NOTHING
        if name.startswith("datajoint.U()."):
            # dj.U("attr").aggr(Table, ...): the arguments are operands
            method = name.rsplit(".", 1)[1]
            if method in N.QUERY_METHODS:
                for value, arg in positional:
                    self.read(value, arg, frame, f"argument of dj.U().{method}()")
                return frozenset(tables_in(frozenset().union(*(v for v, _ in positional)))) if positional \
                    else NOTHING
            return NOTHING
        if name.startswith("datajoint.") and name.rsplit(".", 1)[1] in ("Not", "AndList", "OrList", "U", "Top"):
            for value, arg in positional:
                self.read(value, arg, frame, f"dj.{name.rsplit('.', 1)[1]}()")
            return frozenset({Ext("datajoint.U()")}) if name.endswith(".U") else NOTHING
        if name in N.FUNCTOOLS_PARTIAL and positional:
            # the arguments are bound now and passed when it is called (reads happen then)
            callables = frozenset(a for a in positional[0][0] if isinstance(a, (Fn, LocalFn, Attr, Partial, Cls)))
            if not callables:
                return NOTHING
            return frozenset({Partial(callables, tuple(positional[1:]), tuple(sorted(keywords.items(),
                                                                                      key=lambda kv: kv[0])))})
        if name in N.PARTIAL_ITERTOOLS:
            # batches/prefixes of one iterator, by design: its later consumers see the rest
            for value, arg in positional[:1]:
                self.manual.update(g.ident for g in gens_in(value))
                self.read(value, arg, frame, "iteration", through_seq=False)
            return frozenset({Gen(next(_ids), self.loc(frame, node))})
        if name.startswith("itertools."):
            for value, arg in positional:
                self.read(value, arg, frame, "iteration", through_seq=False)
                self.consume(value, arg, frame, name)
            for value, arg in starred:    # ``chain(*groups)``: the call's * unpacking consumed them once
                self.read(value, arg, frame, "iteration", through_seq=False)
            return frozenset({Gen(next(_ids), self.loc(frame, node))})
        if not name.startswith("builtins."):
            return NOTHING
        builtin = name[len("builtins."):]
        if builtin == "super":
            if frame.class_id is None:
                return NOTHING
            return frozenset({Super(frame.class_id, frame.env.get("self", NOTHING))})
        if builtin == "type" and len(positional) == 1:
            return frozenset(a for a in positional[0][0] if isinstance(a, (Tab, Inst)))   # type(self).Part
        if builtin == "next":
            for value, _ in positional[:1]:
                self.manual.update(g.ident for g in gens_in(value))
            return NOTHING
        if builtin in N.ONE_SHOT_BUILTINS:
            items: set[Atom] = set()
            for index, (value, arg) in enumerate(positional):
                if builtin in ("map", "filter") and index == 0:
                    continue
                self.read(value, arg, frame, f"{builtin}()", through_seq=False)
                self.consume(value, arg, frame, f"{builtin}()")
                if builtin in ("iter", "reversed", "filter"):
                    items |= self.element(value)
            if builtin in ("map", "filter") and len(positional) > 1:
                # the mapped function runs on the elements: follow it for what it reads
                element = frozenset().union(*(self.element(v) for v, _ in positional[1:]))
                for atom in positional[0][0]:
                    if isinstance(atom, (Fn, LocalFn, Partial)):
                        self.call(atom, node, [(element, positional[1][1])], {}, [], frame)
            return frozenset({Gen(next(_ids), self.loc(frame, node), frozenset(items))})
        if builtin in N.CONSUMING_BUILTINS or builtin in N.TRUTH_BUILTINS:
            if builtin == "dict":
                return self.dict_call(positional, keywords, starred, frame)
            items = set()
            for value, arg in positional[:1]:
                how = f"{builtin}()"
                self.read(value, arg, frame, how, through_seq=False)
                if builtin != "bool":
                    self.consume(value, arg, frame, how)
                items |= self.element(value)
            if builtin in ("list", "tuple", "set", "frozenset", "sorted"):
                return frozenset({Seq(frozenset(items))})
            return NOTHING
        return NOTHING

    def dict_call(self, positional: Args, keywords: Kwargs, starred: Args, frame: Frame) -> Value:
        spread, open_, fields = False, False, []
        for value, arg in positional[:1]:
            self.consume(value, arg, frame, "dict()")
        sources = [value for value, _ in positional[:1]] + [value for value, _ in starred]
        for value in sources:
            if any(isinstance(a, Key) for a in value):
                spread = True
            rows = [a for a in value if isinstance(a, Row)]
            if rows:
                fields.extend(rows[0].fields)
                spread = spread or rows[0].spread_key
                open_ = open_ or rows[0].open
            elif not any(isinstance(a, Key) for a in value):
                open_ = True
        row = Row(tuple(fields), spread, open_)
        for keyword, (value, arg) in keywords.items():
            row = row.with_field(Field(keyword, value, arg, self.loc(frame, arg)))
        return frozenset({row})

    # ------------------------------------------------------------------ raw SQL
    def raw_sql(self, value: Value, node: ast.AST, frame: Frame) -> None:
        for atom in value:
            if not (isinstance(atom, Const) and isinstance(atom.value, str)):
                continue
            written, read = _classify_sql(atom.value)
            for database, table in written:
                target = self.table_of_sql(database, table)
                if target is not None:
                    self.fact_place(Write, "raw SQL", target, self.loc(frame, node), frame, node)
            for database, table in read:
                target = self.table_of_sql(database, table)
                if target is not None:
                    self.fact_place(Read, "raw SQL", target, self.loc(frame, node), frame, node)

    def formatted_sql(self, node: ast.JoinedStr, frame: Frame) -> None:
        """f"DELETE FROM {Table.full_table_name} ..." : the table is named by its class."""
        text: list[str] = []
        placeholders: dict[str, Tab] = {}
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                text.append(part.value)
                continue
            expression = getattr(part, "value", None)
            tabs = []
            if isinstance(expression, ast.Attribute) and expression.attr == "full_table_name":
                tabs = tables_in(self.ev(expression.value, frame), through_seq=False)
            if len(tabs) == 1:
                name = f"djlint_table_{len(placeholders)}"
                placeholders[name] = tabs[0]
                text.append(f"`djlint_placeholder`.`{name}`")
            else:
                text.append("NULL")
        if not placeholders:
            return
        written, read = _classify_sql("".join(text))
        for kind, names in (("write", written), ("read", read)):
            for database, table in names:
                tab = placeholders.get(table) if database == "djlint_placeholder" else None
                if tab is None:
                    continue
                self.fact_place(Write if kind == "write" else Read, "raw SQL", tab.table,
                                tab.origin or self.loc(frame, node), frame, node)

    def table_of_sql(self, database: str | None, name: str) -> str | None:
        """Map ``db``.``table`` back to a table class by schema and datajoint's naming convention."""
        if not database:
            return None
        candidates = []
        for table in self.model.tables.values():
            if table.schema != database:
                continue
            master_tier = self.model.tables[table.master].tier if table.master in self.model.tables else None
            if N.table_name(table.qualname, table.tier, master_tier) == name:
                candidates.append(table.id)
        return candidates[0] if len(candidates) == 1 else None

    # ------------------------------------------------------------------ rows (DJ302)
    def check_rows(self, value: Value, tab: Tab, how: str, frame: Frame) -> None:
        seen: set[int] = set()
        stack = list(value)
        while stack:
            atom = stack.pop()
            if id(atom) in seen:
                continue
            seen.add(id(atom))
            if isinstance(atom, (Seq, Gen)):
                stack.extend(atom.items)
            elif isinstance(atom, Row):
                for field in atom.fields:
                    if field.name in self.key_attributes and self._mismatch(field.name, field.value):
                        self.facts.add(KeyMismatch(self.owner, field.location, how, tab.table, field.name,
                                                   _text(field.source)))

    @staticmethod
    def _mismatch(name: str, value: Value) -> bool:
        """Decidably not the make key's own value: only constants and other key fields."""
        if not value:
            return False
        for atom in value:
            if isinstance(atom, Const):
                continue
            if isinstance(atom, KeyField) and atom.name != name:
                continue
            return False
        return True

    # ------------------------------------------------------------------ operators
    # datajoint operators: & ^ restrict, - antijoin, * @ join, + union
    _SYMBOLS: ClassVar[dict[type, str]] = {ast.BitAnd: "&", ast.BitXor: "^", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Add: "+"}

    def ev_BinOp(self, node: ast.BinOp, frame: Frame, *, write_receiver: bool = False) -> Value:
        left = self.ev(node.left, frame, write_receiver=write_receiver)
        right = self.ev(node.right, frame)
        symbol = self._SYMBOLS.get(type(node.op))
        if symbol is None:
            return NOTHING
        left_tables = tables_in(left, through_seq=False)
        right_tables = tables_in(right, through_seq=symbol in "&^-")
        left_unknown = unknowns_in(left)
        if left_unknown or unknowns_in(right):
            self.note_unknowns(left | right)
        if not left_tables and not right_tables:
            if left_unknown and symbol in "&^-":
                return frozenset(left_unknown)
            if symbol == "+" and left and right and all(isinstance(a, Seq) for a in left | right):
                return frozenset({Seq(frozenset().union(*(a.items for a in left | right)))})
            return NOTHING
        how = f"operand of {symbol}"
        if not write_receiver:
            self.read(left, node.left, frame, how, through_seq=False)
        self.read(right, node.right, frame, how, through_seq=symbol in "&^-")
        if symbol in "&^-":
            return frozenset(left_tables or right_tables)
        return frozenset(left_tables + right_tables)

    def ev_BoolOp(self, node: ast.BoolOp, frame: Frame) -> Value:
        """``a or b`` is one of its operands: a run-time choice, unless an operand decides it (a literal
        parameter, a module or class: always true), and then the operands after it never run."""
        arms: list[Value] = []
        spans = []
        deciding = isinstance(node.op, ast.Or)
        for position, operand in enumerate(node.values):
            mark = len(self.facts.reads)
            value = self.ev(operand, frame)
            self.truth(value, operand, frame)
            arms.append(value)
            if position:     # the first operand always runs: what it reads is read on every path
                spans.append((mark, len(self.facts.reads)))
            known = self.static_truth(operand, frame)
            if known is None and value and all(isinstance(a, (Mod, Cls, Fn, LocalFn)) for a in value):
                known = True
            if known is deciding:
                break
        chosen = choose(arms)
        self._choice_reads(spans, chosen)
        return chosen

    def ev_UnaryOp(self, node: ast.UnaryOp, frame: Frame) -> Value:
        literal = _literal(node)
        if literal is not None:
            return frozenset({literal})
        value = self.ev(node.operand, frame)
        if isinstance(node.op, ast.Not):
            self.truth(value, node.operand, frame)
        elif isinstance(node.op, ast.USub) and tables_in(value, through_seq=False):
            self.read(value, node.operand, frame, "operand of - (dj.Not)", through_seq=False)
            return frozenset(tables_in(value, through_seq=False))
        return NOTHING

    def ev_Compare(self, node: ast.Compare, frame: Frame) -> Value:
        self.ev(node.left, frame)
        for operator, comparator in zip(node.ops, node.comparators):
            value = self.ev(comparator, frame)
            if isinstance(operator, (ast.In, ast.NotIn)):
                self.read(value, comparator, frame, "`in` test", through_seq=False)
                self.consume(value, comparator, frame, "an `in` test")
        return NOTHING

    def ev_IfExp(self, node: ast.IfExp, frame: Frame) -> Value:
        self.truth(self.ev(node.test, frame), node.test, frame)
        known = self.static_truth(node.test, frame)
        if known is not None:
            return self.ev(node.body if known else node.orelse, frame)
        arms, spans = [], []
        for arm in (node.body, node.orelse):
            mark = len(self.facts.reads)
            arms.append(self.ev(arm, frame))
            spans.append((mark, len(self.facts.reads)))
        chosen = choose(arms)
        self._choice_reads(spans, chosen)
        return chosen

    def ev_NamedExpr(self, node: ast.NamedExpr, frame: Frame) -> Value:
        value = self.ev(node.value, frame)
        self.bind(node.target, value, frame)
        return value

    def ev_Await(self, node: ast.Await, frame: Frame) -> Value:
        return self.ev(node.value, frame)

    def ev_Yield(self, node: ast.Yield, frame: Frame) -> Value:
        if node.value is not None:
            frame.yields.append(self.ev(node.value, frame))
        return NOTHING

    def ev_YieldFrom(self, node: ast.YieldFrom, frame: Frame) -> Value:
        value = self.ev(node.value, frame)
        self.read(value, node.value, frame, "yield from", through_seq=False)
        self.consume(value, node.value, frame, "yield from")
        frame.yields.append(self.element(value))
        return NOTHING

    def ev_JoinedStr(self, node: ast.JoinedStr, frame: Frame) -> Value:
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                self.ev(part.value, frame)
        return NOTHING

    def _elements(self, elements: Sequence[ast.expr], frame: Frame) -> frozenset:
        items: set[Atom] = set()
        for element in elements:
            if isinstance(element, ast.Starred):
                value = self.ev(element.value, frame)
                self.consume(value, element.value, frame, "* unpacking")
                items |= self.element(value)
            else:
                items |= self.ev(element, frame)
        return frozenset(items)

    def ev_List(self, node: ast.List, frame: Frame) -> Value:
        return frozenset({Seq(self._elements(node.elts, frame))})

    ev_Tuple = ev_List
    ev_Set = ev_List

    def ev_Dict(self, node: ast.Dict, frame: Frame) -> Value:
        row = Row((), False, False)
        for key, value_node in zip(node.keys, node.values):
            value = self.ev(value_node, frame)
            if key is not None:
                literal = _literal(key)
                if literal is not None and isinstance(literal.value, str):
                    row = row.with_field(Field(literal.value, value, value_node, self.loc(frame, key)))
                else:
                    self.ev(key, frame)
                    row = Row(row.fields, row.spread_key, True)
            elif any(isinstance(a, Key) for a in value):
                row = Row((), True, row.open)   # the key's values override what came before
            else:
                rows = [a for a in value if isinstance(a, Row)]
                if rows:
                    merged = row
                    for field in rows[0].fields:
                        merged = merged.with_field(field)
                    row = Row(merged.fields, row.spread_key or rows[0].spread_key, row.open or rows[0].open)
                else:
                    row = Row(row.fields, row.spread_key, True)
        return frozenset({row})

    # ------------------------------------------------------------------ comprehensions and lambdas
    def _comprehension(self, node: Any, frame: Frame, elements: Sequence[ast.expr]) -> Value:
        inner = frame.inner()
        for clause in node.generators:
            iterable = self.ev(clause.iter, inner)
            self.read(iterable, clause.iter, inner, "iteration", through_seq=False)
            self.consume(iterable, clause.iter, inner, "comprehension")
            self.bind(clause.target, self.element(iterable), inner)
            for condition in clause.ifs:
                self.truth(self.ev(condition, inner), condition, inner)
        items: set[Atom] = set()
        for element in elements:
            items |= self.ev(element, inner)
        return frozenset(items)

    def ev_ListComp(self, node: ast.ListComp, frame: Frame) -> Value:
        return frozenset({Seq(self._comprehension(node, frame, [node.elt]))})

    ev_SetComp = ev_ListComp

    def ev_DictComp(self, node: ast.DictComp, frame: Frame) -> Value:
        self._comprehension(node, frame, [node.key, node.value])
        return NOTHING

    def ev_GeneratorExp(self, node: ast.GeneratorExp, frame: Frame) -> Value:
        items = self._comprehension(node, frame, [node.elt])
        return frozenset({Gen(next(_ids), self.loc(frame, node), items)})

    def ev_Lambda(self, node: ast.Lambda, frame: Frame) -> Value:
        index = len(self.local_functions)
        self.local_functions.append((node, frame.module, frame.env, frame.class_id))
        return frozenset({LocalFn(index)})

    # ------------------------------------------------------------------ following calls
    @staticmethod
    def _positional_params(function: Any) -> list[ast.arg]:
        arguments = function.args
        return [*arguments.posonlyargs, *arguments.args]

    def invoke(self, module: Any, function: Any, class_id: str | None, self_value: Value | None,
               positional: Args, keywords: Kwargs, call_node: ast.AST, caller: Frame,
               closure: dict[str, Value] | None = None) -> Value:
        if module is None or function is None or self.depth >= MAX_DEPTH or self.budget <= 0:
            return NOTHING
        self.budget -= 1
        env: dict[str, Value] = dict(closure) if closure is not None else {}
        arguments = function.args
        params = self._positional_params(function)
        if self_value is not None and params:
            env[params[0].arg] = self_value
            params = params[1:]
        for param, (value, _) in zip(params, positional):
            env[param.arg] = value
        if arguments.vararg is not None:
            rest = positional[len(params):]
            env[arguments.vararg.arg] = frozenset({Seq(frozenset().union(*(v for v, _ in rest)) if rest else NOTHING)})
        if arguments.kwarg is not None:
            env[arguments.kwarg.arg] = NOTHING
        named = {p.arg for p in [*params, *arguments.kwonlyargs]}
        for keyword, (value, _) in keywords.items():
            if keyword in named:
                env[keyword] = value
        none_defaults: frozenset[str] = frozenset()
        if any(p.arg not in env for p in [*params, *arguments.kwonlyargs]):
            none_defaults = frozenset(n for n in self.shared.none_defaults(function) if n not in env)
            defaults = self.defaults(module, function, class_id, closure)
            for param in [*params, *arguments.kwonlyargs]:
                env.setdefault(param.arg, defaults.get(param.arg, NOTHING))
        bound = tuple(sorted(env.items(), key=lambda item: item[0]))
        signature = (id(function), bound, none_defaults)
        generator = isinstance(function, FunctionNode) and self.shared.is_generator(function)
        if signature in self.active:
            return NOTHING
        if signature in self.done and not any(gens_in(v) for _, v in bound):
            result = self.done[signature]
            if generator:
                return frozenset({Gen(next(_ids), self.loc(caller, call_node), self.element(result))})
            return result
        qualname = self._qualname(module, function, class_id)
        frame = Frame(module, qualname, class_id, env, entry=False, chain=(*caller.chain, qualname),
                      call=caller.call if caller.call is not None else self.loc(caller, call_node))
        frame.node, frame.none_defaults = function, none_defaults
        self.touch(module)
        self.active.add(signature)
        self.depth += 1
        try:
            if isinstance(function, ast.Lambda):
                frame.returns.append(self.ev(function.body, frame))
            else:
                self.exec_block(function.body, frame)
        finally:
            self.depth -= 1
            self.active.discard(signature)
        for counts in frame.exits:   # what a returning path consumed is consumed for the caller too
            for ident, entry in counts.items():
                if ident not in self.consumed or self.consumed[ident][0] < entry[0]:
                    self.consumed[ident] = entry
        returned = frozenset().union(*frame.returns) if frame.returns else NOTHING
        if generator:
            yielded = frozenset().union(*frame.yields) if frame.yields else NOTHING
            self.done[signature] = frozenset({Seq(yielded)})
            return frozenset({Gen(next(_ids), self.loc(caller, call_node), yielded)})
        self.done[signature] = returned
        return returned

    # what a default may hold: a table, module, class or function named in it (a callback), a literal
    _DEFAULT_ATOMS = (Tab, Mod, Cls, Fn, Partial, Seq, Row, Const)

    def defaults(self, module: Any, function: Any, class_id: str | None,
                 closure: dict[str, Value] | None) -> dict[str, Value]:
        """Parameter -> value of its default, evaluated where Python does at def time (the defining
        module, or the enclosing function's names for a nested def or lambda). That evaluation is not
        make() reading anything: its facts are discarded; a table it names is reported where it is used.
        ``None`` defaults are dropped: a ``param=None`` guarded by ``if param is not None`` is not a value."""
        key = id(function)
        cached = self.default_values.get(key) if closure is None else None
        if cached is not None:
            return cached
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
        pairs += [(p, d) for p, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
        # only names, attributes, literals and operators: a call in a default is not followed (its
        # result would be cached as a call whose facts were discarded)
        pairs = [(p, d) for p, d in pairs if not any(isinstance(n, _NOT_IN_DEFAULTS) for n in ast.walk(d))]
        found: dict[str, Value] = {}
        if pairs:
            frame = Frame(module, self._qualname(module, function, class_id), class_id,
                          dict(closure) if closure is not None else {}, entry=False)
            facts, self.facts = self.facts, MakeFacts()
            consumed, done = dict(self.consumed), dict(self.done)
            try:
                for param, node in pairs:
                    value = frozenset(a for a in self.ev(node, frame) if isinstance(a, self._DEFAULT_ATOMS)
                                      and not (isinstance(a, Const) and a.value is None))
                    if value:
                        found[param.arg] = value
            finally:
                self.facts, self.consumed, self.done = facts, consumed, done
        if closure is None:
            self.default_values[key] = found
        return found

    @staticmethod
    def _qualname(module: Any, function: Any, class_id: str | None) -> str:
        if isinstance(function, ast.Lambda):
            return f"{module.name}.<lambda>"
        if class_id is not None:
            return f"{class_id}.{function.name}"
        return f"{module.name}.{function.name}"


def _classify_sql(sql: str):  # type: ignore[no-untyped-def]
    """sqlglot is imported only when make() code holds raw SQL (it costs ~0.15 s to import)."""
    from djlint.sqltables import classify

    return classify(sql)
