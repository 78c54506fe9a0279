"""Benchmark: djruntime's populate engine against datajoint 2.3.5's own AutoPopulate, in the same run.

Three measurements on the MySQL-compatible server (default 127.0.0.1:3306 root; ``DJ_HOST``/``DJ_USER``/
``DJ_PASS``/``DJ_PORT`` override), statements counted on the server with ``SHOW GLOBAL STATUS LIKE
'Questions'`` before and after, minus the counting statements themselves:

1. ``jobs.refresh()`` of ``--refresh-keys`` new keys (default 2,000 and 10,000): wall time, datajoint vs
   djruntime, the median of ``--repeat`` runs each (default 3), so the fixed cost of a refresh shows;
2. single-process ``populate(reserve_jobs=True)`` of ``--keys`` keys (default 1,000), for a make() that
   sends exactly 3 statements of its own (fetch1, insert1 master, insert1 part; checked by a calibration
   run): statements per job;
3. ``--workers`` processes (default 4) draining ``--drain-keys`` jobs (default 2,000), each process calling
   ``Table.populate(reserve_jobs=True)`` on the same queue (datajoint's own, then djruntime's): statements
   per job and throughput. Processes import, connect and wait at a start line before the clock starts.

The global ``Questions`` counter counts every client of the server: run this on a quiet machine. Prints a
table and writes ``bench/out/engine.json``. ``--quick`` is a small smoke run whose numbers mean nothing.

Usage: ``python bench/engine_bench.py [--quick] [--keys N] [--refresh-keys N,N] [--repeat N] [--drain-keys N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
MAKE_STATEMENTS = 3


# ---------------------------------------------------------------------------------------------- server
def server_settings() -> dict:
    return {
        "host": os.environ.get("DJ_HOST", "127.0.0.1").split(":")[0],
        "port": int(os.environ.get("DJ_PORT", "3306")),
        "user": os.environ.get("DJ_USER", "root"),
        "password": os.environ.get("DJ_PASS", ""),
    }


def configure_datajoint() -> None:
    import datajoint as dj

    settings = server_settings()
    dj.config["database.backend"] = "mysql"
    dj.config["database.host"] = settings["host"]
    dj.config["database.port"] = settings["port"]
    dj.config["database.user"] = settings["user"]
    dj.config["database.password"] = settings["password"]
    dj.config["database.use_tls"] = False
    dj.config["loglevel"] = "WARNING"


def worker_environment() -> dict:
    settings = server_settings()
    return {
        **os.environ,
        "DJ_BACKEND": "mysql",
        "DJ_HOST": settings["host"],
        "DJ_PORT": str(settings["port"]),
        "DJ_USER": settings["user"],
        "DJ_PASS": settings["password"],
        "DJ_USE_TLS": "false",
        "DJ_LOG_LEVEL": "WARNING",
    }


class ClientCounter:
    """Statements this process sends through datajoint's ``Connection.query`` — exact even on a busy
    server, a cross-check of the server-side count (which also sees everyone else's statements)."""

    count = 0

    @classmethod
    def install(cls) -> None:
        from datajoint.connection import Connection

        if getattr(Connection.query, "_bench_counting", False):
            return
        original = Connection.query

        def query(self, *args, **kwargs):
            cls.count += 1
            return original(self, *args, **kwargs)

        query._bench_counting = True
        Connection.query = query


class QuestionCounter:
    """Server-side statement count on a connection of its own (pymysql, outside datajoint)."""

    def __init__(self) -> None:
        import pymysql

        settings = server_settings()
        self._connection = pymysql.connect(
            host=settings["host"], port=settings["port"], user=settings["user"], password=settings["password"],
            autocommit=True,
        )
        # each reading is itself one question: measure the cost of a reading instead of assuming it
        first = self._read()
        second = self._read()
        self.overhead = second - first

    def _read(self) -> int:
        with self._connection.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
            return int(cursor.fetchone()[1])

    def start(self) -> None:
        self._start = self._read()
        self._client_start = ClientCounter.count

    def stop(self) -> int:
        self.client = ClientCounter.count - self._client_start
        return self._read() - self._start - self.overhead

    def close(self) -> None:
        self._connection.close()


# -------------------------------------------------------------------------------------------- pipeline
def build(schema) -> SimpleNamespace:
    """Source (Manual) -> Target (Computed, with a Part); make() sends exactly 3 statements."""
    import datajoint as dj

    context: dict = {}

    class Source(dj.Manual):
        definition = """
        source_id : int32
        ---
        value : int32
        """

    context["Source"] = schema(Source, context=context)

    class Target(dj.Computed):
        definition = """
        -> Source
        ---
        doubled : int32
        """

        class Piece(dj.Part):
            definition = """
            -> master
            ---
            tripled : int32
            """

        def make(self, key):
            value = (Source & key).fetch1("value")  # 1
            self.insert1({**key, "doubled": 2 * value})  # 2
            self.Piece.insert1({**key, "tripled": 3 * value})  # 3

    context["Target"] = schema(Target, context=context)
    return SimpleNamespace(**context)


def open_pipeline(schema_name: str) -> SimpleNamespace:
    import datajoint as dj

    configure_datajoint()
    ClientCounter.install()
    pipeline = build(dj.Schema(schema_name))
    pipeline.schema_name = schema_name
    return pipeline


def fill(pipeline: SimpleNamespace, count: int) -> None:
    pipeline.Source.insert(({"source_id": i, "value": i} for i in range(count)), skip_duplicates=True)


def reset(pipeline: SimpleNamespace) -> None:
    """Empty the target and its job queue; keep the sources."""
    pipeline.Target.Piece.delete_quick()
    pipeline.Target.delete_quick()
    pipeline.Target.jobs.delete_quick()


# ----------------------------------------------------------------------------------- engine selection
def use_engine(engine: str) -> None:
    """Route populate()/jobs of every Computed/Imported table through ``engine``."""
    import djruntime

    if engine == "djruntime":
        djruntime.install(strict_provenance=False)
    else:
        djruntime.uninstall()


def refresh_queue(pipeline: SimpleNamespace) -> None:
    pipeline.Target.jobs.refresh(delay=-1)


# --------------------------------------------------------------------------------------- measurements
def calibrate_make(pipeline: SimpleNamespace, counter: QuestionCounter, keys: int = 50) -> float:
    """Statements one make() sends, measured by calling it outside any engine."""
    import datajoint as dj

    reset(pipeline)
    target = pipeline.Target()
    todo = (pipeline.Source.proj() - target).keys(limit=keys)
    pipeline.Target._allow_insert = True  # what both engines set around make()
    try:
        target.make(dict(todo[0]))  # warm the heading caches, as any engine's first job does
        counter.start()
        for key in todo[1:]:
            target.make(dict(key))
    finally:
        pipeline.Target._allow_insert = False
    statements = counter.stop() / (len(todo) - 1)
    client = counter.client / (len(todo) - 1)
    reset(pipeline)
    del dj
    return {"server": statements, "client": client}


def measure_refresh(pipeline: SimpleNamespace, counter: QuestionCounter, engine: str) -> dict:
    reset(pipeline)
    use_engine(engine)
    jobs = pipeline.Target.jobs  # declare the queue and load its heading outside the measurement
    counter.start()
    began = time.perf_counter()
    jobs.refresh(delay=-1)
    seconds = time.perf_counter() - began
    statements = counter.stop()
    queued = len(pipeline.Target.jobs.pending)
    reset(pipeline)
    return {"seconds": seconds, "statements": statements, "client_statements": counter.client, "queued": queued}


def measure_single(pipeline: SimpleNamespace, counter: QuestionCounter, engine: str) -> dict:
    reset(pipeline)
    use_engine(engine)
    _ = pipeline.Target.jobs  # declare the queue outside the measurement
    # warm the caches both engines keep (headings, key_source) on one job outside the measurement
    pipeline.Target.populate("source_id = 0", reserve_jobs=True)
    counter.start()
    began = time.perf_counter()
    result = pipeline.Target.populate(reserve_jobs=True)
    seconds = time.perf_counter() - began
    statements = counter.stop()
    jobs = max(len(pipeline.Target()) - 1, 1)
    reset(pipeline)
    return {
        "jobs": jobs, "seconds": seconds, "statements": statements,
        "statements_per_job": statements / jobs, "client_statements_per_job": counter.client / jobs,
        "errors": len(result["error_list"]),
    }


def measure_workers(pipeline: SimpleNamespace, counter: QuestionCounter, engine: str, workers: int,
                    timeout: float) -> dict:
    reset(pipeline)
    use_engine(engine)
    refresh_queue(pipeline)
    queued = len(pipeline.Target.jobs.pending)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--schema", pipeline.schema_name]
    processes = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=worker_environment())
        for _ in range(workers)
    ]
    try:
        for process in processes:
            line = process.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"worker did not start: {line!r}")
        counter.start()
        began = time.perf_counter()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in processes:
            out, _ = process.communicate(timeout=max(timeout - (time.perf_counter() - began), 1))
            reports.append(json.loads(out.strip().splitlines()[-1]))
        seconds = time.perf_counter() - began
        statements = counter.stop()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    made = len(pipeline.Target())
    left = pipeline.Target.jobs.progress()
    reset(pipeline)
    return {
        "jobs": queued, "made": made, "seconds": seconds, "statements": statements,
        "statements_per_job": statements / max(made, 1), "jobs_per_second": made / seconds,
        "client_statements_per_job": sum(report["statements"] for report in reports) / max(made, 1),
        "successes_reported": sum(report["success_count"] for report in reports),
        "errors": sum(report["errors"] for report in reports),
        "left_pending": left["pending"], "left_reserved": left["reserved"],
    }


def worker_main(engine: str, schema_name: str) -> None:
    """One drain worker: import, connect, wait for the start line, populate, print a JSON report."""
    pipeline = open_pipeline(schema_name)
    use_engine(engine)
    _ = pipeline.Target.jobs  # connect and load the queue's heading before the clock starts
    len(pipeline.Target.jobs.pending)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    before = ClientCounter.count
    result = pipeline.Target.populate(reserve_jobs=True, suppress_errors=True)
    print(json.dumps({"success_count": result["success_count"], "errors": len(result["error_list"]),
                      "statements": ClientCounter.count - before}), flush=True)


# ------------------------------------------------------------------------------------------- reporting
def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def report(results: dict) -> str:
    single, drain = results["single"], results["workers"]
    rows = [("measure", "datajoint", "djruntime", "ratio", "target")]
    for refresh in results["refresh"]:
        rows += [
            (f"refresh {refresh['keys']:,} new keys: seconds (median)",
             f"{refresh['datajoint']['seconds']:.3f}", f"{refresh['djruntime']['seconds']:.3f}",
             f"{refresh['speedup']:.1f}x faster", ">= 20x"),
            ("  statements (server / client)",
             f"{refresh['datajoint']['statements']} / {refresh['datajoint']['client_statements']}",
             f"{refresh['djruntime']['statements']} / {refresh['djruntime']['client_statements']}", "", ""),
        ]
    rows += [
        (f"populate 1 process, {single['djruntime']['jobs']:,} jobs: statements/job",
         f"{single['datajoint']['statements_per_job']:.2f}", f"{single['djruntime']['statements_per_job']:.2f}",
         f"{single['ratio']:.2f}", "<= 1.00"),
        ("  same, counted by the client", f"{single['datajoint']['client_statements_per_job']:.2f}",
         f"{single['djruntime']['client_statements_per_job']:.2f}",
         f"{ratio(single['djruntime']['client_statements_per_job'], single['datajoint']['client_statements_per_job']):.2f}",
         ""),
        (f"{drain['workers']} processes, {drain['djruntime']['jobs']:,} jobs: statements/job",
         f"{drain['datajoint']['statements_per_job']:.2f}", f"{drain['djruntime']['statements_per_job']:.2f}",
         f"{drain['statement_ratio']:.2f}", "<= 0.60"),
        ("  same, counted by the clients", f"{drain['datajoint']['client_statements_per_job']:.2f}",
         f"{drain['djruntime']['client_statements_per_job']:.2f}",
         f"{ratio(drain['djruntime']['client_statements_per_job'], drain['datajoint']['client_statements_per_job']):.2f}",
         ""),
        (f"{drain['workers']} processes: jobs/second",
         f"{drain['datajoint']['jobs_per_second']:.0f}", f"{drain['djruntime']['jobs_per_second']:.0f}",
         f"{drain['throughput_ratio']:.2f}x", ">= 1.5x (aim 2x)"),
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"make() sends {results['make_statements']['server']:.2f} statements of its own on the server, "
                 f"{results['make_statements']['client']:.2f} counted by the client (calibrated; expected 3)")
    lines.append("server counts include every other client of the server: trust them on a quiet machine only")
    if results["quick"]:
        lines.append("--quick: a smoke run; these numbers mean nothing")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1000, help="jobs in the single-process populate")
    parser.add_argument("--refresh-keys", type=lambda text: [int(n) for n in text.split(",")], default=[2000, 10_000],
                        help="new keys for the refresh measure (comma-separated sizes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each refresh measure (median reported)")
    parser.add_argument("--drain-keys", type=int, default=2000, help="jobs drained by the worker processes")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed for one drain")
    parser.add_argument("--quick", action="store_true", help="small smoke run (numbers mean nothing)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "engine.json")
    parser.add_argument("--worker", choices=["datajoint", "djruntime"], help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.worker:
        worker_main(options.worker, options.schema)
        return 0
    if options.quick:
        options.keys, options.refresh_keys, options.drain_keys, options.repeat = 60, [500], 200, 1

    import datajoint as dj

    configure_datajoint()
    ClientCounter.install()
    schema_name = f"djbench_engine_{uuid.uuid4().hex[:8]}"
    schema = dj.Schema(schema_name)
    pipeline = build(schema)
    pipeline.schema_name = schema_name
    counter = QuestionCounter()
    try:
        fill(pipeline, max(options.keys, *options.refresh_keys, options.drain_keys))
        use_engine("datajoint")
        make_statements = calibrate_make(pipeline, counter)
        refreshes = []
        for keys in options.refresh_keys:
            refresh = {"keys": keys}
            for engine in ("datajoint", "djruntime"):
                # the refresh measure sees only the first ``keys`` sources
                refresh[engine] = measure_refresh_limited(pipeline, counter, engine, keys, options.repeat)
            refresh["speedup"] = ratio(refresh["datajoint"]["seconds"], refresh["djruntime"]["seconds"])
            refreshes.append(refresh)
        limit_sources(pipeline, options.keys + 1)  # one more: the warm-up job
        single = {engine: measure_single(pipeline, counter, engine) for engine in ("datajoint", "djruntime")}
        single["ratio"] = ratio(single["djruntime"]["statements_per_job"], single["datajoint"]["statements_per_job"])
        drain = {"workers": options.workers}
        limit_sources(pipeline, options.drain_keys)
        for engine in ("datajoint", "djruntime"):
            drain[engine] = measure_workers(pipeline, counter, engine, options.workers, options.timeout)
        drain["statement_ratio"] = ratio(drain["djruntime"]["statements_per_job"],
                                         drain["datajoint"]["statements_per_job"])
        drain["throughput_ratio"] = ratio(drain["djruntime"]["jobs_per_second"], drain["datajoint"]["jobs_per_second"])
        results = {
            "datajoint_version": dj.__version__,
            "server": counter_version(counter),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "quick": options.quick,
            "make_statements": make_statements,
            "refresh": refreshes,
            "single": single,
            "workers": drain,
        }
    finally:
        counter.close()
        try:
            use_engine("datajoint")
        except Exception:
            pass
        schema.drop(prompt=False)
    print(report(results))
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {options.out}")
    return 0


def measure_refresh_limited(pipeline: SimpleNamespace, counter: QuestionCounter, engine: str, keys: int,
                            repeat: int) -> dict:
    """The median of ``repeat`` refreshes of ``keys`` new keys (each into an empty queue)."""
    limit_sources(pipeline, keys)
    runs = [measure_refresh(pipeline, counter, engine) for _ in range(max(1, repeat))]
    median = statistics.median(run["seconds"] for run in runs)
    return {**min(runs, key=lambda run: abs(run["seconds"] - median)), "seconds": median,
            "all_seconds": [run["seconds"] for run in runs]}


def limit_sources(pipeline: SimpleNamespace, keys: int) -> None:
    """Keep exactly ``keys`` sources (refresh and drain queue the whole key_source)."""
    (pipeline.Source & f"source_id >= {keys}").delete_quick()
    fill(pipeline, keys)


def counter_version(counter: QuestionCounter) -> str:
    with counter._connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        return cursor.fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
