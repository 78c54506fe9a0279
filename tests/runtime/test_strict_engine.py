"""Strict provenance end to end: ``djruntime.install(strict_provenance=...)`` + ``Table.populate()``."""

from __future__ import annotations

import pytest
import test_strict_pipeline as pipeline
from test_strict import _build

import djruntime
from djruntime import ProvenanceError, strict

FORBIDDEN_PARAM = 2  # the make() of keys with this param_id reads an unrelated table


@pytest.fixture(params=["mysql", "postgres"])
def any_pipe(request, schema_factory):
    return _build(request.getfixturevalue(f"{request.param}_server"), schema_factory)


@pytest.fixture
def pipe(mysql_server, schema_factory):
    return _build(mysql_server, schema_factory)


@pytest.fixture
def installed(tmp_path):
    policy = tmp_path / "pyproject.toml"
    policy.write_text('[project]\nname = "pipeline"\n')

    def install(mode):
        djruntime.install(strict_provenance=mode, policy=policy)

    strict.reset_warnings()
    yield install
    djruntime.uninstall()
    strict.reset_warnings()


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
