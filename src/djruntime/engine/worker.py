"""``populate(reserve_jobs=True)`` in one process: claim jobs from the table's queue and make them, until
none is left (or ``max_calls`` is spent).

A worker claims a batch (as many jobs as it expects to finish in ``settings.claim_seconds``), makes them
one by one (``engine/job.py``), and returns the batch to pending when the session that claimed it was
lost or it was held longer than ``settings.hold_seconds``. Claimed jobs already in the target are
completed without make(). When nothing is claimable, dead workers' reservations are rescued and the
loop goes on (a bounded number of rounds).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from .. import context
from . import faults
from .job import log_jobs, run_job
from .options import PopulateOptions
from .queue import Claim, JobQueue
from .sessions import abandon_session
from .configuration import settings
from .signals import StopSignals
from .table_queue import instance, jobs_of

logger = logging.getLogger("datajoint")


class CallBudget(Protocol):
    """How many make() calls are still allowed (``max_calls``)."""

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



def _batch_stale(connection: Any, session: Any, claimed_at: float) -> bool:
    """Should the claimed, unstarted jobs go back to pending before the next one starts? Yes when the
    session that claimed them was lost (datajoint reconnected: another session now) or when they were
    claimed more than ``settings.hold_seconds`` ago (a make() ran long, the worker was stalled; another
    worker may have taken them over). No round trip."""
    return faults.session_replaced(connection, session) or time.monotonic() - claimed_at > settings.hold_seconds


def _drop_batch(queue: JobQueue, held: list[Claim], connection: Any, session: Any) -> None:
    """Return ``held`` to pending: those still reserved by this worker's current or abandoned sessions."""
    if faults.session_replaced(connection, session):
        abandon_session(connection)  # notes the lost session's id, so its jobs count as this worker's
    try:
        released = queue.release(held)
    except Exception as bookkeeping_error:  # a rescue returns them to pending anyway
        logger.error(f"Could not release {len(held)} claimed jobs: {bookkeeping_error}")
        return
    log_jobs(f"{released} of {len(held)} claimed jobs of {queue.full_table_name} returned to pending")


def run_worker(
    table: Any,
    restrictions: tuple = (),
    options: PopulateOptions = PopulateOptions(),
    *,
    budget: CallBudget | None = None,
) -> dict:
    """Claim and make jobs from the table's queue until it is empty (or the budget is spent: by default
    ``options.max_calls``); datajoint's ``{"success_count", "error_list"}``.

    Claimed jobs never started (an error raised, a signal) go back to pending before returning.
    """
    table = instance(table)
    queue = jobs_of(table)
    with context.bookkeeping():
        restriction = table._jobs_to_do(restrictions) if restrictions else None
    budget = budget or LocalBudget(options.max_calls)
    sizer = BatchSizer()
    version = queue.job_version()
    success_count, error_list = 0, []
    held: list[Claim] = []  # claimed, not started
    session, claimed_at = None, 0.0  # the server session that claimed ``held``, and when
    rescue_rounds = 0
    bar = None
    priority = options.priority
    if options.display_progress:
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
                    table, claim.key, queue=queue, options=options, stop=stop, version=version, retries=claim.retries
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


