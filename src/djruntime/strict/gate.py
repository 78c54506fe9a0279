"""The strict gate: every statement a make() sends is checked before it reaches the server.

The gate wraps ``datajoint.connection.Connection.query`` once — every statement datajoint sends goes
through it, whatever API produced it (fetch, ``len``, ``in``, restrictions, joins, ``update1``,
``delete_quick``, raw ``conn.query``). Inside a make() window (``djruntime.context``) of table T with
key K each statement is classified (``classifier``) and must

* read only T's allowed set (``djlint.provenance.AllowedSets`` over datajoint's dependency graph)
  plus the policy's reads;
* write only T and its Parts plus the policy's writes, with rows whose attributes overlapping K equal
  K's (``rowcheck``; an UPDATE/DELETE is sent pinned to the rows checked, ``pinning``); no DDL;
* be classifiable at all (fail closed).

Modes: ``"raise"`` raises :class:`djruntime.ProvenanceError` before the statement is sent; ``"warn"``
lets it run, logs each distinct violation once per table and keeps it for
:func:`collect_warnings` (``populate()`` returns them under ``"provenance_warnings"``); ``"off"``
restores datajoint's own ``Connection.query`` (no cost at all). The engine's bookkeeping
(``context.bookkeeping()``) and statements outside make() windows pass untouched.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datajoint as dj
from datajoint.connection import Connection

from djlint.sqltables import TableName

from .. import context
from ..errors import ProvenanceError
from . import allowed, rowcheck
from . import policy as policy_module
from .arguments import interpolate, odd_arguments
from .catalog import STATISTICS_COLUMNS
from .classifier import classify_sent
from .messages import Violation, class_index, describe, shown_statement
from .pinning import pin

logger = logging.getLogger("djruntime.strict")

ENV_VARIABLE = "DJ_STRICT_PROVENANCE"

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

    A policy name that matches no table raises :class:`djruntime.strict.PolicyError` and leaves the
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
        allowed.forget()
        _install_gate()


def mode() -> str:
    """The current mode: ``"raise"``, ``"warn"`` or ``"off"``."""
    return _mode


def current_policy(table: Any) -> policy_module.RuntimePolicy:
    """The policy in force for ``table`` (read from its repository's pyproject.toml at the first call,
    unless install() named one file for all tables)."""
    if _policy is not None:
        return _policy
    return _discovered_policy(table)


def collect_warnings(table: Any = None) -> list[str]:
    """Warn mode: the distinct violations recorded for ``table`` (all tables when None) since the last
    call, oldest first; they are removed from the record. The engine returns them from populate()."""
    with _lock:
        if table is None:
            keys = list(_pending)
        else:
            name = allowed.table_key(table)
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
        odd = odd_arguments(args)
        if odd is not None:
            _report(window, query, [Violation("argument", detail=f"{type(odd).__module__}.{type(odd).__qualname__}")])
    text = interpolate(connection, query, args)
    rewritten = _check(connection, window, text)
    return rewritten if rewritten is not None else (text, None)


def allowed_for(table: Any) -> tuple[frozenset[TableName], frozenset[TableName]]:
    """(reads, writes) a make() of ``table`` may do: the shared allowed set plus the policy's."""
    policy = current_policy(table)
    sets = allowed.cached(table, policy)
    if sets is not None:
        return sets
    token = _internal.set(True)
    try:
        allowed.load_graph(table)
    finally:
        _internal.reset(token)
    return allowed.compute(table, policy)


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
    statistics = STATISTICS_COLUMNS[("information_schema", "tables")]
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


def _check(connection: Any, window: context.MakeContext, sql: str) -> tuple[str, Any] | None:
    """Check ``sql``, the exact text the server would receive. Returns None (send ``sql``) or the pinned
    statement to send instead; raises ProvenanceError in raise mode."""
    backend = getattr(getattr(connection, "adapter", None), "backend", "mysql")
    statement, values = classify_sent(sql, backend)
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
        named = (str(rowcheck.slot_value(schema_slot, values)), str(rowcheck.slot_value(table_slot, values)))
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
            pinned = pin(connection, statement, values, writes, key, violations,
                         run=lambda query, query_args: _run_unchecked(connection, query, query_args))
    if violations:
        _report(window, sql, violations)
    return pinned


def _discovered_policy(table: Any) -> policy_module.RuntimePolicy:
    """The policy of the table's repository; resolving its names (imports, full_table_name) is the
    gate's own work, never the make()'s."""
    token = _internal.set(True)
    try:
        return policy_module.discover(table)
    finally:
        _internal.reset(token)


def _report(window: context.MakeContext, sql: str, violations: list[Violation]) -> None:
    index = class_index()
    source = policy_module.describe_source(current_policy(window.table), window.table)
    messages = [f"{describe(window, v, index)} {source}" for v in violations]
    if _mode == "raise":
        text = "Strict provenance: " + " ".join(dict.fromkeys(messages)) + f"\nStatement: {shown_statement(sql)}"
        context.note_blocked(window, text)  # a make() that swallows the error still fails its job
        raise ProvenanceError(text)
    own = allowed.table_key(window.table)
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
                logger.warning("Strict provenance (warn): %s Statement: %s", message, shown_statement(sql))
