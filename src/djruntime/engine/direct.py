"""``populate(reserve_jobs=False)``: make every key of ``(key_source & restrictions) - target`` in turn,
without a job table (also a populate nested inside another make(), whose jobs then run in savepoints
of make()'s transaction)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from datajoint.jobs import _get_job_version

from .. import context
from .job import run_job
from .options import PopulateOptions
from .signals import StopSignals
from .table_queue import instance


@contextlib.contextmanager
def key_listing(table: Any) -> Iterator[None]:
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


def run_direct(table: Any, restrictions: tuple = (), options: PopulateOptions = PopulateOptions()) -> dict:
    """Make each key to do (at most ``options.max_calls``); datajoint's ``{"success_count", "error_list"}``."""
    table = instance(table)
    with key_listing(table):  # the engine's own query; inside make() its restrictions are make()'s
        keys: Any = (table._jobs_to_do(restrictions) - table.proj()).keys()[: options.max_calls]
    version = _get_job_version(table.connection._config)
    success_count, error_list = 0, []
    if options.display_progress and len(keys):  # no keys: no bar (tqdm would draw an empty one twice)
        from tqdm import tqdm

        keys = tqdm(keys, desc=table.__class__.__name__)
    with StopSignals() as stop:
        for key in keys:
            stop.check()
            status = run_job(table, key, options=options, stop=stop, version=version)
            if status is True:
                success_count += 1
            elif isinstance(status, tuple):
                error_list.append(status)
    return {"success_count": success_count, "error_list": error_list}
