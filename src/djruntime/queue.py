"""The job queue: datajoint's own ``~~<table>`` job table, driven with fewer, race-free statements.

API (used by ``djruntime.engine`` and by the multi-process pool / worker CLI)::

    queue = JobQueue(table)              # a datajoint ``Job`` subclass: every query on it works as before
    queue.refresh(*restrictions, delay=0, priority=None, stale_timeout=None, orphan_timeout=None) -> dict
    queue.claim(limit, restriction=None, priority=None) -> list[Claim]   # Claim(key, done)
    queue.finish(key, duration)  -> bool  # inside the make() transaction; False: another worker owns it now
    queue.fail(key, message, stack) -> bool
    queue.release(keys) -> int            # back to pending (interrupted / claimed but not started)
    queue.requeue(key, retries, reason, delay=0) -> bool  # lost session / lock contention: pending, retry noted
    queue.rescue() -> int                 # reservations whose holder is gone -> pending, in place
    queue.progress() -> dict              # as datajoint's ``Job.progress``

and datajoint's own ``reserve``, ``complete``, ``error``, ``ignore``, ``pending``/``reserved``/... queries.

Every statement the queue sends is wrapped in ``context.bookkeeping()`` so the strict gate lets it
pass. That is why every operation that writes the queue (refresh, rescue, claim, reserve, finish,
fail, release, complete, error, ignore) refuses to run while a make() window is open on its connection
(``JobQueueInMakeError``): it would commit make()'s transaction or write job tables unchecked. Reads
(``jobs.pending``, ``jobs.progress()``, …) still work inside make(). The job table's columns are
datajoint's, unchanged; the queue only adds the claim index ``(status, priority, scheduled_time)``
when an older job table lacks it.

How the queue differs from datajoint's (see docs/engine.md):

- *refresh* inserts all new jobs with one ``INSERT … SELECT`` (MySQL ``INSERT IGNORE``, PostgreSQL
  ``ON CONFLICT DO NOTHING``) computed on the server, re-pends in place, never deletes a reservation,
  runs in one READ COMMITTED transaction, and is serialised per job table by an advisory lock
  (MySQL ``GET_LOCK``, PostgreSQL ``pg_advisory_xact_lock``) so concurrent refreshes never deadlock.
- *claim* is ``SELECT … FOR UPDATE SKIP LOCKED`` at READ COMMITTED ordered by priority then
  scheduled_time, several jobs per round trip, writing the columns datajoint's ``reserve()`` writes.
  It also reports which claimed keys are already in the target (no per-key ``key in self``).
- *finish* runs inside make()'s transaction and checks ownership (still reserved by this connection);
  ``completed_time`` is the clock time, ``reserved_time`` the job's own start (claims come in batches).
- *housekeeping* (refresh, rescue, claim) retries deadlocks and lock-wait timeouts; on MySQL its
  clean-up reads the rows lock-free, then changes them by primary key (the lock order of finish).
- *rescue*: every djruntime worker connection holds a per-connection advisory lock for its lifetime
  (MySQL ``GET_LOCK('djruntime.<connection_id>')``, PostgreSQL ``pg_advisory_lock(K, pg_backend_pid())``)
  and marks its reservations with ``host = '<node> (djruntime)'``. A marked reservation whose lock is
  free belongs to a dead worker. On PostgreSQL a reservation whose ``connection_id`` is not a live
  backend in ``pg_stat_activity`` (visible without privileges) is rescued whoever made it. A plain
  datajoint reservation on MySQL is only rescued by datajoint's age-based ``orphan_timeout``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import random
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from datajoint.codecs import decode_attribute
from datajoint.condition import AndList, Not, make_condition
from datajoint.errors import DataJointError, MissingTableError
from datajoint.jobs import ERROR_MESSAGE_LENGTH, TRUNCATION_APPENDIX, Job, _get_job_version

from . import context, faults

logger = logging.getLogger("datajoint")
HOST_MARK = " (djruntime)"
"""Suffix of ``host`` on reservations made by djruntime: such a reservation is rescued as soon as its
worker's lock is free."""


def marked_host() -> str:
    """The ``host`` column djruntime writes: this machine's name, marked as a djruntime reservation."""
    return platform.node()[: 255 - len(HOST_MARK)] + HOST_MARK


PG_LOCK_CLASS = 0x646A72  # 'djr': first key of djruntime's PostgreSQL advisory locks
PG_REFRESH_CLASS = 0x646A73  # first key of the per-job-table refresh lock
REFRESH_LOCK_TIMEOUT = 300  # seconds a refresh waits for a concurrent one

_WORKER_ATTRIBUTE = "_djruntime_worker"
_ABANDONED_ATTRIBUTE = "_djruntime_abandoned"

HOUSEKEEPING_ATTEMPTS = 5  # a refresh / rescue / claim that meets a deadlock or lock-wait timeout is retried
RETRY_MARK = "djruntime retry "
"""Prefix of ``error_message`` on a pending job that went back to the queue after a lost session or lock
contention (``djruntime retry 2: <what happened>``): the number of such retries so far."""
_RETRY_PATTERN = re.compile(re.escape(RETRY_MARK) + r"(\d+):")
_INDEX_CHECKED: set[str] = set()  # job tables whose claim index this process has checked

RESET_RESERVATION = "{status}='pending', {reserved_time}=NULL, {host}='', {pid}=0, {connection_id}=0, {user}=''"


@dataclass(frozen=True)
class Claim:
    """One claimed job: its key (decoded as datajoint's fetch decodes it) and whether the target
    already holds it (then the engine completes it without calling make())."""

    key: dict
    done: bool
    raw: tuple  # the key as the server sent it, for statements
    retries: int = 0  # times this job already went back to the queue after a lost session / lock contention


def retries_of(error_message: str | None) -> int:
    """How many times a pending job was retried (see ``RETRY_MARK``); 0 for any other message."""
    match = _RETRY_PATTERN.match(error_message or "")
    return int(match.group(1)) if match else 0


@dataclass
class Worker:
    """This connection's identity as a queue worker (read once per server connection)."""

    raw_connection: Any
    connection_id: int
    user: str
    read_committed: bool  # PostgreSQL: the session already runs at READ COMMITTED


def worker_identity(connection) -> Worker:
    """Take this connection's worker lock (once per server connection) and return its identity.

    The lock is held until the connection closes; a reservation marked with ``HOST_MARK`` whose
    lock is free therefore belongs to a connection that is gone.
    """
    worker = getattr(connection, _WORKER_ATTRIBUTE, None)
    if worker is not None and worker.raw_connection is connection._conn:
        return worker
    with context.bookkeeping():
        if connection.adapter.backend == "mysql":
            row = connection.query(
                "SELECT GET_LOCK(CONCAT('djruntime.', CONNECTION_ID()), 0), CONNECTION_ID(), USER()"
            ).fetchone()
            read_committed = False
        else:
            row = connection.query(
                f"SELECT pg_advisory_lock({PG_LOCK_CLASS}, pg_backend_pid()), pg_backend_pid(), current_user, "
                "current_setting('transaction_isolation')"
            ).fetchone()
            read_committed = row[3] == "read committed"
    worker = Worker(connection._conn, int(row[1]), row[2], read_committed)
    setattr(connection, _WORKER_ATTRIBUTE, worker)
    return worker


def abandon_session(connection) -> None:
    """Replace a session that was lost or that an interrupt broke mid-query (pymysql closes its socket;
    datajoint may already have reconnected): make sure a fresh session is open, end the old one on the server if it is still
    running a query (MySQL; one's own sessions need no privilege), and remember the old id so this worker
    can still release the jobs it held there. The server rolls the old session's transaction back."""
    worker = getattr(connection, _WORKER_ATTRIBUTE, None)
    if worker is None or worker.raw_connection is connection._conn:  # not a session datajoint reopened
        try:
            connection.close()
        except Exception:
            pass
    if not connection.is_connected:
        connection.connect()
    connection._in_transaction = False
    if worker is None:
        return
    if not hasattr(connection, _ABANDONED_ATTRIBUTE):
        setattr(connection, _ABANDONED_ATTRIBUTE, set())
    getattr(connection, _ABANDONED_ATTRIBUTE).add(worker.connection_id)
    if connection.adapter.backend == "mysql":  # ids are never reused; PostgreSQL pids are: leave them
        with context.bookkeeping():
            try:
                connection.query(f"KILL CONNECTION {int(worker.connection_id)}")
            except Exception:  # already gone
                pass


class JobQueueInMakeError(DataJointError):
    """A job-queue operation (refresh, claim, reserve, status changes, …) was called inside make().

    Such operations run as the engine's bookkeeping and manage their own transactions: inside make()
    they would commit make()'s open transaction, or read and write job tables unchecked."""


def refuse_inside_make(connection, operation: str) -> None:
    """Raise JobQueueInMakeError when a make() window is open on ``connection``."""
    window = context.window_on(connection)
    if window is not None:
        owner = getattr(window.table, "class_name", None) or type(window.table).__name__
        raise JobQueueInMakeError(
            f"jobs.{operation}() cannot be called inside make() ({owner}.{window.phase}() for key "
            f"{dict(window.key)!r}): job-queue operations run their own transactions and would commit "
            "make()'s. Call it before or after populate()."
        )


def _truncate(message: str) -> str:
    if len(message) > ERROR_MESSAGE_LENGTH:
        return message[: ERROR_MESSAGE_LENGTH - len(TRUNCATION_APPENDIX)] + TRUNCATION_APPENDIX
    return message


class JobQueue(Job):
    """datajoint's job table for ``target_table``, with djruntime's refresh / claim / finish / rescue."""

    def __init__(self, target_table) -> None:
        super().__init__(target_table)
        self._version = None
        self._known_declared = False  # set by ensure(); a refresh that finds the table gone clears it

    # ------------------------------------------------------------------ helpers
    @property
    def _q(self):
        return self.adapter.quote_identifier

    @property
    def _mysql(self) -> bool:
        return self.adapter.backend == "mysql"

    def _now(self) -> str:
        return "CURRENT_TIMESTAMP(3)"

    def _clock(self) -> str:
        """The time now, also inside a transaction (PostgreSQL's CURRENT_TIMESTAMP is the transaction's
        start; MySQL's is the statement's)."""
        return "CURRENT_TIMESTAMP(3)" if self._mysql else "clock_timestamp()"

    def _clock_minus(self, seconds: float) -> str:
        """``_clock()`` minus ``seconds`` (a job's start time, from its measured duration)."""
        micros = max(0, int(seconds * 1e6))
        if self._mysql:
            return f"CURRENT_TIMESTAMP(3) - INTERVAL {micros} MICROSECOND"
        return f"clock_timestamp() - INTERVAL '{micros} microseconds'"

    def _me(self) -> str:
        """The server's id of this connection, as written to ``connection_id``."""
        return "CONNECTION_ID()" if self._mysql else "pg_backend_pid()"

    def _pk_cols(self, alias: str | None = None) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + self._q(k) for k in self.primary_key)

    def _row_tuple(self, alias: str | None = None) -> str:
        return f"({self._pk_cols(alias)})"

    def _pk_equal(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{self._q(k)} = {right}.{self._q(k)}" for k in self.primary_key)

    def _keys_in(self, raws: Sequence[tuple]) -> tuple[str, list]:
        """``(pk) IN ((%s, …), …)`` for raw key tuples, with its arguments."""
        one = "(" + ", ".join(["%s"] * len(self.primary_key)) + ")"
        clause = f"{self._row_tuple()} IN ({', '.join([one] * len(raws))})"
        return clause, [value for raw in raws for value in raw]

    def _key_condition(self, key: dict) -> str:
        return make_condition(self, {k: key[k] for k in self.primary_key}, set())

    def job_version(self) -> str:
        if self._version is None:
            self._version = _get_job_version(self.connection._config)
        return self._version

    def ensure(self) -> JobQueue:
        """Declare the job table if missing, and add the claim index if an older table lacks it.

        Once per queue (a refresh that finds the table dropped asks again); the claim index is checked
        once per process. Inside make() nothing is done: the DDL would commit make()'s transaction."""
        if context.window_on(self.connection) is not None or self._known_declared:
            return self
        with context.bookkeeping():
            if not self.is_declared:
                try:
                    self.declare()
                except Exception:
                    # another worker declared it at the same moment
                    if not self.is_declared:
                        raise
            if self.full_table_name in _INDEX_CHECKED:
                self._known_declared = True
                return self
            wanted = ("status", "priority", "scheduled_time")
            if self._mysql:
                _ = self.heading.names  # loads the heading, indexes included
                present = any(tuple(columns[:3]) == wanted for columns in self.heading.indexes or {})
            else:  # datajoint's PostgreSQL heading does not list indexes
                definitions = self.connection.query(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                    args=(self.database, self.table_name),
                ).fetchall()
                present = any("(status, priority, scheduled_time" in row[0] for row in definitions)
            if not present:
                # Adding an index changes no column: the job table stays datajoint's.
                q = self._q
                name = "djr_claim_" + hashlib.sha1(self.full_table_name.encode()).hexdigest()[:12]
                try:
                    self.connection.query(
                        f"CREATE INDEX IF NOT EXISTS {q(name)} ON {self.full_table_name} "
                        f"({', '.join(q(c) for c in wanted)})"
                    )
                except Exception as error:  # a concurrent worker created it: an optimisation only
                    logger.debug(f"claim index on {self.full_table_name} not created: {error}")
            _INDEX_CHECKED.add(self.full_table_name)
        self._known_declared = True
        return self

    # ------------------------------------------------------------------ transactions
    def _begin_read_committed(self) -> None:
        # never inside a transaction someone else opened: _commit() would commit it
        refuse_inside_make(self.connection, "transaction")
        if self.connection._in_transaction:
            raise DataJointError(
                f"job queue of {self.full_table_name}: a transaction is already open on this connection; "
                "the queue never commits a transaction it did not open"
            )
        if self._mysql:
            self.connection.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            self.connection.query("START TRANSACTION")
        else:
            self.connection.query("BEGIN ISOLATION LEVEL READ COMMITTED")
        self.connection._in_transaction = True

    def _commit(self) -> None:
        self.connection.query("COMMIT")
        self.connection._in_transaction = False

    def _rollback(self) -> None:
        try:
            self.connection.query("ROLLBACK")
        finally:
            self.connection._in_transaction = False

    # ------------------------------------------------------------------ refresh
    def _refresh_lock_name(self) -> str:
        return "djruntime.refresh." + hashlib.sha1(self.full_table_name.encode()).hexdigest()[:32]

    def _housekeeping(self, what: str, body):
        """Run ``body()`` — a transaction of its own — again when it meets a deadlock, a lock-wait
        timeout or a serialization failure (bounded, with a short random pause), or after a fresh
        session when the session was lost (as datajoint reconnects on MySQL outside a transaction, so on
        PostgreSQL too): refresh, rescue and claim are housekeeping, and must never abort a worker."""
        for attempt in range(1, HOUSEKEEPING_ATTEMPTS + 1):
            try:
                return body()
            except Exception as error:
                lost = faults.session_lost(error)
                if attempt == HOUSEKEEPING_ATTEMPTS or not (lost or faults.lock_contention(error)):
                    raise
                logger.info(f"{what} of {self.full_table_name}: {error}; retrying")
                if lost:
                    abandon_session(self.connection)
                else:
                    time.sleep(random.uniform(0.01, 0.05) * attempt)

    def refresh(
        self,
        *restrictions,
        delay: float = 0,
        priority: int | None = None,
        stale_timeout: float | None = None,
        orphan_timeout: float | None = None,
    ) -> dict:
        """Add new jobs and clean up, as datajoint's ``Job.refresh`` (same arguments and result).

        New jobs: ``(key_source & restrictions) - target - jobs`` in one ``INSERT … SELECT``.
        Re-pend (``keep_completed``): success records whose key is in key_source but not in the target
        go back to pending in place. Removed, in one ``DELETE``: success/error records whose key left both
        key_source and target; stale records (older than ``stale_timeout``, key not in key_source) except
        ``ignore`` and except live reservations. Orphaned, in one ``UPDATE``: reservations whose holder is
        gone (see ``rescue``), and, as datajoint, reservations older than ``orphan_timeout`` — back to
        pending in place. A deadlock or lock-wait timeout retries the whole refresh (bounded).
        """
        refuse_inside_make(self.connection, "refresh")
        config = self.connection._config.jobs
        priority = config.default_priority if priority is None else priority
        stale_timeout = config.stale_timeout if stale_timeout is None else stale_timeout
        self.ensure()
        target = self._target
        q = self._q
        key_source = target.key_source
        if restrictions:
            key_source = key_source & AndList(restrictions)
        pk = self._pk_cols()
        new_keys = (key_source - target.proj()).proj()
        interval = self.adapter.interval_expr(int(delay), "second")
        insert = (
            f"INSERT {'IGNORE ' if self._mysql else ''}INTO {self.full_table_name} "
            f"({pk}, {q('status')}, {q('priority')}, {q('scheduled_time')}) "
            f"SELECT {self._pk_cols('djr_new')}, 'pending', %s, {self._now()} + {interval} "
            f"FROM ({new_keys.make_sql()}) AS djr_new "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.full_table_name} AS djr_job "
            f"WHERE {self._pk_equal('djr_job', 'djr_new')})"
            f"{'' if self._mysql else ' ON CONFLICT DO NOTHING'}"
        )
        repend = None
        if config.keep_completed:
            repend = (
                f"UPDATE {self.full_table_name} SET {self._reset_columns()}, {q('priority')}=%s, "
                f"{q('created_time')}={self._now()}, {q('scheduled_time')}={self._now()}, "
                f"{q('completed_time')}=NULL, {q('duration')}=NULL, {q('error_message')}='', "
                f"{q('error_stack')}=NULL, {q('version')}=''"
                + self.completed.restrict(key_source, semantic_check=False)
                .restrict(Not(target), semantic_check=False)
                .where_clause()
            )
        # vanished keys: success/error records also gone from the target, and stale records
        vanished = self.restrict(Not(target.key_source.proj()), semantic_check=False)
        finished = (vanished & "status in ('success', 'error')").restrict(Not(target.proj()), semantic_check=False)
        removable = f"({finished.where_clause()[len(' WHERE '):]})"
        if stale_timeout and stale_timeout > 0:
            stale_interval = self.adapter.interval_expr(int(stale_timeout), "second")
            stale = (
                vanished
                & f"created_time < CURRENT_TIMESTAMP - {stale_interval}"
                & "status != 'ignore'"
                & "status != 'reserved'"  # a live reservation is never deleted
            )
            removable += f" OR ({stale.where_clause()[len(' WHERE '):]})"

        def body() -> dict:
            result = {"added": 0, "removed": 0, "orphaned": 0, "re_pended": 0}
            self._begin_read_committed()
            try:
                if not self._mysql:
                    digest = int(hashlib.sha1(self.full_table_name.encode()).hexdigest()[:7], 16)
                    self.connection.query(f"SELECT pg_advisory_xact_lock({PG_REFRESH_CLASS}, {digest})")
                result["added"] = self.connection.query(insert, args=[priority]).rowcount
                if repend is not None:
                    result["re_pended"] = self.connection.query(repend, args=[priority]).rowcount
                result["removed"] = self._by_key(
                    f"DELETE FROM {self.full_table_name}", f"{q('status')} != 'reserved' AND ({removable})"
                )
                result["orphaned"] = self._rescue_statement(orphan_timeout)
                self._commit()
            except BaseException:
                self._rollback()
                raise
            return result

        with context.bookkeeping():
            lock_name = self._refresh_lock_name()
            if self._mysql:
                got = self.connection.query("SELECT GET_LOCK(%s, %s)", args=(lock_name, REFRESH_LOCK_TIMEOUT)).fetchone()[0]
                if got != 1:
                    raise TimeoutError(f"another refresh of {self.full_table_name} held the lock for {REFRESH_LOCK_TIMEOUT} s")
            try:
                try:
                    return self._housekeeping("refresh", body)
                except MissingTableError:  # dropped since this queue declared it: declare it again
                    self._known_declared = False
                    self.ensure()
                    return self._housekeeping("refresh", body)
            finally:
                if self._mysql:
                    self.connection.query("SELECT RELEASE_LOCK(%s)", args=(lock_name,))

    def _reset_columns(self) -> str:
        names = ("status", "reserved_time", "host", "pid", "connection_id", "user")
        return RESET_RESERVATION.format(**{name: self._q(name) for name in names})

    def _by_key(self, change: str, condition: str, args: Sequence = ()) -> int:
        """``change`` (an UPDATE … SET … or a DELETE FROM …) of the rows matching ``condition``.

        On MySQL the rows are first found by a consistent (lock-free) read and then changed by primary
        key, the condition checked again: InnoDB then locks each row's primary key before its
        ``status`` index entry — the order make()'s finish locks them in — so this housekeeping never
        deadlocks with a worker's finish, nor waits on rows it will not change. PostgreSQL evaluates
        the condition before it locks a row: one statement."""
        if not self._mysql:
            return self.connection.query(f"{change} WHERE {condition}", args=list(args)).rowcount
        rows = self.connection.query(
            f"SELECT {self._pk_cols()} FROM {self.full_table_name} WHERE {condition}", args=list(args)
        ).fetchall()
        if not rows:
            return 0
        clause, key_args = self._keys_in([tuple(row) for row in rows])
        return self.connection.query(
            f"{change} WHERE {clause} AND {condition}", args=key_args + list(args)
        ).rowcount

    # ------------------------------------------------------------------ rescue
    def _rescue_statement(self, orphan_timeout: float | None = None) -> int:
        """Reservations whose holder is gone (and, given ``orphan_timeout``, reservations older than
        that, as datajoint's refresh) back to pending, in place."""
        q = self._q
        marked = f"{q('host')} LIKE %s"
        if self._mysql:
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
        if orphan_timeout is not None and orphan_timeout > 0:
            orphan_interval = self.adapter.interval_expr(int(orphan_timeout), "second")
            dead = f"(({dead}) OR {q('reserved_time')} < CURRENT_TIMESTAMP - {orphan_interval})"
        return self._by_key(
            f"UPDATE {self.full_table_name} SET {self._reset_columns()}",
            f"{q('status')}='reserved' AND {dead}",
            args=["%" + HOST_MARK],
        )

    def rescue(self) -> int:
        """Return reservations whose holder is gone to pending, in place; the number rescued.

        MySQL: reservations marked as djruntime's whose worker lock is free (and whose connection is
        not in the visible process list). PostgreSQL: reservations whose connection_id is no live
        backend, or marked ones whose worker lock is not held (a reused pid). Housekeeping: lock
        contention is retried, and should it persist the rescue is skipped (0), never raised.
        """
        refuse_inside_make(self.connection, "rescue")

        def body() -> int:
            # READ COMMITTED: the scan neither locks nor waits for rows a live worker is finishing
            self._begin_read_committed()
            try:
                rescued = self._rescue_statement()
                self._commit()
            except BaseException:
                self._rollback()
                raise
            return rescued

        with context.bookkeeping():
            try:
                return self._housekeeping("rescue", body)
            except Exception as error:
                if not faults.lock_contention(error):
                    raise
                logger.warning(f"rescue of {self.full_table_name} skipped: {error}")
                return 0

    # ------------------------------------------------------------------ claim
    def claim(self, limit: int, restriction: Any = None, priority: int | None = None) -> list[Claim]:
        """Reserve up to ``limit`` schedulable pending jobs, most urgent first, for this connection.

        ``restriction``: a query expression of keys (e.g. ``table._jobs_to_do(restrictions)``).
        ``priority``: only jobs with ``priority <= priority`` (datajoint's meaning).
        """
        refuse_inside_make(self.connection, "claim")
        if self.connection._in_transaction:
            raise DataJointError("jobs.claim() cannot run inside an open transaction (it commits its own)")
        if limit <= 0:
            return []
        q = self._q
        conditions = [f"djr_j.{q('status')}='pending'", f"djr_j.{q('scheduled_time')} <= {self._now()}"]
        args: list = []
        if priority is not None:
            conditions.append(f"djr_j.{q('priority')} <= %s")
            args.append(int(priority))
        if restriction is not None:
            conditions.append(
                f"{self._row_tuple('djr_j')} IN (SELECT {self._pk_cols('djr_r')} FROM ({restriction.make_sql()}) AS djr_r)"
            )
        target = self._target
        done = (
            f"EXISTS(SELECT 1 FROM {target.full_table_name} AS djr_t WHERE {self._pk_equal('djr_t', 'djr_j')})"
        )
        pick = (
            f"SELECT {self._pk_cols('djr_j')} FROM {self.full_table_name} AS djr_j WHERE {' AND '.join(conditions)} "
            f"ORDER BY djr_j.{q('priority')}, djr_j.{q('scheduled_time')} LIMIT {int(limit)} FOR UPDATE SKIP LOCKED"
        )
        host = marked_host()
        assignments = (
            f"{q('status')}='reserved', {q('host')}=%s, {q('pid')}=%s, {q('connection_id')}={self._me()}, "
            f"{q('user')}=%s, {q('version')}=%s, {q('reserved_time')}={self._now()}"
        )
        n = len(self.primary_key)
        message = f"djr_j.{q('error_message')}"

        def body() -> list[tuple]:
            """(done, error_message, raw key) of each claimed job, most urgent first."""
            worker = worker_identity(self.connection)
            update_args = [host, os.getpid(), worker.user, self.job_version()[:64]]
            if self._mysql:
                self._begin_read_committed()
                try:
                    rows = self.connection.query(
                        pick.replace("SELECT ", f"SELECT {done}, {message}, ", 1), args=args
                    ).fetchall()
                    if rows:
                        clause, key_args = self._keys_in([row[2:] for row in rows])
                        self.connection.query(
                            f"UPDATE {self.full_table_name} SET {assignments} WHERE {clause}",
                            args=update_args + key_args,
                        )
                    self._commit()
                except BaseException:
                    self._rollback()
                    raise
                return [(bool(row[0]), row[1], tuple(row[2:])) for row in rows]
            statement = (
                f"WITH djr_pick AS ({pick}) UPDATE {self.full_table_name} AS djr_j SET {assignments} "
                f"FROM djr_pick WHERE {self._pk_equal('djr_j', 'djr_pick')} "
                f"RETURNING {done}, djr_j.{q('priority')}, djr_j.{q('scheduled_time')}, {message}, "
                f"{self._pk_cols('djr_j')}"
            )
            if not worker.read_committed:
                self._begin_read_committed()
            try:
                rows = self.connection.query(statement, args=args + update_args).fetchall()
                if not worker.read_committed:
                    self._commit()
            except BaseException:
                if not worker.read_committed:
                    self._rollback()
                raise
            rows = sorted(rows, key=lambda row: (row[1], row[2]))  # RETURNING keeps no order
            return [(bool(row[0]), row[3], tuple(row[4:])) for row in rows]

        with context.bookkeeping():
            raws = self._housekeeping("claim", body)
        heading = self.heading
        claims = []
        for is_done, error_message, raw in raws:
            key = {
                name: decode_attribute(heading[name], value, connection=self.connection)
                for name, value in zip(self.primary_key, raw)
            }
            claims.append(Claim(key=key, done=is_done, raw=raw[:n], retries=retries_of(error_message)))
        return claims

    # ------------------------------------------------------------------ finish / fail / release
    def _owned(self, *, abandoned: bool = True) -> str:
        """Still reserved by this connection — or (``abandoned``) by a session of it the engine
        abandoned after it was lost or an interrupt broke it mid-query: that session is gone, the jobs
        it held are this worker's to return or record."""
        q = self._q
        holders = self._me()
        ids = sorted(getattr(self.connection, _ABANDONED_ATTRIBUTE, ())) if abandoned else ()
        if ids:
            holders += ", " + ", ".join(str(int(i)) for i in ids)
        return f"{q('status')}='reserved' AND {q('connection_id')} IN ({holders})"

    def _timing(self, duration: float | None) -> str:
        """``completed_time`` is the clock time now (not the transaction's start) and, given the job's
        duration, ``reserved_time`` its start: with a batch of claims, ``completed_time -
        reserved_time`` is still the job's own time, as with datajoint's one-at-a-time reservations."""
        q = self._q
        timing = f"{q('completed_time')}={self._clock()}"
        if duration is not None:
            timing += f", {q('reserved_time')}={self._clock_minus(duration)}"
        return timing

    def finish(self, key: dict, duration: float | None = None) -> bool:
        """Mark the job done (success, or deleted unless ``keep_completed``) if this session still
        holds it. Call inside make()'s transaction; False means another worker owns the job now."""
        refuse_inside_make(self.connection, "finish")
        q = self._q
        where = f"{self._key_condition(key)} AND {self._owned(abandoned=False)}"
        with context.bookkeeping():
            if self.connection._config.jobs.keep_completed:
                cursor = self.connection.query(
                    f"UPDATE {self.full_table_name} SET {q('status')}='success', {self._timing(duration)}, "
                    f"{q('duration')}=%s, {q('error_message')}='' WHERE {where}",
                    args=[duration],
                )
            else:
                cursor = self.connection.query(f"DELETE FROM {self.full_table_name} WHERE {where}")
        return cursor.rowcount == 1

    def finish_many(self, claims: Sequence[Claim]) -> int:
        """Complete claimed jobs whose keys are already in the target (no make() call)."""
        refuse_inside_make(self.connection, "finish_many")
        if not claims:
            return 0
        q = self._q
        clause, key_args = self._keys_in([c.raw for c in claims])
        where = f"{clause} AND {self._owned(abandoned=False)}"
        with context.bookkeeping():
            if self.connection._config.jobs.keep_completed:
                sql = (
                    f"UPDATE {self.full_table_name} SET {q('status')}='success', "
                    f"{self._timing(None)}, {q('error_message')}='' WHERE {where}"
                )
            else:
                sql = f"DELETE FROM {self.full_table_name} WHERE {where}"
            return self.connection.query(sql, args=key_args).rowcount

    def fail(self, key: dict, message: str, stack: str | None = None, duration: float | None = None) -> bool:
        """Record the job's error (message truncated as datajoint does, stack as datajoint's blob)
        if this connection still holds it."""
        refuse_inside_make(self.connection, "fail")
        q = self._q
        assignments = [f"{q('status')}='error'", self._timing(duration), f"{q('error_message')}=%s"]
        args: list = [_truncate(message)]
        if stack is not None:
            # datajoint's own encoder for the <blob> column (the one update1 uses)
            _, placeholder, value = self._Table__make_placeholder("error_stack", stack)
            assignments.append(f"{q('error_stack')}={placeholder}")
            if value is not None:
                args.append(value)
        where = f"{self._key_condition(key)} AND {self._owned()}"
        with context.bookkeeping():
            return (
                self.connection.query(
                    f"UPDATE {self.full_table_name} SET {', '.join(assignments)} WHERE {where}", args=args
                ).rowcount
                == 1
            )

    def release(self, claims: Iterable[Claim | dict]) -> int:
        """Return jobs this connection holds to pending, in place (interrupted or never started)."""
        refuse_inside_make(self.connection, "release")
        keys = list(claims)
        if not keys:
            return 0
        conditions = [
            "(" + self._key_condition(c.key if isinstance(c, Claim) else c) + ")" for c in keys
        ]
        with context.bookkeeping():
            return self.connection.query(
                f"UPDATE {self.full_table_name} SET {self._reset_columns()} "
                f"WHERE ({' OR '.join(conditions)}) AND {self._owned()}"
            ).rowcount

    def requeue(self, key: dict, retries: int, reason: str, delay: float = 0) -> bool:
        """Return a job this worker holds to pending after a lost session or lock contention, noting
        the retry in ``error_message`` (``djruntime retry N: reason``) so that retries stay bounded
        across workers, and scheduled ``delay`` seconds from now (a lock may take a while to go)."""
        refuse_inside_make(self.connection, "requeue")
        q = self._q
        schedule = ""
        if delay > 0:
            schedule = f", {q('scheduled_time')}={self._clock()} + {self.adapter.interval_expr(int(delay), 'second')}"
        with context.bookkeeping():
            return (
                self.connection.query(
                    f"UPDATE {self.full_table_name} SET {self._reset_columns()}, {q('error_message')}=%s{schedule} "
                    f"WHERE {self._key_condition(key)} AND {self._owned()}",
                    args=[_truncate(f"{RETRY_MARK}{int(retries)}: {reason}")],
                ).rowcount
                == 1
            )

    # ------------------------------------------------------------------ datajoint's API, marked
    def reserve(self, key: dict) -> bool:
        """datajoint's ``reserve(key)``, as a djruntime reservation (marked, held by this connection's
        worker lock, so it is rescued if this connection dies)."""
        refuse_inside_make(self.connection, "reserve")
        worker = worker_identity(self.connection)
        q = self._q
        host = marked_host()
        with context.bookkeeping():
            cursor = self.connection.query(
                f"UPDATE {self.full_table_name} SET {q('status')}='reserved', {q('host')}=%s, {q('pid')}=%s, "
                f"{q('connection_id')}={self._me()}, {q('user')}=%s, {q('version')}=%s, "
                f"{q('reserved_time')}={self._now()} WHERE {self._key_condition(key)} "
                f"AND {q('status')}='pending' AND {q('scheduled_time')} <= {self._now()}",
                args=[host, os.getpid(), worker.user, self.job_version()[:64]],
            )
        return cursor.rowcount == 1

    def complete(self, key: dict, duration: float | None = None) -> None:
        refuse_inside_make(self.connection, "complete")
        with context.bookkeeping():
            super().complete(key, duration=duration)

    def error(self, key: dict, error_message: str, error_stack: str | None = None) -> None:
        refuse_inside_make(self.connection, "error")
        with context.bookkeeping():
            super().error(key, error_message=error_message, error_stack=error_stack)

    def ignore(self, key: dict) -> None:
        refuse_inside_make(self.connection, "ignore")
        with context.bookkeeping():
            super().ignore(key)

    def progress(self) -> dict:
        with context.bookkeeping():
            return super().progress()
