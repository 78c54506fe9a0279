"""Abstract interpretation of make() code: what each local name holds, and what the code reads,
writes, opens and consumes.

One ``MakeRun`` analyses one make() entry point (``make``, ``make_fetch``/``make_compute``/
``make_insert``, ``_make_tuples``) for one table, with ``self`` bound to that table; calls into
functions and methods of the repository are followed (arguments bound to parameters, a visited set
stops recursion). Statements run in order; both arms of a branch run and their states merge; loop
bodies run once. A name we know nothing about holds the empty value, which never raises an alarm.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import libcst as cst
from libcst.metadata import PositionProvider

from djlint.makeflow import names as N
from djlint.makeflow.facts import (
    Connect, KeyMismatch, Location, MakeFacts, OneShotReuse, Read, UpstreamIndex, Write,
)
from djlint.makeflow.sql import classify
from djlint.makeflow.values import (
    NOTHING, Atom, Attr, Cls, Const, Ext, Field, Fn, Gen, Inst, Key, KeyField, LocalFn, Mod, Row, Seq,
    Super, Tab, Unk, Upstream, Value, gens_in, tables_in, unknowns_in,
)

MAX_DEPTH = 12       # calls followed below make()
MAX_CALLS = 2000     # function bodies interpreted per make(): bounds pathological call graphs
_ids = itertools.count(1)


class Frame:
    """One activation: a function body being interpreted."""

    def __init__(self, module: Any, function: str, class_id: str | None, env: dict[str, Value],
                 entry: bool) -> None:
        self.module = module            # ModuleInfo
        self.function = function        # "module.qualname", for messages
        self.class_id = class_id        # class defining the function (for super())
        self.env = env
        self.entry = entry              # True for the make() body itself
        self.returns: list[Value] = []
        self.yields: list[Value] = []


class Shared:
    """Per-model caches shared by every run: positions, resolved symbols, generator-ness."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._positions: dict[str, Any] = {}
        self._symbols: dict[tuple[str, str], Any] = {}
        self._generator: dict[int, bool] = {}

    def location(self, module: Any, node: cst.CSTNode) -> Location:
        positions = self._positions.get(module.name)
        if positions is None:
            positions = module.wrapper.resolve(PositionProvider)
            self._positions[module.name] = positions
        where = positions.get(node)
        if where is None:
            return Location(module.display_path, 1, 1)
        return Location(module.display_path, where.start.line, where.start.column + 1)

    def resolve(self, module: str, dotted: str) -> Any:
        key = (module, dotted)
        if key not in self._symbols:
            try:
                self._symbols[key] = self.model.resolve(module, dotted)
            except Exception:  # a resolution bug must not stop the analysis
                self._symbols[key] = None
        return self._symbols[key]

    def is_generator(self, function: cst.CSTNode) -> bool:
        cached = self._generator.get(id(function))
        if cached is None:
            finder = _YieldFinder()
            body = getattr(function, "body", None)
            if isinstance(body, cst.CSTNode):
                body.visit(finder)
            cached = finder.found
            self._generator[id(function)] = cached
        return cached


class _YieldFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Yield(self, node: cst.Yield) -> bool:
        self.found = True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


def _literal(node: cst.CSTNode) -> Const | None:
    try:
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)):
            value = node.evaluated_value
            if value is None and isinstance(node, cst.ConcatenatedString):
                return None
            return Const(value, repr(value))
        if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
            return Const({"True": True, "False": False, "None": None}[node.value], node.value)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = _literal(node.expression)
            if inner is not None and isinstance(inner.value, (int, float)):
                return Const(-inner.value, repr(-inner.value))
    except Exception:
        return None
    return None


def _dotted(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


def _root_name(node: cst.CSTNode) -> str | None:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


def _body(node: Any) -> Sequence[Any]:
    body = getattr(node, "body", None)
    if isinstance(body, (list, tuple)):
        return body
    return ()


class MakeRun:
    """Analyse one make() entry point of ``owner``, adding facts to ``facts``."""

    def __init__(self, shared: Shared, owner: str, facts: MakeFacts, key_attributes: frozenset[str]) -> None:
        self.shared = shared
        self.model = shared.model
        self.owner = owner
        self.facts = facts
        self.own_entity = frozenset(self.model.allowed.own_entity(owner))
        self.key_attributes = set(key_attributes)
        # one-shot consumption: ident -> (count, first location, last location)
        self.consumed: dict[int, tuple[int, Location, Location]] = {}
        self.manual: set[int] = set()
        self.names: dict[int, str] = {}
        self.class_values: dict[tuple[str, str], Value] = {}
        self.consumers: dict[int, str] = {}
        self.active: set[Any] = set()
        self.done: dict[Any, Value] = {}
        self.local_functions: list[tuple[Any, Any, dict[str, Value], str | None]] = []
        self.depth = 0
        self.budget = MAX_CALLS

    # ------------------------------------------------------------------ entry
    def run_entry(self, module: Any, function: cst.FunctionDef, class_id: str, qualname: str) -> None:
        self_value = frozenset({Tab(self.owner, None)})
        params = self._positional_params(function)
        env: dict[str, Value] = {}
        if params:
            env[params[0].name.value] = self_value
        if len(params) > 1:
            env[params[1].name.value] = frozenset({Key()})
        frame = Frame(module, qualname, class_id, env, entry=True)
        self.exec_block(_body(function.body), frame)

    # ------------------------------------------------------------------ reporting
    def loc(self, frame: Frame, node: cst.CSTNode) -> Location:
        return self.shared.location(frame.module, node)

    def _via(self, frame: Frame) -> str | None:
        return None if frame.entry else frame.function

    def read(self, value: Value, node: cst.CSTNode, frame: Frame, how: str, *, through_seq: bool = True) -> None:
        for tab in tables_in(value, through_seq=through_seq):
            where = tab.origin or self.loc(frame, node)
            self.facts.add(Read(self.owner, where, how, tab.table, self._via(frame)))
        self.note_unknowns(value)

    def note_unknowns(self, value: Value) -> None:
        """Unknown names used as tables: one informational DJ001 each (the model keeps the first place)."""
        for unknown in unknowns_in(value):
            if unknown.name.rsplit(".", 1)[-1][:1].isupper():
                note = getattr(self.model, "note_unknown", None)
                if note is not None:
                    where = unknown.location
                    note(unknown.name, where.path, where.line, where.column)

    def write(self, tab: Tab, node: cst.CSTNode, frame: Frame, how: str) -> None:
        where = tab.origin or self.loc(frame, node)
        self.facts.add(Write(self.owner, where, how, tab.table, self._via(frame)))

    def consume(self, value: Value, node: cst.CSTNode, frame: Frame, how: str) -> None:
        """A one-shot iterable in ``value`` is iterated to the end here."""
        for gen in gens_in(value):
            if gen.ident in self.manual:
                continue
            here = self.loc(frame, node)
            text = frame.module.tree.code_for_node(node)
            name = text if len(text) < 60 and "\n" not in text else "the iterable"
            self.names.setdefault(gen.ident, name)
            self.consumers[gen.ident] = how
            seen = self.consumed.get(gen.ident)
            if seen is None:
                self.consumed[gen.ident] = (1, here, here)
            else:
                count, first, _ = seen
                self.consumed[gen.ident] = (count + 1, first, here)
                if count == 1:
                    self.facts.add(OneShotReuse(self.owner, here, how, name, first))

    # ------------------------------------------------------------------ statements
    def exec_block(self, statements: Iterable[Any], frame: Frame) -> bool:
        """Run statements in order; False once a return/raise/continue/break ends the path."""
        for statement in statements:
            if not self.exec_stmt(statement, frame):
                return False
        return True

    def _snapshot(self, frame: Frame) -> tuple[dict[str, Value], dict[int, tuple[int, Location, Location]]]:
        return dict(frame.env), dict(self.consumed)

    def _restore(self, frame: Frame, state: tuple[dict[str, Value], dict[int, tuple[int, Location, Location]]]) -> None:
        frame.env = dict(state[0])
        self.consumed = dict(state[1])

    def _merge(self, frame: Frame, states: list[tuple[dict[str, Value], dict[int, tuple[int, Location, Location]]]]) -> None:
        if not states:
            return
        env: dict[str, Value] = {}
        consumed: dict[int, tuple[int, Location, Location]] = {}
        for names, counts in states:
            for name, value in names.items():
                env[name] = env.get(name, NOTHING) | value
            for ident, entry in counts.items():
                if ident not in consumed or consumed[ident][0] < entry[0]:
                    consumed[ident] = entry
        frame.env = env
        self.consumed = consumed

    def _branches(self, frame: Frame, blocks: list[Sequence[Any]], fallthrough: bool) -> bool:
        """Run alternative blocks from the same state; merge the states of the arms that continue."""
        start = self._snapshot(frame)
        states = []
        if fallthrough:
            states.append(start)
        for block in blocks:
            self._restore(frame, start)
            if self.exec_block(block, frame):
                states.append(self._snapshot(frame))
        if not states:
            self._restore(frame, start)
            return False
        self._merge(frame, states)
        return True

    def _loop(self, statement: cst.For | cst.While, frame: Frame) -> None:
        """Run the body once (merged with skipping it). A one-shot iterable created before the loop
        and consumed on the body's straight path is consumed again by the next iteration."""
        start = self._snapshot(frame)
        first_new = next(_ids)
        completed = self.exec_block(_body(statement.body), frame)
        if completed:
            for ident, (count, first, last) in list(self.consumed.items()):
                before = start[1].get(ident, (0, first, first))[0]
                if ident < first_new and before == 0 and count == 1 and ident not in self.manual:
                    self.consumed[ident] = (2, first, last)
                    self.facts.add(OneShotReuse(self.owner, last, self.consumers.get(ident, "loop"),
                                                self.names.get(ident, "the iterable"), first))
        states = [start, self._snapshot(frame)] if completed else [start]
        if statement.orelse is not None:
            self._restore(frame, states[-1])
            if self.exec_block(_body(statement.orelse.body), frame):
                states.append(self._snapshot(frame))
        self._merge(frame, states)

    def exec_stmt(self, statement: Any, frame: Frame) -> bool:
        if isinstance(statement, cst.SimpleStatementLine):
            return self.exec_block(statement.body, frame)
        if isinstance(statement, cst.If):
            self.truth(self.ev(statement.test, frame), statement.test, frame)
            blocks = [_body(statement.body)]
            orelse = statement.orelse
            if isinstance(orelse, cst.If):
                blocks.append([orelse])
            elif isinstance(orelse, cst.Else):
                blocks.append(_body(orelse.body))
            return self._branches(frame, blocks, fallthrough=orelse is None)
        if isinstance(statement, cst.For):
            iterable = self.ev(statement.iter, frame)
            self.read(iterable, statement.iter, frame, "iteration", through_seq=False)
            self.consume(iterable, statement.iter, frame, "for loop")
            self.bind(statement.target, self.element(iterable), frame)
            self._loop(statement, frame)
            return True
        if isinstance(statement, cst.While):
            self.truth(self.ev(statement.test, frame), statement.test, frame)
            self._loop(statement, frame)
            return True
        if isinstance(statement, (cst.Try, cst.TryStar)):
            # handlers run from the state before the try body (the body may have failed anywhere),
            # the else-block after it; both outcomes merge
            before = self._snapshot(frame)
            completed = self.exec_block(_body(statement.body), frame)
            if completed and statement.orelse is not None:
                completed = self.exec_block(_body(statement.orelse.body), frame)
            states = [self._snapshot(frame)] if completed else []
            for handler in statement.handlers:
                self._restore(frame, before)
                if handler.type is not None:
                    self.ev(handler.type, frame)
                if handler.name is not None and isinstance(handler.name.name, cst.Name):
                    frame.env[handler.name.name.value] = NOTHING
                if self.exec_block(_body(handler.body), frame):
                    states.append(self._snapshot(frame))
            if states:
                self._merge(frame, states)
            else:
                self._restore(frame, before)
            if statement.finalbody is not None:
                self.exec_block(_body(statement.finalbody.body), frame)
            return bool(states)
        if isinstance(statement, cst.With):
            for item in statement.items:
                value = self.ev(item.item, frame)
                if item.asname is not None:
                    self.bind(item.asname.name, value, frame)
            return self.exec_block(_body(statement.body), frame)
        if isinstance(statement, cst.FunctionDef):
            index = len(self.local_functions)
            self.local_functions.append((statement, frame.module, frame.env, frame.class_id))
            frame.env[statement.name.value] = frozenset({LocalFn(index)})
            return True
        if isinstance(statement, cst.ClassDef):
            return True
        if isinstance(statement, cst.Match):
            self.ev(statement.subject, frame)
            self._branches(frame, [_body(case.body) for case in statement.cases], fallthrough=True)
            return True
        # small statements
        if isinstance(statement, cst.Expr):
            self.ev(statement.value, frame)
            return True
        if isinstance(statement, cst.Assign):
            value = self.ev(statement.value, frame)
            for target in statement.targets:
                self.bind(target.target, value, frame, statement.value)
            return True
        if isinstance(statement, cst.AnnAssign):
            if statement.value is not None:
                self.bind(statement.target, self.ev(statement.value, frame), frame)
            return True
        if isinstance(statement, cst.AugAssign):
            value = self.ev(statement.value, frame)
            if isinstance(statement.target, cst.Name):
                name = statement.target.value
                frame.env[name] = frame.env.get(name, NOTHING) | frozenset(
                    a for a in value if isinstance(a, (Seq, Row)))
            return True
        if isinstance(statement, cst.Return):
            if statement.value is not None:
                frame.returns.append(self.ev(statement.value, frame))
            return False
        if isinstance(statement, cst.Raise):
            if statement.exc is not None:
                self.ev(statement.exc, frame)
            return False
        if isinstance(statement, (cst.Continue, cst.Break)):
            return False
        if isinstance(statement, cst.Assert):
            self.truth(self.ev(statement.test, frame), statement.test, frame)
            return True
        if isinstance(statement, cst.Del):
            return True
        if isinstance(statement, cst.Import):
            for alias in statement.names:
                dotted = _dotted(alias.name) or ""
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    frame.env[alias.asname.name.value] = self._module_value(frame, dotted)
                else:
                    root = dotted.split(".")[0]
                    frame.env[root] = self._module_value(frame, root)
            return True
        if isinstance(statement, cst.ImportFrom):
            self._import_from(statement, frame)
            return True
        return True

    def _module_value(self, frame: Frame, dotted: str) -> Value:
        if dotted in self.model.modules:
            return frozenset({Mod(dotted)})
        return frozenset({Ext(dotted)})

    def _import_from(self, statement: cst.ImportFrom, frame: Frame) -> None:
        if isinstance(statement.names, cst.ImportStar):
            return
        level = len(statement.relative)
        source = _dotted(statement.module) if statement.module is not None else ""
        absolute = source or ""
        if level:
            try:
                absolute = self.model._absolute(frame.module.name, level, source or "")
            except Exception:
                absolute = source or ""
        for alias in statement.names:
            name = _dotted(alias.name) or ""
            local = alias.asname.name.value if alias.asname is not None and isinstance(
                alias.asname.name, cst.Name) else name
            value: Value = NOTHING
            if absolute in self.model.modules:
                value = self._symbol_value(self.shared.resolve(absolute, name), None)
                if not value and f"{absolute}.{name}" in self.model.modules:
                    value = frozenset({Mod(f"{absolute}.{name}")})
            elif f"{absolute}.{name}" in self.model.modules:
                value = frozenset({Mod(f"{absolute}.{name}")})
            elif not level:
                value = frozenset({Ext(f"{absolute}.{name}")})
            frame.env[local] = value

    def bind(self, target: cst.CSTNode, value: Value, frame: Frame, source: cst.CSTNode | None = None) -> None:
        if isinstance(target, cst.Name):
            frame.env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            element = self.element(value)
            for item in target.elements:
                self.bind(item.value, element, frame)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, NOTHING, frame)
        elif isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            # row['attr'] = v  (also key['attr'] = v: the key dict itself is changed)
            name = target.value.value
            current = frame.env.get(name)
            field_name = self._subscript_literal(target)
            if not current or field_name is None:
                return
            self.ev(target, frame)  # the subscript itself
            text = frame.module.tree.code_for_node(source if source is not None else target)
            field = Field(field_name, value, text, self.loc(frame, target))
            changed = set()
            for atom in current:
                if isinstance(atom, Row):
                    changed.add(atom.with_field(field))
                elif isinstance(atom, Key):
                    changed.add(Row((field,), True, False))
                else:
                    changed.add(atom)
            frame.env[name] = frozenset(changed)

    @staticmethod
    def _subscript_literal(node: cst.Subscript) -> str | None:
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return None
        literal = _literal(node.slice[0].slice.value)
        return literal.value if literal is not None and isinstance(literal.value, str) else None

    def element(self, value: Value) -> Value:
        """What iterating ``value`` yields, when known (items of literal lists, of generators)."""
        items: set[Atom] = set()
        for atom in value:
            if isinstance(atom, (Seq, Gen)):
                items |= atom.items
        return frozenset(items)

    # ------------------------------------------------------------------ contexts
    def truth(self, value: Value, node: cst.CSTNode, frame: Frame) -> None:
        self.read(value, node, frame, "truth value", through_seq=False)

    # ------------------------------------------------------------------ expressions
    def ev(self, node: cst.CSTNode, frame: Frame, *, write_receiver: bool = False) -> Value:
        method = getattr(self, "ev_" + type(node).__name__, None)
        if method is None:
            self._children(node, frame)
            return NOTHING
        if write_receiver and isinstance(node, cst.BinaryOperation):
            return method(node, frame, write_receiver=True)
        return method(node, frame)

    def _children(self, node: cst.CSTNode, frame: Frame) -> None:
        for child in node.children:
            if isinstance(child, cst.BaseExpression):
                self.ev(child, frame)

    def ev_Name(self, node: cst.Name, frame: Frame) -> Value:
        literal = _literal(node)
        if literal is not None:
            return frozenset({literal})
        if node.value in frame.env:
            return frame.env[node.value]
        return self._global(frame, node.value, node)

    def _global(self, frame: Frame, dotted: str, node: cst.CSTNode) -> Value:
        symbol = self.shared.resolve(frame.module.name, dotted)
        return self._symbol_value(symbol, self.loc(frame, node) if symbol is not None else None)

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
        return NOTHING

    def ev_Attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        root = _root_name(node)
        dotted = _dotted(node)
        if dotted is not None and root is not None and root not in frame.env and root != "self":
            symbol = self.shared.resolve(frame.module.name, dotted)
            if symbol is not None and symbol.kind != "unknown":
                if symbol.kind == "function" and "." in dotted:
                    # a method reached through a class: keep the receiver for binding self
                    pass
                else:
                    return self._symbol_value(symbol, self.loc(frame, node))
        base = self.ev(node.value, frame)
        return self.attribute(base, node.attr.value, node, frame)

    def attribute(self, base: Value, name: str, node: cst.CSTNode, frame: Frame) -> Value:
        result: set[Atom] = set()
        for atom in base:
            if isinstance(atom, Tab):
                info = self.model.tables.get(atom.table)
                part = f"{atom.table}.{name}"
                if name == "upstream":
                    result.add(Upstream())
                elif part in self.model.tables:
                    result.add(Tab(part, self.loc(frame, node)))
                elif name == "master" and info is not None and info.master:
                    result.add(Tab(info.master, self.loc(frame, node)))
                elif name in N.METADATA:
                    continue
                else:
                    member = self.class_member(atom.table, atom, name, node, frame)
                    result |= member if member is not None else {Attr(atom, name)}
            elif isinstance(atom, Mod):
                module, _, schema = atom.name.partition("\0")
                if schema:
                    symbol = self.model.attribute(self._mod_symbol(module, schema), name)
                else:
                    symbol = self.shared.resolve(module, name)
                result |= self._symbol_value(symbol, self.loc(frame, node))
            elif isinstance(atom, Ext):
                result.add(Ext(f"{atom.name}.{name}"))
            elif isinstance(atom, Cls):
                nested = f"{atom.class_id}.{name}"
                if nested in self.model.tables:
                    result.add(Tab(nested, self.loc(frame, node)))
                elif nested in self.model.classes:
                    result.add(Cls(nested))
                else:
                    result.add(Attr(atom, name))
            elif isinstance(atom, Unk):
                result.add(Unk(f"{atom.name}.{name}", atom.location) if name[:1].isupper() else Attr(atom, name))
            elif isinstance(atom, (Inst, Key, Row, Super, Const, Seq, Gen, Upstream)):
                result.add(Attr(atom, name))
        return frozenset(result)

    def class_member(self, class_id: str, receiver: Atom, name: str, node: cst.CSTNode,
                     frame: Frame) -> Value | None:
        """``obj.name`` when the repo class defines it as a property (run it) or as a class-level
        assignment (its value, evaluated in the class's module); None for methods and the unknown."""
        info = self.model.method_info(class_id, name)
        if info is not None:
            function = info.node
            if function is None or not any(
                    (_dotted(d.decorator) or "").rsplit(".", 1)[-1] in ("property", "cached_property")
                    for d in function.decorators):
                return None
            return self.invoke(self.model.modules.get(info.module), function, info.class_id,
                               frozenset({receiver}), [], {}, node, frame)
        cls = self.model.classes.get(class_id)
        if cls is None:
            return None
        for candidate in [cls.id, *cls.bases]:
            owner = self.model.classes.get(candidate)
            if owner is None or name not in owner.attributes:
                continue
            return self.class_attribute(owner, name)
        return None

    def class_attribute(self, owner: Any, name: str) -> Value:
        key = (owner.id, name)
        if key in self.class_values:
            return self.class_values[key]
        self.class_values[key] = NOTHING      # guards self-reference
        module = self.model.modules.get(owner.module)
        klass = module.definitions().get(owner.qualname) if module is not None else None
        value: Value = NOTHING
        if klass is not None:
            frame = Frame(module, f"{owner.id}.{name}", owner.id, {}, entry=False)
            for statement in _body(klass.body):
                if not isinstance(statement, cst.SimpleStatementLine):
                    continue
                for small in statement.body:
                    if isinstance(small, cst.Assign) and any(
                            isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets):
                        value = self.ev(small.value, frame)
                    elif (isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name)
                          and small.target.value == name and small.value is not None):
                        value = self.ev(small.value, frame)
        value = frozenset(a for a in value if isinstance(a, (Tab, Mod, Cls, Seq, Const)))
        self.class_values[key] = value
        return value

    def _mod_symbol(self, module: str, schema: str) -> Any:
        from djlint.model import Symbol

        return Symbol("module", module, schema=schema)

    def ev_Subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.ev(node.value, frame)
        index: Value = NOTHING
        index_node: cst.CSTNode | None = None
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                index_node = element.slice.value
                index = self.ev(index_node, frame)
            else:
                self._children(element.slice, frame)
        result: set[Atom] = set()
        for atom in base:
            if isinstance(atom, Upstream) and index_node is not None:
                for tab in tables_in(index, through_seq=False):
                    where = tab.origin or self.loc(frame, index_node)
                    self.facts.add(UpstreamIndex(self.owner, where, "self.upstream[...]", tab.table))
                    result.add(tab)
            elif isinstance(atom, Key):
                name = self._subscript_literal(node)
                if name is not None:
                    self.key_attributes.add(name)
                    result.add(KeyField(name))
            elif isinstance(atom, Row):
                name = self._subscript_literal(node)
                for field in atom.fields:
                    if field.name == name:
                        result |= field.value
                if atom.spread_key and name is not None and not any(f.name == name for f in atom.fields):
                    result.add(KeyField(name))
            elif isinstance(atom, Seq):
                result |= atom.items
        return frozenset(result)

    def ev_Call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        write_method = isinstance(func, cst.Attribute) and func.attr.value in N.WRITE_METHODS
        if write_method:
            receiver = self.ev(func.value, frame, write_receiver=True)
            callee = self.attribute(receiver, func.attr.value, func, frame)
        else:
            callee = self.ev(func, frame)
        positional: list[tuple[Value, cst.CSTNode]] = []
        keywords: dict[str, tuple[Value, cst.CSTNode]] = {}
        starred: list[tuple[Value, cst.CSTNode]] = []
        for arg in node.args:
            value = self.ev(arg.value, frame)
            if arg.star == "*":
                starred.append((value, arg.value))
                self.consume(value, arg.value, frame, "* unpacking")
            elif arg.star == "**":
                starred.append((value, arg.value))
            elif arg.keyword is not None:
                keywords[arg.keyword.value] = (value, arg)
            else:
                positional.append((value, arg.value))
        if isinstance(func, cst.Attribute) and func.attr.value == "query" and positional:
            self.raw_sql(positional[0][0], positional[0][1], frame)   # dj.conn().query("INSERT ...")
        result: set[Atom] = set()
        for atom in callee:
            result |= self.call(atom, node, positional, keywords, starred, frame)
        return frozenset(result)

    def call(self, atom: Atom, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
             keywords: dict[str, tuple[Value, cst.CSTNode]], starred: list[tuple[Value, cst.CSTNode]],
             frame: Frame) -> Value:
        if isinstance(atom, (Tab, Unk)):
            return frozenset({atom})          # Table() -> an instance of the same table
        if isinstance(atom, Cls):
            init = self.model.method(atom.class_id, "__init__")
            instance = frozenset({Inst(atom.class_id)})
            if init is not None:
                self.invoke(init[0], init[1], self._definer(atom.class_id, "__init__"), instance,
                            positional, keywords, node, frame)
            return instance
        if isinstance(atom, Fn):
            info = self.model.functions.get(atom.function_id)
            if info is None or info.node is None:
                return NOTHING
            module = self.model.modules.get(info.module)
            self_value = None
            if info.class_id is not None and not self._is_static(info.node):
                # Class.method(obj, ...) called through the class: first argument is self
                if positional:
                    self_value, positional = positional[0][0], positional[1:]
                else:
                    self_value = NOTHING
            return self.invoke(module, info.node, info.class_id, self_value, positional, keywords, node, frame)
        if isinstance(atom, LocalFn):
            function, module, closure, class_id = self.local_functions[atom.index]
            return self.invoke(module, function, class_id, None, positional, keywords, node, frame,
                               closure=closure)
        if isinstance(atom, Ext):
            return self.call_external(atom.name, node, positional, keywords, starred, frame)
        if isinstance(atom, Attr):
            return self.call_method(atom.receiver, atom.name, node, positional, keywords, starred, frame)
        return NOTHING

    @staticmethod
    def _is_static(function: cst.FunctionDef) -> bool:
        return any(_dotted(d.decorator) in ("staticmethod",) for d in function.decorators)

    def _definer(self, class_id: str, name: str) -> str | None:
        info = self.model.method_info(class_id, name) if hasattr(self.model, "method_info") else None
        return info.class_id if info is not None else class_id

    # ------------------------------------------------------------------ methods of values
    def call_method(self, receiver: Atom, name: str, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
                    keywords: dict[str, tuple[Value, cst.CSTNode]], starred: list[tuple[Value, cst.CSTNode]],
                    frame: Frame) -> Value:
        if isinstance(receiver, Tab):
            return self.table_method(receiver, name, node, positional, keywords, frame)
        if isinstance(receiver, Unk):
            if name in N.READ_METHODS or name in N.WRITE_METHODS or name in N.QUERY_METHODS:
                self.note_unknowns(frozenset({receiver}))
            return frozenset({receiver}) if name in N.QUERY_METHODS else NOTHING
        if isinstance(receiver, Key):
            if name == "get" and positional:
                literal = _literal(positional[0][1])
                if literal is not None and isinstance(literal.value, str):
                    self.key_attributes.add(literal.value)
                    return frozenset({KeyField(literal.value)})
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
            found = self.model.method(receiver.class_id, name)
            if found is None:
                return NOTHING
            module, function = found
            self_value = None if self._is_static(function) else frozenset({receiver})
            return self.invoke(module, function, self._definer(receiver.class_id, name), self_value,
                               positional, keywords, node, frame)
        if isinstance(receiver, Super):
            return self.call_super(receiver, name, node, positional, keywords, frame)
        if isinstance(receiver, Const) and name == "join" and positional:
            self.consume(positional[0][0], positional[0][1], frame, "str.join()")
        return NOTHING

    def _row_update(self, row: Row | Key, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
                    keywords: dict[str, tuple[Value, cst.CSTNode]], frame: Frame) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
            return
        name = func.value.value
        updated = row if isinstance(row, Row) else Row((), True, False)   # key.update(...) changes the key
        for keyword, (value, arg) in keywords.items():
            updated = updated.with_field(Field(keyword, value, frame.module.tree.code_for_node(arg.value),
                                               self.loc(frame, arg)))
        for value, _ in positional:
            for atom in value:
                if isinstance(atom, Row):
                    for field in atom.fields:
                        updated = updated.with_field(field)
        current = frame.env.get(name, NOTHING)
        frame.env[name] = frozenset(updated if a == row else a for a in current)

    def table_method(self, tab: Tab, name: str, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
                     keywords: dict[str, tuple[Value, cst.CSTNode]], frame: Frame) -> Value:
        if name in N.WRITE_METHODS:
            self.write(tab, node, frame, name)
            for value, arg in positional + [(v, a) for v, a in keywords.values()]:
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
        if name in N.METADATA:
            return NOTHING
        found = self.model.method(tab.table, name)
        if found is None:
            return NOTHING
        module, function = found
        self_value = None if self._is_static(function) else frozenset({tab})
        return self.invoke(module, function, self._definer(tab.table, name), self_value, positional, keywords,
                           node, frame)

    def call_super(self, receiver: Super, name: str, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
                   keywords: dict[str, tuple[Value, cst.CSTNode]], frame: Frame) -> Value:
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
                    function = info.methods[name].node
                    if function is not None:
                        module = self.model.modules[info.module]
                        return self.invoke(module, function, candidate, receiver.self_value, positional,
                                           keywords, node, frame)
        return NOTHING

    # ------------------------------------------------------------------ external callables
    def call_external(self, name: str, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
                      keywords: dict[str, tuple[Value, cst.CSTNode]], starred: list[tuple[Value, cst.CSTNode]],
                      frame: Frame) -> Value:
        if name in N.CONNECTION_OPENERS:
            self.facts.add(Connect(self.owner, self.loc(frame, node), name))
            return NOTHING
        if name in N.DJ_CONN:
            # dj.conn(host, user, ...) returns the connection already open; only reset=True opens another
            reset = keywords.get("reset")
            literal = _literal(reset[1].value) if reset is not None else None
            if literal is not None and literal.value is True:
                self.facts.add(Connect(self.owner, self.loc(frame, node), "datajoint.conn(...)"))
            return NOTHING
        if name.startswith("datajoint.") and name.rsplit(".", 1)[1] in ("Not", "AndList", "OrList", "U", "Top"):
            for value, arg in positional:
                self.read(value, arg, frame, f"dj.{name.rsplit('.', 1)[1]}()")
            return NOTHING
        if name.startswith("itertools."):
            for value, arg in positional + starred:
                self.read(value, arg, frame, "iteration", through_seq=False)
                self.consume(value, arg, frame, name)
            return frozenset({Gen(next(_ids), self.loc(frame, node))})
        if not name.startswith("builtins."):
            return NOTHING
        builtin = name[len("builtins."):]
        if builtin == "super":
            self_value = frame.env.get("self", NOTHING)
            if frame.class_id is None:
                return NOTHING
            return frozenset({Super(frame.class_id, self_value)})
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
            for value, arg in starred:
                self.consume(value, arg, frame, f"{builtin}()")
            if builtin in ("map", "filter") and len(positional) > 1:
                # the mapped function runs on the elements: follow it for what it reads
                element = frozenset().union(*(self.element(v) for v, _ in positional[1:]))
                for atom in positional[0][0]:
                    if isinstance(atom, (Fn, LocalFn)):
                        self.call(atom, node, [(element, positional[1][1])], {}, [], frame)
            return frozenset({Gen(next(_ids), self.loc(frame, node), frozenset(items))})
        if builtin in N.CONSUMING_BUILTINS or builtin in N.TRUTH_BUILTINS:
            if builtin == "dict":
                return self.dict_call(node, positional, keywords, starred, frame)
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

    def dict_call(self, node: cst.Call, positional: list[tuple[Value, cst.CSTNode]],
                  keywords: dict[str, tuple[Value, cst.CSTNode]], starred: list[tuple[Value, cst.CSTNode]],
                  frame: Frame) -> Value:
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
            row = row.with_field(Field(keyword, value, frame.module.tree.code_for_node(arg.value),
                                       self.loc(frame, arg)))
        return frozenset({row})

    # ------------------------------------------------------------------ raw SQL
    def raw_sql(self, value: Value, node: cst.CSTNode, frame: Frame) -> None:
        for atom in value:
            if not (isinstance(atom, Const) and isinstance(atom.value, str)):
                continue
            written, read = classify(atom.value)
            for database, table in written:
                target = self.table_of_sql(database, table)
                if target is not None:
                    self.facts.add(Write(self.owner, self.loc(frame, node), "raw SQL", target, self._via(frame)))
            for database, table in read:
                target = self.table_of_sql(database, table)
                if target is not None:
                    self.facts.add(Read(self.owner, self.loc(frame, node), "raw SQL", target, self._via(frame)))

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
                    if field.name not in self.key_attributes:
                        continue
                    if self._mismatch(field.name, field.value):
                        self.facts.add(KeyMismatch(self.owner, field.location, how, tab.table, field.name,
                                                   field.text))

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
    def ev_BinaryOperation(self, node: cst.BinaryOperation, frame: Frame, *, write_receiver: bool = False) -> Value:
        operator = node.operator
        left = self.ev(node.left, frame, write_receiver=write_receiver)
        right = self.ev(node.right, frame)
        symbols = {cst.BitAnd: "&", cst.Subtract: "-", cst.Multiply: "*", cst.Add: "+"}
        symbol = next((s for t, s in symbols.items() if isinstance(operator, t)), None)
        if symbol is None:
            return NOTHING
        left_tables = tables_in(left, through_seq=False)
        right_tables = tables_in(right, through_seq=symbol in "&-")
        left_unknown = unknowns_in(left)
        if left_unknown or unknowns_in(right):
            self.note_unknowns(left | right)
        if not left_tables and not right_tables:
            if left_unknown and symbol in "&-":
                return frozenset(left_unknown)
            if symbol == "+" and all(isinstance(a, Seq) for a in left | right) and (left or right):
                return frozenset({Seq(frozenset().union(*(a.items for a in left | right)))})
            return NOTHING
        how = f"operand of {symbol}"
        if not write_receiver:
            self.read(left, node.left, frame, how, through_seq=False)
        self.read(right, node.right, frame, how, through_seq=symbol in "&-")
        if symbol in "&-":
            return frozenset(left_tables or right_tables)
        return frozenset(left_tables + right_tables)

    def ev_BooleanOperation(self, node: cst.BooleanOperation, frame: Frame) -> Value:
        left = self.ev(node.left, frame)
        self.truth(left, node.left, frame)
        right = self.ev(node.right, frame)
        return left | right

    def ev_UnaryOperation(self, node: cst.UnaryOperation, frame: Frame) -> Value:
        literal = _literal(node)
        if literal is not None:
            return frozenset({literal})
        value = self.ev(node.expression, frame)
        if isinstance(node.operator, cst.Not):
            self.truth(value, node.expression, frame)
        return NOTHING

    def ev_Comparison(self, node: cst.Comparison, frame: Frame) -> Value:
        self.ev(node.left, frame)
        for target in node.comparisons:
            value = self.ev(target.comparator, frame)
            if isinstance(target.operator, (cst.In, cst.NotIn)):
                self.read(value, target.comparator, frame, "`in` test", through_seq=False)
                self.consume(value, target.comparator, frame, "an `in` test")
        return NOTHING

    def ev_IfExp(self, node: cst.IfExp, frame: Frame) -> Value:
        self.truth(self.ev(node.test, frame), node.test, frame)
        return self.ev(node.body, frame) | self.ev(node.orelse, frame)

    def ev_NamedExpr(self, node: cst.NamedExpr, frame: Frame) -> Value:
        value = self.ev(node.value, frame)
        self.bind(node.target, value, frame)
        return value

    def ev_Await(self, node: cst.Await, frame: Frame) -> Value:
        return self.ev(node.expression, frame)

    def ev_Yield(self, node: cst.Yield, frame: Frame) -> Value:
        if isinstance(node.value, cst.From):
            value = self.ev(node.value.item, frame)
            self.read(value, node.value.item, frame, "yield from", through_seq=False)
            self.consume(value, node.value.item, frame, "yield from")
            frame.yields.append(self.element(value))
        elif node.value is not None:
            frame.yields.append(self.ev(node.value, frame))
        return NOTHING

    # ------------------------------------------------------------------ literals
    def ev_SimpleString(self, node: cst.SimpleString, frame: Frame) -> Value:
        literal = _literal(node)
        return frozenset({literal}) if literal is not None else NOTHING

    ev_Integer = ev_SimpleString
    ev_Float = ev_SimpleString

    def ev_ConcatenatedString(self, node: cst.ConcatenatedString, frame: Frame) -> Value:
        literal = _literal(node)
        if literal is not None:
            return frozenset({literal})
        self._children(node, frame)
        return NOTHING

    def ev_FormattedString(self, node: cst.FormattedString, frame: Frame) -> Value:
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                self.ev(part.expression, frame)
        return NOTHING

    def _elements(self, elements: Sequence[Any], frame: Frame) -> frozenset:
        items: set[Atom] = set()
        for element in elements:
            value = self.ev(element.value, frame)
            if isinstance(element, cst.StarredElement):
                self.consume(value, element.value, frame, "* unpacking")
                items |= self.element(value)
            else:
                items |= value
        return frozenset(items)

    def ev_List(self, node: cst.List, frame: Frame) -> Value:
        return frozenset({Seq(self._elements(node.elements, frame))})

    ev_Tuple = ev_List
    ev_Set = ev_List

    def ev_Dict(self, node: cst.Dict, frame: Frame) -> Value:
        row = Row((), False, False)
        for element in node.elements:
            if isinstance(element, cst.DictElement):
                value = self.ev(element.value, frame)
                key = _literal(element.key)
                if key is not None and isinstance(key.value, str):
                    row = row.with_field(Field(key.value, value, frame.module.tree.code_for_node(element.value),
                                               self.loc(frame, element)))
                else:
                    self.ev(element.key, frame)
                    row = Row(row.fields, row.spread_key, True)
            else:
                value = self.ev(element.value, frame)
                if any(isinstance(a, Key) for a in value):
                    row = Row((), True, row.open)   # key's values override what came before
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
    def _comprehension(self, node: Any, frame: Frame, elements: Sequence[cst.CSTNode]) -> Value:
        inner = Frame(frame.module, frame.function, frame.class_id, dict(frame.env), frame.entry)
        clause = node.for_in
        while clause is not None:
            iterable = self.ev(clause.iter, inner)
            self.read(iterable, clause.iter, inner, "iteration", through_seq=False)
            self.consume(iterable, clause.iter, inner, "comprehension")
            self.bind(clause.target, self.element(iterable), inner)
            for condition in clause.ifs:
                self.truth(self.ev(condition.test, inner), condition.test, inner)
            clause = clause.inner_for_in
        items: set[Atom] = set()
        for element in elements:
            items |= self.ev(element, inner)
        return frozenset(items)

    def ev_ListComp(self, node: cst.ListComp, frame: Frame) -> Value:
        return frozenset({Seq(self._comprehension(node, frame, [node.elt]))})

    ev_SetComp = ev_ListComp

    def ev_DictComp(self, node: cst.DictComp, frame: Frame) -> Value:
        self._comprehension(node, frame, [node.key, node.value])
        return NOTHING

    def ev_GeneratorExp(self, node: cst.GeneratorExp, frame: Frame) -> Value:
        items = self._comprehension(node, frame, [node.elt])
        return frozenset({Gen(next(_ids), self.loc(frame, node), items)})

    def ev_Lambda(self, node: cst.Lambda, frame: Frame) -> Value:
        index = len(self.local_functions)
        self.local_functions.append((node, frame.module, frame.env, frame.class_id))
        return frozenset({LocalFn(index)})

    # ------------------------------------------------------------------ following calls
    @staticmethod
    def _positional_params(function: Any) -> list[cst.Param]:
        params = function.params
        return [*params.posonly_params, *params.params]

    def invoke(self, module: Any, function: Any, class_id: str | None, self_value: Value | None,
               positional: list[tuple[Value, cst.CSTNode]], keywords: dict[str, tuple[Value, cst.CSTNode]],
               call_node: cst.CSTNode, caller: Frame, closure: dict[str, Value] | None = None) -> Value:
        if module is None or function is None or self.depth >= MAX_DEPTH or self.budget <= 0:
            return NOTHING
        self.budget -= 1
        if module.tree is None:
            return NOTHING
        env: dict[str, Value] = dict(closure) if closure is not None else {}
        params = self._positional_params(function)
        if self_value is not None and params:
            env[params[0].name.value] = self_value
            params = params[1:]
        for param, (value, _) in zip(params, positional):
            env[param.name.value] = value
        star = function.params.star_arg
        if isinstance(star, cst.Param):
            rest = positional[len(params):]
            env[star.name.value] = frozenset({Seq(frozenset().union(*(v for v, _ in rest)) if rest else NOTHING)})
        star_kwargs = function.params.star_kwarg
        if isinstance(star_kwargs, cst.Param):
            env[star_kwargs.name.value] = NOTHING
        named = {p.name.value: p for p in [*params, *function.params.kwonly_params]}
        for keyword, (value, _) in keywords.items():
            if keyword in named:
                env[keyword] = value
        for param in [*params, *function.params.kwonly_params]:
            env.setdefault(param.name.value, NOTHING)
        arguments = tuple(sorted(((k, v) for k, v in env.items()), key=lambda kv: kv[0]))
        signature = (id(function), arguments)
        has_gen = any(gens_in(v) for _, v in arguments)
        if signature in self.active:
            return NOTHING
        if signature in self.done and not has_gen:
            result = self.done[signature]
            if isinstance(function, cst.FunctionDef) and self.shared.is_generator(function):
                return frozenset({Gen(next(_ids), self.loc(caller, call_node), self.element(result))})
            return result
        qualname = self._qualname(module, function, class_id)
        frame = Frame(module, qualname, class_id, env, entry=False)
        self.active.add(signature)
        self.depth += 1
        try:
            if isinstance(function, cst.Lambda):
                value = self.ev(function.body, frame)
                frame.returns.append(value)
            else:
                self.exec_block(_body(function.body), frame)
        finally:
            self.depth -= 1
            self.active.discard(signature)
        returned = frozenset().union(*frame.returns) if frame.returns else NOTHING
        if isinstance(function, cst.FunctionDef) and self.shared.is_generator(function):
            yielded = frozenset().union(*frame.yields) if frame.yields else NOTHING
            self.done[signature] = frozenset({Seq(yielded)})
            return frozenset({Gen(next(_ids), self.loc(caller, call_node), yielded)})
        self.done[signature] = returned
        return returned

    def _qualname(self, module: Any, function: Any, class_id: str | None) -> str:
        if isinstance(function, cst.Lambda):
            return f"{module.name}.<lambda>"
        if class_id is not None:
            return f"{class_id}.{function.name.value}"
        return f"{module.name}.{function.name.value}"
