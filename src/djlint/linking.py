"""DataJoint Elements' linking module, found once for the model and the make() interpreter.

An Element (``element_ephys.ephys``) declares tables whose foreign keys name tables it does not define
(``-> Session``) and helpers that call ``_linking_module.get_session_directory(key)``. The workflow
supplies them at run time: ``ephys.activate("schema", linking_module=...)`` injects the linking module's
names into the element's namespace and stores the module in its ``_linking_module`` global. So the
element's unresolved names are looked up in the linking module (``model.py``), and a call through
``_linking_module`` runs the linking module's function (``makeflow``).

Two steps: ``linking_argument`` reads the syntax of one ``linking_module=`` argument (while the module's
summary is built, ``summaries.py``); ``link_activations`` resolves every recorded activation in the
model: which module is the element, which module is linked to it.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from djlint.astnames import dotted_name

if TYPE_CHECKING:
    from djlint.model import Model, Symbol

# How a ``linking_module=`` argument names its module (the second item of an activation record).
CALLER = "self"      # the calling module itself: ``__name__``, ``sys.modules[__name__]``
BY_NAME = "module"   # a module by its absolute name: ``"workflow.pipeline"``, ``sys.modules["..."]``
BOUND = "name"       # a module bound to a name in the caller: ``pipeline``, ``workflow.pipeline``


def linking_argument(value: ast.expr) -> tuple[str, str | None] | None:
    """``(how, name)`` for the value of ``linking_module=``: (CALLER, None), (BY_NAME, "pkg.mod") or
    (BOUND, "dotted.name"); None when it is computed some other way."""
    if isinstance(value, ast.Subscript):  # sys.modules[__name__], sys.modules["pkg.mod"]
        value = value.slice
    if isinstance(value, ast.Name) and value.id == "__name__":
        return CALLER, None
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return BY_NAME, value.value
    name = dotted_name(value)
    return (BOUND, name) if name else None


def activation_callee(call: ast.Call) -> str | None:
    """The name an ``activate(...)`` call is made through: ``ephys`` in ``ephys.activate(...)`` (the element
    module), or ``activate`` itself when the function was imported from the element."""
    if isinstance(call.func, ast.Attribute):
        return dotted_name(call.func.value)
    return dotted_name(call.func)


def link_activations(model: Model) -> None:
    """Resolve every ``activate(..., linking_module=...)`` the repository makes: the element module gets
    the linking module (``model._linking_modules``); an installed element is remembered as linked
    (``model._linked_externals``: its tables receive the repository's)."""
    for name, info in model.modules.items():
        for callee, how, value, _line in info.summary.get("activations", []):
            symbol = model.resolve(name, callee)
            if symbol is not None and symbol.kind == "external":
                model._linked_externals.add(symbol.target)
            element = _element_module(symbol)
            if element is None or element not in model.modules:
                continue
            if how == CALLER:
                linking: str | None = name
            elif how == BY_NAME:
                linking = model._module_named(value, near=name)
            else:
                bound = model.resolve(name, value)
                linking = bound.target if bound is not None and bound.kind == "module" else None
            if linking and linking in model.modules and linking != element:
                targets = model._linking_modules.setdefault(element, [])
                if linking not in targets:
                    targets.append(linking)


def linked_modules(model: Model) -> dict[str, str]:
    """Element module -> the module its ``_linking_module`` holds (the first one activated)."""
    return {element: linking[0] for element, linking in model._linking_modules.items() if linking}


def _element_module(symbol: Symbol | None) -> str | None:
    if symbol is None:
        return None
    if symbol.kind == "module":
        return symbol.target
    if symbol.kind == "function":   # ``activate`` imported from the element module
        return symbol.module
    return None
