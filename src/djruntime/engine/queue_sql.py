"""Every statement the engine sends itself, per backend, in one place: the job queue's, and the
savepoints of a job nested in another make()'s transaction (the job's own transaction is datajoint's
``adapter.start_transaction_sql()``, its commit and rollback datajoint's).

``QueueSql`` is built once per job table from its name, primary key and backend; each method returns
the text of one statement (with ``%s`` placeholders for its arguments) or of one reusable clause. The
queue (``engine/queue.py``) decides when to send what; it never builds SQL itself. Conditions that
datajoint derives from a query expression (``key_source``, a restriction, a key) come in as arguments.

MySQL/MariaDB and PostgreSQL differ in: the clock inside a transaction, the connection id, the advisory
locks (``GET_LOCK`` / ``pg_advisory_lock``), ``INSERT IGNORE`` / ``ON CONFLICT DO NOTHING``, the claim
(``SELECT … FOR UPDATE SKIP LOCKED`` then ``UPDATE`` / one ``WITH … UPDATE … RETURNING``), how a dead
holder is recognised (its lock is free and it is no listed process / no live backend), and the
isolation statement. Each method shows both variants side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

PG_LOCK_CLASS = 0x646A72  # 'djr': first key of djruntime's PostgreSQL advisory locks
PG_REFRESH_CLASS = 0x646A73  # first key of the per-job-table refresh lock

COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"
REFRESH_LOCK = "SELECT GET_LOCK(%s, %s)"  # MySQL: (lock name, timeout); PostgreSQL: refresh_lock()
RELEASE_REFRESH_LOCK = "SELECT RELEASE_LOCK(%s)"  # MySQL only: PostgreSQL's lock ends with the transaction
PG_INDEX_DEFINITIONS = "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s"


def savepoint(name: str) -> str:
    return f"SAVEPOINT {name}"


def rollback_to_savepoint(name: str) -> str:
    return f"ROLLBACK TO SAVEPOINT {name}"


def release_savepoint(name: str) -> str:
    return f"RELEASE SAVEPOINT {name}"


def worker_lock(mysql: bool) -> str:
    """Take this connection's worker lock (held for its lifetime) and read its identity:
    (lock taken, connection id, user[, transaction isolation on PostgreSQL])."""
    if mysql:
        return "SELECT GET_LOCK(CONCAT('djruntime.', CONNECTION_ID()), 0), CONNECTION_ID(), USER()"
    return (
        f"SELECT pg_advisory_lock({PG_LOCK_CLASS}, pg_backend_pid()), pg_backend_pid(), current_user, "
        "current_setting('transaction_isolation')"
    )


def kill_connection(connection_id: int) -> str:
    """MySQL: end a session of one's own (PostgreSQL pids are reused: never sent there)."""
    return f"KILL CONNECTION {int(connection_id)}"


def begin_read_committed(mysql: bool) -> list[str]:
    """The statements that open a READ COMMITTED transaction."""
    if mysql:
        return ["SET TRANSACTION ISOLATION LEVEL READ COMMITTED", "START TRANSACTION"]
    return ["BEGIN ISOLATION LEVEL READ COMMITTED"]


@dataclass(frozen=True)
class QueueSql:
    """The statements of one job table (``table``: its full name)."""

    table: str
    primary_key: tuple[str, ...]
    mysql: bool
    quote: Callable[[str], str]  # the adapter's quote_identifier
    interval: Callable[[int, str], str]  # the adapter's interval_expr(value, unit)

    # ------------------------------------------------------------------ clauses
    def now(self) -> str:
        return "CURRENT_TIMESTAMP(3)"

    def clock(self) -> str:
        """The time now, also inside a transaction (PostgreSQL's CURRENT_TIMESTAMP is the transaction's
        start; MySQL's is the statement's)."""
        return "CURRENT_TIMESTAMP(3)" if self.mysql else "clock_timestamp()"

    def clock_minus(self, seconds: float) -> str:
        """``clock()`` minus ``seconds`` (a job's start time, from its measured duration)."""
        micros = max(0, int(seconds * 1e6))
        if self.mysql:
            return f"CURRENT_TIMESTAMP(3) - INTERVAL {micros} MICROSECOND"
        return f"clock_timestamp() - INTERVAL '{micros} microseconds'"

    def me(self) -> str:
        """The server's id of this connection, as written to ``connection_id``."""
        return "CONNECTION_ID()" if self.mysql else "pg_backend_pid()"

    def pk_cols(self, alias: str | None = None) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + self.quote(k) for k in self.primary_key)

    def row_tuple(self, alias: str | None = None) -> str:
        return f"({self.pk_cols(alias)})"

    def pk_equal(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{self.quote(k)} = {right}.{self.quote(k)}" for k in self.primary_key)

    def keys_in(self, raws: Sequence[tuple]) -> tuple[str, list]:
        """``(pk) IN ((%s, …), …)`` for raw key tuples, with its arguments."""
        one = "(" + ", ".join(["%s"] * len(self.primary_key)) + ")"
        clause = f"{self.row_tuple()} IN ({', '.join([one] * len(raws))})"
        return clause, [value for raw in raws for value in raw]

    def reset_reservation(self) -> str:
        """The assignments that make a job pending again, unreserved."""
        q = self.quote
        return (
            f"{q('status')}='pending', {q('reserved_time')}=NULL, {q('host')}='', {q('pid')}=0, "
            f"{q('connection_id')}=0, {q('user')}=''"
        )

    def reservation(self) -> str:
        """The assignments of a djruntime reservation; arguments: host, pid, user, version."""
        q = self.quote
        return (
            f"{q('status')}='reserved', {q('host')}=%s, {q('pid')}=%s, {q('connection_id')}={self.me()}, "
            f"{q('user')}=%s, {q('version')}=%s, {q('reserved_time')}={self.now()}"
        )

    def owned(self, abandoned_ids: Sequence[int] = ()) -> str:
        """Still reserved by this connection, or by one of its abandoned sessions."""
        q = self.quote
        holders = self.me()
        if abandoned_ids:
            holders += ", " + ", ".join(str(int(i)) for i in abandoned_ids)
        return f"{q('status')}='reserved' AND {q('connection_id')} IN ({holders})"

    def timing(self, duration: float | None) -> str:
        """``completed_time`` is the clock time now (not the transaction's start) and, given the job's
        duration, ``reserved_time`` its start: with a batch of claims, ``completed_time -
        reserved_time`` is still the job's own time, as with datajoint's one-at-a-time reservations."""
        q = self.quote
        timing = f"{q('completed_time')}={self.clock()}"
        if duration is not None:
            timing += f", {q('reserved_time')}={self.clock_minus(duration)}"
        return timing

    # ------------------------------------------------------------------ declaration
    def create_claim_index(self, name: str, columns: Sequence[str]) -> str:
        return f"CREATE INDEX IF NOT EXISTS {self.quote(name)} ON {self.table} ({', '.join(map(self.quote, columns))})"

    # ------------------------------------------------------------------ refresh
    def refresh_lock(self, digest: int) -> str:
        """PostgreSQL: the per-job-table refresh lock, held until the transaction ends."""
        return f"SELECT pg_advisory_xact_lock({PG_REFRESH_CLASS}, {digest})"

    def insert_new(self, new_keys_sql: str, delay: float) -> str:
        """New jobs from ``new_keys_sql`` (a SELECT of keys); argument: priority."""
        q = self.quote
        return (
            f"INSERT {'IGNORE ' if self.mysql else ''}INTO {self.table} "
            f"({self.pk_cols()}, {q('status')}, {q('priority')}, {q('scheduled_time')}) "
            f"SELECT {self.pk_cols('djr_new')}, 'pending', %s, {self.now()} + {self.interval(int(delay), 'second')} "
            f"FROM ({new_keys_sql}) AS djr_new "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.table} AS djr_job "
            f"WHERE {self.pk_equal('djr_job', 'djr_new')})"
            f"{'' if self.mysql else ' ON CONFLICT DO NOTHING'}"
        )

    def repend(self, completed_condition: str) -> str:
        """Success records matching the condition back to pending, in place; argument: priority."""
        q = self.quote
        now = self.now()
        return (
            f"UPDATE {self.table} SET {self.reset_reservation()}, {q('priority')}=%s, "
            f"{q('created_time')}={now}, {q('scheduled_time')}={now}, "
            f"{q('completed_time')}=NULL, {q('duration')}=NULL, {q('error_message')}='', "
            f"{q('error_stack')}=NULL, {q('version')}='' WHERE {completed_condition}"
        )

    def stale_since(self, seconds: float) -> str:
        return f"created_time < CURRENT_TIMESTAMP - {self.interval(int(seconds), 'second')}"

    def delete(self) -> str:
        """A change for ``by_key``: remove the rows."""
        return f"DELETE FROM {self.table}"

    def removable(self, finished_condition: str, stale_condition: str | None) -> str:
        """Records to delete: finished ones whose key left key_source and target, and stale ones; never a
        reservation."""
        removable = f"({finished_condition})"
        if stale_condition is not None:
            removable += f" OR ({stale_condition})"
        return f"{self.quote('status')} != 'reserved' AND ({removable})"

    # ------------------------------------------------------------------ changes by key
    def where(self, change: str, condition: str) -> str:
        return f"{change} WHERE {condition}"

    def select_keys(self, condition: str) -> str:
        """MySQL's lock-free first read of ``by_key``."""
        return f"SELECT {self.pk_cols()} FROM {self.table} WHERE {condition}"

    def change_keys(self, change: str, keys_clause: str, condition: str) -> str:
        """MySQL's second step of ``by_key``: the rows by primary key, the condition checked again."""
        return f"{change} WHERE {keys_clause} AND {condition}"

    # ------------------------------------------------------------------ rescue
    def rescue_change(self) -> str:
        return f"UPDATE {self.table} SET {self.reset_reservation()}"

    def rescue_condition(self, orphan_seconds: float | None = None) -> str:
        """Reservations whose holder is gone (and, given ``orphan_seconds``, reservations older than
        that); argument: the ``LIKE`` pattern of marked hosts."""
        q = self.quote
        marked = f"{q('host')} LIKE %s"
        if self.mysql:
            dead = (
                f"{marked} AND IS_USED_LOCK(CONCAT('djruntime.', {q('connection_id')})) IS NULL "
                f"AND {q('connection_id')} NOT IN (SELECT ID FROM information_schema.PROCESSLIST)"
            )
        else:
            dead = (
                f"(NOT EXISTS (SELECT 1 FROM pg_stat_activity AS djr_a WHERE djr_a.pid = {q('connection_id')}) "
                f"OR ({marked} AND NOT EXISTS (SELECT 1 FROM pg_locks AS djr_l WHERE djr_l.locktype = 'advisory' "
                f"AND djr_l.classid = {PG_LOCK_CLASS} AND djr_l.objid = {q('connection_id')} AND djr_l.granted)))"
            )
        if orphan_seconds is not None and orphan_seconds > 0:
            dead = f"(({dead}) OR {q('reserved_time')} < CURRENT_TIMESTAMP - {self.interval(int(orphan_seconds), 'second')})"
        return f"{q('status')}='reserved' AND {dead}"

    # ------------------------------------------------------------------ claim
    def claim_conditions(self, priority: bool, restriction_sql: str | None) -> str:
        """Schedulable pending jobs (argument when ``priority``: the priority bound)."""
        q = self.quote
        conditions = [f"djr_j.{q('status')}='pending'", f"djr_j.{q('scheduled_time')} <= {self.now()}"]
        if priority:
            conditions.append(f"djr_j.{q('priority')} <= %s")
        if restriction_sql is not None:
            conditions.append(
                f"{self.row_tuple('djr_j')} IN (SELECT {self.pk_cols('djr_r')} FROM ({restriction_sql}) AS djr_r)"
            )
        return " AND ".join(conditions)

    def _done(self, target: str) -> str:
        return f"EXISTS(SELECT 1 FROM {target} AS djr_t WHERE {self.pk_equal('djr_t', 'djr_j')})"

    def _pick(self, columns: str, conditions: str, limit: int) -> str:
        q = self.quote
        return (
            f"SELECT {columns} FROM {self.table} AS djr_j WHERE {conditions} "
            f"ORDER BY djr_j.{q('priority')}, djr_j.{q('scheduled_time')} LIMIT {int(limit)} FOR UPDATE SKIP LOCKED"
        )

    def claim_pick(self, target: str, conditions: str, limit: int) -> str:
        """MySQL, first step: lock up to ``limit`` jobs; rows (in the target, error_message, *key)."""
        message = f"djr_j.{self.quote('error_message')}"
        return self._pick(f"{self._done(target)}, {message}, {self.pk_cols('djr_j')}", conditions, limit)

    def claim_reserve(self, keys_clause: str) -> str:
        """MySQL, second step: reserve the picked jobs; arguments: host, pid, user, version, *keys."""
        return f"UPDATE {self.table} SET {self.reservation()} WHERE {keys_clause}"

    def claim_returning(self, target: str, conditions: str, limit: int) -> str:
        """PostgreSQL, one statement: rows (in the target, priority, scheduled_time, error_message,
        *key); arguments: those of the conditions, then host, pid, user, version."""
        q = self.quote
        pick = self._pick(self.pk_cols("djr_j"), conditions, limit)
        return (
            f"WITH djr_pick AS ({pick}) UPDATE {self.table} AS djr_j SET {self.reservation()} "
            f"FROM djr_pick WHERE {self.pk_equal('djr_j', 'djr_pick')} "
            f"RETURNING {self._done(target)}, djr_j.{q('priority')}, djr_j.{q('scheduled_time')}, "
            f"djr_j.{q('error_message')}, {self.pk_cols('djr_j')}"
        )

    # ------------------------------------------------------------------ finish / fail / release / requeue
    def finish(
        self, keys_condition: str, owned: str, keep_completed: bool, with_duration: bool, duration: float | None
    ) -> str:
        """The jobs done: success records (argument when ``with_duration``: the duration) or deleted."""
        where = f"{keys_condition} AND {owned}"
        if not keep_completed:
            return f"DELETE FROM {self.table} WHERE {where}"
        q = self.quote
        measured = f"{q('duration')}=%s, " if with_duration else ""
        return (
            f"UPDATE {self.table} SET {q('status')}='success', {self.timing(duration)}, "
            f"{measured}{q('error_message')}='' WHERE {where}"
        )

    def fail(self, key_condition: str, owned: str, duration: float | None, stack_placeholder: str | None) -> str:
        """The job's error; arguments: the message[, the stack blob]."""
        q = self.quote
        assignments = [f"{q('status')}='error'", self.timing(duration), f"{q('error_message')}=%s"]
        if stack_placeholder is not None:
            assignments.append(f"{q('error_stack')}={stack_placeholder}")
        return f"UPDATE {self.table} SET {', '.join(assignments)} WHERE {key_condition} AND {owned}"

    def release(self, key_conditions: Sequence[str], owned: str) -> str:
        either = " OR ".join(f"({condition})" for condition in key_conditions)
        return f"UPDATE {self.table} SET {self.reset_reservation()} WHERE ({either}) AND {owned}"

    def requeue(self, key_condition: str, owned: str, delay: float) -> str:
        """Back to pending with the retry noted, ``delay`` seconds from now; argument: the message."""
        q = self.quote
        schedule = ""
        if delay > 0:
            schedule = f", {q('scheduled_time')}={self.clock()} + {self.interval(int(delay), 'second')}"
        return (
            f"UPDATE {self.table} SET {self.reset_reservation()}, {q('error_message')}=%s{schedule} "
            f"WHERE {key_condition} AND {owned}"
        )

    def reserve(self, key_condition: str) -> str:
        """datajoint's ``reserve(key)`` as a djruntime reservation; arguments: host, pid, user, version."""
        q = self.quote
        return (
            f"UPDATE {self.table} SET {self.reservation()} WHERE {key_condition} "
            f"AND {q('status')}='pending' AND {q('scheduled_time')} <= {self.now()}"
        )
