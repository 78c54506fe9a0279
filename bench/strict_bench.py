"""Cost of strict provenance: populate() with the gate on vs off, and the gate's cost per statement.

    python bench/strict_bench.py                 # 2,000 keys, 3 rounds, MariaDB at 127.0.0.1:3306
    python bench/strict_bench.py --quick         # 200 keys, 1 round (checks the script runs)
    python bench/strict_bench.py --backend postgresql
    python bench/strict_bench.py --dj230 /tmp/dj230/datajoint/provenance.py   # + datajoint 2.3.0's gate

Server from DJ_HOST/DJ_USER/DJ_PASS/DJ_PORT (PostgreSQL: DJ_PG_HOST/DJ_PG_USER/DJ_PG_PASS/DJ_PG_PORT),
default the local root/postgres account. Each round populates the same keys twice, once with the gate
off and once on (order alternating between rounds), each time from an empty target and with the gate's
statement caches emptied (as in a fresh process: every statement text is new to it); the figure is the
ratio of the median wall times measured in this run (target: <= 1.10). The per-statement figure times
the gate alone (classification with a warm cache + allowed-set check), without the server, inside an
open make() window, for the statements a typical make() sends.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import datajoint as dj

import djruntime
from djruntime import context
from djruntime.strict import classifier, gate


def connect(backend: str) -> dj.Connection:
    if backend == "mysql":
        host, port = os.environ.get("DJ_HOST", "127.0.0.1"), int(os.environ.get("DJ_PORT", "3306"))
        user, password = os.environ.get("DJ_USER", "root"), os.environ.get("DJ_PASS", "")
    else:
        host, port = os.environ.get("DJ_PG_HOST", "127.0.0.1"), int(os.environ.get("DJ_PG_PORT", "5432"))
        user, password = os.environ.get("DJ_PG_USER", "postgres"), os.environ.get("DJ_PG_PASS", "")
    return dj.Connection(host, user, password, port=port, use_tls=False, backend=backend)


def build(schema: dj.Schema):
    @schema
    class Subject(dj.Manual):
        definition = """
        subject_id: int32
        ---
        weight: float64
        """

    @schema
    class Session(dj.Manual):
        definition = """
        -> Subject
        session_id: int32
        ---
        duration: float64
        """

    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        score: float64
        """

        def make(self, key):  # three statements of its own: two reads, one insert
            duration = (Session & key).fetch1("duration")
            weight = (Subject & key).fetch1("weight")
            self.insert1(dict(key, score=duration * weight))

    return Subject, Session, Summary


def populate_seconds(summary, mode: str, policy: Path) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one populate: the CPU time is what the gate adds on
    the client, free of the server's commit latency, which dominates the wall time's run-to-run noise."""
    djruntime.install(strict_provenance=mode, policy=policy)
    (summary()).delete_quick()
    # Every round makes the same keys: without this, rounds after the first would find every statement's
    # exact text in the classification cache, where a real populate() sends new key values (a fresh process).
    classifier.cache_clear()
    start, cpu = time.perf_counter(), time.process_time()
    result = summary.populate()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert not result["error_list"], result["error_list"][:1]
    return elapsed, cpu


def gate_microseconds(connection, summary, session, subject, repeats: int) -> dict[str, float]:
    """Gate cost per statement (µs), warm caches, no server round trip."""
    key = {"subject_id": 1, "session_id": 1}
    table = summary()
    template = (session & {"subject_id": 123456, "session_id": 1}).make_sql()
    statements = {
        # every text distinct (the key's literals differ), so each misses the exact cache
        "read, new literals (shape cache)": [(template.replace("123456", str(i)), ()) for i in range(200)],
        "read, same text (exact cache)": [((subject & key).make_sql(), ())] * 200,
        "insert of one row (exact cache)": [
            (f"INSERT INTO {summary.full_table_name}(`subject_id`,`session_id`,`score`) VALUES (%s,%s,%s)"
             if connection.adapter.backend == "mysql" else
             f'INSERT INTO {summary.full_table_name}("subject_id","session_id","score") VALUES (%s,%s,%s)',
             ["1", "1", "2.5"])
        ] * 200,
    }
    figures = {}
    connection.start_transaction()  # as the engine runs make(): writes are checked inside the job's transaction
    with context.make_window(table, key, connection):
        for name, batch in statements.items():
            for sql, args in batch:  # warm
                gate._checked(connection, context.current(connection), sql, args)
            if name.startswith("read, new literals"):  # fresh texts for every timed call
                batch = [(template.replace("123456", str(1000 + i)), ()) for i in range(repeats * len(batch))]
                runs = 1
            else:
                runs = repeats
            start = time.perf_counter()
            for _ in range(runs):
                for sql, args in batch:
                    gate._checked(connection, context.current(connection), sql, args)
            figures[name] = (time.perf_counter() - start) / (runs * len(batch)) * 1e6
    connection.cancel_transaction()
    # the wrapper's cost for a statement outside any make() window (gate on, nothing to check)
    start = time.perf_counter()
    calls = repeats * 200
    for _ in range(calls):
        if context.current(connection) is None and not context.in_bookkeeping():
            pass
    figures["outside make() (window lookup)"] = (time.perf_counter() - start) / calls * 1e6
    return figures


def datajoint_230_microseconds(path: str, connection, summary, session, repeats: int) -> dict[str, float]:
    """datajoint 2.3.0's own gate (``datajoint/provenance.py`` of its wheel, loaded from ``path`` with its
    relative imports bound to the installed datajoint) timed on the same reads and row: µs per check."""
    import importlib.util

    source = Path(path).read_text().replace("from .", "from datajoint.")
    spec = importlib.util.spec_from_loader("datajoint_230_provenance", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - the reference gate, read as source
    key = {"subject_id": 1, "session_id": 1}
    allowed = frozenset({summary.full_table_name, session.full_table_name})
    token = module.push_strict_make_context(summary(), allowed, key)
    try:
        expressions = [session & {"subject_id": i, "session_id": 1} for i in range(200)]
        row = dict(key, score=2.5)
        start = time.perf_counter()
        for _ in range(repeats):
            for expression in expressions:
                module.assert_read_allowed(expression)
        read = (time.perf_counter() - start) / (repeats * len(expressions)) * 1e6
        start = time.perf_counter()
        for _ in range(repeats * 200):
            module.assert_write_allowed(summary())
            module.assert_row_key_allowed(row)
        write = (time.perf_counter() - start) / (repeats * 200) * 1e6
    finally:
        module.pop_strict_make_context(token)
    return {"read (assert_read_allowed)": read, "insert of one row (target + row checks)": write}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="mysql", choices=["mysql", "postgresql"])
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 keys, 1 round")
    parser.add_argument("--dj230", metavar="PROVENANCE_PY",
                        help="datajoint 2.3.0's datajoint/provenance.py (from `pip download datajoint==2.3.0`) "
                             "to time its own gate on the same statements")
    options = parser.parse_args(argv)
    if options.quick:
        options.keys, options.rounds = 200, 1

    connection = connect(options.backend)
    schema = dj.Schema(f"djbench_strict_{uuid.uuid4().hex[:8]}", {}, connection=connection)
    policy = Path(f"/tmp/djbench_strict_{os.getpid()}.toml")
    policy.write_text('[project]\nname = "bench"\n')
    try:
        subject, session, summary = build(schema)
        subjects = max(1, options.keys // 10)
        subject.insert([{"subject_id": s, "weight": 1.0 + s} for s in range(1, subjects + 1)])
        session.insert([{"subject_id": 1 + k // 10, "session_id": 1 + k % 10, "duration": 2.0}
                        for k in range(options.keys)])
        times: dict[str, list[float]] = {"off": [], "raise": []}
        cpu: dict[str, list[float]] = {"off": [], "raise": []}
        populate_seconds(summary, "off", policy)  # warm-up: heading loads, dependency graph
        for round_ in range(options.rounds):
            order = ("off", "raise") if round_ % 2 == 0 else ("raise", "off")
            for mode in order:
                wall, used = populate_seconds(summary, mode, policy)
                times[mode].append(wall)
                cpu[mode].append(used)
        off, on = statistics.median(times["off"]), statistics.median(times["raise"])
        cpu_off, cpu_on = statistics.median(cpu["off"]), statistics.median(cpu["raise"])
        print(f"backend={options.backend} keys={options.keys} rounds={options.rounds}")
        print(f"populate, strict off : {off:8.3f} s  ({off / options.keys * 1e3:.3f} ms/key)  runs {times['off']}")
        print(f"populate, strict on  : {on:8.3f} s  ({on / options.keys * 1e3:.3f} ms/key)  runs {times['raise']}")
        print(f"ratio on/off         : {on / off:8.3f}  (target <= 1.10)")
        print(f"client CPU, off / on : {cpu_off:8.3f} s / {cpu_on:.3f} s  ratio {cpu_on / cpu_off:.3f}  "
              f"(added {(cpu_on - cpu_off) / options.keys * 1e6:.0f} µs/key)")

        djruntime.install(strict_provenance=True, policy=policy)
        classifier.cache_clear()
        figures = gate_microseconds(connection, summary, session, subject, repeats=20 if options.quick else 100)
        print("gate cost per statement, warm cache (µs):")
        for name, value in figures.items():
            print(f"  {name:36s} {value:8.1f}")
        per_key = 2 * figures["read, new literals (shape cache)"] + figures["insert of one row (exact cache)"]
        print(f"gate time per key (2 reads + 1 insert): {per_key:.1f} µs = "
              f"{per_key / (off / options.keys * 1e6) * 100:.2f} % of a key's populate time with the gate off")
        if options.dj230:
            reference = datajoint_230_microseconds(options.dj230, connection, summary, session,
                                                   repeats=20 if options.quick else 100)
            print("datajoint 2.3.0's gate, same checks (µs; it sees fetches and inserts only, not len/in/"
                  "restrictions/raw SQL):")
            for name, value in reference.items():
                print(f"  {name:36s} {value:8.1f}")
        info = classifier._classify.cache_info()
        print(f"exact cache: {info.hits} hits / {info.misses} misses; sqlglot parses: {classifier.parses}")
    finally:
        djruntime.uninstall()
        schema.drop(prompt=False)
        policy.unlink(missing_ok=True)
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
