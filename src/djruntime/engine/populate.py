"""``populate()``: the drop-in for datajoint 2.3.5's ``AutoPopulate.populate``, and the installation
that routes every Computed/Imported table's ``populate``, ``progress``, ``jobs`` and ``upstream``
through the engine.

``populate(table, *restrictions, **options)`` keeps datajoint's signature and result; it checks where
it is called from (inside another make(): a nested populate), then ``populate_with`` runs one
``PopulateOptions``: ``processes > 1`` goes to the pool (``engine/pool.py``, whose children call
``populate_with`` with ``processes=1``), ``reserve_jobs=False`` to the direct loop (``engine/direct.py``),
and ``reserve_jobs=True`` to the claim loop (``engine/worker.py``) after the queue's refresh or rescue.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from datajoint.errors import DataJointError

from .. import context, strict
from . import faults, pool, upstream
from .direct import key_listing, run_direct
from .options import PopulateOptions
from .queue import JobQueueInMakeError
from .sessions import abandon_session
from .table_queue import instance, jobs_of, refresh_or_rescue
from .worker import run_worker


def populate(
    table: Any,
    *restrictions: Any,
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
    options = PopulateOptions(
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
    return populate_with(table, restrictions, options)


def populate_with(table: Any, restrictions: tuple, options: PopulateOptions) -> dict:
    """``populate(table, *restrictions, **options)`` with the options as one value."""
    table = instance(table)
    outer = context.window_on(table.connection)
    if outer is not None:
        _check_nested(table, outer, options)
    elif table.connection.in_transaction:
        raise DataJointError("Populate cannot be called during a transaction.")
    result = _run(table, restrictions, options)
    if strict.mode() == "warn":  # strict provenance in warn mode: what make() would have been refused
        warnings = list(result.get("provenance_warnings", []))  # the pool's children report theirs
        warnings += [w for w in strict.collect_warnings(table) if w not in warnings]
        result["provenance_warnings"] = warnings
    return result


def _check_nested(table: Any, outer: context.MakeContext, options: PopulateOptions) -> None:
    """populate() from inside another make() (see docs/engine.md, "Populating from inside make()")."""
    where = f"inside {type(outer.table).__name__}.{outer.phase}()"
    if options.reserve_jobs:
        raise JobQueueInMakeError(
            f"{table.__class__.__name__}.populate(reserve_jobs=True) cannot run {where}: the job queue "
            "commits its own transactions. Use reserve_jobs=False (the nested jobs then run in make()'s "
            "transaction)."
        )
    if options.processes is not None and options.processes > 1:
        raise DataJointError(f"{table.__class__.__name__}.populate(processes={options.processes}) cannot run {where}.")


def _run(table: Any, restrictions: tuple, options: PopulateOptions) -> dict:
    with key_listing(table):
        try:
            table._jobs_to_do(restrictions)  # datajoint's checks (restricted table, key_source shape)
        except Exception as error:
            # a session the server ended since the last populate: datajoint reconnects by itself on
            # MySQL but not on PostgreSQL ("server closed the connection unexpectedly")
            if table.connection.in_transaction or not faults.session_lost(error):
                raise
            abandon_session(table.connection)
            table._jobs_to_do(restrictions)
    if options.processes is not None and options.processes > 1 and min(options.processes, mp.cpu_count()) > 1:
        return pool.populate_parallel(table, restrictions, options, run=populate_with)
    if not options.reserve_jobs:
        return run_direct(table, restrictions, options)
    queue = jobs_of(table)
    refresh_or_rescue(queue, restrictions, priority=options.priority, refresh=options.refresh)
    return run_worker(table, restrictions, options)


def progress(table: Any, *restrictions: Any, display: bool = False) -> tuple[int, int]:
    """datajoint's ``progress()``: ``(remaining, total)`` keys of ``key_source & restrictions``."""
    from datajoint.autopopulate import AutoPopulate

    original = _saved.get("progress", AutoPopulate.__dict__["progress"])
    return original(instance(table), *restrictions, display=display)


# ---------------------------------------------------------------------------------------------- install
_saved: dict[str, Any] = {}


class _JobsDescriptor:
    """``Table.jobs`` on class and instance → djruntime's JobQueue for the table."""

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return jobs_of(obj if obj is not None else objtype())


def _populate_method(self: Any, *restrictions: Any, **options: Any) -> dict:
    return populate(self, *restrictions, **options)


_populate_method.__doc__ = populate.__doc__


def _progress_method(self: Any, *restrictions: Any, display: bool = False) -> tuple[int, int]:
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
