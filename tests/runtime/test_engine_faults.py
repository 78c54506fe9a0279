"""Faults inside one process, on real MariaDB and PostgreSQL: a row lock held by another connection,
lock contention in the queue's housekeeping, the timing columns of batched jobs, and the statements one
refresh sends (issue 14 points 2, 3, 6; issue 18 points 1, 2, 4)."""

from __future__ import annotations

import datetime
import threading
import time

import datajoint as dj
import pytest
from engine_helpers import keys_of, on, pipeline, wait_until_gone

from djruntime import engine
from djruntime.engine.populate import install_engine, uninstall_engine
from djruntime.engine.queue import RETRY_MARK, JobQueue, retries_of

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def installed():
    install_engine()
    yield
    uninstall_engine()
    engine.configure(claim_seconds=0.5, max_batch=32, hold_seconds=5, max_retries=3)


def short_lock_timeout(connection, seconds: int = 1) -> None:
    """Lock waits on this session give up after ``seconds`` (MySQL 1205 / PostgreSQL 55P03)."""
    if connection.adapter.backend == "mysql":
        connection.query(f"SET SESSION innodb_lock_wait_timeout = {seconds}")
    else:
        connection.query(f"SET lock_timeout = '{seconds}s'")


def hold_row(server, sql: str, args=()):
    """Another connection that runs ``sql`` in an open transaction (its row locks held) — rolled back
    by calling the returned function."""
    other = server.connect()
    other.start_transaction()
    other.query(sql, args=args)

    def release():
        try:
            other.cancel_transaction()
        finally:
            other.close()

    return release


# ------------------------------------------------------------------------------ issue 14.3: held row lock
def test_lock_wait_timeout_in_make_requeues_the_job_not_an_error(server, schema_factory, installed):
    """Another session holds the row make() inserts (a stalled worker's open transaction): the lock wait
    times out, and the job goes back to pending with its retry noted — not recorded as make()'s error.
    Once the lock is gone the job is made; retries are bounded (then it is an error)."""
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=3, params=(1,))
    short_lock_timeout(connection)
    p.Result.jobs.refresh()
    release = hold_row(server, f"INSERT INTO {p.Result.full_table_name} (subject_id, param_id, value) "
                               "VALUES (1, 1, 0.5)")
    try:
        result = p.Result.populate(reserve_jobs=True)
        assert result["error_list"] == [] and result["success_count"] == 2
        job = (p.Result.jobs & {"subject_id": 1}).fetch1()
        assert job["status"] == "pending", job
        assert job["error_message"].startswith(RETRY_MARK + "1: ")
        assert retries_of(job["error_message"]) >= 1
    finally:
        release()
    time.sleep(1.1)  # a lock-wait retry is scheduled 1 s later
    result = p.Result.populate(reserve_jobs=True)
    assert result == {"success_count": 1, "error_list": []}
    assert keys_of(p.Result.to_dicts()) == {(0, 1), (1, 1), (2, 1)} and len(p.Result.jobs) == 0


def test_lock_wait_retries_are_bounded(server, schema_factory, installed):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=1, params=(1,))
    engine.configure(max_retries=1)
    short_lock_timeout(connection)
    release = hold_row(server, f"INSERT INTO {p.Result.full_table_name} (subject_id, param_id, value) "
                               "VALUES (0, 1, 0.5)")
    try:
        first = p.Result.populate(reserve_jobs=True, suppress_errors=True)
        assert first == {"success_count": 0, "error_list": []}  # back to pending (retry 1), 1 s later
        assert p.Result.jobs.fetch1("status") == "pending"
        time.sleep(1.1)
        result = p.Result.populate(reserve_jobs=True, suppress_errors=True)  # the second wait: an error
    finally:
        release()
    [(key, message)] = result["error_list"]
    job = p.Result.jobs.fetch1()
    assert job["status"] == "error" and job["error_message"] == message
    assert "1205" in message or "lock" in message.lower()


def test_a_make_error_is_still_an_error(server, schema_factory, installed):
    """Look-alike: make() raising its own error (even one naming a lock) is recorded at once."""
    schema, _ = schema_factory(server)

    def fails(table, key):
        raise RuntimeError("Lock wait timeout exceeded (but raised by make itself)")

    p = pipeline(schema, subjects=1, params=(1,), on_make=fails)
    result = p.Result.populate(reserve_jobs=True, suppress_errors=True)
    assert len(result["error_list"]) == 1
    assert p.Result.jobs.fetch1("status") == "error"


# ------------------------------------------------------------------------------ issue 14.2: housekeeping
def test_rescue_waits_out_a_row_lock_instead_of_failing(server, schema_factory, installed):
    """rescue() meets a lock-wait timeout on a dead worker's reservation (another session holds the
    row): it retries and succeeds once the lock is gone; a populate around it never fails."""
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    queue = p.Result.jobs
    queue.refresh()
    dead = server.connect()
    assert len(JobQueue(on(dead, p.Result)).claim(2)) == 2
    dead_id = dead.connection_id
    dead.close()  # its worker lock is gone: its reservations are to be rescued
    wait_until_gone(connection, dead_id, server.backend)
    short_lock_timeout(connection)
    q = connection.adapter.quote_identifier
    release = hold_row(server, f"SELECT * FROM {queue.full_table_name} WHERE {q('subject_id')} = 0 FOR UPDATE")
    timer = threading.Timer(2.2, release)
    timer.start()
    try:
        began = time.monotonic()
        result = p.Result.populate(reserve_jobs=True, refresh=False)  # rescue first, then claim
    finally:
        timer.join()
    assert result == {"success_count": 2, "error_list": []}, result
    assert time.monotonic() - began >= 1.0  # it did wait on the held row
    assert len(p.Result.jobs) == 0


def test_mysql_rescue_changes_rows_by_primary_key(mysql_server, schema_factory):
    """Lock order (MySQL): the rescue finds dead reservations with a lock-free read, then updates them
    by primary key — the order make()'s finish locks rows in — so the two never deadlock."""
    schema, connection = schema_factory(mysql_server)
    p = pipeline(schema, subjects=2, params=(1,))
    queue = JobQueue(p.Result()).ensure()
    queue.refresh()
    dead = mysql_server.connect()
    assert len(JobQueue(on(dead, p.Result)).claim(2)) == 2
    dead_id = dead.connection_id
    dead.close()
    wait_until_gone(connection, dead_id, "mysql")
    sent = _statements(connection, lambda: queue.rescue())
    updates = [sql for sql in sent if sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1 and " WHERE (`subject_id`, `param_id`) IN (" in updates[0]
    assert len(queue.reserved) == 0


def _statements(connection, action) -> list[str]:
    sent = []
    query = connection.query

    def counting(sql, *args, **kwargs):
        sent.append(sql)
        return query(sql, *args, **kwargs)

    connection.query = counting
    try:
        action()
    finally:
        del connection.query
    return sent


# ------------------------------------------------------------------------------ issue 18.1 / 18.4: timing
@pytest.mark.parametrize("fail", [False, True], ids=["success", "error"])
def test_completed_minus_reserved_is_each_jobs_own_time(server, schema_factory, installed, jobs_config, fail):
    """completed_time is the clock time at the end (PostgreSQL: not the transaction's start), and with a
    batch of claims reserved_time is each job's own start: completed - reserved = its make() time."""
    pause = 0.15

    def slow(table, key):
        time.sleep(pause)
        if fail:
            raise ValueError("fails after its pause")

    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=5, params=(1,), on_make=slow)
    jobs_config.keep_completed = True
    engine.configure(claim_seconds=60)  # after the first job, the rest in one batch
    p.Result.populate(reserve_jobs=True, suppress_errors=True)
    rows = (p.Result.jobs.errors if fail else p.Result.jobs.completed).to_dicts()
    assert len(rows) == 5
    for job in rows:
        took = job["completed_time"] - job["reserved_time"]
        assert datetime.timedelta(seconds=pause * 0.9) <= took < datetime.timedelta(seconds=pause * 1.9), job


# ------------------------------------------------------------------------------ issue 18.2: statements
def _refresh_cleanup_statements(server, schema_factory, use_djruntime: bool) -> tuple[list[str], dict]:
    """datajoint's test_refresh_cleanup_is_set_based: 20 success records whose keys vanished, backdated;
    the statements one ``jobs.refresh()`` sends."""
    schema, connection = schema_factory(server)

    @schema
    class Raw(dj.Manual):
        definition = """
        raw_id : int32
        ---
        v : float32
        """

    @schema
    class Proc(dj.Computed):
        definition = """
        -> Raw
        ---
        w : float32
        """

        def make(self, key):
            self.insert1(dict(key, w=2 * (Raw & key).fetch1("v")))

    n = 20
    saved = dj.config.jobs.keep_completed
    dj.config.jobs.keep_completed = True
    if use_djruntime:
        install_engine()
    try:
        Raw.insert([dict(raw_id=i, v=float(i)) for i in range(n)])
        Proc.populate(reserve_jobs=True)
        Raw.delete(prompt=False)
        q = connection.adapter.quote_identifier
        connection.query(f"UPDATE {Proc.jobs.full_table_name} SET {q('created_time')} = '2000-01-01'")
        jobs = Proc.jobs
        result = {}
        sent = _statements(jobs.connection, lambda: result.update(jobs.refresh()))
        assert result["removed"] == n and len(Proc.jobs) == 0
    finally:
        dj.config.jobs.keep_completed = saved
        uninstall_engine()
    return sent, result


def test_refresh_sends_no_more_statements_than_datajoint(server, schema_factory):
    datajoint_sent, _ = _refresh_cleanup_statements(server, schema_factory, use_djruntime=False)
    djruntime_sent, _ = _refresh_cleanup_statements(server, schema_factory, use_djruntime=True)
    deletes = [sql for sql in djruntime_sent if sql.lstrip().upper().startswith("DELETE")]
    assert 1 <= len(deletes) <= 2 and len(djruntime_sent) < 20
    assert len(djruntime_sent) <= len(datajoint_sent), (djruntime_sent, datajoint_sent)
    assert not any("pg_indexes" in sql for sql in djruntime_sent)  # the claim index: once per process


def test_second_refresh_has_no_catalog_queries(server, schema_factory, installed):
    """The fixed cost of a refresh: after the first, no catalog lookups at all (issue 14.6)."""
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=3, params=(1, 2))
    p.Result.jobs.refresh()
    sent = _statements(connection, lambda: p.Result.jobs.refresh())
    lookups = ("information_schema.tables", "information_schema.columns", "key_column_usage", "show full columns",
               "obj_description", "pg_indexes", "~lineage", "information_schema.statistics")
    catalog = [sql for sql in sent if any(lookup in sql.lower() for lookup in lookups)]
    assert catalog == [], catalog


def test_refresh_declares_a_job_table_dropped_since(server, schema_factory, installed):
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    p.Result.jobs.refresh()
    connection.query(f"DROP TABLE {p.Result.jobs.full_table_name}")
    assert p.Result.jobs.refresh()["added"] == 2
    assert p.Result.populate(reserve_jobs=True)["success_count"] == 2


def test_rescue_and_finish_under_contention_never_deadlock(mysql_server, schema_factory):
    """Issue 14.2 as it happened (MySQL, 8 workers): rescues run while workers claim and finish jobs, and
    dead workers' reservations wait to be rescued. Neither side may meet a deadlock or a lock wait
    that escapes: the rescue retries, and it locks rows in the order finish does."""
    schema, connection = schema_factory(mysql_server)
    p = pipeline(schema, subjects=150, params=(1, 2))
    JobQueue(p.Result()).refresh()
    deadline = time.monotonic() + 6
    failures: list[BaseException] = []
    finished = []

    def dead_workers():
        while time.monotonic() < deadline:  # reservations whose holder is gone, over and over
            dead = mysql_server.connect()
            JobQueue(on(dead, p.Result)).claim(3)
            dead.close()
            time.sleep(0.05)

    def worker():
        own = mysql_server.connect()
        queue = JobQueue(on(own, p.Result))
        try:
            while time.monotonic() < deadline:
                for claim in queue.claim(2):
                    own.start_transaction()
                    try:
                        finished.append(queue.finish(claim.key, 0.0))
                        own.commit_transaction()
                    except BaseException:
                        own.cancel_transaction()
                        raise
        except BaseException as error:
            failures.append(error)
        finally:
            own.close()

    def rescuer():
        own = mysql_server.connect()
        queue = JobQueue(on(own, p.Result))
        try:
            while time.monotonic() < deadline:
                queue.rescue()
        except BaseException as error:
            failures.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=target) for target in [dead_workers] + [worker] * 6 + [rescuer] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == [], failures
    assert len(finished) > 50


@pytest.mark.parametrize("refresh", [True, False], ids=["refresh", "rescue"])
def test_session_lost_between_jobs_does_not_stop_the_populate(server, schema_factory, installed, refresh):
    """The session is ended while no make() runs (before the populate's refresh / rescue and claim): on
    MySQL datajoint reconnects by itself; on PostgreSQL the queue's housekeeping opens a fresh session
    the same way, instead of failing the populate."""
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=3, params=(1,))
    p.Result.jobs.refresh()
    mysql = server.backend == "mysql"
    session = connection.query("SELECT CONNECTION_ID()" if mysql else "SELECT pg_backend_pid()").fetchone()[0]
    observer = server.connect()
    try:
        if mysql:
            observer.query(f"KILL CONNECTION {int(session)}")
        else:
            observer.query("SELECT pg_terminate_backend(%s)", args=(int(session),))
        wait_until_gone(observer, session, server.backend)
    finally:
        observer.close()
    result = p.Result.populate(reserve_jobs=True, refresh=refresh)
    assert result == {"success_count": 3, "error_list": []}
    assert len(p.Result.jobs) == 0
