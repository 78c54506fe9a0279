"""populate(processes=N) on one machine (djruntime.engine.pool): forked workers, each on its own connection,
against the real server. Every wait is bounded; a hung pool fails the test instead of hanging CI."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from pipelines import harness

from djruntime.engine import pool
from djruntime.engine.options import PopulateOptions
from djruntime.engine.populate import populate_with

pytestmark = [pytest.mark.db, pytest.mark.timeout(180)]


@pytest.fixture
def pipeline(mysql_server, schema_factory, tmp_path, monkeypatch):
    made = harness.make_pipeline(schema_factory, mysql_server, tmp_path, items=12)
    monkeypatch.setenv("DJRT_CALL_LOG", made.log)
    monkeypatch.setenv("DJRT_HANG_MARKER", str(tmp_path / "hang.marker"))
    return made


def populate_parallel(table, **options):
    """The pool as populate(processes=N) starts it: each child runs the single-process populate."""
    return pool.populate_parallel(table, (), PopulateOptions(**options), run=populate_with)


def assert_complete(pipeline, items=None):
    items = pipeline.items if items is None else items
    assert len(pipeline.Made()) == items
    assert len(pipeline.Made.Detail()) == items * 3  # no partial make() left behind
    assert harness.statuses(pipeline.Made)["reserved"] == 0


def test_two_processes_make_every_key_once(pipeline, monkeypatch):
    monkeypatch.setenv("DJRT_MAKE_SLEEP", "0.05")
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True)
    assert result == {"success_count": 12, "error_list": []}
    assert_complete(pipeline)
    counts = harness.call_counts(pipeline)
    assert sorted(counts) == list(range(12)) and set(counts.values()) == {1}
    workers = {pid for _, pid in harness.calls(pipeline)}
    assert len(workers) == 2 and os.getpid() not in workers  # made in two children, not in the parent
    # the parent's own session survived the children (they never touch the socket they inherit)
    assert pipeline.connection.query("SELECT 1").fetchone()[0] == 1
    # nothing left to do: no worker is started at all
    assert populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True) == {
        "success_count": 0, "error_list": []}
    assert len(harness.calls(pipeline)) == 12


def test_direct_mode_without_queue(pipeline):
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=False)
    assert result["success_count"] == 12
    assert_complete(pipeline)
    assert set(harness.call_counts(pipeline).values()) == {1}


def test_max_calls_is_a_total_across_processes(pipeline):
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True, max_calls=5)
    assert result["success_count"] == 5
    assert len(pipeline.Made()) == 5
    assert len(harness.calls(pipeline)) == 5
    assert harness.statuses(pipeline.Made)["pending"] == 7
    # and the rest is still there to make
    result = populate_parallel(pipeline.Made(), processes=3, reserve_jobs=True, max_calls=100)
    assert result["success_count"] == 7
    assert_complete(pipeline)


def test_child_killed_by_sigkill_is_replaced_and_its_job_made(pipeline, monkeypatch):
    monkeypatch.setenv("DJRT_HANG_ITEM", "3")
    monkeypatch.setenv("DJRT_MAKE_SLEEP", "0.05")
    killed = []

    def kill_the_hanging_child():
        if harness.wait_for(lambda: harness.hanging_pid(pipeline, 3) is not None, timeout=60):
            pid = harness.hanging_pid(pipeline, 3)
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)  # what the OOM killer does

    killer = threading.Thread(target=kill_the_hanging_child, daemon=True)
    killer.start()
    began = time.monotonic()
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True)
    killer.join(timeout=5)
    assert killed, "the hanging make() never started"
    assert time.monotonic() - began < 120
    assert_complete(pipeline)  # all 12, the killed one included, no partial rows
    assert result["success_count"] == 12 and result["error_list"] == []
    calls = harness.calls(pipeline)
    item3 = [pid for item, pid in calls if item == 3]
    assert len(item3) == 2 and item3[0] == killed[0] and item3[1] != killed[0]  # killed once, made once more
    assert all(count == 1 for item, count in harness.call_counts(pipeline).items() if item != 3)


def test_errors_are_collected_or_raised_as_datajoint_does(pipeline, monkeypatch):
    monkeypatch.setenv("DJRT_FAIL_ITEM", "5")
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True, suppress_errors=True)
    assert result["success_count"] == 11
    assert [key for key, _ in result["error_list"]] == [{"item": 5}]
    assert "item 5 is configured to fail" in str(result["error_list"][0][1])
    assert harness.statuses(pipeline.Made)["error"] == 1

    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True, suppress_errors=True,
                                    return_exception_objects=True)
    assert result["success_count"] == 0  # the error job is not retried

    (pipeline.Made.jobs & {"item": 5}).delete_quick()
    with pytest.raises(ValueError, match="configured to fail"):
        populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True)
    assert harness.statuses(pipeline.Made)["reserved"] == 0


def test_return_exception_objects(pipeline, monkeypatch):
    monkeypatch.setenv("DJRT_FAIL_ITEM", "2")
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True, suppress_errors=True,
                                    return_exception_objects=True)
    (key, error), = result["error_list"]
    assert key == {"item": 2} and isinstance(error, ValueError)


SIGNALLED_POOL = """
import os, sys, json
import djruntime
from djruntime.engine import pool
from djruntime.engine.options import PopulateOptions
from djruntime.engine.populate import populate_with
from pipelines import counting
try:
    options = PopulateOptions(processes=2, reserve_jobs=True)
    result = pool.populate_parallel(counting.Made(), (), options, run=populate_with)
    print(json.dumps(result))
except BaseException as error:
    print("raised", type(error).__name__, flush=True)
    raise
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("waiting", ["DJRT_MAKE_SLEEP", "DJRT_SQL_SLEEP"], ids=["in-python", "in-a-query"])
def test_signal_to_the_parent_stops_children_and_leaves_nothing_reserved(pipeline, signum, waiting):
    process = harness.python(SIGNALLED_POOL, pipeline, {waiting: "0.5"})
    try:
        assert harness.wait_for(lambda: len(harness.calls(pipeline)) >= 2, timeout=60), process.stderr.read()
        process.send_signal(signum)
        code, out, err = harness.finish(process, timeout=60)
    finally:
        harness.kill_quietly(process)
    assert code != 0, out
    expected = "KeyboardInterrupt" if signum == signal.SIGINT else "SystemExit"
    assert f"raised {expected}" in out or expected in err, (out, err)
    statuses = harness.statuses(pipeline.Made)
    assert statuses["reserved"] == 0, (pipeline.Made.jobs.reserved.to_dicts(), harness.calls(pipeline), err)
    assert statuses["pending"] + len(pipeline.Made()) == pipeline.items  # interrupted jobs back to pending
    assert len(pipeline.Made.Detail()) == 3 * len(pipeline.Made())  # rolled back, not half-made
    assert harness.wait_for(lambda: not any(harness.alive(pid) for _, pid in harness.calls(pipeline)), timeout=10)


def test_children_stop_cleanly_when_the_parent_is_killed(pipeline):
    process = harness.python(SIGNALLED_POOL, pipeline, {"DJRT_MAKE_SLEEP": "0.5"})
    try:
        assert harness.wait_for(lambda: len({pid for _, pid in harness.calls(pipeline)}) >= 2, timeout=60)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        harness.kill_quietly(process)
    children = {pid for _, pid in harness.calls(pipeline)}
    # orphaned children notice (within a second or so), roll their job back and exit
    assert harness.wait_for(lambda: not any(harness.alive(pid) for pid in children), timeout=30)
    statuses = harness.statuses(pipeline.Made)
    assert statuses["reserved"] == 0
    assert statuses["pending"] + len(pipeline.Made()) == pipeline.items
    assert len(pipeline.Made.Detail()) == 3 * len(pipeline.Made())


def test_progress_bar_in_the_parent(pipeline, capsys):
    result = populate_parallel(pipeline.Made(), processes=2, reserve_jobs=True, display_progress=True)
    assert result["success_count"] == 12
    assert "12/12" in capsys.readouterr().err


def test_max_calls_shares_add_up():
    assert pool._shares(None, 3) == [None, None, None]
    assert pool._shares(7, 3) == [3, 2, 2]
    assert pool._shares(2, 4) == [1, 1]  # no child without a share
    for total in range(0, 20):
        for processes in range(1, 6):
            assert sum(pool._shares(total, processes)) == total
