"""``populate(processes=N)`` on one machine: N forked workers, each running the engine on its own connection.

Why not ``multiprocessing.Pool`` (what datajoint uses): a Pool hangs when a worker dies (the OOM killer,
SIGKILL), and its parent hands out keys from a list read once. Here each child runs the single-process
engine — its own claim loop on the shared queue — and talks to the parent over a private pipe, so:

- a child killed by a signal loses nothing: its session is gone, so the parent returns the jobs it held
  to pending at once (the engine's holder-gone rescue) and starts a replacement child (a bounded number
  of times, so a job that kills every worker cannot loop forever); the parent never waits without a
  timeout;
- SIGTERM or Ctrl-C in the parent is forwarded once to every child (children run in their own process
  group, so a terminal's Ctrl-C reaches them only through the parent); each child's engine rolls its job
  back and returns it to pending; stragglers are killed after ``stop_timeout`` seconds; once all children
  are gone the parent rescues whatever they still held, then raises KeyboardInterrupt / SystemExit —
  never swallowed; children whose parent dies stop themselves the same way;
- ``max_calls`` is a total across processes: each child gets a share; a replacement gets what its
  predecessor had not started;
- without ``reserve_jobs`` (no queue) the parent hands out keys one at a time.

Children are forked (the table classes of a notebook or a test cannot be re-imported by a spawned child).
A child never touches the connection it inherits (closing it would end the parent's session); it opens
its own and exits with ``os._exit``.

Contract with the rest of the engine: ``run(table, restrictions, options)`` (``populate_with``, passed
in by ``engine/populate.py``) is the single-process populate returning datajoint's ``{"success_count",
"error_list"}``; ``refresh_or_rescue`` and ``rescue_reservations_of`` do the queue's housekeeping; make()
windows are announced through ``djruntime.context.on_enter``/``on_exit``.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .. import context
from .options import PopulateOptions
from .queue import JobQueue
from .table_queue import refresh_or_rescue, rescue_reservations_of

logger = logging.getLogger("djruntime.pool")

POLL_SECONDS = 0.5
_LAST_PHASES = ("make", "make_insert")  # the window that ends a job (plain / tripartite make)
STOP_TIMEOUT = 30.0  # seconds a child gets to roll back after SIGTERM/SIGINT before SIGKILL

_inherited_connections: list[Any] = []  # the parent's sockets, kept referenced so a child never closes them


@dataclass
class _Child:
    index: int
    process: multiprocessing.process.BaseProcess
    pipe: multiprocessing.connection.Connection
    share: int | None  # max_calls share (None: unlimited)
    started: set = field(default_factory=set)  # keys whose make() began in this child
    finished: list = field(default_factory=list)  # keys whose make() (or make_insert) returned or raised
    current: dict | None = None  # key of the make() running now
    result: dict | None = None
    raised: BaseException | str | None = None
    ended: bool = False

    @property
    def pid(self) -> int:
        assert self.process.pid is not None, "a started process has a pid"
        return self.process.pid


def _key_id(key: dict) -> tuple:
    return tuple(sorted((name, repr(value)) for name, value in key.items()))


def _shares(max_calls: int | None, processes: int) -> list[int | None]:
    if max_calls is None:
        return [None] * processes
    base, extra = divmod(max_calls, processes)
    return [share for share in (base + (1 if i < extra else 0) for i in range(processes)) if share > 0]


def _reconnect(connection: Any) -> None:
    """Give this (forked) process its own session on ``connection``, leaving the parent's socket alone."""
    _inherited_connections.append(connection._conn)
    connection.connect()
    connection.connection_id = connection.adapter.get_connection_id(connection._conn)
    connection._in_transaction = False


def _connections_of(table: Any) -> list[Any]:
    """The table's connection and datajoint's process-wide one (make() may reach either)."""
    connections = [table.connection]
    try:
        from datajoint import instance

        singleton = instance._singleton_connection
    except (ImportError, AttributeError):
        singleton = None
    if singleton is not None and singleton is not table.connection and singleton._conn is not None:
        connections.append(singleton)
    return connections


def _send(pipe: multiprocessing.connection.Connection, message: tuple) -> None:
    try:
        pipe.send(message)
    except (OSError, EOFError):  # parent gone: the watchdog stops this child
        pass


def _picklable_errors(error_list: list) -> list:
    safe = []
    for key, error in error_list:
        try:
            pickle.dumps(error)
        except Exception:
            error = f"{error.__class__.__name__}: {error}" if isinstance(error, BaseException) else repr(error)
        safe.append((key, error))
    return safe


def _watch_parent(parent_pid: int) -> None:
    """Stop this child (cleanly, through the engine's SIGTERM handling) when its parent is gone."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)
            return


PopulateRun = Callable[[Any, tuple, PopulateOptions], dict]  # the single-process populate


def _child_main(table: Any, restrictions: tuple, options: PopulateOptions, share: int | None,
                pipe: multiprocessing.connection.Connection, parent_pid: int, run: PopulateRun) -> None:
    os.setpgrp()  # a terminal's Ctrl-C reaches the parent only; it forwards one signal to each child
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the engine installs its own while it runs
    code = 0
    try:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
        for connection in _connections_of(table):
            _reconnect(connection)
        context.on_enter(lambda window: _send(pipe, ("enter", dict(window.key), window.phase)))
        context.on_exit(lambda window: _send(pipe, ("exit", dict(window.key), window.phase)))
        success_count, error_list, warnings = 0, [], []
        one_process = replace(options, processes=1, refresh=False, display_progress=False)
        if options.reserve_jobs:
            result = run(table, restrictions, replace(one_process, max_calls=share))
            success_count, error_list = result["success_count"], list(result["error_list"])
            warnings = list(result.get("provenance_warnings", []))
        else:
            while True:  # keys come from the parent, one at a time
                pipe.send(("next",))
                key = pipe.recv()
                if key is None:
                    break
                result = run(table, (key, *restrictions), replace(one_process, max_calls=1))
                success_count += result["success_count"]
                error_list.extend(result["error_list"])
                warnings.extend(result.get("provenance_warnings", []))
        pipe.send(("result", {"success_count": success_count, "error_list": _picklable_errors(error_list),
                              "provenance_warnings": [str(warning) for warning in warnings]}))
    except BaseException as error:  # reported to the parent, which re-raises it (never swallowed)
        code = 1
        try:
            pickle.dumps(error)
            payload: Any = error
        except Exception:
            payload = f"{error.__class__.__name__}: {error}"
        _send(pipe, ("raised", payload, traceback.format_exc()))
    finally:
        try:
            pipe.close()
        finally:
            os._exit(code)  # no atexit/finalizers: they could close the parent's inherited sockets


def _pending_count(table: Any) -> int:
    return int(JobQueue(table).progress()["pending"])


class _Signals:
    """While the pool runs: SIGTERM in the parent becomes SystemExit (Ctrl-C already is KeyboardInterrupt)."""

    def __enter__(self) -> _Signals:
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            def on_term(signum, frame):
                raise SystemExit("SIGTERM received")

            self._previous = signal.signal(signal.SIGTERM, on_term)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def populate_parallel(
    table: Any,
    restrictions: tuple,
    options: PopulateOptions,
    *,
    run: PopulateRun,
    max_restarts: int | None = None,
    stop_timeout: float = STOP_TIMEOUT,
) -> dict:
    """Populate ``table`` with ``options.processes`` forked workers; datajoint's return value.

    ``run`` is the single-process populate each child calls (``engine.populate.populate_with``).
    ``max_restarts`` bounds the replacements for children killed by a signal (default: ``processes``).
    """
    if isinstance(table, type):
        table = table()
    if "fork" not in multiprocessing.get_all_start_methods():
        raise RuntimeError("populate(processes>1) needs the 'fork' start method (POSIX)")
    if table.connection.in_transaction:
        raise RuntimeError("populate cannot be called during a transaction")
    max_calls = options.max_calls
    keys: list[dict] = []
    if options.reserve_jobs:
        refresh_or_rescue(JobQueue(table), restrictions, priority=options.priority, refresh=options.refresh)
        total = _pending_count(table)
        if max_calls is not None:
            total = min(total, max_calls)
        if not total:  # nothing to claim: no need to fork
            return {"success_count": 0, "error_list": []}
    else:
        keys = (table._jobs_to_do(restrictions) - table.proj()).keys()[:max_calls]
        total = len(keys)
        max_calls = None  # the key list is already cut to max_calls
        if not keys:
            return {"success_count": 0, "error_list": []}
    processes = max(1, min(options.processes, os.cpu_count() or options.processes, total))
    return _Pool(table, restrictions, options, keys, run, processes if max_restarts is None else max_restarts,
                 stop_timeout, total if options.display_progress else None).run(_shares(max_calls, processes))


class _Pool:
    def __init__(self, table: Any, restrictions: tuple, options: PopulateOptions, keys: list[dict], run: PopulateRun,
                 max_restarts: int, stop_timeout: float, progress_total: int | None) -> None:
        self.table, self.restrictions, self.options = table, restrictions, options
        self.reserve_jobs, self.keys, self.run_one = options.reserve_jobs, list(keys), run
        self.restarts_left, self.stop_timeout = max_restarts, stop_timeout
        self.progress_total = progress_total
        self.children: list[_Child] = []
        self.context = multiprocessing.get_context("fork")
        self.success_count = 0
        self.error_list: list = []
        self.warnings: list[str] = []  # strict warn mode: the children's distinct provenance warnings
        self.raised: tuple | None = None
        self.bar = None

    def start_child(self, share: int | None) -> None:
        parent_end, child_end = self.context.Pipe(duplex=True)
        process = self.context.Process(
            target=_child_main,
            args=(self.table, self.restrictions, self.options, share, child_end, os.getpid(), self.run_one),
            daemon=False,
        )
        process.start()
        child_end.close()
        self.children.append(_Child(len(self.children), process, parent_end, share))

    def run(self, shares: list[int | None]) -> dict:
        if self.progress_total is not None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.progress_total, desc=self.table.__class__.__name__)
        try:
            with _Signals():
                try:
                    for share in shares:
                        self.start_child(share)
                    self.supervise()
                except BaseException:  # KeyboardInterrupt, SystemExit: stop the children first
                    self.stop()
                    raise
        finally:
            if self.bar is not None:
                self.bar.close()
        if self.raised is not None:
            error, stack = self.raised
            if isinstance(error, BaseException):
                raise error
            raise RuntimeError(f"a populate worker failed: {error}\n{stack}")
        result = {"success_count": self.success_count, "error_list": self.error_list}
        if self.warnings:
            result["provenance_warnings"] = self.warnings
        return result

    def live(self) -> list[_Child]:
        return [child for child in self.children if not child.ended]

    def supervise(self) -> None:
        while self.live():
            waitables: dict[Any, _Child] = {}  # pipes and process sentinels
            for child in self.live():
                if not child.pipe.closed:
                    waitables[child.pipe] = child
                waitables[child.process.sentinel] = child
            for ready in multiprocessing.connection.wait(list(waitables), timeout=POLL_SECONDS):
                child = waitables[ready]
                if ready is child.pipe:
                    self.receive(child)
                elif not child.pipe.closed and child.pipe.poll():
                    self.receive(child)  # drain what it said before dying
                else:
                    self.ended(child)
            if self.raised is not None:
                self.stop()  # like datajoint: one worker's unsuppressed error ends the populate
                return

    def receive(self, child: _Child) -> None:
        try:
            while child.pipe.poll():
                self.handle(child, child.pipe.recv())
        except (EOFError, OSError, pickle.UnpicklingError):  # the child is gone (or died mid-message)
            child.pipe.close()

    def handle(self, child: _Child, message: tuple) -> None:
        kind = message[0]
        if kind == "enter":
            key_id = _key_id(message[1])
            child.current = message[1]
            child.started.add(key_id)
        elif kind == "exit":
            if message[2] in _LAST_PHASES:
                child.current = None
                child.finished.append(message[1])
                if self.bar is not None:
                    self.bar.update()
        elif kind == "next":
            child.pipe.send(self.keys.pop(0) if self.keys and self.raised is None else None)
        elif kind == "result":
            child.result = message[1]
            self.success_count += message[1]["success_count"]
            self.error_list.extend(message[1]["error_list"])
            for warning in message[1].get("provenance_warnings", []):
                if warning not in self.warnings:
                    self.warnings.append(warning)
        elif kind == "raised":
            child.raised = message[1]
            if self.raised is None:
                self.raised = (message[1], message[2])

    def ended(self, child: _Child) -> None:
        child.process.join(timeout=5)
        if child.process.is_alive():  # sentinel fired but the process lingers: check again later
            return
        if not child.pipe.closed:
            self.receive(child)
            child.pipe.close()
        child.ended = True
        code = child.process.exitcode
        if child.result is not None or child.raised is not None:
            return
        self.success_count += self.made_by_dead(child)
        how = f"killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
        doing = f" while making {child.current}" if child.current is not None else ""
        logger.warning("populate worker %d (%s) ended: %s%s", child.pid, self.table.__class__.__name__,
                       how, doing)
        if not self.reserve_jobs:
            if child.current is not None:
                self.error_list.append((child.current, f"worker process {how}"))
            return
        # its reservations' holder is gone: back to pending now, and a fresh child takes them
        try:
            rescued = rescue_reservations_of(JobQueue(self.table), child.pid, time.monotonic() + 5.0)
            logger.warning("%d job(s) of the dead worker returned to pending", rescued)
        except Exception as error:  # the engine's next claim or refresh rescues them anyway
            logger.warning("could not rescue the dead worker's jobs now: %s", error)
        share = None if child.share is None else child.share - len(child.started)
        if self.restarts_left > 0 and (share is None or share > 0):
            self.restarts_left -= 1
            self.start_child(share)

    def made_by_dead(self, child: _Child) -> int:
        """Jobs a child made before it died (it could not report them): its finished keys now present."""
        if not child.finished:
            return 0
        try:
            return len(self.table & child.finished)
        except Exception:  # counting is best effort; the rows themselves are safe
            return 0

    def stop(self) -> None:
        """Forward one SIGTERM to every child, wait (bounded), then SIGKILL what is left and rescue its jobs.

        The pipes are closed first, unread: stop() runs when the populate is being abandoned (an
        interrupt, or a child's error about to be re-raised), and a pipe read that an interrupt cut
        short could leave a half-read message that blocks or garbles the next read."""
        for child in self.live():
            child.pipe.close()
            if child.process.is_alive():
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + self.stop_timeout
        try:
            while self.live() and time.monotonic() < deadline:
                for child in self.live():
                    child.process.join(timeout=0.1)
                    if not child.process.is_alive():
                        child.ended = True
        finally:
            stragglers = [child for child in self.live() if child.process.is_alive()]
            for child in stragglers:
                logger.warning("populate worker %d did not stop in %.0f s: killed", child.pid,
                               self.stop_timeout)
                child.process.kill()
            for child in self.live():
                child.process.join(timeout=5)
                child.ended = True
            # Every child is gone now, and with it its connection. A child killed here, or one whose
            # rollback failed because the signal cut a query short, may still hold a reservation:
            # return those to pending before the populate call ends.
            for child in self.children:
                try:
                    rescue_reservations_of(JobQueue(self.table), child.pid, time.monotonic() + 2.0)
                except Exception as error:
                    logger.warning("could not rescue the jobs of worker %d: %s", child.pid, error)
