"""Strict provenance end to end: ``djruntime.install(strict_provenance=...)`` + ``Table.populate()``: the
refusal recorded as the job's error, warn mode's warnings returned, every phase of a tripartite make()
and forked workers gated, and the work the engine does for make() gated too.
"""

from __future__ import annotations

import pytest
import strict_pipeline as pipeline
from strict_helpers import KEY, insert_own, mysql, names, snapshot

import djruntime
from djruntime import ProvenanceError, strict


FORBIDDEN_PARAM = 2  # the make() of keys with this param_id reads an unrelated table


def _sideways_body(p):
    def body(self, key):
        self.insert1(dict(key, result=1.0))
        self.Item.insert(dict(key, item=i, value=float(i)) for i in range(3))
        if key["param_id"] == FORBIDDEN_PARAM:
            len(p.Other())

    return body


def _statuses(p):
    return sorted((job["param_id"], job["status"]) for job in p.Analysis.jobs.to_dicts())


def test_populate_records_the_violation_as_the_jobs_error(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Analysis"] = _sideways_body(p)
    before_items = len(p.Analysis.Item())
    result = p.Analysis.populate(reserve_jobs=True, suppress_errors=True)
    failed = [key for key, _ in result["error_list"]]
    assert sorted(k["param_id"] for k in failed) == [FORBIDDEN_PARAM] * 3  # 4 sessions, one was pre-made
    assert all("ProvenanceError" in str(message) and "Other" in str(message) for _, message in result["error_list"])
    # the violating jobs left nothing behind and are recorded as errors, never left reserved
    assert len(p.Analysis & {"param_id": FORBIDDEN_PARAM}) == 1  # the pre-made OTHER_KEY row only
    assert len(p.Analysis.Item()) == before_items + 3 * 4
    statuses = {status for _, status in _statuses(p)}
    assert "reserved" not in statuses
    errors = [job for job in p.Analysis.jobs.to_dicts() if job["status"] == "error"]
    assert len(errors) == 3 and all("read Other" in job["error_message"] for job in errors)


def test_populate_raises_the_provenance_error_to_the_caller(pipe, installed):
    installed("raise")
    pipeline.BODIES["Analysis"] = _sideways_body(pipe)
    with pytest.raises(ProvenanceError) as caught:
        pipe.Analysis.populate({"param_id": FORBIDDEN_PARAM}, reserve_jobs=True)
    assert "Other" in str(caught.value) and "not upstream of Analysis" in str(caught.value)
    statuses = [status for _, status in _statuses(pipe)]
    assert statuses.count("error") == 1 and "reserved" not in statuses  # the rest wait as 'pending'
    assert len(pipe.Analysis & {"param_id": FORBIDDEN_PARAM}) == 1  # only the pre-made row


def test_a_make_raising_its_own_error_reaches_the_caller_and_the_job_is_error(pipe, installed):
    installed(True)
    mine = ZeroDivisionError("the user's own error")

    def body(self, key):
        self.insert1(dict(key, result=1.0))
        raise mine

    pipeline.BODIES["Analysis"] = body
    with pytest.raises(ZeroDivisionError) as caught:
        pipe.Analysis.populate(reserve_jobs=True, max_calls=1)
    assert caught.value is mine
    assert [status for _, status in _statuses(pipe)].count("error") == 1
    assert "reserved" not in {status for _, status in _statuses(pipe)}


def test_warn_mode_populates_and_returns_the_warnings(pipe, installed):
    installed("warn")
    pipeline.BODIES["Analysis"] = _sideways_body(pipe)
    result = pipe.Analysis.populate()
    assert result["error_list"] == [] and len(pipe.Analysis()) == 8
    assert len(result["provenance_warnings"]) == 1 and "Other" in result["provenance_warnings"][0]
    assert strict.collect_warnings(pipe.Analysis) == []  # handed over once
    # a second populate with nothing left to make reports nothing new
    assert pipe.Analysis.populate()["provenance_warnings"] == []


def test_strict_off_gives_the_same_results_as_without_the_gate(pipe, installed):
    installed(False)
    pipeline.BODIES["Analysis"] = _sideways_body(pipe)
    result = pipe.Analysis.populate()
    assert result["error_list"] == [] and len(pipe.Analysis()) == 8
    assert not strict.is_installed()


def test_tripartite_make_is_gated_in_every_phase(pipe, installed):
    installed(True)
    phases = {}

    def make_fetch(self, key):
        phases.setdefault("fetch", 0)
        phases["fetch"] += 1
        if key["param_id"] == FORBIDDEN_PARAM:
            return (len(pipe.Other()),)
        return (len(pipe.Session.Epoch & key),)

    def make_compute(self, key, epochs):
        return (float(epochs),)

    def make_insert(self, key, result):
        self.insert1(dict(key, result=result))

    cls = pipe.Analysis
    saved = cls.__dict__["make"]
    del cls.make  # datajoint's generator make() drives make_fetch / make_compute / make_insert
    cls.make_fetch, cls.make_compute, cls.make_insert = make_fetch, make_compute, make_insert
    try:
        result = cls.populate(suppress_errors=True)
    finally:
        cls.make = saved
        del cls.make_fetch, cls.make_compute, cls.make_insert
    assert len(result["error_list"]) == 3
    assert all("Other" in str(message) for _, message in result["error_list"])
    assert (cls & {"param_id": 1}).to_arrays("result").tolist() == [2.0] * 4


def test_self_upstream_reads_pass_the_gate(any_pipe, installed):
    installed(True)
    p = any_pipe

    def body(self, key):
        epochs = len(p.Session.Epoch & key)  # an ancestor's Part: readable, though not in self.upstream
        threshold = self.upstream[p.Param].to_dicts()[0]["threshold"]
        note = self.upstream[p.Session].to_dicts()[0]["session_note"]
        self.insert1(dict(key, result=epochs * threshold + len(note)))

    pipeline.BODIES["Analysis"] = body
    result = p.Analysis.populate({"param_id": 1}, reserve_jobs=True)
    assert result["error_list"] == [] and result["success_count"] == 4
    assert sorted((p.Analysis & {"param_id": 1}).to_arrays("result").tolist()) == [1.0] * 4


def test_forked_workers_are_gated(pipe, installed):
    installed(True)
    pipeline.BODIES["Analysis"] = _sideways_body(pipe)
    result = pipe.Analysis.populate(reserve_jobs=True, suppress_errors=True, processes=2)
    assert sorted(key["param_id"] for key, _ in result["error_list"]) == [FORBIDDEN_PARAM] * 3
    assert len(pipe.Analysis & {"param_id": FORBIDDEN_PARAM}) == 1  # the pre-made row only
    assert len(pipe.Analysis & {"param_id": 1}) == 4
    statuses = [status for _, status in _statuses(pipe)]
    assert statuses.count("error") == 3 and "reserved" not in statuses


def test_warn_mode_with_forked_workers_returns_their_warnings(pipe, installed):
    installed("warn")
    pipeline.BODIES["Analysis"] = _sideways_body(pipe)
    result = pipe.Analysis.populate(reserve_jobs=True, processes=2)
    assert result["error_list"] == [] and len(pipe.Analysis()) == 8
    warnings = result.get("provenance_warnings", [])
    assert warnings and all("Other" in w for w in warnings)
    assert len(warnings) <= 2  # the one distinct violation, reported at most once by each worker


def test_a_swallowed_refusal_still_fails_the_job(any_pipe, empty_policy):
    """The gate records each refusal on the window (context.note_blocked): the engine fails the job."""
    p = any_pipe

    def body(self, key):
        try:
            self.connection.query("COMMIT")
        except ProvenanceError:
            pass
        insert_own(self, key)

    pipeline.BODIES["Analysis"] = body
    djruntime.install(strict_provenance=True, policy=empty_policy)
    try:
        result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True)
    finally:
        djruntime.uninstall()
    assert len(result["error_list"]) == 1 and "transaction or lock control" in str(result["error_list"][0][1])
    assert len(p.Analysis & KEY) == 0


class _Loud(Exception):
    other = ""
    connection = None

    def __str__(self):
        self.connection.query(f"DELETE FROM {self.other}")
        return "loud"


def _populate_fails(p, *restrictions):
    before = snapshot(p)
    result = p.Analysis.populate(KEY, *restrictions, reserve_jobs=True, suppress_errors=True)
    assert [k for k, _ in result["error_list"]] == [KEY]
    assert snapshot(p) == before
    assert [j["status"] for j in (p.Analysis.jobs & KEY).to_dicts()] == ["error"]
    (p.Analysis.jobs & KEY).delete_quick()
    return result


def test_work_the_engine_does_for_make_runs_gated(any_pipe, installed):
    installed(True)
    p = any_pipe
    other, _ = names(p)

    def lazy_fetch(self, key):  # the hash iterates the lazy query: inside the window
        fetched = yield p.Other()
        yield fetched
        insert_own(self, key)

    def closing(self, key):  # GeneratorExit/finally code runs when the engine closes the generator
        try:
            yield (1,)
            yield (2,)
            insert_own(self, key)
        finally:
            p.connection.query(f"DELETE FROM {other}")

    def failing(self, key):  # a phase that fails: its finally code still runs inside the window
        try:
            yield (len(p.Other()),)
            yield (2,)
        finally:
            p.connection.query(f"DELETE FROM {other}")

    def early_write(self, key):  # make_fetch runs outside the job's transaction: its write would stay
        insert_own(self, key)
        yield (1,)
        yield (2,)

    for body in (lazy_fetch, closing, failing, early_write):
        pipeline.BODIES["Analysis"] = body
        p.Analysis.make = lambda self, key, body=body: (yield from body(self, key))
        try:
            _populate_fails(p)
        finally:
            p.Analysis.make = pipeline._body("Analysis")
    _Loud.other, _Loud.connection = other, p.connection

    def loud(self, key):
        insert_own(self, key)
        raise _Loud()

    pipeline.BODIES["Analysis"] = loud
    result = _populate_fails(p)
    assert len(p.Other()) == 2 and "str() failed" in str(result["error_list"][0][1])

    # the nested populate's restriction is make()'s code (a string restriction with a subquery on a table
    # not upstream of Sibling; datajoint's restriction parser takes it on MariaDB, see strict_helpers.build)
    pipeline.BODIES["Sibling"] = lambda self, key: self.insert1(dict(key, x=1.0))
    sideways = f"subject_id IN (SELECT subject_id FROM {p.Downstream.full_table_name})"

    def nested(self, key):
        insert_own(self, key)
        p.Sibling.populate(sideways)

    def nested_caught(self, key):  # catching the refusal does not save the job
        insert_own(self, key)
        try:
            p.Sibling.populate(sideways)
        except ProvenanceError:
            pass

    for body in (nested, nested_caught) if mysql(p) else ():
        pipeline.BODIES["Analysis"] = body
        message = str(_populate_fails(p)["error_list"][0][1])
        assert "Downstream" in message and "Sibling.populate()" in message, message

    def tripartite(self, key):  # the compliant tripartite make
        computed = yield ((p.Session & key).fetch1("session_note"),)  # datajoint's generator protocol
        if computed is None:
            computed = (1.0,)
            yield computed
        self.insert1(dict(key, result=computed[0]))
        yield

    p.Analysis.make = lambda self, key: (yield from tripartite(self, key))
    try:
        result = p.Analysis.populate(KEY, reserve_jobs=True)
    finally:
        p.Analysis.make = pipeline._body("Analysis")
    assert result["success_count"] == 1 and len(p.Analysis & KEY) == 1
