"""Pinned UPDATE and DELETE: the gate sends the write restricted to the rows it checked.

An UPDATE or DELETE selects its rows by a condition the gate cannot evaluate itself; the gate selects
those rows' primary keys once (``FOR UPDATE``, in make()'s transaction), checks them against the make
key, and sends the write with its condition replaced by exactly those keys.
"""

from __future__ import annotations

from typing import Any

from djlint.sqltables import TableName

from . import rowcheck
from .messages import Violation
from .statement import PIN_MARKER, Statement


def pin(connection: Any, statement: Statement, values: tuple, writes: frozenset[TableName], key: dict,
        violations: list[Violation], run: rowcheck.RunQuery) -> tuple[str, tuple] | None:
    """Execute what was checked: select the primary keys of the rows an UPDATE/DELETE touches once (FOR UPDATE,
    in make()'s transaction), check them, and return the write restricted to exactly those keys. A table
    make() may not write passes only when no row matches (datajoint's cascading delete visits every
    descendant table); then the write sent matches no row by construction."""
    if statement.several or len(statement.modifies) != 1 or statement.inserts:
        violations.append(Violation("unverifiable", detail="an UPDATE/DELETE with other statements in one call"))
        return None
    modify = statement.modifies[0]
    quote = connection.adapter.quote_identifier
    try:
        primary = rowcheck.PRIMARY_KEYS.get(connection, modify.table, run)
        columns = rowcheck.COLUMNS.get(connection, modify.table, run)
    except rowcheck.Unverifiable as error:
        violations.append(Violation("unverifiable", detail=str(error)))
        return None
    allowed = modify.table in writes
    overlap = [c for c in columns if c in key] if allowed else []
    selected = ", ".join(quote(c) for c in (*primary, *overlap))
    where = f" WHERE {modify.where_sql}" if modify.where_sql else ""
    tail = f" {modify.tail_sql}" if modify.tail_sql else ""
    if "LIMIT" not in tail.upper():
        tail += rowcheck.unlimited(connection)
    rows = run(f"SELECT {selected} FROM {modify.target_sql}{where}{tail} FOR UPDATE",
               [rowcheck.argument(values, k) for k in modify.where_args])
    if not allowed and rows:
        violations.append(Violation("write", modify.table))
        return None
    mismatches: list[rowcheck.Mismatch] = []
    for row in rows:
        for column, value in zip(overlap, row[len(primary):]):
            if not rowcheck.same(value, key[column]):
                mismatches.append(rowcheck.Mismatch(modify.table, column, value, key[column], modify.verb))
                break
        if len(mismatches) >= 3:
            break
    rowcheck.compare_assignments(modify.table, modify.assignments, values, key, modify.verb, mismatches)
    violations.extend(Violation("row", m.table, m) for m in mismatches[:3])
    if mismatches:
        return None
    keys = sorted({tuple(row[:len(primary)]) for row in rows}, key=repr)
    if not keys:
        condition, key_args = "1 = 0", []
    elif len(primary) == 1:
        condition = f"{quote(primary[0])} IN ({', '.join(['%s'] * len(keys))})"
        key_args = [k[0] for k in keys]
    else:
        one = "(" + ", ".join(["%s"] * len(primary)) + ")"
        condition = f"({', '.join(quote(c) for c in primary)}) IN ({', '.join([one] * len(keys))})"
        key_args = [v for k in keys for v in k]
    sql = modify.pinned_sql.replace(f"{PIN_MARKER}()", condition, 1)
    return sql, (*(rowcheck.argument(values, k) for k in modify.pinned_args), *key_args)
