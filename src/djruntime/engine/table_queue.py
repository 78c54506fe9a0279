"""A table's job queue as the engine uses it: one shared queue per table class, declared on first use
outside make(), and the housekeeping a populate does before it claims (refresh, or only rescue)."""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

from .. import context
from . import faults
from .queue import JobQueue
from .sessions import marked_host

logger = logging.getLogger("datajoint")
_SHARED_QUEUE = "_djruntime_shared_queue"


def instance(table: Any) -> Any:
    """A table instance of ``table`` (a class or an instance)."""
    return table() if inspect.isclass(table) else table


def jobs_of(table: Any) -> JobQueue:
    """The table's job queue (datajoint's ``~~table``, declared on first use outside make()).

    An unrestricted table's queue is made once per table class and connection and then shared: its
    headings and its target's ``key_source`` are loaded once, so a refresh sends no catalog lookups
    after the first (a restricted table instance keeps a queue of its own)."""
    table = instance(table)
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


def refresh_or_rescue(queue: JobQueue, restrictions: tuple, *, priority: int | None, refresh: bool | None) -> None:
    """A populate's housekeeping before it claims: refresh the queue (``refresh``; None: as
    ``dj.config.jobs.auto_refresh`` says), or only rescue dead workers' jobs. Lock contention that
    outlasts the queue's own retries is logged, never raised: the jobs already queued can be made all
    the same."""
    if refresh is None:
        refresh = queue.connection._config.jobs.auto_refresh
    try:
        if refresh:
            queue.refresh(*restrictions, priority=priority, delay=-1)
        else:
            queue.rescue()
    except Exception as error:
        if not faults.lock_contention(error):
            raise
        logger.warning(f"{'refresh' if refresh else 'rescue'} of {queue.full_table_name} skipped: {error}")


def rescue_reservations_of(queue: JobQueue, pid: int, deadline: float) -> int:
    """Return the jobs djruntime process ``pid`` of this machine held to pending (a dead pool child, or
    this worker after a stop signal cut a query short); the number rescued.

    The server releases a dead session's worker lock only once it has noticed the closed socket, so
    retry briefly, until ``deadline`` (``time.monotonic()``), while ``pid``'s reservations are there."""
    rescued = 0
    while True:
        rescued += queue.rescue()
        if not len(queue.reserved & {"pid": pid, "host": marked_host()}) or time.monotonic() > deadline:
            return rescued
        time.sleep(0.1)
