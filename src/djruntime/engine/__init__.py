"""djruntime's populate engine: a drop-in for datajoint 2.3.5's AutoPopulate 2.0.

From ``populate()`` to a committed job, module by module::

    populate.py       populate(table, *restrictions, **options): datajoint's signature and result; the
                      options become one PopulateOptions (options.py); install_engine()/uninstall_engine()
    pool.py           processes > 1: forked children, each running populate_with(processes=1)
    direct.py         reserve_jobs=False: every key to do, in turn, no job table
    table_queue.py    reserve_jobs=True: the table's shared queue, refreshed (or only rescued) first
    worker.py         the claim loop: claim a batch, make each job, drop a stale batch, rescue when idle
    job.py            one job: transaction, invoke_make() (THE one place make() runs), finish, commit
    queue.py          the job queue (datajoint's ``~~table``): refresh, claim, finish, fail, rescue
    queue_sql.py      every statement the queue sends, per backend
    sessions.py       the worker lock that marks a live worker; sessions lost or abandoned
    faults.py         which errors are a lost session or lock contention (retried, not make()'s failure)
    signals.py        SIGTERM / Ctrl-C: interrupt make(), never the bookkeeping
    configuration.py  process-wide settings: configure(on_interrupt=..., claim_seconds=..., ...)
    upstream.py       self.upstream inside make(), seeded from the key
    cli.py            the ``djruntime worker`` / ``djruntime status`` command

Per job with ``reserve_jobs=True`` the engine sends: ``START TRANSACTION``, make()'s own statements, the
ownership-checked finish (``DELETE``/``UPDATE`` of the job row, in make()'s transaction) and ``COMMIT``,
plus its share of a batched claim (one transaction claims up to ``max_batch`` jobs; the batch grows
while jobs take less than ``claim_seconds``). A claimed key already in the target is completed without
make(); a key another process inserts meanwhile surfaces as a duplicate-key error, which the engine
checks (``key in table``) and treats as done — so no per-key ``key in self`` round trip.

Every make()/make_fetch/make_compute/make_insert call runs inside ``context.make_window(...)``; every
statement the engine sends itself runs inside ``context.bookkeeping()`` (the strict gate's contract).

This package imports nothing that needs datajoint, so the console script can start on a lint-only
install and say what to install; ``configure`` and ``settings`` are importable from here.
"""

from __future__ import annotations

from .configuration import Settings, configure, settings

__all__ = ["Settings", "configure", "settings"]
