"""What a write does, for the row check: the rows an INSERT sends, what an UPDATE or DELETE touches.

:func:`describe_writes` turns each INSERT/REPLACE into an :class:`~.statement.InsertInfo` (its VALUES
rows as slots, or its source query rewritten to name its columns) and each UPDATE/DELETE into a
:class:`~.statement.ModifyInfo` (target, condition, assignments, and the statement the gate sends in its
place, restricted to the primary keys it checked). Anything whose rows could differ between the check
and the write (volatile values, LIMIT, joins, MERGE) raises :class:`Unreadable`.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from djlint.sqltables import identifier, table_name

from .catalog import volatile
from .literals import to_driver
from .statement import PIN_MARKER, ArgKey, InsertInfo, ModifyInfo, Slot, slot


class Unreadable(Exception):
    """A write whose rows the gate cannot read exactly (the reason is the message)."""


def _column(node: Any) -> str:
    """Column names are case-insensitive in MySQL and datajoint's are lower case."""
    return identifier(node).lower()


def _require_stable(node: exp.Expr | None, clause: str) -> None:
    what = volatile(node)
    if what is not None:
        raise Unreadable(f"{clause} uses {what}, whose value can change between the gate's check of the rows "
                         "and the write itself")


def _assignments(expressions: list[exp.Expression], dialect: str) -> tuple[tuple[str, Slot], ...]:
    result = []
    for assignment in expressions:
        if isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column):
            result.append((assignment.this.name.lower(), slot(assignment.expression, dialect)))
        else:
            raise Unreadable(f"an assignment it cannot read ({assignment.sql(dialect)})")
    return tuple(result)


def _leftmost_select(query: exp.Expr) -> exp.Select | None:
    while isinstance(query, (exp.Union, exp.Except, exp.Intersect, exp.Subquery)):
        query = query.this
    return query if isinstance(query, exp.Select) else None


def describe_writes(tree: exp.Expr, dialect: str, inserts: list[InsertInfo], modifies: list[ModifyInfo],
                    replaced: bool = False) -> None:
    """Append what each INSERT, UPDATE and DELETE of ``tree`` writes to ``inserts`` and ``modifies`` (raises
    :class:`Unreadable` for a write whose rows cannot be read exactly)."""
    for node in tree.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge):
        if isinstance(node, exp.Merge):
            raise Unreadable("a MERGE")
        if isinstance(node, exp.Insert):
            target = node.this
            columns = None
            if isinstance(target, exp.Schema):
                columns = tuple(_column(c) for c in target.expressions)
                target = target.this
            # None: MySQL's DUAL, which holds no rows (the statement writes no table and passes)
            name = table_name(target, set(), dialect) or ("", "dual")
            conflict: tuple[tuple[str, Slot], ...] = ()
            changes = False  # an ON DUPLICATE KEY UPDATE / DO UPDATE that changes a value (not a = a)
            for key in ("conflict", "on_conflict", "duplicate"):
                clause = node.args.get(key)
                if clause is not None and clause.args.get("expressions"):
                    conflict = _assignments(clause.args["expressions"], dialect)
                    changes = changes or any(
                        not (isinstance(e, exp.EQ) and isinstance(e.expression, exp.Column)
                             and e.expression.name.lower() == e.this.name.lower()
                             and e.expression.table.lower() not in ("excluded",))
                        for e in clause.args["expressions"])
            source = node.expression
            if isinstance(source, exp.Values):
                rows = []
                for row in source.expressions:
                    values = row.expressions if isinstance(row, exp.Tuple) else [row]
                    rows.append(tuple(slot(v, dialect) for v in values))
                inserts.append(InsertInfo(name, columns, rows=tuple(rows), on_conflict=conflict, replace=replaced or changes))
            elif isinstance(source, exp.Query):
                _require_stable(source, "the source of an INSERT … SELECT")
                if any(source.find_all(exp.Limit, exp.Offset, exp.Fetch)):
                    raise Unreadable("an INSERT … SELECT with LIMIT/OFFSET (the rows the gate checks and the rows "
                                     "the server inserts could differ)")
                select = source.copy()
                first = _leftmost_select(select)
                if first is None:
                    raise Unreadable("an INSERT from a source it cannot read")
                star = any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                           for p in first.expressions)
                # renaming the projected columns would change what GROUP BY/HAVING/ORDER BY (and a union's
                # other branches) refer to: then the source is checked as written, its columns by position
                star = star or first is not select or any(first.args.get(k) for k in ("group", "having", "order",
                                                                                      "qualify", "windows"))
                if not star:
                    first.set(
                        "expressions",
                        [exp.alias_(p.this if isinstance(p, exp.Alias) else p, f"_djr_c{i}", quoted=True)
                         for i, p in enumerate(first.expressions)],
                    )
                source_sql, source_args = to_driver(select.sql(dialect))
                inserts.append(InsertInfo(name, columns, source_sql=source_sql, source_args=source_args,
                                          source_star=star, on_conflict=conflict, replace=replaced or changes))
            elif source is None and node.args.get("default"):
                inserts.append(InsertInfo(name, columns, rows=((),), on_conflict=conflict, replace=replaced or changes))
            else:
                raise Unreadable("an INSERT whose rows it cannot read")
            continue
        target = node.this
        modified = table_name(target, set(), dialect)
        if modified is None:
            raise Unreadable(f"a {node.key.upper()} of something other than a table")
        if node.args.get("using") or node.args.get("from_") or node.args.get("from"):
            raise Unreadable(f"a {node.key.upper()} joined to other tables")
        where = node.args.get("where")
        _require_stable(where, f"the WHERE clause of {node.key.upper()}")
        where_sql: str | None = None
        where_args: tuple[ArgKey, ...] = ()
        if where is not None:
            where_sql, where_args = to_driver(where.this.sql(dialect))
        assignments = _assignments(node.expressions, dialect) if isinstance(node, exp.Update) else ()
        target_sql, _ = to_driver(target.sql(dialect))
        tail = [node.args[k].sql(dialect) for k in ("order", "limit") if node.args.get(k) is not None]
        tail_sql, tail_args = to_driver(" ".join(tail))
        if tail_args:
            raise Unreadable(f"a {node.key.upper()} whose ORDER BY/LIMIT holds arguments")
        # the statement the server runs: the same assignments, restricted to the primary keys checked
        pinned = node.copy()
        pinned.set("where", exp.Where(this=exp.Anonymous(this=PIN_MARKER)))
        pinned.set("order", None)
        pinned.set("limit", None)
        pinned_sql, pinned_args = to_driver(pinned.sql(dialect))
        modifies.append(ModifyInfo(modified, target_sql, where_sql, where_args, assignments, node.key, tail_sql,
                                   pinned_sql, pinned_args))
