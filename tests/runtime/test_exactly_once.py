"""Exactly-once under concurrency and crashes, with real worker processes on MariaDB and PostgreSQL.

make() appends one line per call to a file (before it does anything, so rolled-back calls count too);
the rows, the Part rows and the ``~~`` job table are read from the server afterwards. Every wait is
bounded (a hung worker fails the test; it never hangs CI)."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from pipelines import harness

import djruntime
from djruntime.engine import cli

pytestmark = [pytest.mark.db, pytest.mark.timeout(240)]

DJRUNTIME_WORKER = (
    "import djruntime\nfrom pipelines import counting\ndjruntime.install()\n"
    "counting.Made.populate(reserve_jobs=True)\n"
)
DATAJOINT_WORKER = "from pipelines import counting\ncounting.Made.populate(reserve_jobs=True)\n"


@pytest.fixture(params=["mysql", "postgres"])
def backend(request):
    """Both servers. (conftest's ``server`` fixture asks for ``postgresql_server``, which does not exist.)"""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def pipeline(backend, schema_factory, tmp_path, monkeypatch):
    made = harness.make_pipeline(schema_factory, backend, tmp_path, items=30)
    for name in ("DJRT_CALL_LOG", "DJRT_HANG_MARKER"):
        monkeypatch.setenv(name, made.env[name])
    return made


@pytest.fixture
def mysql_pipeline(mysql_server, schema_factory, tmp_path, monkeypatch):
    made = harness.make_pipeline(schema_factory, mysql_server, tmp_path, items=30)
    for name in ("DJRT_CALL_LOG", "DJRT_HANG_MARKER"):
        monkeypatch.setenv(name, made.env[name])
    return made


@pytest.fixture(autouse=True)
def engine_installed():
    djruntime.install(strict_provenance=False)
    yield
    djruntime.uninstall()


def assert_each_made_once(pipeline, items=None):
    items = pipeline.items if items is None else items
    counts = harness.call_counts(pipeline)
    assert sorted(counts) == list(range(items)), "some key was never made"
    assert {item: n for item, n in counts.items() if n != 1} == {}, "some key was made more than once"
    assert len(pipeline.Made()) == items and len(pipeline.Made.Detail()) == 3 * items
    assert harness.statuses(pipeline.Made)["reserved"] == 0


def run_together(processes, timeout=180):
    try:
        return [harness.finish(process, timeout=timeout) for process in processes]
    finally:
        for process in processes:
            harness.kill_quietly(process)


def test_worker_processes_make_every_key_exactly_once(pipeline):
    workers = [harness.cli(["worker", "pipelines.counting:Made"], pipeline, {"DJRT_MAKE_SLEEP": "0.2"})
               for _ in range(3)]
    for code, out, err in run_together(workers):
        assert code == 0, err
    assert_each_made_once(pipeline)
    assert len({pid for _, pid in harness.calls(pipeline)}) >= 2, "the workers never overlapped"


def test_sigkill_mid_job_then_a_fresh_populate_makes_that_job_once(pipeline):
    worker = harness.python(DJRUNTIME_WORKER, pipeline, {"DJRT_HANG_ITEM": "3"})
    try:
        assert harness.wait_for(lambda: harness.hanging_pid(pipeline, 3) is not None, timeout=90)
        assert harness.hanging_pid(pipeline, 3) == worker.pid
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        harness.kill_quietly(worker)
    # the killed transaction left nothing: no master row (inserted before the hang) and no part rows
    assert len(pipeline.Made & {"item": 3}) == 0 and len(pipeline.Made.Detail & {"item": 3}) == 0
    assert harness.statuses(pipeline.Made)["reserved"] >= 1  # its reservation outlived it
    made_before = len(pipeline.Made())

    result = djruntime.populate(pipeline.Made, reserve_jobs=True)  # a fresh default populate

    assert result["success_count"] == pipeline.items - made_before and result["error_list"] == []
    counts = harness.call_counts(pipeline)
    assert counts[3] == 2  # once killed, once made
    assert all(n == 1 for item, n in counts.items() if item != 3)
    assert len(pipeline.Made()) == pipeline.items and len(pipeline.Made.Detail()) == 3 * pipeline.items
    assert harness.statuses(pipeline.Made) == dict.fromkeys(harness.STATUSES, 0)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, cli.EXIT_TERMINATED), (signal.SIGINT, cli.EXIT_INTERRUPTED)],
                         ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("waiting", ["DJRT_MAKE_SLEEP", "DJRT_SQL_SLEEP"], ids=["in-python", "in-a-query"])
def test_signal_to_a_worker_leaves_no_job_reserved(pipeline, signum, code, waiting):
    worker = harness.cli(["worker", "pipelines.counting:Made"], pipeline, {waiting: "2"})
    try:
        assert harness.wait_for(lambda: len(harness.calls(pipeline)) >= 2, timeout=90)  # inside a make()
        worker.send_signal(signum)
        returned, _out, err = harness.finish(worker, timeout=60)
    finally:
        harness.kill_quietly(worker)
    assert returned == code, err
    assert "the running job was returned to the queue" in err
    statuses = harness.statuses(pipeline.Made)
    assert statuses["reserved"] == 0 and statuses["error"] == 0, (pipeline.Made.jobs.reserved.to_dicts(), err)
    assert statuses["pending"] == pipeline.items - len(pipeline.Made())  # the interrupted job is pending again
    assert len(pipeline.Made.Detail()) == 3 * len(pipeline.Made())  # rolled back, not half-made
    assert len(pipeline.Made()) == len(harness.calls(pipeline)) - 1  # only the interrupted call was undone


def test_child_killed_under_processes_2(pipeline, monkeypatch):
    monkeypatch.setenv("DJRT_HANG_ITEM", "7")
    monkeypatch.setenv("DJRT_MAKE_SLEEP", "0.05")
    killed = []

    def kill_the_hanging_child():
        if harness.wait_for(lambda: harness.hanging_pid(pipeline, 7) is not None, timeout=90):
            killed.append(harness.hanging_pid(pipeline, 7))
            os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_hanging_child, daemon=True)
    killer.start()
    result = pipeline.Made.populate(reserve_jobs=True, processes=2)  # routed through djruntime
    killer.join(timeout=5)
    assert killed and killed[0] != os.getpid()
    assert result["success_count"] == pipeline.items and result["error_list"] == []
    counts = harness.call_counts(pipeline)
    assert counts[7] == 2 and all(n == 1 for item, n in counts.items() if item != 7)
    assert len(pipeline.Made.Detail()) == 3 * pipeline.items
    assert harness.statuses(pipeline.Made) == dict.fromkeys(harness.STATUSES, 0)


def test_max_calls_is_a_total_across_processes(mysql_pipeline):
    code, _out, err = harness.finish(harness.cli(
        ["worker", "pipelines.counting:Made", "--processes", "2", "--max-calls", "7"], mysql_pipeline,
        {"DJRT_MAKE_SLEEP": "0.05"}), timeout=120)
    assert code == 0, err
    calls = harness.calls(mysql_pipeline)
    assert len(calls) == 7 and len(mysql_pipeline.Made()) == 7
    assert len({pid for _, pid in calls}) == 2  # both processes took part
    assert harness.statuses(mysql_pipeline.Made)["pending"] == mysql_pipeline.items - 7


def test_datajoint_and_djruntime_workers_drain_one_queue_together(pipeline):
    # declare the queue first: plain datajoint workers that start together race to declare it
    # (on PostgreSQL the losers fail on pg_type's unique index) — datajoint's bug, not the queue's
    assert pipeline.Made.jobs.is_declared
    slow = {"DJRT_MAKE_SLEEP": "0.2"}
    workers = [harness.python(DATAJOINT_WORKER, pipeline, slow) for _ in range(2)]
    workers += [harness.cli(["worker", "pipelines.counting:Made"], pipeline, slow) for _ in range(2)]
    for code, out, err in run_together(workers):
        assert code == 0, err
    assert_each_made_once(pipeline)
    assert harness.statuses(pipeline.Made) == dict.fromkeys(harness.STATUSES, 0)
