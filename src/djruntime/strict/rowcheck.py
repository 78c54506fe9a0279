"""Check that every row a make() writes agrees with its key.

The check reads the rows *as the driver sends them*: the ``%s`` arguments of the ``INSERT`` that
datajoint built, whatever the caller passed (dicts, tuples, lists, numpy structured arrays and records,
pandas DataFrames, generators, maps, iterators — datajoint has already turned them into arguments), so
the caller's iterable is never touched, let alone consumed. An ``INSERT … SELECT`` is checked by
reading the distinct key-overlapping values of its source (one extra read, same transaction) before it
runs once; ``UPDATE`` and ``DELETE`` by reading the key-overlapping values of the rows their ``WHERE``
selects, and by their assignments.

Values are compared after normalising types: numpy scalars, bytes/str, UUID/bytes, numbers in any form
(datajoint sends numbers as text), date/datetime/ISO text, Decimal.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from djlint.sqltables import TableName

from .statement import ArgKey, InsertInfo, ModifyInfo, Slot, Statement

RunQuery = Callable[[str, Sequence[Any]], list[tuple]]

_UNSET = object()


@dataclass(frozen=True)
class Mismatch:
    """A written value that differs from the make key (or that the check cannot read)."""

    table: TableName
    attribute: str
    sent: Any
    expected: Any
    how: str  # "insert" | "insert-select" | "update" | "delete" | "on-conflict"


def plain(value: Any) -> Any:
    """numpy scalars -> Python; memoryview/bytearray -> bytes."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        try:
            value = item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    return value


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _as_datetime(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    return None


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, bytes) and len(value) == 16:
        return uuid.UUID(bytes=value)
    if isinstance(value, (str, bytes)):
        try:
            return uuid.UUID(value.decode() if isinstance(value, bytes) else value)
        except ValueError:
            return None
    return None


_EXACT_TYPES = frozenset({int, str, bytes, datetime.date, datetime.datetime, uuid.UUID, Decimal})


def same(sent: Any, expected: Any) -> bool:
    """Whether a value sent to the server stores the same key value as ``expected``."""
    kind = type(expected)
    if type(sent) is kind and kind in _EXACT_TYPES:
        return sent == expected
    if kind is int and type(sent) is str and sent == str(expected):  # datajoint sends numbers as text
        return True
    sent, expected = plain(sent), plain(expected)
    if sent is None or expected is None:
        return sent is None and expected is None
    if isinstance(expected, uuid.UUID) or isinstance(sent, uuid.UUID):
        a, b = _as_uuid(sent), _as_uuid(expected)
        return a is not None and a == b
    if isinstance(expected, (datetime.date, datetime.datetime)) or isinstance(sent, (datetime.date, datetime.datetime)):
        sent_time, expected_time = _as_datetime(sent), _as_datetime(expected)
        return sent_time is not None and sent_time == expected_time
    if isinstance(expected, datetime.timedelta) or isinstance(sent, datetime.timedelta):
        return str(sent) == str(expected)
    if isinstance(expected, (bool, int, float, Decimal)) or isinstance(sent, (bool, int, float, Decimal)):
        sent_number, expected_number = _as_decimal(sent), _as_decimal(expected)
        return sent_number is not None and sent_number == expected_number
    if isinstance(sent, bytes) and isinstance(expected, str):
        return sent == expected.encode("utf-8")
    if isinstance(sent, str) and isinstance(expected, bytes):
        return sent.encode("utf-8") == expected
    return sent == expected or str(sent) == str(expected)


def argument(args: Any, key: ArgKey) -> Any:
    """The driver argument ``key`` (position or name) of ``args``."""
    try:
        if type(args) in (list, tuple):  # what datajoint sends; spares the slow Mapping (ABC) test
            return args[key] if isinstance(key, int) else _UNSET
        if isinstance(key, int):
            if isinstance(args, Mapping):
                return _UNSET
            return args[key]
        return args[key] if isinstance(args, Mapping) else _UNSET
    except (IndexError, KeyError, TypeError):
        return _UNSET


def slot_value(slot: Slot, args: Any) -> Any:
    """The value a slot writes: its argument or literal (unset for DEFAULT and expressions)."""
    if slot.kind == "arg":
        return argument(args, slot.value)
    if slot.kind == "literal":
        return slot.value
    return _UNSET


def _shown(slot: Slot, value: Any) -> Any:
    if value is not _UNSET:
        return value
    return "DEFAULT" if slot.kind == "default" else f"<{slot.value}>"


class Unverifiable(Exception):
    """The written rows cannot be compared with the key (the gate fails closed)."""


class _CatalogueFact:
    """One fact about a table read from the server's catalogue, cached per connection (DDL is refused
    inside make(), so it cannot change during one). Subclasses say how to read it."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, TableName], Any] = {}

    def get(self, connection: Any, table: TableName, run: RunQuery) -> Any:
        key = (id(connection), table)
        if key not in self._cache:
            self._cache[key] = self._read(connection, table, run)
        return self._cache[key]

    def _read(self, connection: Any, table: TableName, run: RunQuery) -> Any:
        raise NotImplementedError

    def clear(self) -> None:
        self._cache.clear()


class TableColumns(_CatalogueFact):
    """Column names of tables in table order (``information_schema``)."""

    def _read(self, connection: Any, table: TableName, run: RunQuery) -> tuple[str, ...]:
        rows = run(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            [table[0], table[1]],
        )
        columns = tuple(str(row[0]).lower() for row in rows)
        if not columns:
            raise Unverifiable(f"table {table[0]}.{table[1]} is not in information_schema")
        return columns


COLUMNS = TableColumns()


class SecondaryUniques(_CatalogueFact):
    """Whether a table has a unique index besides its primary key."""

    _QUERY: ClassVar[dict[str, str]] = {
        "mysql": ("SELECT 1 FROM information_schema.statistics WHERE table_schema = %s AND table_name = %s "
                  "AND non_unique = 0 AND index_name <> 'PRIMARY' LIMIT 1"),
        "postgresql": ("SELECT 1 FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid "
                       "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND "
                       "c.relname = %s AND i.indisunique AND NOT i.indisprimary LIMIT 1"),
    }

    def _read(self, connection: Any, table: TableName, run: RunQuery) -> bool:
        backend = "postgresql" if getattr(connection.adapter, "backend", "mysql") != "mysql" else "mysql"
        return bool(run(self._QUERY[backend], [table[0], table[1]]))


UNIQUES = SecondaryUniques()


class PrimaryKeys(_CatalogueFact):
    """Primary-key columns of tables in key order."""

    def _read(self, connection: Any, table: TableName, run: RunQuery) -> tuple[str, ...]:
        rows = run(
            "SELECT k.column_name FROM information_schema.table_constraints c JOIN "
            "information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND "
            "k.table_schema = c.table_schema AND k.table_name = c.table_name WHERE c.constraint_type = "
            "'PRIMARY KEY' AND c.table_schema = %s AND c.table_name = %s ORDER BY k.ordinal_position",
            [table[0], table[1]],
        )
        columns = tuple(str(row[0]) for row in rows)
        if not columns:
            raise Unverifiable(f"table {table[0]}.{table[1]} has no primary key the gate can read")
        return columns


PRIMARY_KEYS = PrimaryKeys()


def unlimited(connection: Any) -> str:
    """A LIMIT clause that lets every row through a check query: on MySQL/MariaDB an explicit LIMIT
    overrides a session's ``sql_select_limit``, which would otherwise blind the check."""
    return " LIMIT 18446744073709551615" if getattr(connection.adapter, "backend", "mysql") == "mysql" else ""


def key_values(key: Mapping[str, Any]) -> dict[str, Any]:
    """The make key by lower-case attribute name, as :func:`check` takes it (once per make())."""
    return {str(name).lower(): value for name, value in key.items()}


def check(
    statement: Statement,
    args: Any,
    expected: Mapping[str, Any],
    connection: Any,
    run: RunQuery,
    quote: Callable[[str], str],
    limit: int = 3,
    modifies: bool = True,
) -> list[Mismatch]:
    """Every written value of ``statement`` (sent with ``args``) that differs from the key ``expected``
    (:func:`key_values`).

    ``run(sql, args)`` executes a check query outside the gate; ``quote`` quotes an identifier.
    At most ``limit`` mismatches are reported per statement.
    """
    found: list[Mismatch] = []
    for insert in statement.inserts:
        found.extend(_check_insert(insert, args, expected, connection, run, quote, limit))
    if modifies:
        for modify in statement.modifies:
            found.extend(_check_modify(modify, statement, args, expected, connection, run, quote, limit))
    return found[:limit]


def compare_assignments(table: TableName, assignments: tuple[tuple[str, Slot], ...], args: Any,
                        expected: Mapping[str, Any], how: str, found: list[Mismatch],
                        columns_ok: Sequence[str] = ()) -> None:
    """Append to ``found`` a Mismatch for each assignment of a key attribute to another value."""
    for column, slot in assignments:
        if column not in expected:
            continue
        if slot.kind == "expr" and slot.value in (column, *columns_ok):
            continue  # `a` = `t`.`a`, `a` = VALUES(`a`), a = EXCLUDED.a: keeps the checked value
        value = slot_value(slot, args)
        if value is _UNSET or not same(value, expected[column]):
            found.append(Mismatch(table, column, _shown(slot, value), expected[column], how))


def _check_insert(info: InsertInfo, args, expected, connection, run, quote, limit) -> list[Mismatch]:
    table_columns = COLUMNS.get(connection, info.table, run)
    columns = info.columns if info.columns is not None else table_columns
    overlap = [(index, column) for index, column in enumerate(columns) if column in expected]
    found: list[Mismatch] = []
    if info.replace and UNIQUES.get(connection, info.table, run):
        raise Unverifiable(
            f"a REPLACE or ON DUPLICATE KEY/ON CONFLICT update of {info.table[0]}.{info.table[1]}, which has a unique "
            "index besides its primary key: a colliding row of another key would be deleted or updated")
    # every make-key attribute the table has must be written explicitly (else the server stores its default)
    for column in table_columns:
        if column in expected and column not in columns:
            found.append(Mismatch(info.table, column, "<not set: the column's default>", expected[column], "insert"))
    if info.on_conflict:
        compare_assignments(info.table, info.on_conflict, args, expected, "on-conflict", found)
    if not overlap:
        return found
    if info.rows is not None:
        for row in info.rows:
            for index, column in overlap:
                if index >= len(row):
                    continue  # the server rejects a short row itself
                slot = row[index]
                value = slot_value(slot, args)
                if value is _UNSET or not same(value, expected[column]):
                    found.append(Mismatch(info.table, column, _shown(slot, value), expected[column], "insert"))
                    if len(found) >= limit:
                        return found
        return found
    source_args = [argument(args, k) for k in info.source_args]
    every = unlimited(connection)
    if info.source_star:
        rows = run(f"SELECT * FROM ({info.source_sql}) AS _djr_src{every}", source_args)
        picked = [tuple(row[i] for i, _ in overlap) for row in rows]
    else:
        names = ", ".join(quote(f"_djr_c{index}") for index, _ in overlap)
        picked = run(f"SELECT DISTINCT {names} FROM ({info.source_sql}) AS _djr_src{every}", source_args)
    for row in picked:
        for (index, column), value in zip(overlap, row):
            if not same(value, expected[column]):
                found.append(Mismatch(info.table, column, value, expected[column], "insert-select"))
                if len(found) >= limit:
                    return found
    return found


def _check_modify(info: ModifyInfo, statement, args, expected, connection, run, quote, limit) -> list[Mismatch]:
    how = info.verb
    found: list[Mismatch] = []
    compare_assignments(info.table, info.assignments, args, expected, how, found)
    columns = COLUMNS.get(connection, info.table, run)
    overlap = [column for column in columns if column in expected]
    if not overlap:
        return found
    where = f" WHERE {info.where_sql}" if info.where_sql else ""
    rows = run(
        f"SELECT DISTINCT {', '.join(quote(c) for c in overlap)} FROM {info.target_sql}{where}",
        [argument(args, k) for k in info.where_args],
    )
    for row in rows:
        for column, value in zip(overlap, row):
            if not same(value, expected[column]):
                found.append(Mismatch(info.table, column, value, expected[column], how))
                if len(found) >= limit:
                    return found
    return found
