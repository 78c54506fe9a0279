"""Small helpers shared by the make() rules (DJ2xx-DJ5xx)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from djlint.diagnostics import Diagnostic


def table_label(model: Any, table_id: str) -> str:
    """How a message names a table: class name, then the database when known."""
    namer = getattr(model, "table_name", None)
    if namer is not None:
        return namer(table_id)
    info = model.tables.get(table_id)
    return info.qualname if info is not None else table_id


def make_label(model: Any, table_id: str) -> str:
    info = model.tables.get(table_id)
    return f"{info.qualname if info is not None else table_id}.make()"


def where(model: Any, fact: Any) -> str:
    """' (in helper x.y)' when the fact comes from a function make() calls."""
    via = getattr(fact, "via", None)
    return f" (in {via}, called from {make_label(model, fact.table)})" if via else ""


def unique(diagnostics: Iterable[Diagnostic]) -> Iterator[Diagnostic]:
    seen: set[tuple[str, int, int, str, str]] = set()
    for diagnostic in diagnostics:
        key = (diagnostic.path, diagnostic.line, diagnostic.column, diagnostic.code, diagnostic.message)
        if key not in seen:
            seen.add(key)
            yield diagnostic
