"""Raw SQL passed as a string literal to ``.query(...)``: which tables it writes and reads (sqlglot)."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

TableName = tuple[str | None, str]  # (database or None, table name)

_WRITE_KINDS = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.TruncateTable, exp.Merge, exp.Alter)
# DB-API placeholders (%s, %(name)s), str.format fields ({}, {0}, {name}) and qmark: plain values to sqlglot
_PLACEHOLDER = re.compile(r"%\([A-Za-z_]\w*\)s|%s|\{[A-Za-z_0-9]*\}|\?")
_REPLACE = re.compile(r"^\s*replace\s+(?:low_priority\s+|delayed\s+)?(?:into\s+)?([`\"\w.]+)", re.IGNORECASE)


def _name(table: exp.Table) -> TableName:
    return (table.db or None, table.name)


def _written(statement: exp.Expression) -> list[exp.Table]:
    if isinstance(statement, (exp.Insert, exp.Merge)):
        target = statement.this
        table = target if isinstance(target, exp.Table) else target.find(exp.Table) if target else None
        return [table] if table is not None else []
    if isinstance(statement, exp.Update):
        target = statement.this
        return [target] if isinstance(target, exp.Table) else list(target.find_all(exp.Table)) if target else []
    if isinstance(statement, exp.Delete):
        target = statement.this
        tables = [target] if isinstance(target, exp.Table) else []
        tables.extend(t for t in (statement.args.get("tables") or []) if isinstance(t, exp.Table))
        return tables
    if isinstance(statement, exp.TruncateTable):
        return [t for t in statement.expressions if isinstance(t, exp.Table)]
    if isinstance(statement, (exp.Drop, exp.Alter)):
        target = statement.find(exp.Table)
        return [target] if target is not None else []
    return []


@lru_cache(maxsize=4096)
def classify(sql: str) -> tuple[tuple[TableName, ...], tuple[TableName, ...]]:
    """(tables written, tables read) by the statements of ``sql``; ((), ()) when it is not SQL."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        statements = sqlglot.parse(_PLACEHOLDER.sub("NULL", sql), read="mysql")
    except Exception:  # noqa: BLE001 - not SQL (e.g. a pandas query string): no finding
        return (), ()
    finally:
        logger.setLevel(level)
    written: list[TableName] = []
    read: list[TableName] = []
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Command):
            match = _REPLACE.match(sql)
            if match:
                parts = [p.strip('`"') for p in match.group(1).split(".")]
                written.append((parts[0], parts[1]) if len(parts) == 2 else (None, parts[-1]))
            continue
        if not isinstance(statement, (*_WRITE_KINDS, exp.Select, exp.Union)):
            continue  # an expression like "a > 1" (pandas), SHOW, SET...: nothing to map
        targets = _written(statement) if isinstance(statement, _WRITE_KINDS) else []
        target_ids = {id(t) for t in targets}
        written.extend(_name(t) for t in targets)
        read.extend(_name(t) for t in statement.find_all(exp.Table) if id(t) not in target_ids and t.name)
    return tuple(dict.fromkeys(written)), tuple(dict.fromkeys(read))
