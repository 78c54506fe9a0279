"""The rules, one module each (``djNNN_name.py``), discovered from this package.

Each rule module defines ``CODE``, ``NAME``, ``SUMMARY``, ``WHY``, ``BAD``, ``GOOD`` (single-module
pipeline sources: BAD triggers CODE, GOOD triggers nothing; both run as tests) and
``check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]``: the rule decides from the
model's records (``djlint.model``) and the make() facts (``djlint.makeflow.facts``; None when the
make() analysis did not run) and words every message itself. Optional: ``FIX``, ``KNOWN_LIMITS``,
``HOW_FOUND`` (the facts or records it reads and what records them), and ``PYPROJECT_BAD`` /
``PYPROJECT_GOOD``, a ``pyproject.toml`` the example needs (e.g. a policy).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_REQUIRED = ("CODE", "NAME", "SUMMARY", "WHY", "BAD", "GOOD", "check")


def _discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("dj"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if all(hasattr(module, attribute) for attribute in _REQUIRED):
            found[module.CODE] = module
    return dict(sorted(found.items()))


REGISTRY: dict[str, ModuleType] = _discover()

