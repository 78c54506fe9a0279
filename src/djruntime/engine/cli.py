"""``djruntime``: the console script — a long-running populate worker for clusters, and a queue status view.

``djruntime worker MODULE:Table [MODULE:Table ...]`` imports each MODULE (which binds its tables to
their schema, as any pipeline module does) and runs djruntime's engine on the tables' shared job
queues until no job is left (``--wait``: forever, polling with capped exponential backoff and jitter).
Start as many as you like, on as many machines: they share each table's ``~~`` queue safely (see
docs/cluster.md for SLURM and Kubernetes recipes). It prints a progress bar of this worker's own jobs
when stderr is a terminal, and a summary at exit (made / errors / elapsed, then each table's shared
queue, all workers together). Exit status: 0; 1 when a job failed (unless
``--suppress-errors``, which records the error in the queue and goes on); 2 for a usage error;
130 / 143 when stopped by Ctrl-C / SIGTERM (the running job is rolled back and returned to the queue, or
recorded as an error under ``on_interrupt="error"``).

``djruntime status MODULE[:Table]`` prints per-status job counts (pending / reserved / success / error /
ignore) and populate progress (remaining / total) for every Computed/Imported table of MODULE, or one.

stdout carries only the report (``status --json`` parses whatever datajoint logs); logs, warnings and
progress go to stderr. ``djruntime --version`` names this distribution's and datajoint's versions.

The engine's modules that need datajoint are imported where the commands run, so that on a lint-only
install (no datajoint) ``main()`` can still say what to install.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import djruntime

from .configuration import settings

STATUSES = ("pending", "reserved", "success", "error", "ignore")
EXIT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 130, 143


class UsageError(Exception):
    pass


# ------------------------------------------------------------------------------------------ tables
def _is_auto_populated(obj: Any) -> bool:
    from datajoint.autopopulate import AutoPopulate
    from datajoint.user_tables import Part

    return isinstance(obj, type) and issubclass(obj, AutoPopulate) and not issubclass(obj, Part)


def _import(module_name: str) -> Any:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: the working directory's packages are importable
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"cannot import module {module_name!r}: {error}") from error


def resolve_table(spec: str) -> type[Any]:
    """``package.module:Table`` -> the table class (``Master.Part`` paths allowed for lookup)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"expected MODULE:Table, got {spec!r}")
    obj: Any = _import(module_name)
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no table {attribute!r}")
        obj = getattr(obj, part)
    if not _is_auto_populated(obj):
        raise UsageError(f"{spec} is not a Computed or Imported table")
    if getattr(obj, "database", None) is None:
        raise UsageError(f"{spec} is not bound to a schema (was its module's schema activated?)")
    return obj


def module_tables(spec: str) -> list[type[Any]]:
    """``MODULE`` -> its Computed/Imported tables (declaration order); ``MODULE:Table`` -> that table."""
    if ":" in spec:
        return [resolve_table(spec)]
    module = _import(spec)
    tables, seen = [], set()
    for obj in vars(module).values():
        if _is_auto_populated(obj) and getattr(obj, "database", None) is not None:
            name = obj.full_table_name
            if name not in seen:
                seen.add(name)
                tables.append(obj)
    if not tables:
        raise UsageError(f"module {spec!r} has no Computed or Imported table bound to a schema")
    return tables


# ------------------------------------------------------------------------------------------ status
def job_counts(table: Any) -> dict[str, int]:
    """Per-status job counts, without declaring a queue that does not exist yet."""
    from datajoint.jobs import Job

    jobs = Job(table())
    counts = dict.fromkeys(STATUSES, 0)
    if jobs.is_declared:
        for status, count in table.connection.query(
            f"SELECT status, COUNT(*) FROM {jobs.full_table_name} GROUP BY status"
        ).fetchall():
            counts[status] = int(count)
    return counts


def status_rows(specs: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for spec in specs:
        for table in module_tables(spec):
            remaining, total = table().progress()
            rows.append({"table": table.__name__, "database": table.full_table_name, **job_counts(table),
                         "remaining": int(remaining), "total": int(total)})
    return rows


def format_status(rows: list[dict[str, Any]]) -> str:
    columns = ["table", *STATUSES, "remaining", "total"]
    cells = [columns] + [[str(row[column]) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = []
    for line in cells:
        lines.append("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(line, widths))))
    return "\n".join(lines)


def run_status(options: argparse.Namespace) -> str:
    """The report, written by main() once nothing else can write to stdout."""
    rows = status_rows(options.targets)
    return (json.dumps(rows, indent=2) if options.json else format_status(rows)) + "\n"


# ------------------------------------------------------------------------------------------ worker
@dataclass
class Counts:
    """Jobs this worker made, and jobs whose make() failed (datajoint's populate() reports no others)."""

    made: int = 0
    errors: int = 0


@dataclass
class Tally:
    made: int = 0
    errors: int = 0
    per_table: dict[str, Counts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # distinct strict warn-mode violations

    @property
    def attempts(self) -> int:
        return self.made + self.errors

    def add(self, name: str, made: int, errors: int) -> None:
        self.made, self.errors = self.made + made, self.errors + errors
        counts = self.per_table.setdefault(name, Counts())
        counts.made, counts.errors = counts.made + made, counts.errors + errors


def _elapsed(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{seconds:02d}"


def summary(tally: Tally, seconds: float, stopped: str | None = None) -> str:
    head = f"djruntime worker: made {tally.made}, errors {tally.errors}, elapsed {_elapsed(seconds)}"
    if stopped:
        fate = ("recorded as an error" if settings.on_interrupt == "error" else "returned to the queue")
        head += f" — stopped by {stopped}; the running job was {fate}"
    if tally.warnings:
        head += f", provenance warnings {len(tally.warnings)}"
    lines = [head]
    for name, counts in tally.per_table.items():
        lines.append(f"  {name}: made {counts.made}, errors {counts.errors}")
    return "\n".join(lines)


class Backoff:
    """Capped exponential backoff with jitter: waits in [d/2, d], d doubling from ``low`` up to ``high``."""

    def __init__(self, low: float, high: float, rng: random.Random | None = None) -> None:
        self.low, self.high = low, max(high, low)
        self.delay = low
        self.rng = rng or random.Random()

    def next(self) -> float:
        wait = self.rng.uniform(self.delay / 2, self.delay)
        self.delay = min(self.delay * 2, self.high)
        return wait

    def reset(self) -> None:
        self.delay = self.low


class _WorkerProgress:
    """This worker's progress bar: its total grows with each job this worker takes up (a make() window
    opening), its count with each one finished; drawn only once there is a first job, so an empty run
    prints no bar. Tripartite phases (make_fetch, make_insert) of one key count once."""

    def __init__(self, make_bar: Any) -> None:
        self.make_bar, self.bar = make_bar, None
        self.entered: Any = None
        self.exited: Any = None

    @staticmethod
    def _marker(window: Any) -> tuple:
        return id(window.table.__class__), tuple(sorted(window.key.items()))

    def enter(self, window: Any) -> None:
        marker = self._marker(window)
        if marker != self.entered:
            self.entered = marker
            if self.bar is None:
                self.bar = self.make_bar(1)
            else:
                self.bar.total += 1

    def exit(self, window: Any) -> None:
        marker = self._marker(window)
        if marker != self.exited and self.bar is not None:
            self.exited = marker
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def queue_totals(tables: list[type]) -> str:
    """The summary's view of each table's shared queue, all workers together (this worker's share is
    above it): keys done of the total to populate, and the queue's jobs per status."""
    lines = []
    for table in dict.fromkeys(tables):
        try:
            remaining, total = table().progress()
            counts = job_counts(table)
        except Exception as error:  # noqa: BLE001 - the summary must still be printed
            reason = f"{error.__class__.__name__}: {error}"
            lines.append(f"  all workers, {table.__name__}: unavailable ({reason})")
            continue
        detail = ", ".join(f"{status} {counts[status]}" for status in STATUSES if status != "success")
        lines.append(f"  all workers, {table.__name__}: {int(total) - int(remaining)} of {int(total)} done "
                     f"(queue: {detail})")
    return "\n".join(lines)


def _declared_queue(table: type, jobs_of: Any, attempts: int = 4) -> Any:
    """The table's job queue, declared if needed. Workers started together (a SLURM array on a fresh
    pipeline) race to declare it; the losers see "already exists" errors: retry once it exists."""
    for attempt in range(attempts):
        try:
            return jobs_of(table)
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.2, 1.0))
    raise AssertionError("unreachable")


def _rescue_own(tables: list[type], patience: float = 3.0) -> None:
    """After a stop signal: if the signal cut a query short, the engine could not return the job to
    the queue on the broken session; once that session is closed its reservation is rescuable."""
    import gc

    from .table_queue import jobs_of, rescue_reservations_of

    gc.collect()  # the interrupted session lives only in the exception's frames: close it now
    deadline = time.monotonic() + patience
    for table in tables:
        try:
            rescue_reservations_of(jobs_of(table), os.getpid(), deadline)
        except Exception as error:  # the next worker's claim rescues them anyway
            print(f"djruntime: could not check {table.__name__}'s queue after the stop: {error}", file=sys.stderr)


def _terminate(signum, frame):
    raise SystemExit(EXIT_TERMINATED)


@contextlib.contextmanager
def _warnings_reported_here() -> Iterator[None]:
    """The worker prints each strict warn-mode violation once, from populate()'s result (also those of
    its --processes children); the gate's own log record of it would print it a second time."""
    gate_logger = logging.getLogger("djruntime.strict")
    silencer = logging.NullHandler()
    propagate = gate_logger.propagate
    gate_logger.addHandler(silencer)  # no handler of its own: Python's last resort would print it
    gate_logger.propagate = False
    try:
        yield
    finally:
        gate_logger.removeHandler(silencer)
        gate_logger.propagate = propagate


def run_worker(options: argparse.Namespace) -> int:
    with _warnings_reported_here():
        return _run_worker(options)


def _run_worker(options: argparse.Namespace) -> int:
    from .. import context
    from .table_queue import jobs_of, refresh_or_rescue

    tables = [resolve_table(spec) for spec in options.tables]
    modes: dict[str, bool | str] = {"raise": "raise", "warn": "warn", "off": False}
    strict = modes[options.strict] if options.strict else None
    try:
        djruntime.install(strict_provenance=strict, policy=options.policy)
        if djruntime.strict.mode() != "off":
            for table in tables:  # each table's policy file now, not at its first make()
                djruntime.strict.current_policy(table)
    except Exception as error:  # e.g. a policy naming no table: a configuration error, not a crash
        raise UsageError(f"cannot install the engine: {error.__class__.__name__}: {error}") from error
    tally = Tally()
    began = time.monotonic()
    backoff = Backoff(options.backoff_min, options.backoff_max)
    show_bar = options.progress if options.progress is not None else sys.stderr.isatty()
    progress = None
    previous_term = signal.signal(signal.SIGTERM, _terminate)
    stopped: str | None = None
    code = 0
    try:
        if show_bar and options.processes == 1:  # with --processes the pool draws the bar (children's makes)
            from tqdm import tqdm

            progress = _WorkerProgress(
                lambda total: tqdm(total=total, desc="djruntime worker", unit="job", file=sys.stderr))
            context.on_enter(progress.enter)
            context.on_exit(progress.exit)
        while True:
            productive = False
            for table in tables:
                budget = None if options.max_calls is None else options.max_calls - tally.attempts
                if budget is not None and budget <= 0:
                    break
                queue = _declared_queue(table, jobs_of)
                if not options.no_refresh:  # lock contention outlasting the queue's retries: logged, not fatal
                    refresh_or_rescue(queue, tuple(options.restrict), priority=options.priority, refresh=True)
                result = djruntime.populate(
                    table(), *options.restrict, reserve_jobs=True, max_calls=budget, priority=options.priority,
                    suppress_errors=options.suppress_errors, refresh=False, processes=options.processes,
                    display_progress=show_bar and options.processes > 1,
                )
                made, errors = int(result["success_count"]), len(result["error_list"])
                tally.add(table.__name__, made, errors)
                for key, failure in result["error_list"]:
                    print(f"error: {table.__name__} {key}: {failure}", file=sys.stderr)
                for warning in result.get("provenance_warnings", []):  # strict warn mode
                    if warning not in tally.warnings:
                        tally.warnings.append(warning)
                        print(f"provenance warning: {warning}", file=sys.stderr)
                productive = productive or bool(made or errors)
            if options.max_calls is not None and tally.attempts >= options.max_calls:
                break
            if productive:
                backoff.reset()
                continue  # downstream tables may have new work: go round again
            if not options.wait:
                break
            time.sleep(backoff.next())
    except KeyboardInterrupt:
        stopped, code = "Ctrl-C", EXIT_INTERRUPTED
    except SystemExit as exit_:
        if exit_.code in (EXIT_TERMINATED, "SIGTERM received") or "SIGTERM" in str(exit_.code):
            stopped, code = "SIGTERM", EXIT_TERMINATED
        else:
            raise
    except Exception as error:  # an unsuppressed make() error: recorded in the queue by the engine
        print(f"error: {error.__class__.__name__}: {error}", file=sys.stderr)
        tally.errors += 1
        code = EXIT_ERRORS
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if progress is not None:
            progress.close()
    if stopped:
        _rescue_own(tables)
    print(summary(tally, time.monotonic() - began, stopped), file=sys.stderr)
    print(queue_totals(tables), file=sys.stderr)
    if code == 0 and tally.errors and not options.suppress_errors:
        code = EXIT_ERRORS
    return code


# ------------------------------------------------------------------------------------------ parser
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="djruntime", description="djruntime: populate workers and job status")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)

    worker = commands.add_parser("worker", help="claim and make jobs of the given tables",
                                 description="Claim and make jobs of the given tables until none is left "
                                             "(or forever with --wait).")
    worker.add_argument("tables", nargs="+", metavar="MODULE:Table")
    worker.add_argument("--wait", action="store_true", help="keep polling for new jobs instead of exiting")
    worker.add_argument("--max-calls", type=_positive, help="stop after this many jobs (all tables together)")
    worker.add_argument("--priority", type=int, help="only jobs of this priority or more urgent (lower number)")
    worker.add_argument("--suppress-errors", action="store_true",
                        help="record failed jobs in the queue and go on; exit 0")
    worker.add_argument("--strict", choices=["raise", "warn", "off"],
                        help="strict provenance mode (default: DJ_STRICT_PROVENANCE, else off)")
    worker.add_argument("--policy", metavar="FILE",
                        help="the policy file ([tool.djlint.allow]); default: DJ_PROVENANCE_POLICY, else the "
                             "pyproject.toml of the repository holding each table's module")
    worker.add_argument("--restrict", action="append", default=[], metavar="SQL",
                        help="restrict the key source (SQL condition; repeatable)")
    worker.add_argument("--processes", type=_positive, default=1, help="worker processes on this machine")
    worker.add_argument("--no-refresh", action="store_true",
                        help="do not add new jobs to the queue (another process refreshes it)")
    worker.add_argument("--backoff-min", type=float, default=1.0, help="first wait when idle, seconds (--wait)")
    worker.add_argument("--backoff-max", type=float, default=60.0, help="longest wait when idle, seconds (--wait)")
    bar = worker.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="show a progress bar (default: when stderr is a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    worker.set_defaults(handler=run_worker)

    status = commands.add_parser("status", help="per-status job counts of a pipeline module or one table")
    status.add_argument("targets", nargs="+", metavar="MODULE[:Table]")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=run_status)
    return parser


def _version() -> str:
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return f"djruntime {installed('datajoint-provenance')} (datajoint {installed('datajoint')})"


@contextlib.contextmanager
def _stdout_for_the_report() -> Iterator[None]:
    """stdout carries only the command's report (``status --json`` must parse): whatever else writes to
    it meanwhile — datajoint's log handler (its connect banner), a pipeline module printing at import,
    a handler created meanwhile with the then current ``sys.stdout`` — goes to stderr."""
    report = sys.stdout
    moved = [h for h in _stream_handlers() if h.stream is report]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for handler in moved:
            handler.setStream(report)


def _stream_handlers() -> list[logging.StreamHandler]:
    loggers = [logging.getLogger(), *(v for v in logging.Logger.manager.loggerDict.values()
                                      if isinstance(v, logging.Logger))]
    return [h for lg in loggers for h in lg.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    missing = djruntime.missing_runtime()
    if missing is not None:  # a lint-only install: say what to install
        print(f"djruntime: {missing}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _stdout_for_the_report():
            report = options.handler(options)
    except UsageError as error:
        print(f"djruntime: {error}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(report, str):
        sys.stdout.write(report)
        return 0
    return report


if __name__ == "__main__":
    sys.exit(main())
