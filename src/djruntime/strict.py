"""Strict provenance: every statement a make() sends is checked before it reaches the server.

The gate wraps ``datajoint.connection.Connection.query`` once — every statement datajoint sends goes
through it, whatever API produced it (fetch, ``len``, ``in``, restrictions, joins, ``update1``,
``delete_quick``, raw ``conn.query``). Inside a make() window (``djruntime.context``) of table T with
key K each statement is classified (``djruntime.sqlclassify``) and must

* read only T's allowed set (``djlint.provenance.AllowedSets`` over datajoint's dependency graph)
  plus the policy's reads;
* write only T and its Parts plus the policy's writes, with rows whose attributes overlapping K equal
  K's (``djruntime.rowcheck``); no DDL;
* be classifiable at all (fail closed).

Modes: ``"raise"`` raises :class:`djruntime.ProvenanceError` before the statement is sent; ``"warn"``
lets it run, logs each distinct violation once per table and keeps it for
:func:`collect_warnings` (``populate()`` returns them under ``"provenance_warnings"``); ``"off"``
restores datajoint's own ``Connection.query`` (no cost at all). The engine's bookkeeping
(``context.bookkeeping()``) and statements outside make() windows pass untouched.
"""

from __future__ import annotations

import contextvars
import datetime
import logging
import os
import re
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import datajoint as dj
from datajoint.connection import Connection
from datajoint.dependencies import extract_master

from djlint.provenance import AllowedSets

from . import context, rowcheck, sqlclassify
from . import policy as policy_module
from .errors import ProvenanceError
from .sqlclassify import TableName

logger = logging.getLogger("djruntime.strict")

ENV_VARIABLE = "DJ_STRICT_PROVENANCE"
_STATEMENT_SHOWN = 600  # characters of a statement quoted in a message

_original_query = Connection.query
_original_execute = Connection._execute_query
# The text _gated_query checked and passes on: the gated _execute_query (a backstop for a direct call of
# datajoint's original query()) lets exactly that object through.
_approved: contextvars.ContextVar[object] = contextvars.ContextVar("djruntime_strict_approved", default=None)
_mode = "off"
_policy: policy_module.RuntimePolicy | None = policy_module.EMPTY  # None: discovered per table
_internal: contextvars.ContextVar[bool] = contextvars.ContextVar("djruntime_strict_internal", default=False)
_lock = threading.Lock()
_pending: dict[TableName, dict[tuple, str]] = {}  # warn mode: distinct violations per table, until collected
_logged: set[tuple] = set()  # warn mode: violations already logged (once per table)
_allowed_cache: dict[int, _Allowed] = {}  # by id(table instance); see allowed_for()
_sets_cache: dict[int, tuple[Any, object, AllowedSets]] = {}  # by id(dependencies): (graph, generation, sets)


def parse_mode(value: bool | str | None) -> str:
    """``True``/``"raise"``/``"1"`` -> raise, ``"warn"`` -> warn, ``False``/``"0"``/``""`` -> off;
    ``None`` reads ``DJ_STRICT_PROVENANCE`` (off when unset)."""
    if value is None:
        value = os.environ.get(ENV_VARIABLE, "")
    if value is True:
        return "raise"
    if value is False:
        return "off"
    text = str(value).strip().lower()
    if text in ("1", "raise", "true", "on", "yes", "strict"):
        return "raise"
    if text in ("warn", "warning", "warnings"):
        return "warn"
    if text in ("0", "off", "false", "no", "none", ""):
        return "off"
    raise ValueError(f"strict_provenance must be True/'raise', 'warn' or False/'off', not {value!r}")


def configure(*, strict_provenance: bool | str | None = None, policy: str | Path | None = None) -> None:
    """Turn the gate on (``True``/``"raise"``, ``"warn"``) or off; load the policy when on.

    A policy name that matches no table raises :class:`djruntime.policy.PolicyError` and leaves the
    previous setting in place.
    """
    global _mode, _policy
    mode = parse_mode(strict_provenance)
    if mode == "off":
        with _lock:
            _mode = "off"
            _policy = policy_module.EMPTY
            _remove_gate()
        return
    named = policy_module.named_file(policy)
    # a named file is read now (a missing file or a bad name fails install()); else each table's
    # repository's pyproject.toml is found at its first make() (policy_module.discover)
    resolved = policy_module.load(named) if named is not None else None
    policy_module.forget_discovered()
    with _lock:
        _mode = mode
        _policy = resolved
        _allowed_cache.clear()
        _install_gate()


def mode() -> str:
    """The current mode: ``"raise"``, ``"warn"`` or ``"off"``."""
    return _mode


def current_policy(table: Any = None) -> policy_module.RuntimePolicy:
    """The policy in force (for ``table``, when it is discovered per table)."""
    if _policy is not None:
        return _policy
    return _discovered_policy(table) if table is not None else policy_module.EMPTY


def collect_warnings(table: Any = None) -> list[str]:
    """Warn mode: the distinct violations recorded for ``table`` (all tables when None) since the last
    call, oldest first; they are removed from the record. The engine returns them from populate()."""
    with _lock:
        if table is None:
            keys = list(_pending)
        else:
            name = _table_key(table)
            keys = [name] if name in _pending else []
        messages: list[str] = []
        for key in keys:
            messages.extend(_pending.pop(key).values())
    return messages


def reset_warnings() -> None:
    """Forget recorded and logged warnings (tests, long-running workers)."""
    with _lock:
        _pending.clear()
        _logged.clear()


def is_installed() -> bool:
    return Connection.__dict__.get("query") is _gated_query


def _install_gate() -> None:
    if not is_installed():
        Connection.query = _gated_query
        Connection._execute_query = _gated_execute


def _remove_gate() -> None:
    if is_installed():
        Connection.query = _original_query
        Connection._execute_query = _original_execute


def _gated_query(self, query, args=(), **kwargs):
    if _mode != "off":
        window = context.current(self)
        if window is not None and not context.in_bookkeeping() and not _internal.get():
            text, text_args = _checked(self, window, query, args)
            token = _approved.set(text)
            try:
                return _original_query(self, text, text_args, **kwargs)
            finally:
                _approved.reset(token)
    return _original_query(self, query, args, **kwargs)


def _gated_execute(self, cursor, query, args, suppress_warnings):
    """The backstop under ``query()``: a statement that reached datajoint's executor without passing the
    gate (datajoint's original ``query`` called directly) is checked here, in any context of make()."""
    if _mode != "off" and _approved.get() is not query and not _internal.get():
        window = context.current(self)
        if window is not None and not context.in_bookkeeping():
            query, args = _checked(self, window, query, args)
    return _original_execute(self, cursor, query, args, suppress_warnings)


# No __wrapped__: inspect.unwrap() must not hand make() the ungated original.
_gated_query.__doc__ = _original_query.__doc__


def _interpolate(connection: Any, query: str, args: Any) -> str:
    """The statement the driver would send for ``query`` % ``args``: the driver's own escaping
    (pymysql's / psycopg2's ``mogrify``), so the gate reads the very text the server receives."""
    if args is None or (not args and "%" not in query):
        return query
    raw = connection._conn
    cached = getattr(connection, "_djruntime_mogrifier", None)
    if cached is None or cached[0] is not raw:  # one cursor per driver connection, used only to mogrify
        cached = (raw, raw.cursor())
        connection._djruntime_mogrifier = cached
    text = cached[1].mogrify(query, args)
    if isinstance(text, bytes):  # psycopg2
        import psycopg2.extensions

        text = text.decode(psycopg2.extensions.encodings.get(raw.encoding, "utf-8"))
    return text


def _checked(connection: Any, window: context.MakeContext, query: Any, args: Any) -> tuple[str, Any]:
    """Check one statement of a make() and return what to send: (text, None) — the exact text checked,
    with no arguments left for the driver to interpolate — or a statement the gate built from it (a
    pinned UPDATE/DELETE) with its arguments."""
    if window.sealed:
        _report(window, str.__str__(query) if isinstance(query, str) else repr(query), [Violation(
            "forbidden", detail="a statement after make() returned, before its job was finished (code make() left "
                                "behind: a generator's finally/GeneratorExit handler, an exception's __str__, a lazy "
                                "query the engine would evaluate)")])
    if type(query) is not str:  # a str subclass's own __mod__/__str__ would decide what the driver sends
        shown = str.__str__(query) if isinstance(query, str) else repr(query)
        _report(window, shown, [Violation("argument", detail=f"{type(query).__module__}.{type(query).__qualname__} "
                                                             "as the query (only a plain str is sent)")])
        query = shown  # warn mode: send the plain text
    if args:
        odd = _odd_arguments(args)
        if odd is not None:
            _report(window, query, [Violation("argument", detail=f"{type(odd).__module__}.{type(odd).__qualname__}")])
    text = _interpolate(connection, query, args)
    rewritten = _check(connection, window, text)
    return rewritten if rewritten is not None else (text, None)


# ---------------------------------------------------------------- the check


@dataclass(frozen=True)
class Violation:
    kind: str  # read | write | ddl | row | unclassifiable | unverifiable | forbidden | argument
    table: TableName | None = None
    detail: Any = None


def _table_key(table: Any) -> TableName:
    name = policy_module.parse_full_name(str(table.full_table_name))
    if name is None:  # pragma: no cover - datajoint always quotes full names
        raise ProvenanceError(f"cannot read the table name {table.full_table_name!r}")
    return name


def _graph_generation(dependencies: Any) -> object | None:
    """An object datajoint replaces whenever it rebuilds the dependency graph: ``Dependencies.clear()``
    and ``load()``, its only mutations, each assign a new ``_loaded_schemas`` set. A cache entry holds
    the set, so its id cannot be reused: ``is`` tells in O(1) that the graph is unchanged (counting
    edges, as before, walked the whole graph at every make()). None: unknown, never reuse."""
    return getattr(dependencies, "_loaded_schemas", None)


def _allowed_sets(dependencies: Any, generation: object | None) -> AllowedSets:
    cached = _sets_cache.get(id(dependencies))  # the entry holds the graph, so its id is not reused
    if cached is not None and generation is not None and cached[1] is generation:
        return cached[2]
    sets = AllowedSets(dependencies, extract_master)
    _sets_cache.clear()
    _sets_cache[id(dependencies)] = (dependencies, generation, sets)
    return sets


_UPSTREAM_STATE = "_djruntime_upstream_schemas"


def _load_upstream(connection: Any, dependencies: Any) -> None:
    """Have the dependency graph hold every schema upstream of the activated ones (an ancestor may live
    in a schema this process never activated). The discovery queries run once per set of activated
    schemas; later, only a graph that datajoint reloaded smaller is loaded again."""
    registered = frozenset(connection.schemas)
    state = getattr(connection, _UPSTREAM_STATE, None)
    if state is None or state[0] != registered:
        dependencies.load_all_upstream()
        state = (registered, frozenset(getattr(dependencies, "_loaded_schemas", ()) or registered))
        setattr(connection, _UPSTREAM_STATE, state)
    elif not (dependencies._loaded and state[1] <= set(getattr(dependencies, "_loaded_schemas", ()))):
        dependencies.load(force=True, schema_names=set(state[1]))


@dataclass(frozen=True)
class _Allowed:
    """A table's allowed sets, with what they were computed from (compared by identity)."""

    table: weakref.ref  # not kept alive by the cache (nor its connection)
    database: Any
    generation: object
    policy: policy_module.RuntimePolicy
    reads: frozenset[TableName]
    writes: frozenset[TableName]


def allowed_for(table: Any) -> tuple[frozenset[TableName], frozenset[TableName]]:
    """(reads, writes) a make() of ``table`` may do: the shared allowed set plus the policy's."""
    connection = table.connection
    dependencies = connection.dependencies
    # The engine runs every make() of a populate() on one table instance: while neither the graph nor the
    # policy changed, its sets stand (datajoint's full_table_name alone costs more than this check).
    entry = _allowed_cache.get(id(table))
    policy = _policy if _policy is not None else _discovered_policy(table)
    if (entry is not None and entry.table() is table and entry.policy is policy
            and entry.generation is _graph_generation(dependencies) and entry.database == table.database):
        return entry.reads, entry.writes
    full_name = table.full_table_name
    token = _internal.set(True)
    try:
        _load_upstream(connection, dependencies)
        if full_name not in dependencies:  # declared since the graph was loaded
            setattr(connection, _UPSTREAM_STATE, None)
            _load_upstream(connection, dependencies)
    finally:
        _internal.reset(token)
    generation = _graph_generation(dependencies)
    sets = _allowed_sets(dependencies, generation)
    own = _table_key(table)

    def names(nodes) -> set[TableName]:
        return {n for n in (policy_module.parse_full_name(str(node)) for node in nodes) if n is not None}

    reads = frozenset(names(sets.reads(full_name)) | {own} | policy.reads_of(own))
    writes = frozenset(names(sets.writes(full_name)) | {own} | policy.writes_of(own))
    if generation is not None:
        if len(_allowed_cache) >= 256:
            _allowed_cache.clear()
        _allowed_cache[id(table)] = _Allowed(weakref.ref(table), table.database, generation, policy,
                                             reads, writes)
    return reads, writes


def _window_rules(window: context.MakeContext) -> tuple[frozenset[TableName], frozenset[TableName], dict]:
    """(reads, writes, key by lower-case attribute) of one make() window, worked out at its first
    checked statement."""
    rules = window.notes.get("djruntime.strict.rules")
    if rules is None:
        rules = (*allowed_for(window.table), rowcheck.key_values(window.key))
        window.notes["djruntime.strict.rules"] = rules
    return rules


def _run_unchecked(connection: Any, sql: str, args: Sequence[Any]) -> list[tuple]:
    """One of the gate's own check queries (marked internal, should the driver call back)."""
    token = _internal.set(True)
    try:
        return list(_original_query(connection, sql, args=tuple(args)).fetchall())
    finally:
        _internal.reset(token)


def _pin(connection: Any, statement: sqlclassify.Statement, values: tuple, writes: frozenset[TableName],
         key: dict, violations: list[Violation]) -> tuple[str, tuple] | None:
    """Execute what was checked: select the primary keys of the rows an UPDATE/DELETE touches once (FOR UPDATE,
    in make()'s transaction), check them, and return the write restricted to exactly those keys. A table
    make() may not write passes only when no row matches (datajoint's cascading delete visits every
    descendant table); then the write sent matches no row by construction."""
    if statement.several or len(statement.modifies) != 1 or statement.inserts:
        violations.append(Violation("unverifiable", detail="an UPDATE/DELETE with other statements in one call"))
        return None
    modify = statement.modifies[0]
    def run(query: str, query_args: Any) -> list[tuple]:
        return _run_unchecked(connection, query, query_args)

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
    rowcheck._compare_assignments(modify.table, modify.assignments, values, key, modify.verb, mismatches)
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
    sql = modify.pinned_sql.replace(f"{sqlclassify.PIN_MARKER}()", condition, 1)
    return sql, (*(rowcheck.argument(values, k) for k in modify.pinned_args), *key_args)


# datajoint's heading query reads a table's metadata with "SELECT * FROM information_schema.tables WHERE …";
# for a table make() may not read it is sent with the statistics columns as NULL (names, comments stay).
_HEADING_QUERY = re.compile(r"\s*SELECT\s+\*\s+FROM\s+information_schema\.tables\s+WHERE\s", re.IGNORECASE)


def _metadata_only(connection: Any, sql: str) -> str | None:
    match = _HEADING_QUERY.match(sql)
    if match is None or getattr(connection.adapter, "backend", "mysql") != "mysql":
        return None
    columns = getattr(connection, "_djruntime_tables_columns", None)
    if columns is None:
        rows = _run_unchecked(connection, "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                              "'information_schema' AND table_name = 'TABLES' ORDER BY ordinal_position", ())
        columns = tuple(str(row[0]) for row in rows)
        connection._djruntime_tables_columns = columns
    statistics = sqlclassify._STATISTICS_COLUMNS[("information_schema", "tables")]
    quote = connection.adapter.quote_identifier
    selected = ", ".join(f"NULL AS {quote(c)}" if c.lower() in statistics else quote(c) for c in columns)
    return f"SELECT {selected} FROM information_schema.tables WHERE " + sql[match.end():]


_routine_queries = {
    "mysql": ("SELECT LOWER(routine_name) FROM information_schema.routines WHERE routine_schema = DATABASE() "
              "AND routine_type = 'FUNCTION'"),
    "postgresql": ("SELECT DISTINCT lower(p.proname) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON "
                   "n.oid = p.pronamespace WHERE n.nspname = ANY (current_schemas(false)) AND n.nspname NOT IN "
                   "('pg_catalog', 'information_schema')"),
}


def _shadowing_routines(connection: Any, window: context.MakeContext, backend: str, names: frozenset[str]) -> list[str]:
    """Names among ``names`` that a stored function of the current database (search path) answers to: an
    unqualified call may run it instead of the built-in the allow-list means. Read once per make()."""
    routines = window.notes.get("djruntime.strict.routines")
    if routines is None:
        query = _routine_queries["postgresql" if backend != "mysql" else "mysql"]
        routines = frozenset(str(row[0]) for row in _run_unchecked(connection, query, ()))
        window.notes["djruntime.strict.routines"] = routines
    return sorted(names & routines)


# Arguments the drivers turn into quoted literals. Anything else may render as SQL text the gate never
# read (psycopg2's AsIs, an object with getquoted/__conform__) or change between check and send.
_PLAIN_TYPES = frozenset({int, float, bool, type(None), str, bytes, bytearray, memoryview, Decimal, datetime.date,
                          datetime.datetime, datetime.time, datetime.timedelta, uuid.UUID})
try:
    import numpy

    _PLAIN_TYPES |= {t for t in set(numpy.sctypeDict.values()) if t not in (numpy.object_, numpy.void)}
except ImportError:  # pragma: no cover - datajoint requires numpy
    pass
_CONTAINERS = (list, tuple, dict)


def _odd_argument(value: Any, depth: int = 0) -> Any:
    """The first argument that is not a plain value (lists, tuples and dicts of plain values are plain)."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return None
    if kind in _CONTAINERS and depth < 3:
        for item in (value.values() if kind is dict else value):
            odd = _odd_argument(item, depth + 1)
            if odd is not None:
                return odd
        return None
    if kind.__module__.startswith("pandas") and isinstance(value, (datetime.datetime, datetime.timedelta)):
        return None  # pandas Timestamp/Timedelta from a DataFrame insert: the drivers format them as datetimes
    return value


def _odd_arguments(args: Any) -> Any:
    kind = type(args)
    if kind is tuple or kind is list:
        if _PLAIN_TYPES.issuperset(map(type, args)):
            return None
    elif kind is not dict:
        return args  # the drivers take a sequence or a mapping; anything else is not read twice alike
    return _odd_argument(args)


def _check(connection: Any, window: context.MakeContext, sql: str) -> tuple[str, tuple] | None:
    """Check ``sql``, the exact text the server would receive. Returns None (send ``sql``) or the pinned
    statement to send instead; raises ProvenanceError in raise mode."""
    backend = getattr(getattr(connection, "adapter", None), "backend", "mysql")
    statement, values = sqlclassify.classify_sent(sql, backend)
    kind = statement.kind
    violations: list[Violation] = []
    if statement.calls:
        for name in _shadowing_routines(connection, window, backend, statement.calls):
            violations.append(Violation("unclassifiable", detail=(
                f"it calls {name}(), a name that a stored function of the current database answers to (it may "
                "run that function, which can read or write any table, instead of a built-in)")))
    if kind == "pass" and not violations:
        return None
    reads, writes, key = _window_rules(window)
    for schema_slot, table_slot in statement.statistics:  # catalogue statistics: a read of the table described
        named = (str(rowcheck._slot_value(schema_slot, values)), str(rowcheck._slot_value(table_slot, values)))
        if named not in reads and not named[1].startswith("~"):
            metadata = _metadata_only(connection, sql) if len(statement.statistics) == 1 else None
            if metadata is not None and not violations and statement.reads <= reads:
                return metadata, None  # datajoint's heading query, its statistics columns left out
            violations.append(Violation("read", named))
    if kind == "read" and statement.reads <= reads and not violations:  # most statements: one subset test
        return None
    if kind == "unclassifiable" or kind == "forbidden":
        violations.append(Violation(kind, detail=statement.reason))
    for table in sorted(statement.reads):
        if table not in reads:
            violations.append(Violation("read", table))
    modified = {m.table for m in statement.modifies}
    for table in sorted(statement.writes):
        if kind == "ddl":
            violations.append(Violation("ddl", table))
        elif table not in writes and (table not in modified or any(i.table == table for i in statement.inserts)):
            violations.append(Violation("write", table))
    if kind in ("write", "ddl") and not getattr(connection, "_in_transaction", True):
        # make_fetch/make_compute and other connections are outside the job's transaction: such a write would
        # stay, whatever became of the job
        violations.append(Violation("forbidden", detail=(
            f"a write outside the job's transaction (in {window.phase}(), or on another connection), which would "
            "stay whatever became of the job; write in make() / make_insert() through the table")))
    pinned = None
    if not violations and kind == "write":
        try:
            mismatches = rowcheck.check(
                statement, values, key, connection,
                run=lambda query, query_args: _run_unchecked(connection, query, query_args),
                quote=connection.adapter.quote_identifier, modifies=False,
            )
        except (dj.DataJointError, rowcheck.Unverifiable) as error:
            violations.append(Violation("unverifiable", detail=str(error).splitlines()[0]))
        else:
            violations.extend(Violation("row", m.table, m) for m in mismatches)
        if not violations and statement.modifies:
            pinned = _pin(connection, statement, values, writes, key, violations)
    if violations:
        _report(window, sql, violations)
    return pinned


# ---------------------------------------------------------------- messages


def _discovered_policy(table: Any) -> policy_module.RuntimePolicy:
    """The policy of the table's repository; resolving its names (imports, full_table_name) is the
    gate's own work, never the make()'s."""
    token = _internal.set(True)
    try:
        return policy_module.discover(table)
    finally:
        _internal.reset(token)


def _class_index() -> dict[TableName, str]:
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


def _describe(window: context.MakeContext, violation: Violation, index: dict[TableName, str]) -> str:
    own = _table_key(window.table)
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


def _shown_statement(sql: str) -> str:
    sql = " ".join(str(sql).split())
    return sql if len(sql) <= _STATEMENT_SHOWN else sql[:_STATEMENT_SHOWN] + " …"


def _report(window: context.MakeContext, sql: str, violations: list[Violation]) -> None:
    index = _class_index()
    source = policy_module.describe_source(current_policy(window.table), window.table)
    messages = [f"{_describe(window, v, index)} {source}" for v in violations]
    if _mode == "raise":
        text = "Strict provenance: " + " ".join(dict.fromkeys(messages)) + f"\nStatement: {_shown_statement(sql)}"
        context.note_blocked(window, text)  # a make() that swallows the error still fails its job
        raise ProvenanceError(text)
    own = _table_key(window.table)
    with _lock:
        pending = _pending.setdefault(own, {})
        for violation, message in zip(violations, messages):
            identity = (own, violation.kind, violation.table,
                        violation.detail.attribute if isinstance(violation.detail, rowcheck.Mismatch) else
                        (violation.detail if violation.kind in ("unclassifiable", "unverifiable", "forbidden",
                                                                "argument") else None))
            pending.setdefault(identity, message)
            if identity not in _logged:
                _logged.add(identity)
                logger.warning("Strict provenance (warn): %s Statement: %s", message, _shown_statement(sql))
