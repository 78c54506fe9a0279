"""Expression evaluation of the make() interpreter: the abstract value (``values.py``) of each expression -
names, subscripts (``key["attr"]``, ``self.upstream[T]``, rows), calls (arguments evaluated, then the callee
followed by ``calls.py``), ``and``/``or`` and conditional expressions (a run-time choice), literals, dicts
(rows), comprehensions, generator expressions (one-shot iterables) and lambdas. Attribute lookups are in
``lookups.py``, datajoint's operators in ``datajoint_api.py``.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Sequence

from djlint.makeflow import names as N
from djlint.makeflow.facts import UpstreamIndex
from djlint.makeflow.frames import UNPLACED, Args, Frame, Kwargs, generator_ids
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import constant_of
from djlint.makeflow.values import (
    NOTHING, Atom, Cls, Field, Fn, Gen, Key, KeyField, LocalFn, Mod, Row, Seq, Tab, Unk, Upstream, Value,
    choose, tables_in,
)


class Expressions(RunState):
    """Expression evaluation: one method per expression kind (``ev_Name``, ``ev_Call``...)."""

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
        literal = constant_of(node)
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
        return self.global_value(frame, node.id, node)

    def ev_Subscript(self, node: ast.Subscript, frame: Frame) -> Value:
        base = self.ev(node.value, frame)
        index_node = node.slice
        index = self.ev(index_node, frame)
        literal = constant_of(index_node)
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
            self.query_sql(*positional[0], frame)    # dj.conn().query("INSERT ...")
        result: set[Atom] = set()
        for atom in callee:
            result |= self.call(atom, node, positional, keywords, starred, frame)
        return frozenset(result)

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
        self.choice_reads(spans, chosen)
        return chosen

    def ev_UnaryOp(self, node: ast.UnaryOp, frame: Frame) -> Value:
        literal = constant_of(node)
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
        self.choice_reads(spans, chosen)
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
                literal = constant_of(key)
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

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp, frame: Frame,
                       elements: Sequence[ast.expr]) -> Value:
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
        return frozenset({Gen(next(generator_ids), self.loc(frame, node), items)})

    def ev_Lambda(self, node: ast.Lambda, frame: Frame) -> Value:
        index = len(self.local_functions)
        self.local_functions.append((node, frame.module, frame.env, frame.class_id))
        return frozenset({LocalFn(index)})
