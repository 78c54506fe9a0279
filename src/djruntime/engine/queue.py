"""The job queue: datajoint's own ``~~<table>`` job table, driven with fewer, race-free statements.

API (used by the worker loop, the pool and the worker CLI)::

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

Every statement text is in ``engine/queue_sql.py``; the worker lock and abandoned sessions are in
``engine/sessions.py``. How the queue differs from datajoint's (see docs/engine.md):

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
- *rescue*: a reservation marked ``host = '<node> (djruntime)'`` whose worker lock is free belongs to a
  dead worker (``engine/sessions.py``). On PostgreSQL a reservation whose ``connection_id`` is not a live
  backend in ``pg_stat_activity`` (visible without privileges) is rescued whoever made it. A plain
  datajoint reservation on MySQL is only rescued by datajoint's age-based ``orphan_timeout``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from datajoint.codecs import decode_attribute
from datajoint.condition import AndList, Not, make_condition
from datajoint.errors import DataJointError, MissingTableError
from datajoint.jobs import ERROR_MESSAGE_LENGTH, TRUNCATION_APPENDIX, Job, _get_job_version

from .. import context
from . import faults, queue_sql
from .queue_sql import QueueSql
from .sessions import HOST_MARK, Worker, abandon_session, abandoned_sessions, marked_host, worker_identity

logger = logging.getLogger("datajoint")
REFRESH_LOCK_TIMEOUT = 300  # seconds a refresh waits for a concurrent one
HOUSEKEEPING_ATTEMPTS = 5  # a refresh / rescue / claim that meets a deadlock or lock-wait timeout is retried
RETRY_MARK = "djruntime retry "
"""Prefix of ``error_message`` on a pending job that went back to the queue after a lost session or lock
contention (``djruntime retry 2: <what happened>``): the number of such retries so far."""
_RETRY_PATTERN = re.compile(re.escape(RETRY_MARK) + r"(\d+):")
_INDEX_CHECKED: set[str] = set()  # job tables whose claim index this process has checked
_CLAIM_INDEX = ("status", "priority", "scheduled_time")
T = TypeVar("T")


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


class JobQueueInMakeError(DataJointError):
    """A job-queue operation (refresh, claim, reserve, status changes, …) was called inside make().

    Such operations run as the engine's bookkeeping and manage their own transactions: inside make()
    they would commit make()'s open transaction, or read and write job tables unchecked."""


def refuse_inside_make(connection: Any, operation: str) -> None:
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


def _condition(query: Any) -> str:
    """The WHERE condition of a datajoint query expression, as its ``where_clause()`` writes it."""
    return "(" + ")AND(".join(str(part) for part in query.restriction) + ")"


class JobQueue(Job):
    """datajoint's job table for ``target_table``, with djruntime's refresh / claim / finish / rescue."""

    def __init__(self, target_table: Any) -> None:
        super().__init__(target_table)
        self._version: str | None = None
        self._known_declared = False  # set by ensure(); a refresh that finds the table gone clears it
        self._statements: QueueSql | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def sql(self) -> QueueSql:
        """The statements of this job table (``engine/queue_sql.py``)."""
        if self._statements is None:
            self._statements = QueueSql(
                self.full_table_name, tuple(self.primary_key), self._mysql,
                self.adapter.quote_identifier, self.adapter.interval_expr,
            )
        return self._statements

    @property
    def _mysql(self) -> bool:
        return self.adapter.backend == "mysql"

    def _key_condition(self, key: dict) -> str:
        return make_condition(self, {k: key[k] for k in self.primary_key}, set())

    def _owned(self, *, abandoned: bool = True) -> str:
        """Still reserved by this connection — or (``abandoned``) by a session of it the engine
        abandoned after it was lost or an interrupt broke it mid-query: that session is gone, the jobs
        it held are this worker's to return or record."""
        return self.sql.owned(abandoned_sessions(self.connection) if abandoned else ())

    def _query(self, sql: str, args: Sequence = ()) -> Any:
        return self.connection.query(sql, args=list(args))

    def _reservation(self, worker: Worker) -> list:
        """The arguments of ``QueueSql.reservation()``: host, pid, user, version."""
        return [marked_host(), os.getpid(), worker.user, self.job_version()[:64]]

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
            if self.full_table_name not in _INDEX_CHECKED:
                self._add_claim_index()
                _INDEX_CHECKED.add(self.full_table_name)
        self._known_declared = True
        return self

    def _add_claim_index(self) -> None:
        if self._mysql:
            _ = self.heading.names  # loads the heading, indexes included
            present = any(tuple(columns[:3]) == _CLAIM_INDEX for columns in self.heading.indexes or {})
        else:  # datajoint's PostgreSQL heading does not list indexes
            definitions = self._query(queue_sql.PG_INDEX_DEFINITIONS, (self.database, self.table_name)).fetchall()
            present = any("(status, priority, scheduled_time" in row[0] for row in definitions)
        if not present:
            # Adding an index changes no column: the job table stays datajoint's.
            name = "djr_claim_" + hashlib.sha1(self.full_table_name.encode()).hexdigest()[:12]
            try:
                self._query(self.sql.create_claim_index(name, _CLAIM_INDEX))
            except Exception as error:  # a concurrent worker created it: an optimisation only
                logger.debug(f"claim index on {self.full_table_name} not created: {error}")

    # ------------------------------------------------------------------ transactions
    def _begin_read_committed(self) -> None:
        # never inside a transaction someone else opened: _commit() would commit it
        refuse_inside_make(self.connection, "transaction")
        if self.connection._in_transaction:
            raise DataJointError(
                f"job queue of {self.full_table_name}: a transaction is already open on this connection; "
                "the queue never commits a transaction it did not open"
            )
        for statement in queue_sql.begin_read_committed(self._mysql):
            self._query(statement)
        self.connection._in_transaction = True

    def _commit(self) -> None:
        self._query(queue_sql.COMMIT)
        self.connection._in_transaction = False

    def _rollback(self) -> None:
        try:
            self._query(queue_sql.ROLLBACK)
        finally:
            self.connection._in_transaction = False

    def _in_transaction(self, body: Callable[[], T]) -> T:
        """``body()`` in a READ COMMITTED transaction of the queue's own."""
        self._begin_read_committed()
        try:
            result = body()
            self._commit()
        except BaseException:
            self._rollback()
            raise
        return result

    def _housekeeping(self, what: str, body: Callable[[], T]) -> T:
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
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _by_key(self, change: str, condition: str, args: Sequence = ()) -> int:
        """``change`` (an UPDATE … SET … or a DELETE FROM …) of the rows matching ``condition``.

        On MySQL the rows are first found by a consistent (lock-free) read and then changed by primary
        key, the condition checked again: InnoDB then locks each row's primary key before its
        ``status`` index entry — the order make()'s finish locks them in — so this housekeeping never
        deadlocks with a worker's finish, nor waits on rows it will not change. PostgreSQL evaluates
        the condition before it locks a row: one statement."""
        if not self._mysql:
            return self._query(self.sql.where(change, condition), args).rowcount
        rows = self._query(self.sql.select_keys(condition), args).fetchall()
        if not rows:
            return 0
        clause, key_args = self.sql.keys_in([tuple(row) for row in rows])
        return self._query(self.sql.change_keys(change, clause, condition), key_args + list(args)).rowcount

    # ------------------------------------------------------------------ refresh
    def refresh(
        self,
        *restrictions: Any,
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
        sql = self.sql
        target = self._target
        key_source = target.key_source
        if restrictions:
            key_source = key_source & AndList(restrictions)
        insert = sql.insert_new((key_source - target.proj()).proj().make_sql(), delay)
        repend = None
        if config.keep_completed:
            completed = self.completed.restrict(key_source, semantic_check=False).restrict(
                Not(target), semantic_check=False
            )
            repend = sql.repend(_condition(completed))
        # vanished keys: success/error records also gone from the target, and stale records
        vanished = self.restrict(Not(target.key_source.proj()), semantic_check=False)
        finished = (vanished & "status in ('success', 'error')").restrict(Not(target.proj()), semantic_check=False)
        stale = None
        if stale_timeout and stale_timeout > 0:
            # a live reservation is never deleted
            stale = vanished & sql.stale_since(stale_timeout) & "status != 'ignore'" & "status != 'reserved'"
        removable = sql.removable(_condition(finished), None if stale is None else _condition(stale))

        def body() -> dict:
            result = {"added": 0, "removed": 0, "orphaned": 0, "re_pended": 0}
            if not self._mysql:
                digest = int(hashlib.sha1(self.full_table_name.encode()).hexdigest()[:7], 16)
                self._query(sql.refresh_lock(digest))
            result["added"] = self._query(insert, [priority]).rowcount
            if repend is not None:
                result["re_pended"] = self._query(repend, [priority]).rowcount
            result["removed"] = self._by_key(sql.delete(), removable)
            result["orphaned"] = self._rescue_statement(orphan_timeout)
            return result

        with context.bookkeeping():
            lock_name = "djruntime.refresh." + hashlib.sha1(self.full_table_name.encode()).hexdigest()[:32]
            if self._mysql:
                got = self._query(queue_sql.REFRESH_LOCK, (lock_name, REFRESH_LOCK_TIMEOUT)).fetchone()[0]
                if got != 1:
                    raise TimeoutError(f"another refresh of {self.full_table_name} held the lock for {REFRESH_LOCK_TIMEOUT} s")
            try:
                try:
                    return self._housekeeping("refresh", lambda: self._in_transaction(body))
                except MissingTableError:  # dropped since this queue declared it: declare it again
                    self._known_declared = False
                    self.ensure()
                    return self._housekeeping("refresh", lambda: self._in_transaction(body))
            finally:
                if self._mysql:
                    self._query(queue_sql.RELEASE_REFRESH_LOCK, (lock_name,))

    # ------------------------------------------------------------------ rescue
    def _rescue_statement(self, orphan_timeout: float | None = None) -> int:
        """Reservations whose holder is gone (and, given ``orphan_timeout``, reservations older than
        that, as datajoint's refresh) back to pending, in place."""
        return self._by_key(self.sql.rescue_change(), self.sql.rescue_condition(orphan_timeout), ["%" + HOST_MARK])

    def rescue(self) -> int:
        """Return reservations whose holder is gone to pending, in place; the number rescued.

        MySQL: reservations marked as djruntime's whose worker lock is free (and whose connection is
        not in the visible process list). PostgreSQL: reservations whose connection_id is no live
        backend, or marked ones whose worker lock is not held (a reused pid). Housekeeping: lock
        contention is retried, and should it persist the rescue is skipped (0), never raised.
        """
        refuse_inside_make(self.connection, "rescue")
        with context.bookkeeping():
            try:
                # READ COMMITTED: the scan neither locks nor waits for rows a live worker is finishing
                return self._housekeeping("rescue", lambda: self._in_transaction(self._rescue_statement))
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
        sql = self.sql
        conditions = sql.claim_conditions(priority is not None, None if restriction is None else restriction.make_sql())
        args: list = [] if priority is None else [int(priority)]
        target = self._target.full_table_name

        def body() -> list[tuple]:
            """(done, error_message, raw key) of each claimed job, most urgent first."""
            worker = worker_identity(self.connection)
            reservation = self._reservation(worker)
            if self._mysql:

                def pick_and_reserve() -> list[tuple]:
                    rows = self._query(sql.claim_pick(target, conditions, limit), args).fetchall()
                    if rows:
                        clause, key_args = sql.keys_in([row[2:] for row in rows])
                        self._query(sql.claim_reserve(clause), reservation + key_args)
                    return rows

                return [(bool(row[0]), row[1], tuple(row[2:])) for row in self._in_transaction(pick_and_reserve)]

            def pick() -> list[tuple]:
                return self._query(sql.claim_returning(target, conditions, limit), args + reservation).fetchall()

            rows = pick() if worker.read_committed else self._in_transaction(pick)
            rows = sorted(rows, key=lambda row: (row[1], row[2]))  # RETURNING keeps no order
            return [(bool(row[0]), row[3], tuple(row[4:])) for row in rows]

        with context.bookkeeping():
            raws = self._housekeeping("claim", body)
        heading, primary_key = self.heading, self.primary_key
        return [
            Claim(
                key={name: decode_attribute(heading[name], value, connection=self.connection)
                     for name, value in zip(primary_key, raw)},
                done=is_done, raw=raw[: len(primary_key)], retries=retries_of(error_message),
            )
            for is_done, error_message, raw in raws
        ]

    # ------------------------------------------------------------------ finish / fail / release
    def finish(self, key: dict, duration: float | None = None) -> bool:
        """Mark the job done (success, or deleted unless ``keep_completed``) if this session still
        holds it. Call inside make()'s transaction; False means another worker owns the job now."""
        refuse_inside_make(self.connection, "finish")
        keep = self.connection._config.jobs.keep_completed
        statement = self.sql.finish(self._key_condition(key), self._owned(abandoned=False), keep, True, duration)
        with context.bookkeeping():
            cursor = self._query(statement, [duration] if keep else [])
        return cursor.rowcount == 1

    def finish_many(self, claims: Sequence[Claim]) -> int:
        """Complete claimed jobs whose keys are already in the target (no make() call)."""
        refuse_inside_make(self.connection, "finish_many")
        if not claims:
            return 0
        clause, key_args = self.sql.keys_in([c.raw for c in claims])
        keep = self.connection._config.jobs.keep_completed
        with context.bookkeeping():
            statement = self.sql.finish(clause, self._owned(abandoned=False), keep, False, None)
            return self._query(statement, key_args).rowcount

    def fail(self, key: dict, message: str, stack: str | None = None, duration: float | None = None) -> bool:
        """Record the job's error (message truncated as datajoint does, stack as datajoint's blob)
        if this connection still holds it."""
        refuse_inside_make(self.connection, "fail")
        args: list = [_truncate(message)]
        placeholder = None
        if stack is not None:
            # datajoint's own encoder for the <blob> column (the one update1 uses)
            _, placeholder, value = self._Table__make_placeholder("error_stack", stack)
            if value is not None:
                args.append(value)
        statement = self.sql.fail(self._key_condition(key), self._owned(), duration, placeholder)
        with context.bookkeeping():
            return self._query(statement, args).rowcount == 1

    def release(self, claims: Iterable[Claim | dict]) -> int:
        """Return jobs this connection holds to pending, in place (interrupted or never started)."""
        refuse_inside_make(self.connection, "release")
        keys = [c.key if isinstance(c, Claim) else c for c in claims]
        if not keys:
            return 0
        with context.bookkeeping():
            statement = self.sql.release([self._key_condition(k) for k in keys], self._owned())
            return self._query(statement).rowcount

    def requeue(self, key: dict, retries: int, reason: str, delay: float = 0) -> bool:
        """Return a job this worker holds to pending after a lost session or lock contention, noting
        the retry in ``error_message`` (``djruntime retry N: reason``) so that retries stay bounded
        across workers, and scheduled ``delay`` seconds from now (a lock may take a while to go)."""
        refuse_inside_make(self.connection, "requeue")
        statement = self.sql.requeue(self._key_condition(key), self._owned(), delay)
        with context.bookkeeping():
            return self._query(statement, [_truncate(f"{RETRY_MARK}{int(retries)}: {reason}")]).rowcount == 1

    # ------------------------------------------------------------------ datajoint's API, marked
    def reserve(self, key: dict) -> bool:
        """datajoint's ``reserve(key)``, as a djruntime reservation (marked, held by this connection's
        worker lock, so it is rescued if this connection dies)."""
        refuse_inside_make(self.connection, "reserve")
        reservation = self._reservation(worker_identity(self.connection))
        with context.bookkeeping():
            return self._query(self.sql.reserve(self._key_condition(key)), reservation).rowcount == 1

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
