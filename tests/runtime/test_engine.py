"""djruntime's populate engine on real MariaDB and PostgreSQL: a drop-in for datajoint's AutoPopulate 2.0."""

from __future__ import annotations

import os
import signal
import threading

import datajoint as dj
import pytest
from datajoint.autopopulate import AutoPopulate
from engine_helpers import keys_of, pipeline

import djruntime
from djruntime import context, engine
from djruntime.engine.populate import install_engine, uninstall_engine
from djruntime.engine.sessions import worker_identity


@pytest.fixture
def installed():
    install_engine()
    yield
    uninstall_engine()


def statuses(p) -> dict:
    return {(row["subject_id"], row["param_id"]): row["status"] for row in p.Result.jobs.to_dicts()}




# ------------------------------------------------------------------------------------------------ install
def test_install_routes_and_uninstall_restores(server, schema_factory):
    originals = {name: AutoPopulate.__dict__[name] for name in ("populate", "progress", "jobs", "upstream")}
    djruntime.install(strict_provenance=False)
    djruntime.install(strict_provenance=False)  # idempotent
    try:
        assert AutoPopulate.__dict__["populate"] is not originals["populate"]
        schema, _ = schema_factory(server)
        p = pipeline(schema, subjects=2)
        assert type(p.Result.jobs).__name__ == "JobQueue"
        assert p.Result.progress() == (4, 4)
        assert p.Result.populate(reserve_jobs=True) == {"success_count": 4, "error_list": []}
        assert p.Result.progress() == (0, 4)
        assert p.Result.jobs.progress()["total"] == 0
    finally:
        djruntime.uninstall()
        djruntime.uninstall()
    assert {name: AutoPopulate.__dict__[name] for name in originals} == originals


# ------------------------------------------------------------------------------------------------ basics
def test_exactly_once_single_process(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=6)
    result = p.Result.populate(reserve_jobs=True)
    assert result == {"success_count": 12, "error_list": []}
    assert len(p.calls) == 12 and len(keys_of(p.calls)) == 12
    assert keys_of(p.Result.to_dicts()) == {(s, q) for s in range(6) for q in (1, 2)}
    assert len(p.Result.Item()) == 12
    assert len(p.Result.jobs) == 0  # keep_completed is off: finished jobs are deleted
    assert p.Result.populate(reserve_jobs=True) == {"success_count": 0, "error_list": []}
    assert len(p.calls) == 12


def test_direct_mode_and_restrictions(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=3)
    assert p.Result.populate({"subject_id": 1}) == {"success_count": 2, "error_list": []}
    assert keys_of(p.calls) == {(1, 1), (1, 2)}
    assert p.Result.populate("subject_id = 2", reserve_jobs=True)["success_count"] == 2
    assert keys_of(p.calls) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert not p.Result.jobs.reserved


def test_errors_recorded_with_stack(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=2, fail_on={1})
    with pytest.raises(ValueError, match="boom 1"):
        p.Result.populate(reserve_jobs=True)
    errors = (p.Result.jobs.errors).to_dicts()
    assert len(errors) == 1
    error = errors[0]
    assert error["error_message"] == "ValueError: boom 1"
    assert "Traceback" in error["error_stack"] and "boom 1" in error["error_stack"]
    assert error["completed_time"] is not None
    failed = {"subject_id": error["subject_id"], "param_id": error["param_id"]}
    assert not (p.Result & failed)  # the master row it inserted was rolled back
    assert not p.Result.jobs.reserved  # the batch it held was released
    assert not (p.Result.jobs & "status not in ('pending', 'error')")


def test_suppress_errors_and_exception_objects(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=3, fail_on={0})
    result = p.Result.populate(reserve_jobs=True, suppress_errors=True)
    assert result["success_count"] == 4
    assert sorted((k["subject_id"], k["param_id"], m) for k, m in result["error_list"]) == [
        (0, 1, "ValueError: boom 0"),
        (0, 2, "ValueError: boom 0"),
    ]
    assert len(p.Result.jobs.errors) == 2
    # errors stay errors: nothing to do until they are cleared
    assert p.Result.populate(reserve_jobs=True, suppress_errors=True) == {"success_count": 0, "error_list": []}
    (p.Result.jobs.errors).delete()
    again = p.Result.populate(reserve_jobs=True, suppress_errors=True, return_exception_objects=True)
    assert again["success_count"] == 0
    assert [type(e) for _, e in again["error_list"]] == [ValueError, ValueError]
    assert str(again["error_list"][0][1]).startswith("boom 0")


def test_priority_order_and_priority_limit(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=3, params=(1,))
    jobs = p.Result.jobs
    jobs.refresh({"subject_id": 2}, priority=1, delay=-1)
    jobs.refresh({"subject_id": 0}, priority=3, delay=-1)
    jobs.refresh({"subject_id": 1}, priority=7, delay=-1)
    assert p.Result.populate(reserve_jobs=True, refresh=False, priority=3)["success_count"] == 2
    assert [k["subject_id"] for k in p.calls] == [2, 0]  # most urgent first; priority 7 > 3 waits
    assert p.Result.populate(reserve_jobs=True, refresh=False)["success_count"] == 1
    assert [k["subject_id"] for k in p.calls] == [2, 0, 1]


def test_scheduled_jobs_wait(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    added = p.Result.jobs.refresh(delay=3600)
    assert added["added"] == 2
    assert p.Result.populate(reserve_jobs=True, refresh=False)["success_count"] == 0
    assert p.calls == [] and len(p.Result.jobs.pending) == 2
    p.Result.jobs.refresh({"subject_id": 5})  # adds nothing; the scheduled ones keep waiting
    assert p.Result.populate(reserve_jobs=True, refresh=False)["success_count"] == 0


def test_ignore(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    p.Result.jobs.ignore({"subject_id": 0, "param_id": 1})
    assert p.Result.populate(reserve_jobs=True)["success_count"] == 1
    assert keys_of(p.calls) == {(1, 1)}
    assert statuses(p) == {(0, 1): "ignore"}


def test_keep_completed_and_re_pend(server, schema_factory, installed, jobs_config):
    jobs_config.keep_completed = True
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    assert p.Result.populate(reserve_jobs=True)["success_count"] == 2
    done = p.Result.jobs.completed.to_dicts()
    assert len(done) == 2
    assert all(row["duration"] is not None and row["completed_time"] is not None for row in done)
    assert all(row["status"] == "success" for row in done)
    (p.Result & {"subject_id": 1}).delete(prompt=False)
    assert p.Result.jobs.refresh(delay=-1)["re_pended"] == 1
    assert p.Result.populate(reserve_jobs=True)["success_count"] == 1
    assert [k["subject_id"] for k in p.calls] == [0, 1, 1]
    assert len(p.Result.jobs.completed) == 2


def test_max_calls(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=5)
    assert p.Result.populate(reserve_jobs=True, max_calls=3)["success_count"] == 3
    assert len(p.calls) == 3
    assert len(p.Result.jobs.pending) == 7 and not p.Result.jobs.reserved
    assert p.Result.populate(reserve_jobs=True, max_calls=100)["success_count"] == 7


def test_claimed_key_already_present_is_completed_without_make(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    p.Result.jobs.refresh(delay=-1)
    # the key gets made behind the queue's back (e.g. a direct populate elsewhere)
    assert p.Result.populate({"subject_id": 0})["success_count"] == 1
    assert len(p.Result.jobs) == 2
    assert p.Result.populate(reserve_jobs=True, refresh=False)["success_count"] == 1
    assert [k["subject_id"] for k in p.calls] == [0, 1]
    assert len(p.Result.jobs) == 0


def test_key_made_by_another_worker_during_make_is_not_an_error(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    other = server.connect()
    try:
        def race(table, key):
            if key["subject_id"] == 0:  # another worker commits the same key while this make() runs
                q = table.connection.adapter.quote_identifier
                other.query(
                    f"INSERT INTO {table.full_table_name} ({q('subject_id')}, {q('param_id')}, {q('value')}) "
                    "VALUES (%s, %s, %s)",
                    args=(key["subject_id"], key["param_id"], -1.0),
                )

        p = pipeline(schema, subjects=2, params=(1,), on_make=None)
        # insert1 in make() would block on the other transaction's row if it ran first: put the
        # other worker's row in before make() inserts, from inside make().
        p.Result.make_original = p.Result.make

        def make(self, key):
            race(self, key)
            return p.Result.make_original(self, key)

        p.Result.make = make
        result = p.Result.populate(reserve_jobs=True)
        assert result == {"success_count": 1, "error_list": []}
        assert (p.Result & {"subject_id": 0}).fetch1("value") == -1.0
        assert len(p.Result.jobs) == 0
    finally:
        other.close()


# ------------------------------------------------------------------------------------------------ tripartite
def test_tripartite_make_with_hash_check(server, schema_factory, installed):
    phases: list[tuple[str, int]] = []

    def record(window):
        if window.table.__class__.__name__ == "Spectrum":
            phases.append((window.phase, window.key["subject_id"]))

    context.on_enter(record)
    schema, _ = schema_factory(server)
    drift = {"value": 0}

    class Subject(dj.Manual):
        definition = """
        subject_id : int32
        ---
        weight : float64
        """

    class Spectrum(dj.Computed):
        definition = """
        -> Subject
        ---
        total : float64
        """

        def make_fetch(self, key):
            weight = (Subject & key).fetch1("weight")
            if key["subject_id"] == 1:
                drift["value"] += 1  # the upstream "changes" between the two fetches
                return (weight + drift["value"],)
            return (weight,)

        def make_compute(self, key, weight):
            return (weight * 2,)

        def make_insert(self, key, total):
            self.insert1({**key, "total": total})

    namespace = {"Subject": Subject, "Spectrum": Spectrum}
    schema(Subject, context=namespace)
    schema(Spectrum, context=namespace)
    Subject.insert([(0, 1.5), (1, 2.5)])
    try:
        result = Spectrum.populate(reserve_jobs=True, suppress_errors=True)
    finally:
        context._enter_listeners.remove(record)
    assert result["success_count"] == 1
    assert [m for _, m in result["error_list"]] == [
        "DataJointError: Referential integrity failed! The `make_fetch` data has changed"
    ]
    assert (Spectrum & {"subject_id": 0}).fetch1("total") == 3.0
    assert not (Spectrum & {"subject_id": 1})
    assert (Spectrum.jobs & {"subject_id": 1}).fetch1("status") == "error"
    assert [p for p, s in phases if s == 0] == ["make_fetch", "make_compute", "make_fetch", "make_insert"]
    assert [p for p, s in phases if s == 1] == ["make_fetch", "make_compute", "make_fetch"]


# ------------------------------------------------------------------------------------------------ metadata
def test_job_metadata(server, schema_factory, installed, jobs_config):
    jobs_config.add_job_metadata = True
    schema, connection = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,))
    jobs_config.add_job_metadata = False
    assert p.Result.populate(reserve_jobs=True)["success_count"] == 2
    q = connection.adapter.quote_identifier
    rows = connection.query(
        f"SELECT {q('_job_start_time')}, {q('_job_duration')}, {q('_job_version')} FROM {p.Result.full_table_name}"
    ).fetchall()
    assert len(rows) == 2
    assert all(start is not None and duration is not None and duration >= 0 for start, duration, _ in rows)


# ------------------------------------------------------------------------------------------------ interrupts
def test_keyboard_interrupt_in_make_returns_job_to_pending(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=3, params=(1,), interrupt_on={1})
    with pytest.raises(KeyboardInterrupt):
        p.Result.populate(reserve_jobs=True, suppress_errors=True)  # never swallowed
    assert not p.Result.jobs.reserved
    assert not p.Result.jobs.errors
    assert not (p.Result & {"subject_id": 1})  # its master row was rolled back
    assert len(p.Result.jobs.pending) == 3 - len(p.Result())
    # the queue goes on afterwards
    p.Result.populate("subject_id != 1", reserve_jobs=True)
    assert keys_of(p.Result.to_dicts()) == {(0, 1), (2, 1)}
    assert keys_of(p.Result.jobs.pending.to_dicts()) == {(1, 1)}


def test_sigterm_in_make_rolls_back_and_stops(server, schema_factory, installed):
    schema, _ = schema_factory(server)

    def terminate(table, key):
        if key["subject_id"] == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    p = pipeline(schema, subjects=3, params=(1,), on_make=terminate)
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit, match="SIGTERM"):
        p.Result.populate(reserve_jobs=True, suppress_errors=True)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert not p.Result.jobs.reserved and not p.Result.jobs.errors
    assert not (p.Result & {"subject_id": 1})
    assert keys_of(p.Result.to_dicts()) | keys_of(p.Result.jobs.pending.to_dicts()) == {(0, 1), (1, 1), (2, 1)}


def _interrupt_run(p, exception, suppress_errors):
    """populate() of a pipeline whose make() for subject 0 raises ``exception``: what was raised or
    returned, and the job table afterwards (status and error_message per key)."""
    try:
        result = p.Result.populate(reserve_jobs=True, suppress_errors=suppress_errors)
        outcome = ("returned", result["success_count"], [(k, m) for k, m in result["error_list"]])
    except (KeyboardInterrupt, SystemExit) as error:
        outcome = ("raised", type(error).__name__, str(error))
    jobs = {(r["subject_id"], r["param_id"]): (r["status"], r["error_message"]) for r in p.Result.jobs.to_dicts()}
    made = keys_of(p.Result.to_dicts())
    return outcome, jobs, made


@pytest.mark.parametrize("exception", [KeyboardInterrupt, lambda: SystemExit("SIGTERM received")],
                         ids=["KeyboardInterrupt", "SystemExit"])
@pytest.mark.parametrize("suppress_errors", [False, True])
def test_on_interrupt_error_reproduces_datajoint_exactly(server, schema_factory, exception, suppress_errors):
    """The one switch ``on_interrupt="error"``: an interrupted job is recorded, raised and swallowed
    exactly as datajoint 2.3.5 does it (datajoint's test_sigint / test_sigterm)."""

    def interrupt(table, key):
        if key["subject_id"] == 0:
            raise exception()

    runs = {}
    for engine_name in ("datajoint", "djruntime"):
        schema, _ = schema_factory(server)
        p = pipeline(schema, subjects=3, params=(1,), on_make=interrupt)
        if engine_name == "djruntime":
            install_engine()
            engine.configure(on_interrupt="error")
        try:
            runs[engine_name] = _interrupt_run(p, exception, suppress_errors)
        finally:
            engine.configure(on_interrupt="pending")
            uninstall_engine()
    assert runs["djruntime"] == runs["datajoint"]
    outcome, jobs, _ = runs["djruntime"]
    assert jobs[(0, 1)][0] == "error" and type(exception()).__name__ in jobs[(0, 1)][1]


def test_on_interrupt_pending_is_the_default(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    p = pipeline(schema, subjects=2, params=(1,), interrupt_on={0})
    assert engine.settings.on_interrupt == "pending"
    with pytest.raises(KeyboardInterrupt):
        p.Result.populate(reserve_jobs=True, suppress_errors=True)
    assert not p.Result.jobs.errors and not p.Result.jobs.reserved
    assert keys_of(p.Result.jobs.pending.to_dicts()) >= {(0, 1)}


def test_interrupt_in_the_middle_of_a_query_leaves_nothing_reserved(server, schema_factory, installed):
    """Ctrl-C while make() waits on the server: the session may be cut mid-protocol; the engine replaces
    it (the server rolls the old one back) and still returns the job to pending."""
    schema, _ = schema_factory(server)

    def slow_query(table, key):
        if key["subject_id"] == 1:
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
            sleep = "SLEEP" if table.connection.adapter.backend == "mysql" else "pg_sleep"
            table.connection.query(f"SELECT {sleep}(2)").fetchall()

    p = pipeline(schema, subjects=3, params=(1,), on_make=slow_query)
    with pytest.raises(KeyboardInterrupt):
        p.Result.populate(reserve_jobs=True)
    assert not p.Result.jobs.reserved and not p.Result.jobs.errors
    assert not (p.Result & {"subject_id": 1})
    assert {r["subject_id"] for r in p.Result.jobs.pending.to_dicts()} >= {1}
    p.Result.populate("subject_id != 1", reserve_jobs=True)  # the worker's connection still works
    assert keys_of(p.Result.to_dicts()) == {(0, 1), (2, 1)}


def test_make_kwargs_and_progress_bar(server, schema_factory, installed, capsys):
    schema, _ = schema_factory(server)
    seen = []

    class Subject(dj.Manual):
        definition = """
        subject_id : int32
        """

    class Scaled(dj.Computed):
        definition = """
        -> Subject
        ---
        value : float64
        """

        def make(self, key, factor=1.0):
            seen.append(factor)
            self.insert1({**key, "value": key["subject_id"] * factor})

    namespace = {"Subject": Subject, "Scaled": Scaled}
    schema(Subject, context=namespace)
    schema(Scaled, context=namespace)
    Subject.insert([{"subject_id": s} for s in range(3)])
    result = Scaled.populate(reserve_jobs=True, make_kwargs={"factor": 2.5}, display_progress=True)
    assert result == {"success_count": 3, "error_list": []}
    assert seen == [2.5, 2.5, 2.5]
    assert sorted(Scaled().to_arrays("value")) == [0.0, 2.5, 5.0]
    assert "Scaled" in capsys.readouterr().err  # tqdm's bar, named after the table
    assert Scaled.progress() == (0, 3)


def test_job_taken_over_during_make_is_rolled_back(server, schema_factory, installed):
    """Ownership-checked finish: if another worker owns the job by the time make() ends (e.g. an
    orphan_timeout rescued it and someone claimed it), this make()'s rows are rolled back."""
    schema, connection = schema_factory(server)
    other = server.connect()
    try:
        other_id = worker_identity(other).connection_id  # a live worker: holds its lock

        def take_over(table, key):
            if key["subject_id"] == 0:
                q = connection.adapter.quote_identifier
                other.query(
                    f"UPDATE {table.jobs.full_table_name} SET {q('connection_id')} = %s WHERE {q('subject_id')} = 0",
                    args=(other_id,),
                )

        p = pipeline(schema, subjects=2, params=(1,), on_make=take_over)
        result = p.Result.populate(reserve_jobs=True)
        assert result == {"success_count": 1, "error_list": []}
        assert keys_of(p.Result.to_dicts()) == {(1, 1)}  # key 0's make() was rolled back
        assert not p.Result.Item & {"subject_id": 0}
        assert keys_of(p.Result.jobs.reserved.to_dicts()) == {(0, 1)}  # still the other worker's
    finally:
        other.close()
