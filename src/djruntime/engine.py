"""djruntime's populate engine: a drop-in for datajoint 2.3.5's AutoPopulate 2.0.

API::

    populate(table, *restrictions, suppress_errors=False, return_exception_objects=False,
             reserve_jobs=False, max_calls=None, display_progress=False, processes=1,
             make_kwargs=None, priority=None, refresh=None) -> {"success_count": int, "error_list": list}
    progress(table, *restrictions, display=False) -> (remaining, total)     # datajoint's
    jobs_of(table) -> djruntime.queue.JobQueue                            # the table's ~~job queue
    run_worker(table, restrictions, ..., budget=None) -> dict             # the claim loop of one process
    run_job(table, key, queue=..., ...) -> True | False | (key, error)   # one key: transaction + finish
    invoke_make(table, key, make, make_kwargs, connection)               # THE one place make() runs
    install_engine() / uninstall_engine()                               # route AutoPopulate through here
    configure(on_interrupt="pending"|"error", claim_seconds=..., max_batch=..., hold_seconds=..., max_retries=...)

``processes > 1`` is delegated to ``djruntime.pool.populate_parallel(table, *restrictions, ...,
run=populate)`` when that module exists; each child calls ``populate(..., processes=1)``.

Per job with ``reserve_jobs=True`` the engine sends: ``START TRANSACTION``, make()'s own statements, the
ownership-checked finish (``DELETE``/``UPDATE`` of the job row, in make()'s transaction) and ``COMMIT``,
plus its share of a batched claim (one transaction claims up to ``max_batch`` jobs; the batch grows
while jobs take less than ``claim_seconds``). A claimed key already in the target is completed without
make(); a key another process inserts meanwhile surfaces as a duplicate-key error, which the engine
checks (``key in table``) and treats as done — so no per-key ``key in self`` round trip.

A lost session or lock contention (``djruntime.faults``) is no failure of make(): the job goes back to
pending with its retry noted (bounded by ``max_retries``); the batch a lost session had claimed, or one
held longer than ``hold_seconds``, goes back to pending before the next job starts.

Every make()/make_fetch/make_compute/make_insert call runs inside ``context.make_window(...)``; every
statement the engine sends itself runs inside ``context.bookkeeping()`` (the strict gate's contract).
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import logging
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from datajoint import provenance as dj_provenance
from datajoint.errors import DataJointError, DuplicateError

from . import context, faults, upstream
from .errors import ProvenanceError
from .queue import Claim, JobQueue, JobQueueInMakeError, abandon_session
from .signals import StopSignals

logger = logging.getLogger("datajoint")


# ---------------------------------------------------------------------------------------------- settings
@dataclass
class Settings:
    """djruntime's engine settings (``dj.config`` rejects unknown keys, so they live here).

    ``on_interrupt``: what becomes of the job running when SIGTERM/Ctrl-C arrives — ``"pending"``
    (default: rolled back and queued again) or ``"error"`` (rolled back and recorded as an error).
    ``claim_seconds``: a worker claims as many jobs at once as it expects to finish in this time.
    ``max_batch``: upper bound of jobs claimed in one round trip.
    ``hold_seconds``: claimed jobs not started this long after their claim (a make() ran long, the
    worker was stalled) go back to pending before the worker goes on.
    ``max_retries``: times a job goes back to pending after a lost session or lock contention before
    the next such fault is recorded as its error.
    Environment: ``DJRUNTIME_ON_INTERRUPT``, ``DJRUNTIME_CLAIM_SECONDS``, ``DJRUNTIME_MAX_BATCH``,
    ``DJRUNTIME_HOLD_SECONDS``, ``DJRUNTIME_MAX_RETRIES``.
    """

    on_interrupt: str = field(default_factory=lambda: os.environ.get("DJRUNTIME_ON_INTERRUPT", "pending"))
    claim_seconds: float = field(default_factory=lambda: float(os.environ.get("DJRUNTIME_CLAIM_SECONDS", "0.5")))
    max_batch: int = field(default_factory=lambda: int(os.environ.get("DJRUNTIME_MAX_BATCH", "32")))
    hold_seconds: float = field(default_factory=lambda: float(os.environ.get("DJRUNTIME_HOLD_SECONDS", "5")))
    max_retries: int = field(default_factory=lambda: int(os.environ.get("DJRUNTIME_MAX_RETRIES", "3")))


settings = Settings()


def configure(
    *,
    on_interrupt: str | None = None,
    claim_seconds: float | None = None,
    max_batch: int | None = None,
    hold_seconds: float | None = None,
    max_retries: int | None = None,
) -> None:
    """Change the engine settings (see ``Settings``)."""
    if hold_seconds is not None:
        settings.hold_seconds = float(hold_seconds)
    if max_retries is not None:
        settings.max_retries = max(0, int(max_retries))
    if on_interrupt is not None:
        if on_interrupt not in ("pending", "error"):
            raise ValueError("on_interrupt must be 'pending' or 'error'")
        settings.on_interrupt = on_interrupt
    if claim_seconds is not None:
        settings.claim_seconds = float(claim_seconds)
    if max_batch is not None:
        settings.max_batch = max(1, int(max_batch))


# ---------------------------------------------------------------------------------------------- budget
class CallBudget(Protocol):
    """How many make() calls are still allowed (``max_calls``); a pool passes one shared by all."""

    def take(self, wanted: int) -> int: ...

    def give_back(self, unused: int) -> None: ...


class LocalBudget:
    """``max_calls`` for one process (None: unlimited)."""

    def __init__(self, max_calls: int | None) -> None:
        self.left = max_calls

    def take(self, wanted: int) -> int:
        if self.left is None:
            return wanted
        granted = max(0, min(wanted, self.left))
        self.left -= granted
        return granted

    def give_back(self, unused: int) -> None:
        if self.left is not None:
            self.left += unused


class BatchSizer:
    """Claim as many jobs as this worker finishes in ``claim_seconds`` (1 until a job was timed)."""

    def __init__(self) -> None:
        self.mean: float | None = None

    def size(self) -> int:
        if self.mean is None:
            return 1
        return max(1, min(settings.max_batch, int(settings.claim_seconds / max(self.mean, 1e-6))))

    def observe(self, seconds: float) -> None:
        self.mean = seconds if self.mean is None else 0.7 * self.mean + 0.3 * seconds


# ---------------------------------------------------------------------------------------------- helpers
def _instance(table):
    return table() if inspect.isclass(table) else table


_SHARED_QUEUE = "_djruntime_shared_queue"


def jobs_of(table) -> JobQueue:
    """The table's job queue (datajoint's ``~~table``, declared on first use outside make()).

    An unrestricted table's queue is made once per table class and connection and then shared: its
    headings and its target's ``key_source`` are loaded once, so a refresh sends no catalog lookups
    after the first (a restricted table instance keeps a queue of its own)."""
    table = _instance(table)
    cls = type(table)
    shared = not table.restriction
    queue = cls.__dict__.get(_SHARED_QUEUE) if shared else getattr(table, "_djruntime_jobs", None)
    if queue is not None and queue.connection is table.connection:
        return queue
    queue = JobQueue(cls() if shared else table)
    if context.window_on(table.connection) is not None:
        return queue  # inside make(): no DDL (it would commit make()'s transaction), not cached
    queue.ensure()
    if shared:
        setattr(cls, _SHARED_QUEUE, queue)
    else:
        table._djruntime_jobs = queue
    return queue


def _log_jobs(message: str) -> None:
    getattr(logger, "jobs", logger.debug)(message)


def _error_message(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception as failure:  # noqa: BLE001 - a user __str__ (refused by the strict gate, or broken)
        text = f"<str() failed: {type(failure).__name__}>"
    return f"{error.__class__.__name__}{': ' + text if text else ''}"


@contextlib.contextmanager
def _phase(table, key: dict, connection, phase: str, generator):
    """One tripartite phase's window; should it fail, the generator is closed inside it (strict)."""
    with context.make_window(table, key, connection, phase) as window:
        try:
            yield window
        except BaseException:
            try:
                generator.close()
            except Exception:  # noqa: BLE001, S110 - the phase's own error is the one to report
                pass
            raise


@contextlib.contextmanager
def _key_listing(table):
    """The engine's key listing: bookkeeping, except inside another make() (a nested populate), where the
    restrictions are make()'s code: they run gated, under the populated table's own rules (strict)."""
    outer = context.window_on(table.connection)
    if outer is None:
        with context.bookkeeping():
            yield
    else:
        with context.make_window(table, {}, table.connection, "populate") as window:
            try:
                yield
            finally:
                outer.blocked.extend(window.blocked)  # the outer make() fails, even if it catches the error


def _begin(connection) -> None:
    """datajoint's ``start_transaction()`` without its liveness ping (a ``SELECT 1`` round trip on
    PostgreSQL): populate() already checked that no transaction is open, and a dead session surfaces
    on this very statement."""
    if connection._in_transaction:
        raise DataJointError("Nested connections are not supported.")
    connection.query(connection.adapter.start_transaction_sql())
    connection._in_transaction = True


def _savepoint_name(connection) -> str:
    depth = getattr(connection, "_djruntime_savepoints", 0) + 1
    connection._djruntime_savepoints = depth
    return f"djruntime_nested_{depth}"


def _savepoint_done(connection, name: str, *, rollback: bool) -> None:
    """Release (or roll back to, then release) a nested job's savepoint."""
    connection._djruntime_savepoints = max(0, getattr(connection, "_djruntime_savepoints", 1) - 1)
    if rollback:
        connection.query(f"ROLLBACK TO SAVEPOINT {name}")
    connection.query(f"RELEASE SAVEPOINT {name}")


def _fail_if_blocked(window: context.MakeContext) -> None:
    """make() returned normally although the strict gate refused one of its statements (make() caught
    the ProvenanceError): it went on without data it asked for, so the job fails all the same."""
    if window.blocked:
        more = len(window.blocked) - 1
        raise ProvenanceError(
            window.blocked[0]
            + f"\n{window.phase}() caught this error and returned normally"
            + (f" ({more} more statement{'s' if more > 1 else ''} refused)" if more else "")
            + "; the job fails all the same."
        )


# ---------------------------------------------------------------------------------------------- make()
def invoke_make(
    table, key: dict, make: Callable, make_kwargs: dict | None, connection, *, transaction_open: bool = False
) -> None:
    """THE one place where make() (or make_fetch / make_compute / make_insert) is called.

    A plain make() runs in the transaction the caller opened. A generator make (datajoint's tripartite
    protocol) runs fetch and compute outside a transaction, then opens one, fetches again, checks the
    fetched data's hash (datajoint's ``DeepHash``) and inserts. Each phase runs in its own
    ``context.make_window``; the transaction start is bookkeeping. ``transaction_open``: the caller
    already holds the transaction (a nested populate's savepoint), so the generator's is not opened.
    A phase that returns normally although the strict gate refused one of its statements (make() caught
    the ProvenanceError) raises that ProvenanceError here.
    """
    kwargs = make_kwargs or {}
    if not inspect.isgeneratorfunction(make):
        with context.make_window(table, key, connection, "make") as window:
            make(dict(key), **kwargs)
            _fail_if_blocked(window)
        return

    import deepdiff

    # strict: everything make()'s code can run happens inside a window — hashing what make_fetch returned
    # (a lazy query iterates there) and closing the generator (its finally/GeneratorExit handlers run there,
    # also when the phase fails)
    generator = make(dict(key), **kwargs)
    with _phase(table, key, connection, "make_fetch", generator) as window:
        fetched = next(generator)
        fetch_hash = deepdiff.DeepHash(fetched, ignore_iterable_order=False)[fetched]
        _fail_if_blocked(window)
    with _phase(table, key, connection, "make_compute", generator) as window:
        computed = next(generator)
        generator.close()
        _fail_if_blocked(window)
    if not transaction_open:
        with context.bookkeeping():
            _begin(connection)
    generator = make(dict(key), **kwargs)  # restart: fetch again inside the transaction
    with _phase(table, key, connection, "make_fetch", generator) as window:
        fetched = next(generator)
        changed = fetch_hash != deepdiff.DeepHash(fetched, ignore_iterable_order=False)[fetched]
        if changed:
            generator.close()
        _fail_if_blocked(window)
    if changed:
        raise DataJointError("Referential integrity failed! The `make_fetch` data has changed")
    with _phase(table, key, connection, "make_insert", generator) as window:
        try:
            generator.send(computed)
        except StopIteration:
            pass
        generator.close()
        _fail_if_blocked(window)


def run_job(
    table,
    key: dict,
    *,
    queue: JobQueue | None = None,
    suppress_errors: bool = False,
    return_exception_objects: bool = False,
    make_kwargs: dict | None = None,
    stop: StopSignals | None = None,
    version: str = "",
    retries: int = 0,
) -> bool | tuple:
    """Make one key: transaction, make(), job metadata, ownership-checked finish, commit.

    Returns True (made), False (not made: already present, or the job was taken over), or
    ``(key, message_or_exception)`` for a suppressed error — datajoint's ``_populate1`` contract.
    KeyboardInterrupt and SystemExit (SIGTERM) always propagate after the job is rolled back and
    returned to pending (or recorded as an error when ``settings.on_interrupt == "error"``).

    Called while another make() holds a transaction on the connection (a nested populate), the job
    runs in a savepoint of that transaction instead: its rows commit with the outer job, and a
    failure rolls back to the savepoint only.

    A lost session (the server ended it, the network cut it) or lock contention (a deadlock, a lock-wait
    timeout, a serialization failure) is no failure of make(): the job goes back to pending (False), its
    ``retries`` count noted in the queue, until it has been retried ``settings.max_retries`` times.
    """
    connection = table.connection
    session = connection._conn  # the server session the job starts on
    make = table._make_tuples if hasattr(table, "_make_tuples") else table.make
    stop = stop or StopSignals()
    start_time = time.time()
    _log_jobs(f"Making {key} -> {table.full_table_name}")
    savepoint = None
    if connection._in_transaction and context.window_on(connection) is not None:
        if queue is not None:  # the queue's finish belongs to a transaction of the job's own
            raise JobQueueInMakeError("a job-queue job cannot run inside another transaction")
        with context.bookkeeping():
            savepoint = _savepoint_name(connection)
            try:
                connection.query(f"SAVEPOINT {savepoint}")
            except BaseException:
                connection._djruntime_savepoints -= 1
                raise
    # restored afterwards: a nested populate of the same class must not clear the outer's state
    saved_state = (
        table.__class__.__dict__.get("_allow_insert", _MISSING),
        table.__dict__.get("_upstream_key", _MISSING),
        table.__dict__.get("_upstream", _MISSING),
    )
    table.__class__._allow_insert = True
    table._upstream_key = dict(key)
    table._upstream = None
    provenance_token = dj_provenance.set_ingesting(table.full_table_name, key, version)
    sealing = None  # strict: from the end of make() until the job is finished, no make() code runs
    try:
        try:
            with stop.make_running():
                if savepoint is None and not inspect.isgeneratorfunction(make):
                    with context.bookkeeping():
                        _begin(connection)
                    if faults.session_replaced(connection, session):  # datajoint reconnected in _begin
                        raise faults.SessionReplaced("the session was lost before make() started")
                invoke_make(table, key, make, make_kwargs, connection, transaction_open=savepoint is not None)
            sealing = context.seal(table, key, connection)
            duration = time.time() - start_time
            with context.bookkeeping():
                if table._has_job_metadata_attrs():
                    table._update_job_metadata(
                        key,
                        start_time=datetime.datetime.fromtimestamp(start_time),
                        duration=duration,
                        version=version,
                    )
                if queue is not None and not queue.finish(key, duration):
                    connection.cancel_transaction()
                    logger.warning(f"Job {key} of {table.full_table_name} was taken over by another worker; rolled back")
                    return False
                if savepoint is not None:
                    _savepoint_done(connection, savepoint, rollback=False)
                else:
                    connection.commit_transaction()
        except BaseException as error:
            if sealing is None:
                sealing = context.seal(table, key, connection)
            stack = traceback.format_exc()
            broken = False
            with context.bookkeeping():
                try:
                    if savepoint is not None:
                        _savepoint_done(connection, savepoint, rollback=True)
                    else:
                        connection.cancel_transaction()
                except Exception:  # lost, or an interrupt cut a query short: the session is unusable
                    broken = True
            lost = broken or faults.session_replaced(connection, session) or faults.session_lost(error)
            if lost:
                if savepoint is not None:  # the outer make()'s transaction is lost too: it fails
                    raise
                abandon_session(connection)  # the server rolls the old session back
            duration = time.time() - start_time
            interrupted = isinstance(error, (KeyboardInterrupt, SystemExit))
            if queue is not None and not interrupted and (lost or faults.lock_contention(error)):
                if retries < settings.max_retries:
                    # a lock may take a while to go: wait 1, 2, 4 … s; a lost session: at once
                    delay = 0 if lost else 2**retries
                    return _requeue(table, key, error, queue, retries + 1, delay)
                logger.warning(f"Job {key} of {table.full_table_name} retried {retries} times: recorded as error")
            if interrupted and settings.on_interrupt == "error" and suppress_errors:
                stop.forget(signal.SIGINT)  # datajoint's behaviour: a swallowed Ctrl-C goes on
            return _after_failure(
                table, key, error, stack, queue, suppress_errors, return_exception_objects, duration
            )
        _log_jobs(f"Success making {key} -> {table.full_table_name}")
        return True
    finally:
        if sealing is not None:
            context.unseal(sealing)
        dj_provenance.reset_ingesting(provenance_token)
        _restore(table.__class__, "_allow_insert", saved_state[0], False)
        _restore(table, "_upstream_key", saved_state[1], None)
        _restore(table, "_upstream", saved_state[2], None)


_MISSING = object()




def _restore(owner, name: str, value, default) -> None:
    """Put back an attribute run_job set (``default`` where it was not set on ``owner`` itself:
    the value the engine always left there)."""
    setattr(owner, name, default if value is _MISSING else value)


def _requeue(table, key, error, queue, retries: int, delay: float) -> bool:
    """A lost session or lock contention: the job goes back to pending, its retry noted (False)."""
    reason = _error_message(error)
    logger.warning(f"Job {key} of {table.full_table_name} returned to pending (retry {retries}): {reason}")
    try:
        queue.requeue(key, retries, reason, delay)
    except Exception as bookkeeping_error:  # its session is gone: a rescue returns it to pending
        logger.error(f"Could not return job {key} to the queue: {bookkeeping_error}")
    return False


def _after_failure(table, key, error, stack, queue, suppress_errors, return_exception_objects, duration=None):
    """Record a failed job (the transaction is already rolled back) and re-raise or report it.

    An interrupt (Ctrl-C, SIGTERM) returns the job to pending and propagates; with
    ``settings.on_interrupt == "error"`` it is handled exactly as datajoint does: recorded as an error
    (``KeyboardInterrupt``, ``SystemExit: SIGTERM received``), SystemExit always re-raised, and
    KeyboardInterrupt swallowed under ``suppress_errors``."""
    interrupted = isinstance(error, (KeyboardInterrupt, SystemExit))
    if interrupted and settings.on_interrupt != "error":
        if queue is not None:
            try:
                queue.release([key])
            except Exception as bookkeeping_error:  # the interrupt itself must still reach the caller
                logger.error(f"Could not return job {key} to the queue: {bookkeeping_error}")
        raise error
    if isinstance(error, DuplicateError):
        with context.bookkeeping():
            made_elsewhere = key in table
        if made_elsewhere:  # another process made this key meanwhile: nothing to do
            if queue is not None:
                queue.finish(key)
            return False
    message = _error_message(error)
    _log_jobs(f"Error making {key} -> {table.full_table_name} - {message}")
    if queue is not None:
        try:
            queue.fail(key, message, stack, duration)
        except Exception as bookkeeping_error:  # never mask the user's error
            logger.error(f"Could not record the error of job {key}: {bookkeeping_error}")
    if not suppress_errors or isinstance(error, SystemExit):
        raise error
    logger.error(message)  # str(error) may run make() code (a user __str__): use the message made once
    return key, error if return_exception_objects else message


# ---------------------------------------------------------------------------------------------- loops
def _batch_stale(connection, session, claimed_at: float) -> bool:
    """Should the claimed, unstarted jobs go back to pending before the next one starts? Yes when the
    session that claimed them was lost (datajoint reconnected: another session now) or when they were
    claimed more than ``settings.hold_seconds`` ago (a make() ran long, the worker was stalled; another
    worker may have taken them over). No round trip."""
    return faults.session_replaced(connection, session) or time.monotonic() - claimed_at > settings.hold_seconds


def _drop_batch(queue: JobQueue, held: list[Claim], connection, session) -> None:
    """Return ``held`` to pending: those still reserved by this worker's current or abandoned sessions."""
    if faults.session_replaced(connection, session):
        abandon_session(connection)  # notes the lost session's id, so its jobs count as this worker's
    try:
        released = queue.release(held)
    except Exception as bookkeeping_error:  # a rescue returns them to pending anyway
        logger.error(f"Could not release {len(held)} claimed jobs: {bookkeeping_error}")
        return
    _log_jobs(f"{released} of {len(held)} claimed jobs of {queue.full_table_name} returned to pending")


def run_worker(
    table,
    restrictions: tuple = (),
    *,
    suppress_errors: bool = False,
    return_exception_objects: bool = False,
    make_kwargs: dict | None = None,
    priority: int | None = None,
    budget: CallBudget | None = None,
    display_progress: bool = False,
) -> dict:
    """Claim and make jobs from the table's queue until it is empty (or the budget is spent).

    Claimed jobs never started (an error raised, a signal) go back to pending before returning.
    """
    table = _instance(table)
    queue = jobs_of(table)
    with context.bookkeeping():
        restriction = table._jobs_to_do(restrictions) if restrictions else None
    budget = budget or LocalBudget(None)
    sizer = BatchSizer()
    version = queue.job_version()
    success_count, error_list = 0, []
    held: list[Claim] = []  # claimed, not started
    session, claimed_at = None, 0.0  # the server session that claimed ``held``, and when
    rescue_rounds = 0
    bar = None
    if display_progress:
        from tqdm import tqdm

        pending = queue.pending & "scheduled_time <= CURRENT_TIMESTAMP(3)"
        if restriction is not None:
            pending = pending.restrict(restriction, semantic_check=False)
        if priority is not None:
            pending = pending & f"priority <= {int(priority)}"
        with context.bookkeeping():
            total = len(pending)
        # nothing to do: no bar (tqdm draws an empty bar twice, at its start and at close)
        bar = tqdm(desc=table.__class__.__name__, total=total) if total else None
    with StopSignals() as stop:
        try:
            while True:
                stop.check()
                if held and _batch_stale(table.connection, session, claimed_at):
                    # the session that claimed them is gone, or they waited too long: back to pending
                    # (only those this worker still holds), then claim afresh
                    _drop_batch(queue, held, table.connection, session)
                    held = []
                if not held:
                    wanted = budget.take(sizer.size())
                    if wanted == 0:
                        break
                    session, claimed_at = table.connection._conn, time.monotonic()
                    claims = queue.claim(wanted, restriction, priority)
                    done = [c for c in claims if c.done]
                    held = [c for c in claims if not c.done]
                    if done:
                        queue.finish_many(done)
                    budget.give_back(wanted - len(held))
                    if not claims:
                        # a dead worker's jobs are pending again: go on (bounded, should the rescued
                        # jobs keep ending up with someone else)
                        if rescue_rounds < 3 and queue.rescue():
                            rescue_rounds += 1
                            continue
                        break
                    continue
                claim = held.pop(0)
                started = time.time()
                status = run_job(
                    table,
                    claim.key,
                    queue=queue,
                    suppress_errors=suppress_errors,
                    return_exception_objects=return_exception_objects,
                    make_kwargs=make_kwargs,
                    stop=stop,
                    version=version,
                    retries=claim.retries,
                )
                sizer.observe(time.time() - started)
                if status is True:
                    success_count += 1
                    rescue_rounds = 0
                elif isinstance(status, tuple):
                    error_list.append(status)
                    rescue_rounds = 0
                if bar is not None:
                    bar.update()
        finally:
            if held:
                try:
                    queue.release(held)
                except Exception as bookkeeping_error:
                    logger.error(f"Could not release {len(held)} claimed jobs: {bookkeeping_error}")
            if bar is not None:
                bar.close()
    return {"success_count": success_count, "error_list": error_list}


def run_direct(
    table,
    restrictions: tuple = (),
    *,
    suppress_errors: bool = False,
    return_exception_objects: bool = False,
    max_calls: int | None = None,
    display_progress: bool = False,
    make_kwargs: dict | None = None,
) -> dict:
    """``reserve_jobs=False``: make every key of ``(key_source & restrictions) - target``, no job table."""
    table = _instance(table)
    from datajoint.jobs import _get_job_version

    with _key_listing(table):  # the engine's own query; inside make() its restrictions are make()'s
        keys = (table._jobs_to_do(restrictions) - table.proj()).keys()[:max_calls]
    version = _get_job_version(table.connection._config)
    success_count, error_list = 0, []
    if display_progress and len(keys):  # no keys: no bar (tqdm would draw an empty one twice)
        from tqdm import tqdm

        keys = tqdm(keys, desc=table.__class__.__name__)
    with StopSignals() as stop:
        for key in keys:
            stop.check()
            status = run_job(
                table,
                key,
                suppress_errors=suppress_errors,
                return_exception_objects=return_exception_objects,
                make_kwargs=make_kwargs,
                stop=stop,
                version=version,
            )
            if status is True:
                success_count += 1
            elif isinstance(status, tuple):
                error_list.append(status)
    return {"success_count": success_count, "error_list": error_list}


# ---------------------------------------------------------------------------------------------- public
def populate(
    table,
    *restrictions,
    suppress_errors: bool = False,
    return_exception_objects: bool = False,
    reserve_jobs: bool = False,
    max_calls: int | None = None,
    display_progress: bool = False,
    processes: int = 1,
    make_kwargs: dict | None = None,
    priority: int | None = None,
    refresh: bool | None = None,
) -> dict:
    """``table.populate(...)`` through djruntime's engine; datajoint 2.3.5's signature and result.

    ``reserve_jobs=True`` uses the table's ``~~`` job queue (shared with plain datajoint workers):
    refresh (when ``refresh`` or ``dj.config.jobs.auto_refresh``; otherwise only the rescue of dead
    workers' reservations), then claim → make → finish until no schedulable job is left.
    """
    table = _instance(table)
    outer = context.window_on(table.connection)
    if outer is not None:
        _check_nested(table, outer, reserve_jobs, processes)
    elif table.connection.in_transaction:
        raise DataJointError("Populate cannot be called during a transaction.")
    result = _populate(
        table,
        restrictions,
        suppress_errors=suppress_errors,
        return_exception_objects=return_exception_objects,
        reserve_jobs=reserve_jobs,
        max_calls=max_calls,
        display_progress=display_progress,
        processes=processes,
        make_kwargs=make_kwargs,
        priority=priority,
        refresh=refresh,
    )
    from . import strict

    if strict.mode() == "warn":  # strict provenance in warn mode: what make() would have been refused
        warnings = list(result.get("provenance_warnings", []))  # the pool's children report theirs
        warnings += [w for w in strict.collect_warnings(table) if w not in warnings]
        result["provenance_warnings"] = warnings
    return result


def _check_nested(table, outer: context.MakeContext, reserve_jobs: bool, processes: int | None) -> None:
    """populate() from inside another make() (see docs/engine.md, "Populating from inside make()")."""
    where = f"inside {type(outer.table).__name__}.{outer.phase}()"
    if reserve_jobs:
        raise JobQueueInMakeError(
            f"{table.__class__.__name__}.populate(reserve_jobs=True) cannot run {where}: the job queue "
            "commits its own transactions. Use reserve_jobs=False (the nested jobs then run in make()'s "
            "transaction)."
        )
    if processes is not None and processes > 1:
        raise DataJointError(f"{table.__class__.__name__}.populate(processes={processes}) cannot run {where}.")


def _populate(
    table,
    restrictions: tuple,
    *,
    suppress_errors: bool,
    return_exception_objects: bool,
    reserve_jobs: bool,
    max_calls: int | None,
    display_progress: bool,
    processes: int,
    make_kwargs: dict | None,
    priority: int | None,
    refresh: bool | None,
) -> dict:
    with _key_listing(table):
        try:
            table._jobs_to_do(restrictions)  # datajoint's checks (restricted table, key_source shape)
        except Exception as error:
            # a session the server ended since the last populate: datajoint reconnects by itself on
            # MySQL but not on PostgreSQL ("server closed the connection unexpectedly")
            if table.connection.in_transaction or not faults.session_lost(error):
                raise
            abandon_session(table.connection)
            table._jobs_to_do(restrictions)
    if processes is not None and processes > 1 and min(processes, mp.cpu_count()) > 1:
        try:
            from . import pool
        except ImportError:
            logger.warning("djruntime.pool is not available: populating in one process")
        else:
            return pool.populate_parallel(
                table,
                *restrictions,
                processes=processes,
                reserve_jobs=reserve_jobs,
                suppress_errors=suppress_errors,
                return_exception_objects=return_exception_objects,
                max_calls=max_calls,
                display_progress=display_progress,
                make_kwargs=make_kwargs,
                priority=priority,
                refresh=refresh,
                run=populate,
            )
    if not reserve_jobs:
        return run_direct(
            table,
            restrictions,
            suppress_errors=suppress_errors,
            return_exception_objects=return_exception_objects,
            max_calls=max_calls,
            display_progress=display_progress,
            make_kwargs=make_kwargs,
        )
    queue = jobs_of(table)
    if refresh is None:
        refresh = table.connection._config.jobs.auto_refresh
    refresh_or_rescue(queue, restrictions, priority, refresh)
    return run_worker(
        table,
        restrictions,
        suppress_errors=suppress_errors,
        return_exception_objects=return_exception_objects,
        make_kwargs=make_kwargs,
        priority=priority,
        budget=LocalBudget(max_calls),
        display_progress=display_progress,
    )


def refresh_or_rescue(queue: JobQueue, restrictions: tuple, priority: int | None, refresh: bool) -> None:
    """A populate's housekeeping before it claims: refresh the queue, or only rescue dead workers' jobs.
    Lock contention that outlasts the queue's own retries is logged, never raised: the jobs already
    queued can be made all the same."""
    try:
        if refresh:
            queue.refresh(*restrictions, priority=priority, delay=-1)
        else:
            queue.rescue()
    except Exception as error:
        if not faults.lock_contention(error):
            raise
        logger.warning(f"{'refresh' if refresh else 'rescue'} of {queue.full_table_name} skipped: {error}")


def progress(table, *restrictions, display: bool = False) -> tuple[int, int]:
    """datajoint's ``progress()``: ``(remaining, total)`` keys of ``key_source & restrictions``."""
    from datajoint.autopopulate import AutoPopulate

    original = _saved.get("progress", AutoPopulate.__dict__["progress"])
    return original(_instance(table), *restrictions, display=display)


# ---------------------------------------------------------------------------------------------- install
_saved: dict[str, Any] = {}


class _JobsDescriptor:
    """``Table.jobs`` on class and instance → djruntime's JobQueue for the table."""

    def __get__(self, obj, objtype=None):
        return jobs_of(obj if obj is not None else objtype())


def _populate_method(self, *restrictions, **options):
    return populate(self, *restrictions, **options)


_populate_method.__doc__ = populate.__doc__


def _progress_method(self, *restrictions, display: bool = False):
    return progress(self, *restrictions, display=display)


def install_engine() -> None:
    """Route ``populate``, ``progress``, ``jobs`` and ``upstream`` of every Computed/Imported table
    through djruntime (idempotent)."""
    from datajoint.autopopulate import AutoPopulate

    if _saved:
        return
    for name in ("populate", "progress", "jobs", "upstream"):
        _saved[name] = AutoPopulate.__dict__[name]
    AutoPopulate.populate = _populate_method
    AutoPopulate.progress = _progress_method
    AutoPopulate.jobs = _JobsDescriptor()
    AutoPopulate.upstream = upstream.upstream_property


def uninstall_engine() -> None:
    """Restore datajoint's own attributes exactly (idempotent)."""
    from datajoint.autopopulate import AutoPopulate

    for name, original in _saved.items():
        setattr(AutoPopulate, name, original)
    _saved.clear()


def is_installed() -> bool:
    return bool(_saved)
