"""Statement execution of the make() interpreter: statements run in order; both arms of a branch run
from the same state and their states merge (a name bound to different tables on two arms holds a
run-time choice); an arm whose test the call decides (``static_truth``) is not run; loop bodies run once,
merged with skipping them; ``try`` handlers run from the state before the body. Assignment targets
(``bind``), imports inside functions, nested ``def``s.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable, Sequence

from djlint.makeflow.facts import Location
from djlint.makeflow.frames import UNPLACED, Frame, State, generator_ids
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import breaks_loop, compare_literals, constant_of
from djlint.makeflow.values import (
    NOTHING, Atom, Cls, Const, Ext, Field, Gen, Inst, Key, LocalFn, Mod, Row, Seq, Tab, Value, choose,
    gens_in, tables_in,
)


class Statements(RunState):
    """Statement execution: one method per statement kind (``st_If``, ``st_For``...)."""

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
            self.choice_reads(spans, frozenset().union(*chosen) if chosen else NOTHING)
        return True

    def choice_reads(self, spans: list[tuple[int, int]], chosen: Value) -> None:
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
        first_new = next(generator_ids)
        completed = self.exec_block(statement.body, frame)
        if completed:
            self.consumed_again_by_loop(start[1], first_new)
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
        blocks: list[Sequence[ast.stmt]] = [statement.body]
        if statement.orelse:
            blocks.append(statement.orelse)
        return self._branches(frame, blocks, fallthrough=not statement.orelse)

    def st_For(self, statement: ast.For, frame: Frame) -> bool:
        iterable = self.ev(statement.iter, frame)
        self.read(iterable, statement.iter, frame, "iteration", through_seq=False)
        if breaks_loop(statement.body):
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

    def st_Match(self, statement: ast.Match, frame: Frame) -> bool:
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
                value = self.symbol_value(self.resolve(absolute, name), UNPLACED)
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
            literal = constant_of(target.slice)
            field_name = literal.value if literal is not None and isinstance(literal.value, str) else None
            if not current or field_name is None:
                return
            field = Field(field_name, value, source if source is not None else target, self.loc(frame, target))
            changed: set[Atom] = set()
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
        literal = constant_of(node)
        if literal is not None:
            return [literal.value]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):      # ``mode in ("a", "b")``
            items = [constant_of(e) for e in node.elts]
            values = [i.value for i in items if i is not None]
            return [tuple(values)] if len(values) == len(items) else None
        if isinstance(node, ast.Name):
            value = frame.env.get(node.id, NOTHING)
            constants = [a.value for a in value if isinstance(a, Const)]
            found: list[object]
            if node.id in frame.none_defaults and not value:
                found = [None]
            elif value and len(constants) == len(value):
                found = constants
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
            results = {compare_literals(node.ops[0], a, b) for a in left for b in right}
            return results.pop() if len(results) == 1 else None
        values = self.static_values(node, frame)
        if values is None:
            return None
        truths = {bool(v) for v in values}
        return truths.pop() if len(truths) == 1 else None
