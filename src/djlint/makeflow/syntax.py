"""Facts about Python syntax the make() interpreter asks: literals, dotted names, parameters, decorators,
which names a function rebinds, how a comparison of two literals comes out. Pure functions of ``ast``
nodes, no interpreter state."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from operator import ge, gt, le, lt
from typing import Any

from djlint.astnames import dotted_name
from djlint.makeflow.source import FunctionNode
from djlint.makeflow.values import Const

# code the interpreter runs: a function's body, or a lambda's expression
FunctionCode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


def positional_params(function: FunctionCode) -> list[ast.arg]:
    arguments = function.args
    return [*arguments.posonlyargs, *arguments.args]

def constant_of(node: ast.AST) -> Const | None:
    if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, type(...))):
        return Const(node.value, repr(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = constant_of(node.operand)
        if inner is not None and isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
            return Const(-inner.value, repr(-inner.value))
    return None


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def source_text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001
        return "?"


def short_text(node: ast.AST) -> str:
    text = source_text(node)
    return text if len(text) < 60 and "\n" not in text else "the iterable"


def breaks_loop(body: list[ast.stmt]) -> bool:
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


NOT_IN_DEFAULTS = (ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                    ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await)


def decorated(function: ast.AST, *names: str) -> bool:
    return any((dotted_name(d) or "").rsplit(".", 1)[-1] in names for d in getattr(function, "decorator_list", []))


def binds_receiver(function: FunctionCode, through_class: bool, given: int | None = None) -> bool:
    """Whether calling ``receiver.f(...)`` passes the receiver as f's first parameter. A function stored in
    a class without ``self``/``cls`` (``def helper(key)``) and called through the class
    (``Table.helper(key)``) is a plain function: ``key`` is the first argument, not the table. Through a
    name that may hold the class (``table = Camera``), ``given`` positional arguments that fill every
    parameter without a default tell the same."""
    if getattr(function, "decorator_list", None):
        if decorated(function, "staticmethod"):
            return False
        if decorated(function, "classmethod"):
            return True
    params = [*function.args.posonlyargs, *function.args.args]
    if not params or params[0].arg in ("self", "cls"):
        return bool(params)
    if through_class:
        return False
    required = len(params) - len(function.args.defaults)
    return given is None or given < required


def names_a_class(node: ast.AST) -> bool:
    """``Table``, ``module.Table``, ``self.Part``, ``cls``, ``type(self)``, ``self.__class__``: an expression
    naming a class rather than an instance (by Python's naming convention for the names)."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "type"
    if isinstance(node, ast.Attribute):
        return node.attr == "__class__" or node.attr[:1].isupper()
    if isinstance(node, ast.Name):
        return node.id == "cls" or node.id[:1].isupper()
    return False


def rebound_names(function: FunctionCode) -> frozenset[str]:
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


def none_default_params(function: FunctionCode) -> frozenset[str]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
    pairs += [(p, d) for p, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
    return frozenset(p.arg for p, d in pairs if isinstance(d, ast.Constant) and d.value is None)


_SINGLETONS = (None, True, False)


# operands are whatever two literals hold: Python decides, and a TypeError says it would not
_ORDER: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {ast.Lt: lt, ast.LtE: le, ast.Gt: gt, ast.GtE: ge}


def compare_literals(op: ast.cmpop, left: object, right: object) -> bool | None:
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

