"""Where make() code lives: Python ``ast`` nodes of the repository's functions and classes.

The interpreter walks Python's own ``ast`` (positions included, about ten times cheaper to parse than
libcst, whose position metadata costs another full code generation per module): on a repository where
most modules hold a make(), that is the difference between a lint run in seconds and in minutes.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from djlint.model import ClassInfo, FunctionInfo, Model, ModuleInfo

_COMPOUND: tuple[type[ast.stmt], ...] = (ast.If, ast.Try, ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor)
if hasattr(ast, "TryStar"):
    _COMPOUND = (*_COMPOUND, ast.TryStar)

FunctionNode = (ast.FunctionDef, ast.AsyncFunctionDef)
FunctionDefinition = ast.FunctionDef | ast.AsyncFunctionDef


class Sources:
    """qualname -> ast node per module (classes and functions not nested in functions), memoised."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._index: dict[str, dict[str, ast.AST]] = {}

    def tree(self, module: ModuleInfo) -> ast.Module | None:
        try:
            return module.ast_tree
        except (SyntaxError, ValueError):
            return None

    def definitions(self, module: ModuleInfo) -> dict[str, ast.AST]:
        found = self._index.get(module.name)
        if found is not None:
            return found
        found = {}
        tree = self.tree(module)
        if tree is not None:
            self._walk(tree.body, "", found)
        self._index[module.name] = found
        return found

    def _walk(self, body: list[ast.stmt], prefix: str, found: dict[str, ast.AST]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                name = prefix + stmt.name
                found.setdefault(name, stmt)
                self._walk(stmt.body, name + ".", found)
            elif isinstance(stmt, FunctionNode):
                found.setdefault(prefix + stmt.name, stmt)
            elif isinstance(stmt, _COMPOUND):
                for field in ("body", "orelse", "finalbody"):
                    self._walk(getattr(stmt, field, None) or [], prefix, found)
                for handler in getattr(stmt, "handlers", None) or []:
                    self._walk(handler.body, prefix, found)

    def function(self, function_info: FunctionInfo | None) -> tuple[ModuleInfo, FunctionDefinition] | None:
        """(ModuleInfo, ast FunctionDef) of a model FunctionInfo."""
        if function_info is None:
            return None
        module = self.model.modules.get(function_info.module)
        if module is None:
            return None
        node = self.definitions(module).get(function_info.qualname)
        return (module, node) if isinstance(node, FunctionNode) else None

    def method(self, class_id: str, name: str) -> tuple[ModuleInfo, FunctionDefinition, FunctionInfo] | None:
        """(ModuleInfo, ast FunctionDef, FunctionInfo) of a method on a class or its repo bases."""
        info = self.model.method_info(class_id, name)
        found = self.function(info)
        return (found[0], found[1], info) if found is not None and info is not None else None

    def klass(self, class_info: ClassInfo) -> tuple[ModuleInfo, ast.ClassDef] | None:
        module = self.model.modules.get(class_info.module)
        if module is None:
            return None
        node = self.definitions(module).get(class_info.qualname)
        return (module, node) if isinstance(node, ast.ClassDef) else None


def is_generator(function: ast.AST) -> bool:
    """A ``yield`` in the function's own body (not in nested functions, lambdas or classes)."""
    stack = list(getattr(function, "body", []))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (*FunctionNode, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False
