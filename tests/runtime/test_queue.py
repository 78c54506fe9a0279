"""djruntime's job queue on datajoint's own ``~~table``: refresh, claim, rescue, and a queue shared with
plain datajoint workers (real MariaDB and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import datajoint as dj
from datajoint.jobs import Job
from engine_helpers import on, wait_until_gone

from djruntime.engine import queue as queue_module
from djruntime.engine.populate import populate
from djruntime.engine.queue import JobQueue
from djruntime.engine.sessions import HOST_MARK


def pipeline(schema, subjects=6):
    calls: list[dict] = []

    class Subject(dj.Manual):
        definition = """
        subject_id : int32
        """

    class Result(dj.Computed):
        definition = """
        -> Subject
        ---
        value : float64
        """

        def make(self, key):
            calls.append(dict(key))
            (Subject & key).fetch1()
            self.insert1({**key, "value": key["subject_id"] * 2.0})

    namespace = {"Subject": Subject, "Result": Result}
    schema(Subject, context=namespace)
    schema(Result, context=namespace)
    Subject.insert([{"subject_id": s} for s in range(subjects)])
    return SimpleNamespace(Subject=Subject, Result=Result, calls=calls)


def count_statements(connection):
    """Wrap ``connection.query``; returns the list each statement is appended to."""
    sent: list[str] = []
    original = connection.query

    def query(sql, args=(), **kwargs):
        sent.append(sql)
        return original(sql, args, **kwargs)

    connection.query = query
    return sent


def ids(rows) -> set:
    return {row["subject_id"] for row in rows}


# ------------------------------------------------------------------------------------------------ refresh
def test_refresh_sends_a_constant_number_of_statements(server, schema_factory):
    schema, connection = schema_factory(server)
    small = pipeline(schema, subjects=5)
    queue = JobQueue(small.Result())
    assert queue.refresh()["added"] == 5  # declares the job table, loads headings
    small.Subject.insert([{"subject_id": s} for s in range(5, 10)])
    sent = count_statements(connection)
    assert queue.refresh()["added"] == 5
    few = len(sent)
    assert few <= 10, sent
    small.Subject.insert([{"subject_id": s} for s in range(10, 400)])
    sent.clear()
    assert queue.refresh()["added"] == 390
    assert len(sent) == few
    assert queue.refresh() == {"added": 0, "removed": 0, "orphaned": 0, "re_pended": 0}
    assert len(queue.pending) == 400


def test_refresh_never_deletes_a_live_reservation(server, schema_factory):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=3)
    queue = JobQueue(p.Result())
    queue.refresh(delay=-1)
    other = server.connect()
    try:
        held = JobQueue(on(other, p.Result)).claim(1)
        assert len(held) == 1
        q = connection.adapter.quote_identifier
        connection.query(
            f"UPDATE {queue.full_table_name} SET {q('created_time')} = {q('created_time')} - "
            f"{connection.adapter.interval_expr(7200, 'second')}"
        )
        (p.Subject()).delete_quick()  # every key leaves key_source
        result = queue.refresh(stale_timeout=3600)
        assert result["removed"] == 2  # the two stale pending jobs
        assert ids(queue.reserved.to_dicts()) == {held[0].key["subject_id"]}
        assert len(queue) == 1
    finally:
        other.close()


def test_concurrent_refreshes_do_not_deadlock(server, schema_factory):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=0)
    JobQueue(p.Result()).refresh()  # headings loaded here: the threads share the table classes
    p.Subject.insert([{"subject_id": s} for s in range(300)])
    connections = [server.connect() for _ in range(3)]
    added, failures = [], []

    def work(connection):
        try:
            queue = JobQueue(on(connection, p.Result))
            for _ in range(4):
                added.append(queue.refresh(delay=-1)["added"])
        except Exception as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for connection in connections:
        connection.close()
    assert not failures
    assert sum(added) == 300 and max(added) == 300
    assert len(JobQueue(p.Result()).pending) == 300


# ------------------------------------------------------------------------------------------------ claim
def test_claims_of_two_workers_are_disjoint_and_marked(server, schema_factory):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=8)
    JobQueue(p.Result()).refresh(delay=-1)
    other = server.connect()
    try:
        mine = JobQueue(p.Result()).claim(3)
        theirs = JobQueue(on(other, p.Result)).claim(100)
        assert len(mine) == 3 and len(theirs) == 5
        assert not ids(c.key for c in mine) & ids(c.key for c in theirs)
        rows = JobQueue(p.Result()).reserved.to_dicts()
        assert len(rows) == 8
        assert all(row["host"].endswith(HOST_MARK) and row["pid"] > 0 and row["user"] for row in rows)
        by_connection = {row["connection_id"] for row in rows}
        assert by_connection == {connection.connection_id, other.connection_id}
        # nobody else can finish a job it does not hold
        assert not JobQueue(p.Result()).finish(theirs[0].key)
        assert JobQueue(on(other, p.Result)).finish(theirs[0].key)
    finally:
        other.close()


# ------------------------------------------------------------------------------------------------ rescue
def test_reservation_of_a_dead_djruntime_worker_is_rescued(server, schema_factory):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=4)
    JobQueue(p.Result()).refresh(delay=-1)
    other = server.connect()
    held = JobQueue(on(other, p.Result)).claim(1)
    assert len(held) == 1
    # while its holder lives, the reservation is respected
    result = populate(p.Result, reserve_jobs=True)
    assert result["success_count"] == 3
    assert ids(JobQueue(p.Result()).reserved.to_dicts()) == {held[0].key["subject_id"]}
    # the holder dies (SIGKILL, OOM, lost node): its lock goes with its connection
    other_id = other.connection_id
    other.close()
    wait_until_gone(connection, other_id, server.backend)
    assert populate(p.Result, reserve_jobs=True, refresh=False)["success_count"] == 1
    assert sorted(c["subject_id"] for c in p.calls) == [0, 1, 2, 3]
    assert len(JobQueue(p.Result())) == 0


def test_plain_datajoint_reservation_is_respected_while_its_holder_lives(server, schema_factory):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=3)
    JobQueue(p.Result()).refresh(delay=-1)
    other = server.connect()
    plain = Job(on(other, p.Result))
    assert plain.reserve({"subject_id": 1})
    assert populate(p.Result, reserve_jobs=True)["success_count"] == 2
    assert ids(JobQueue(p.Result()).reserved.to_dicts()) == {1}
    other_id = other.connection_id
    other.close()
    wait_until_gone(connection, other_id, server.backend)
    queue = JobQueue(p.Result())
    if server.backend == "postgresql":
        # pg_stat_activity shows every backend's pid to every user: a gone holder is certain
        assert queue.refresh()["orphaned"] == 1
    else:
        # MySQL without the PROCESS privilege cannot tell a dead plain-datajoint holder from a live one
        # of another user: only datajoint's age-based orphan_timeout rescues it
        assert queue.refresh()["orphaned"] == 0
        time.sleep(2.1)  # datajoint compares with CURRENT_TIMESTAMP, whole seconds
        assert queue.refresh(orphan_timeout=1)["orphaned"] == 1
    assert populate(p.Result, reserve_jobs=True)["success_count"] == 1
    assert sorted(c["subject_id"] for c in p.calls) == [0, 1, 2]


# ------------------------------------------------------------------------------------------------ mixed
def test_datajoint_and_djruntime_workers_share_one_queue(server, schema_factory):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=12)
    p.Result.jobs.refresh(delay=-1)  # datajoint's own refresh (djruntime is not installed here)
    other = server.connect()
    try:
        djruntime_batch = JobQueue(on(other, p.Result)).claim(4)  # a live djruntime worker holds 4
        # plain datajoint: lists all pending keys and reserves them one by one; must skip the 4
        plain = p.Result.populate(reserve_jobs=True, max_calls=5, refresh=False)
        assert plain["success_count"] == 5
        assert not ids(djruntime_batch_key.key for djruntime_batch_key in djruntime_batch) & ids(p.calls)
        # djruntime: makes the remaining 3, leaves the live batch alone
        assert populate(p.Result, reserve_jobs=True)["success_count"] == 3
        assert len(p.Result.jobs.reserved) == 4
    finally:
        other_id = other.connection_id
        other.close()
    wait_until_gone(connection, other_id, server.backend)
    # the other worker died without making its batch: datajoint's populate cannot see it ...
    assert p.Result.populate(reserve_jobs=True, refresh=False)["success_count"] == 0
    # ... djruntime rescues it
    assert populate(p.Result, reserve_jobs=True)["success_count"] == 4
    made = [c["subject_id"] for c in p.calls]
    assert sorted(made) == list(range(12))  # every key made exactly once
    assert len(p.Result.jobs) == 0


# ------------------------------------------------------------------------------------------------ statements
def test_statements_per_job_at_most_datajoints(server, schema_factory):
    """Client-side count of the statements datajoint's and djruntime's populate send per job
    (make() sends 3 of its own); on MySQL also the server's session ``Questions`` counter."""
    per_job = {}
    for engine_name in ("datajoint", "djruntime"):
        schema, connection = schema_factory(server)
        p = pipeline(schema, subjects=60)
        p.Result.jobs.refresh(delay=-1)
        _ = p.Result().heading.names  # load what both engines load once
        mysql = server.backend == "mysql"
        questions = "SHOW SESSION STATUS LIKE 'Questions'"
        before = int(connection.query(questions).fetchone()[1]) if mysql else 0
        sent = count_statements(connection)
        if engine_name == "datajoint":
            result = p.Result.populate(reserve_jobs=True, refresh=False)
        else:
            result = populate(p.Result, reserve_jobs=True, refresh=False)
        del connection.query
        assert result["success_count"] == 60
        server_count = int(connection.query(questions).fetchone()[1]) - before - 1 if mysql else None
        per_job[engine_name] = (len(sent) / 60, server_count / 60 if mysql else None)
    print("statements per job", per_job)
    client_dj, server_dj = per_job["datajoint"]
    client_djr, server_djr = per_job["djruntime"]
    assert client_djr <= client_dj
    assert client_djr <= 7.0, per_job  # 3 of make() + start, finish, commit + a share of the claims
    if server_djr is not None:
        assert server_djr <= server_dj and server_djr <= 9.2, per_job


def test_claim_index_is_added_to_a_job_table_that_lacks_it(server, schema_factory):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=2)
    queue = JobQueue(p.Result()).ensure()
    database, table = queue.database, queue.table_name
    if server.backend == "mysql":
        indexes = "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s"
        columns = "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s"
        connection.query(f"DROP INDEX `status` ON {queue.full_table_name}")
    else:
        indexes = "SELECT indexname FROM pg_indexes WHERE schemaname=%s AND tablename=%s"
        columns = "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema=%s AND table_name=%s"
        (name,) = [row[0] for row in connection.query(indexes, args=(database, table)).fetchall() if "status" in row[0]]
        connection.query(f'DROP INDEX "{database}"."{name}"')
    before_columns = sorted(connection.query(columns, args=(database, table)).fetchall())
    before = {row[0] for row in connection.query(indexes, args=(database, table)).fetchall()}
    queue_module._INDEX_CHECKED.clear()  # the index is checked once per process: as a new process would
    JobQueue(p.Result()).ensure()
    after = {row[0] for row in connection.query(indexes, args=(database, table)).fetchall()}
    assert len(after - before) == 1 and next(iter(after - before)).startswith("djr_claim_")
    assert sorted(connection.query(columns, args=(database, table)).fetchall()) == before_columns
    JobQueue(p.Result()).ensure()  # idempotent
    assert {row[0] for row in connection.query(indexes, args=(database, table)).fetchall()} == after
    assert populate(p.Result, reserve_jobs=True)["success_count"] == 2
