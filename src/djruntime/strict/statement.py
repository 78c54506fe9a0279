"""What one statement does, as the classifier reports it and the row check reads it.

:class:`Statement` is the classifier's answer (kind, tables read and written, why it cannot be
classified); :class:`InsertInfo` and :class:`ModifyInfo` describe the rows a write touches, their values
as :class:`Slot` s (a driver argument, a literal, DEFAULT or an expression).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from djlint.sqltables import TableName

ArgKey = int | str  # position in a sequence of arguments, or the name in a mapping


@dataclass(frozen=True)
class Slot:
    """One value of a written row: a driver argument, a literal, DEFAULT, or an expression."""

    kind: str  # "arg" | "literal" | "default" | "expr"
    value: Any = None  # ArgKey for "arg", the Python value for "literal", SQL text for "expr"


@dataclass(frozen=True)
class InsertInfo:
    """An INSERT/REPLACE: target, column list (None: all columns in table order), and its rows."""

    table: TableName
    columns: tuple[str, ...] | None
    rows: tuple[tuple[Slot, ...], ...] | None = None  # VALUES rows
    source_sql: str | None = None  # INSERT … SELECT: the source, columns named _djr_c0.., driver SQL
    source_args: tuple[ArgKey, ...] = ()
    source_star: bool = False  # the source projects *: fetch its rows and match columns by position
    on_conflict: tuple[tuple[str, Slot], ...] = ()  # ON DUPLICATE KEY UPDATE / ON CONFLICT DO UPDATE
    # REPLACE (deletes every row the new one collides with, through any unique index) or an ON DUPLICATE KEY /
    # ON CONFLICT update that changes values (updates the row it collides with, through any unique index)
    replace: bool = False


@dataclass(frozen=True)
class ModifyInfo:
    """An UPDATE or DELETE: which rows it touches (target + WHERE) and what it assigns."""

    table: TableName
    target_sql: str  # the target as it appears in FROM (with alias)
    where_sql: str | None  # driver SQL of the condition (``%s`` placeholders), None: every row
    where_args: tuple[ArgKey, ...] = ()
    assignments: tuple[tuple[str, Slot], ...] = ()
    verb: str = "update"  # "update" | "delete"
    tail_sql: str = ""  # ORDER BY / LIMIT of a MySQL single-table UPDATE/DELETE (driver SQL, no arguments)
    pinned_sql: str = ""  # the statement with its WHERE replaced by PIN_MARKER, ORDER BY/LIMIT dropped
    pinned_args: tuple[ArgKey, ...] = ()  # the arguments of pinned_sql before the marker (assignments)


@dataclass(frozen=True)
class Statement:
    """What one statement does. ``kind``: pass | read | write | ddl | unclassifiable."""

    kind: str
    reads: frozenset[TableName] = frozenset()
    writes: frozenset[TableName] = frozenset()
    reason: str = ""
    inserts: tuple[InsertInfo, ...] = ()
    modifies: tuple[ModifyInfo, ...] = ()
    # catalogue statistics read: (schema, table) slots of the tables whose statistics are read — reads of them
    statistics: tuple[tuple[Slot, Slot], ...] = ()
    # names written before "(" (a word in a literal may be counted too: that only asks the stored-routine
    # list once more), checked against the stored functions that could answer to them
    calls: frozenset[str] = frozenset()
    several: bool = False  # several statements in one call (an UPDATE/DELETE among them cannot be pinned)
    extra: dict = field(default_factory=dict, compare=False)


PASS = Statement("pass")


def dialect_of(backend: str) -> str:
    """sqlglot's dialect for a datajoint backend name."""
    return "postgres" if backend in ("postgresql", "postgres") else "mysql"


TRANSACTION_WORDS = frozenset({"START TRANSACTION", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END",
                               "ABORT", "XA", "LOCK", "UNLOCK", "PREPARE TRANSACTION"})


def transaction_control(what: str) -> Statement:
    return Statement("forbidden", reason=(
        f"transaction or lock control ({what}); make() runs inside the engine's transaction, which only the "
        "engine commits or rolls back"))


def implicit_commit(what: str) -> Statement:
    return Statement("forbidden", reason=(
        f"{what}, a statement that commits the open transaction by itself (or administers the server); make() "
        "runs in the engine's transaction, which only the engine commits"))


def unclassifiable(reason: str) -> Statement:
    return Statement("unclassifiable", reason=reason)


PIN_MARKER = "DJR_PINNED_ROWS"  # stands for the primary-key condition of a pinned UPDATE/DELETE


def slot(node: exp.Expression, dialect: str) -> Slot:
    """The value ``node`` writes (a placeholder ``:_p0``/``:_k_name`` is a driver argument)."""
    if isinstance(node, exp.Cast) and isinstance(node.this, (exp.Placeholder, exp.Literal)) and node.to.this in (
            exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATE, exp.DataType.Type.TIME, exp.DataType.Type.DATETIME,
            exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DECIMAL, exp.DataType.Type.TEXT):
        node = node.this  # psycopg2 sends dates as '2024-03-01'::date: the value is the literal's
    if isinstance(node, exp.Placeholder):
        name = str(node.this)
        if name.startswith("_p") and name[2:].isdigit():
            return Slot("arg", int(name[2:]))
        if name.startswith("_k_"):
            return Slot("arg", name[3:])
    if isinstance(node, exp.Null):
        return Slot("literal", None)
    if isinstance(node, exp.Var) and node.name.upper() == "DEFAULT" or isinstance(node, exp.DefaultColumnConstraint):
        return Slot("default")
    if isinstance(node, exp.Boolean):
        return Slot("literal", bool(node.this))
    if isinstance(node, exp.Literal):
        if node.is_string:
            return Slot("literal", node.this)
        try:
            return Slot("literal", Decimal(node.this))
        except InvalidOperation:
            return Slot("expr", node.sql(dialect))
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return Slot("literal", -Decimal(node.this.this))
    if isinstance(node, exp.Column):
        return Slot("expr", node.name.lower())  # a column reference: "column" in assignments
    if isinstance(node, exp.Values) or (isinstance(node, exp.Anonymous) and str(node.this).upper() == "VALUES"):
        inner = node.expressions[0] if node.expressions else None
        if isinstance(inner, exp.Column):
            return Slot("expr", inner.name.lower())
    return Slot("expr", node.sql(dialect))
