"""Small helpers shared by the make() rules (DJ2xx-DJ5xx): how tables and make() bodies are named, and
one diagnostic per finding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from djlint.diagnostics import Diagnostic, Fix, Related

if TYPE_CHECKING:
    from djlint.makeflow.facts import Fact
    from djlint.model import Model


def table_label(model: Model, table_id: str) -> str:
    """How a message names a table: class name, then the database when known (module-qualified when
    another table has the same class name)."""
    return model.table_name(table_id)


def make_label(model: Model, table_id: str) -> str:
    """``Clustering.make()``, or ``Clustering._make_tuples()`` for pre-0.12 code."""
    name = model.table_name(table_id, schema=False) if table_id in model.tables else table_id
    legacy = model.method_info(table_id, "make") is None and model.method_info(table_id, "_make_tuples") is not None
    return f"{name}._make_tuples()" if legacy else f"{name}.make()"


def where(model: Model, fact: Fact) -> str:
    """' (in helper x.y, called from T.make())' when the reported line lies in a function make() calls."""
    via = getattr(fact, "via", ())
    return f" (in {via[-1]}, called from {make_label(model, fact.table)})" if via else ""


def finding(model: Model, fact: Fact, code: str, message: str, fix: Fix | None = None) -> Diagnostic:
    """The diagnostic of one fact, with its structured fields: the make() table, the target, the call
    chain and the other places of the finding (where a read in a helper runs, the make() call reaching it)."""
    related: list[Related] = []
    executes = getattr(fact, "executes", None)
    if executes is not None:
        related.append(Related(executes.path, executes.line, executes.column, "executed here"))
    call = getattr(fact, "call", None)
    if call is not None:
        related.append(Related(call.path, call.line, call.column,
                               f"called from {make_label(model, fact.table)} here"))
    target = getattr(fact, "target", None) or None
    return Diagnostic(fact.path, fact.line, fact.column, code, message, table=fact.table, target=target,
                      via=tuple(getattr(fact, "via", ())), related=tuple(related), fix=fix)


def unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per finding, sorted: the first (in the order the analysis met them) of those at the
    same place with the same code, make() table and target (reached through other helpers, say), with
    the related places of all of them (each place where the read runs)."""
    kept: dict[tuple[object, ...], Diagnostic] = {}
    for diagnostic in diagnostics:
        key = (diagnostic.path, diagnostic.line, diagnostic.column, diagnostic.code, diagnostic.table,
               diagnostic.target if diagnostic.target is not None else diagnostic.message)
        first = kept.setdefault(key, diagnostic)
        if first is not diagnostic:
            more = [r for r in diagnostic.related if r not in first.related]
            if more:
                kept[key] = replace(first, related=tuple(sorted((*first.related, *more), key=_calls_last)))
    return sorted(kept.values())


def _calls_last(related: Related) -> tuple[bool, str, int, int]:
    return related.message.startswith("called from"), related.path, related.line, related.column
