"""The words of a refusal: what make() did, why it is not allowed, and the way out.

Each :class:`Violation` the gate finds becomes one sentence naming the table classes as the user
wrote them (module-qualified, as the policy names them) and the policy entry that would allow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import datajoint as dj

from djlint.sqltables import TableName

from .. import context
from . import policy as policy_module
from . import rowcheck
from .allowed import table_key

_STATEMENT_SHOWN = 600  # characters of a statement quoted in a message


@dataclass(frozen=True)
class Violation:
    """One reason to refuse a statement; ``detail`` says more (a reason, a type, a rowcheck.Mismatch)."""

    kind: str  # read | write | ddl | row | unclassifiable | unverifiable | forbidden | argument
    table: TableName | None = None
    detail: Any = None


def class_index() -> dict[TableName, str]:
    """Declared datajoint table classes by table, as module-qualified names (only on the error path)."""
    from datajoint.user_tables import UserTable

    index: dict[TableName, str] = {}
    stack = list(UserTable.__subclasses__())
    seen = set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        try:
            if cls.__dict__.get("database") is None and getattr(cls, "database", None) is None:
                continue
            name = policy_module.parse_full_name(str(cls.full_table_name))
        except Exception:  # noqa: BLE001, S112 - unbound or abstract classes have no table
            continue
        if name is not None:
            index.setdefault(name, _qualified(cls))
    return index


def _qualified(cls: type) -> str:
    """``module.Class[.Part]``; classes declared in a function are named as their module publishes them."""
    return f"{cls.__module__}.{cls.__qualname__.split('<locals>.')[-1]}"


def _camel(name: str) -> str:
    parts = name.lstrip("#_~").split("__")
    try:
        return ".".join(dj.utils.to_camel_case(p) for p in parts if p)
    except Exception:  # noqa: BLE001 - not a datajoint name
        return name


def _display(table: TableName, index: dict[TableName, str]) -> tuple[str, str]:
    """(class name as the user wrote it, module-qualified name) of a table."""
    qualified = index.get(table)
    if qualified is None:
        return _camel(table[1]), f"<module>.{_camel(table[1])}"
    short = qualified.split(".")
    # the class part of a module-qualified name: everything after the last lower-case segment
    for position, segment in enumerate(short):
        if segment[:1].isupper():
            return ".".join(short[position:]), qualified
    return short[-1], qualified


def _quoted(table: TableName) -> str:
    return f"{table[0]}.{table[1]}" if table[0] else f"{table[1]} (no schema)"


def describe(window: context.MakeContext, violation: Violation, index: dict[TableName, str]) -> str:
    own = table_key(window.table)
    own_class, own_qualified = _display(own, index)
    cls = window.table if isinstance(window.table, type) else type(window.table)
    if getattr(cls, "__module__", None) and cls.__qualname__:
        own_qualified = _qualified(cls)
        own_class = own_qualified[len(cls.__module__) + 1:]
    who = f"{own_class}.{window.phase}() for key {dict(window.key)!r}"
    if violation.kind == "unclassifiable":
        return (f"{who} sent a statement the strict gate cannot classify: {violation.detail}. Strict mode fails "
                "closed. Way out: express the query with datajoint on upstream tables (self.upstream[X]), or run "
                "it outside make().")
    if violation.kind == "forbidden":
        return (f"{who} sent {violation.detail}. This is not allowed inside make() in strict mode. Way out: leave "
                "it to the engine, or run it outside make().")
    if violation.kind == "argument":
        return (f"{who} passed a query argument of type {violation.detail}, which the driver may render as SQL "
                "text the gate never read. Inside make() arguments must be plain values (numbers, strings, bytes, "
                "dates, UUIDs, Decimal, numpy scalars, and lists/tuples/dicts of them).")
    if violation.kind == "unverifiable":
        return (f"{who} wrote rows the strict gate could not check against the key ({violation.detail}). "
                "Strict mode fails closed.")
    assert violation.table is not None
    other_class, other_qualified = _display(violation.table, index)
    where = f"{other_class} ({_quoted(violation.table)})"
    if violation.kind == "read":
        hint = ""
        if not violation.table[0]:
            hint = " Qualify the table with its schema."
        return (f"{who} read {where}, which is not upstream of {own_class}.{hint} Way out: declare the "
                f"dependency (-> {other_class}) in {own_class}'s definition and read it through "
                f"self.upstream[{other_class}], or allow it in the policy: "
                f'[tool.djlint.allow."{own_qualified}"] reads = ["{other_qualified}"].')
    if violation.kind == "write":
        return (f"{who} wrote {where}, which is neither {own_class} nor one of its Parts. Way out: write "
                f"{other_class} from its own make() or ingestion code, or allow it in the policy: "
                f'[tool.djlint.allow."{own_qualified}"] writes = ["{other_qualified}"].')
    if violation.kind == "ddl":
        return f"{who} changed the definition of {where}; schema changes (DROP, ALTER, TRUNCATE…) are not allowed in make()."
    mismatch: rowcheck.Mismatch = violation.detail
    verb = {"insert": "inserted into", "insert-select": "inserted (from a query) into", "update": "updated",
            "delete": "deleted from", "on-conflict": "updated on conflict in"}.get(mismatch.how, "wrote")
    return (f"{who} {verb} {where} a row whose {mismatch.attribute} is {mismatch.sent!r}, but the make key "
            f"has {mismatch.attribute}={mismatch.expected!r}. Rows written by make() must agree with its key.")


def shown_statement(sql: str) -> str:
    """``sql`` on one line, cut after a few hundred characters."""
    sql = " ".join(str(sql).split())
    return sql if len(sql) <= _STATEMENT_SHOWN else sql[:_STATEMENT_SHOWN] + " …"
