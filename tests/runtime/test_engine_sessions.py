"""Real session faults against worker subprocesses, on MariaDB and PostgreSQL (issue 14, points 1, 4, 5):
a worker's session killed from another connection (``KILL CONNECTION`` / ``pg_terminate_backend``) in
the middle of a batch, and a worker stalled (SIGSTOP) past ``orphan_timeout`` while its batch is taken
over. make() logs every call, so runs that were rolled back count too; every wait is bounded."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from pipelines import harness

import djruntime

pytestmark = [pytest.mark.db, pytest.mark.timeout(120)]

BATCHING = {"DJRUNTIME_CLAIM_SECONDS": "60"}  # after the first job, a worker claims all the rest at once


@pytest.fixture(params=["mysql", "postgres"])
def pipeline(request, schema_factory, tmp_path, monkeypatch):
    server = request.getfixturevalue(f"{request.param}_server")
    made = harness.make_pipeline(schema_factory, server, tmp_path, items=10)
    for name in ("DJRT_CALL_LOG", "DJRT_HANG_MARKER"):
        monkeypatch.setenv(name, made.env[name])
    djruntime.install(strict_provenance=False)
    yield made
    djruntime.uninstall()


def reserved_sessions(pipeline) -> set[int]:
    return {int(row["connection_id"]) for row in pipeline.Made.jobs.reserved.to_dicts()}


def end_session(pipeline, session: int) -> None:
    """End a server session from another connection, as an administrator (or a failover) would."""
    if pipeline.server.backend == "mysql":
        pipeline.connection.query(f"KILL CONNECTION {int(session)}")
    else:
        pipeline.connection.query("SELECT pg_terminate_backend(%s)", args=(int(session),))


def assert_all_committed_once(pipeline) -> None:
    assert len(pipeline.Made()) == pipeline.items
    assert len(pipeline.Made.Detail()) == 3 * pipeline.items
    assert harness.statuses(pipeline.Made) == dict.fromkeys(harness.STATUSES, 0)


@pytest.mark.parametrize("suppress", [False, True], ids=["stops-on-errors", "suppress-errors"])
def test_lost_session_returns_the_job_to_pending_and_drops_the_batch(pipeline, suppress):
    """The worker's session is ended while make() runs in the middle of a claimed batch: the job goes back
    to pending (never ``error``, on either backend), the rest of the batch is not run on the dead session's
    claims, the worker goes on with a new session and makes everything; its summary shows no error."""
    args = ["worker", "pipelines.counting:Made"] + (["--suppress-errors"] if suppress else [])
    worker = harness.cli(args, pipeline, {**BATCHING, "DJRT_MAKE_SLEEP": "0.4"})
    try:
        assert harness.wait_for(lambda: len(harness.calls(pipeline)) >= 3, timeout=60)
        sessions = reserved_sessions(pipeline)
        assert len(sessions) == 1 and len(pipeline.Made.jobs.reserved) >= 3  # one worker, a batch held
        interrupted = harness.calls(pipeline)[-1][0]
        end_session(pipeline, sessions.pop())
        code, _out, err = harness.finish(worker, timeout=60)
    finally:
        harness.kill_quietly(worker)
    assert code == 0, err
    assert "errors 0" in err and "made 10" in err, err
    assert_all_committed_once(pipeline)
    counts = harness.call_counts(pipeline)
    # the make() running when the session ended ran again (unless the kill fell between two jobs);
    # no other job of the batch ran on claims of the dead session
    assert counts[interrupted] in (1, 2)
    assert {item: n for item, n in counts.items() if item != interrupted and n != 1} == {}


def test_stalled_worker_does_not_run_its_taken_over_batch(pipeline):
    """A worker stopped (SIGSTOP) inside make() past ``orphan_timeout``: its reservations are taken over
    and made by another process, whose insert of the stalled key waits on the stalled transaction's row
    lock — a lock-wait timeout that requeues that job instead of recording an error. Resumed, the stalled
    worker rolls its one make() back and runs none of the batch it no longer holds."""
    connection = pipeline.connection
    if pipeline.server.backend == "mysql":
        connection.query("SET SESSION innodb_lock_wait_timeout = 1")
    else:
        connection.query("SET lock_timeout = '1s'")
    worker = harness.cli(["worker", "pipelines.counting:Made"], pipeline,
                         {**BATCHING, "DJRT_MAKE_SLEEP": "0.3", "DJRUNTIME_HOLD_SECONDS": "1"})
    try:
        assert harness.wait_for(lambda: len(harness.calls(pipeline)) >= 3, timeout=60)
        # stop it inside a make() (just after one starts: each sleeps 0.3 s, before its finish locks the job
        # row) while it holds a batch (held jobs go back to pending after 1 s, then it claims anew)
        for _ in range(100):
            seen = len(harness.calls(pipeline))
            assert harness.wait_for(lambda: len(harness.calls(pipeline)) > seen, timeout=30, interval=0.005)
            if harness.statuses(pipeline.Made)["reserved"] >= 2:
                break
        worker.send_signal(signal.SIGSTOP)
        before_stop = {item for item, _ in harness.calls(pipeline)}
        stalled = harness.calls(pipeline)[-1][0]
        time.sleep(1.5)
        assert pipeline.Made.jobs.refresh(orphan_timeout=1)["orphaned"] >= 2  # the stalled batch
        result = djruntime.populate(pipeline.Made, reserve_jobs=True, refresh=False)
        assert result["error_list"] == []
        assert harness.statuses(pipeline.Made)["error"] == 0
        worker.send_signal(signal.SIGCONT)
        code, _out, err = harness.finish(worker, timeout=60)
    finally:
        harness.kill_quietly(worker)
    assert code == 0, err
    ran_by_worker = {item for item, pid in harness.calls(pipeline) if pid == worker.pid}
    assert ran_by_worker <= before_stop | {stalled}, "the resumed worker ran jobs it no longer held"
    time.sleep(1.1)  # the requeued job is scheduled one second after its lock wait
    djruntime.populate(pipeline.Made, reserve_jobs=True, refresh=False)
    assert_all_committed_once(pipeline)
    per_item = Counter(item for item, _ in harness.calls(pipeline))
    assert all(n == 1 for item, n in per_item.items() if item != stalled), per_item
