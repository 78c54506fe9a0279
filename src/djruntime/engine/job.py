"""One job: make() called once for one key, inside its transaction, and the job finished with it.

``run_job(table, key, queue=..., options=...)`` opens the transaction (or a savepoint, in a nested
populate), calls make() through ``invoke_make`` — THE one place make() (or make_fetch / make_compute /
make_insert) runs, each phase inside ``context.make_window`` — writes the job metadata, finishes the job
in make()'s own transaction (ownership-checked: ``JobQueue.finish``) and commits. A failure is rolled
back and then recorded, re-raised or reported as datajoint's ``_populate1`` does; a lost session or lock
contention (``engine/faults.py``) puts the job back to pending instead (bounded by
``settings.max_retries``). Every statement the engine sends itself runs inside ``context.bookkeeping()``.
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import logging
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from datajoint import provenance as dj_provenance
from datajoint.errors import DataJointError, DuplicateError

from .. import context
from ..errors import ProvenanceError
from . import faults, queue_sql
from .options import PopulateOptions
from .queue import JobQueue, JobQueueInMakeError
from .sessions import abandon_session
from .configuration import settings
from .signals import StopSignals

logger = logging.getLogger("datajoint")
_MISSING = object()


def log_jobs(message: str) -> None:
    """A job's progress, on datajoint's ``jobs`` log level when it has one."""
    getattr(logger, "jobs", logger.debug)(message)


def _error_message(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception as failure:  # noqa: BLE001 - a user __str__ (refused by the strict gate, or broken)
        text = f"<str() failed: {type(failure).__name__}>"
    return f"{error.__class__.__name__}{': ' + text if text else ''}"


@contextlib.contextmanager
def _phase(table: Any, key: dict, connection: Any, phase: str, generator: Any) -> Iterator[context.MakeContext]:
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


def _begin(connection: Any) -> None:
    """datajoint's ``start_transaction()`` without its liveness ping (a ``SELECT 1`` round trip on
    PostgreSQL): populate() already checked that no transaction is open, and a dead session surfaces
    on this very statement."""
    if connection._in_transaction:
        raise DataJointError("Nested connections are not supported.")
    connection.query(connection.adapter.start_transaction_sql())
    connection._in_transaction = True


def _savepoint_name(connection: Any) -> str:
    depth = getattr(connection, "_djruntime_savepoints", 0) + 1
    connection._djruntime_savepoints = depth
    return f"djruntime_nested_{depth}"


def _savepoint_done(connection: Any, name: str, *, rollback: bool) -> None:
    """Release (or roll back to, then release) a nested job's savepoint."""
    connection._djruntime_savepoints = max(0, getattr(connection, "_djruntime_savepoints", 1) - 1)
    if rollback:
        connection.query(queue_sql.rollback_to_savepoint(name))
    connection.query(queue_sql.release_savepoint(name))


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
    table: Any, key: dict, make: Callable, make_kwargs: dict | None, connection: Any, *,
    transaction_open: bool = False,
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
    table: Any,
    key: dict,
    *,
    queue: JobQueue | None = None,
    options: PopulateOptions = PopulateOptions(),
    stop: StopSignals | None = None,
    version: str = "",
    retries: int = 0,
) -> bool | tuple:
    """Make one key: transaction, make(), job metadata, ownership-checked finish, commit.

    ``options``: its ``suppress_errors``, ``return_exception_objects`` and ``make_kwargs`` apply.
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
    log_jobs(f"Making {key} -> {table.full_table_name}")
    savepoint = None
    if connection._in_transaction and context.window_on(connection) is not None:
        if queue is not None:  # the queue's finish belongs to a transaction of the job's own
            raise JobQueueInMakeError("a job-queue job cannot run inside another transaction")
        with context.bookkeeping():
            savepoint = _savepoint_name(connection)
            try:
                connection.query(queue_sql.savepoint(savepoint))
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
                invoke_make(
                    table, key, make, options.make_kwargs, connection, transaction_open=savepoint is not None
                )
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
            if interrupted and settings.on_interrupt == "error" and options.suppress_errors:
                stop.forget(signal.SIGINT)  # datajoint's behaviour: a swallowed Ctrl-C goes on
            return _after_failure(table, key, error, stack, queue, options, duration)
        log_jobs(f"Success making {key} -> {table.full_table_name}")
        return True
    finally:
        if sealing is not None:
            context.unseal(sealing)
        dj_provenance.reset_ingesting(provenance_token)
        _restore(table.__class__, "_allow_insert", saved_state[0], False)
        _restore(table, "_upstream_key", saved_state[1], None)
        _restore(table, "_upstream", saved_state[2], None)




def _restore(owner: Any, name: str, value: Any, default: Any) -> None:
    """Put back an attribute run_job set (``default`` where it was not set on ``owner`` itself:
    the value the engine always left there)."""
    setattr(owner, name, default if value is _MISSING else value)


def _requeue(table: Any, key: dict, error: BaseException, queue: JobQueue, retries: int, delay: float) -> bool:
    """A lost session or lock contention: the job goes back to pending, its retry noted (False)."""
    reason = _error_message(error)
    logger.warning(f"Job {key} of {table.full_table_name} returned to pending (retry {retries}): {reason}")
    try:
        queue.requeue(key, retries, reason, delay)
    except Exception as bookkeeping_error:  # its session is gone: a rescue returns it to pending
        logger.error(f"Could not return job {key} to the queue: {bookkeeping_error}")
    return False


def _after_failure(
    table: Any, key: dict, error: BaseException, stack: str, queue: JobQueue | None, options: PopulateOptions,
    duration: float | None = None,
) -> bool | tuple:
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
    log_jobs(f"Error making {key} -> {table.full_table_name} - {message}")
    if queue is not None:
        try:
            queue.fail(key, message, stack, duration)
        except Exception as bookkeeping_error:  # never mask the user's error
            logger.error(f"Could not record the error of job {key}: {bookkeeping_error}")
    if not options.suppress_errors or isinstance(error, SystemExit):
        raise error
    logger.error(message)  # str(error) may run make() code (a user __str__): use the message made once
    return key, error if options.return_exception_objects else message

