"""Helpers shared by the multiprocess engine tests: the counting pipeline on a throwaway schema, worker
subprocesses that import it, bounded waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from . import counting

RUNTIME_TESTS = Path(__file__).resolve().parents[1]  # tests/runtime: put on PYTHONPATH of workers
STATUSES = ("pending", "reserved", "success", "error", "ignore")


def make_pipeline(schema_factory, server, tmp_path: Path, items: int) -> SimpleNamespace:
    """The counting pipeline with ``items`` items on a fresh schema; ``.env`` reaches it from a subprocess."""
    schema, connection = schema_factory(server)
    pipeline = counting.build(schema)
    counting.fill(pipeline, items)
    pipeline.server = server
    pipeline.connection = connection
    pipeline.items = items
    pipeline.log = str(tmp_path / "calls.log")
    pipeline.env = {
        **os.environ,
        **server.env(),
        "DJ_USE_TLS": "false",
        "DJ_LOG_LEVEL": "WARNING",
        "DJRT_PIPELINE_SCHEMA": schema.database,
        "DJRT_CALL_LOG": pipeline.log,
        "DJRT_HANG_MARKER": str(tmp_path / "hang.marker"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(RUNTIME_TESTS), os.environ.get("PYTHONPATH")])),
    }
    return pipeline


def calls(pipeline: SimpleNamespace) -> list[tuple[int, int]]:
    return counting.read_calls(pipeline.log)


def call_counts(pipeline: SimpleNamespace) -> Counter:
    return Counter(item for item, _ in calls(pipeline))


def hanging_pid(pipeline: SimpleNamespace, item: int) -> int | None:
    """The pid of the process whose make() for ``item`` is now hanging, if any."""
    if not os.path.exists(pipeline.log):
        return None
    with open(pipeline.log) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) == 3 and fields[2] == "hang" and int(fields[0]) == item:
                return int(fields[1])
    return None


def statuses(table) -> dict[str, int]:
    """Per-status job counts read straight from the ``~~`` table."""
    from datajoint.jobs import Job

    jobs = Job(table())
    counts = dict.fromkeys(STATUSES, 0)
    if jobs.is_declared:
        for status, count in table.connection.query(
            f"SELECT status, COUNT(*) FROM {jobs.full_table_name} GROUP BY status"
        ).fetchall():
            counts[status] = int(count)
    return counts


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def python(code: str, pipeline: SimpleNamespace, extra_env: dict | None = None, **popen) -> subprocess.Popen:
    """A Python subprocess that imports the pipeline (``from pipelines import counting``) and runs ``code``."""
    return subprocess.Popen(
        [sys.executable, "-c", code], env={**pipeline.env, **(extra_env or {})}, cwd=str(RUNTIME_TESTS),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )


def cli(args: list[str], pipeline: SimpleNamespace, extra_env: dict | None = None, **popen) -> subprocess.Popen:
    """``djruntime ARGS`` (as ``python -m djruntime.engine.cli``) in a subprocess that reaches the pipeline."""
    return subprocess.Popen(
        [sys.executable, "-m", "djruntime.engine.cli", *args], env={**pipeline.env, **(extra_env or {})},
        cwd=str(RUNTIME_TESTS), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )


def finish(process: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """Wait (bounded) for ``process``; kill it and fail loudly if it outlives ``timeout``."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"process {process.args} did not finish in {timeout} s\n{out}\n{err}")
    return process.returncode, out, err


def kill_quietly(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL) if _is_group_leader(process) else process.kill()
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _is_group_leader(process: subprocess.Popen) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): read its state
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
