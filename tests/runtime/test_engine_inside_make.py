"""The engine inside make(): job-queue calls are refused, a nested populate works (and stays gated),
and a make() that swallows a refused statement still fails its job. Both backends, real servers."""

from __future__ import annotations

import datajoint as dj
import pytest
import strict_pipeline as pipeline
from strict_helpers import KEY

from djruntime import ProvenanceError, context
from djruntime.engine.queue import JobQueueInMakeError
from djruntime.strict import gate


def _job(table, key):
    rows = (table.jobs & key).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def _own_rows(self, key):
    self.insert1(dict(key, result=1.0))
    self.Item.insert1(dict(key, item=0, value=1.0))


# ------------------------------------------------------------------------------ A: queue inside make()
@pytest.mark.parametrize("strict_mode", [True, False])
@pytest.mark.parametrize("whose", ["self", "sibling"])
def test_jobs_refresh_inside_make_fails_the_job_and_leaves_the_database_unchanged(
    any_pipe, installed, strict_mode, whose
):
    p = any_pipe
    installed(strict_mode)
    p.Sibling.jobs.refresh()  # declared outside make()

    def body(self, key):
        _own_rows(self, key)
        (self.jobs if whose == "self" else p.Sibling.jobs).refresh()

    pipeline.BODIES["Analysis"] = body
    before = pipeline.counts(p)
    sibling_jobs = p.Sibling.jobs.to_dicts()
    result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True, return_exception_objects=True)
    assert result["success_count"] == 0
    [(_, error)] = result["error_list"]
    assert isinstance(error, JobQueueInMakeError) and "inside make()" in str(error)
    assert pipeline.counts(p) == before  # make()'s own rows were rolled back, nothing was committed
    assert p.Sibling.jobs.to_dicts() == sibling_jobs
    job = _job(p.Analysis, KEY)
    assert job["status"] == "error" and "JobQueueInMakeError" in job["error_message"]


def test_queue_operations_inside_make_are_refused(any_pipe, installed):
    p = any_pipe
    installed(True)
    seen = {}

    def body(self, key):
        queue = p.Sibling.jobs
        for name, call in {
            "rescue": queue.rescue,
            "claim": lambda: queue.claim(1),
            "reserve": lambda: queue.reserve({"subject_id": 1, "session_id": 1}),
            "ignore": lambda: queue.ignore({"subject_id": 1, "session_id": 1}),
            "complete": lambda: queue.complete({"subject_id": 1, "session_id": 1}),
            "error": lambda: queue.error({"subject_id": 1, "session_id": 1}, "x"),
            "release": lambda: queue.release([{"subject_id": 1, "session_id": 1}]),
        }.items():
            with pytest.raises(JobQueueInMakeError):
                call()
            seen[name] = True
        seen["progress"] = queue.progress()  # reads still work
        self.insert1(dict(key, result=1.0))

    pipeline.BODIES["Analysis"] = body
    result = p.Analysis.populate(KEY, reserve_jobs=True)
    assert result == {"success_count": 1, "error_list": []}
    assert len(seen) == 8 and seen["progress"]["total"] == 0
    assert len(p.Sibling.jobs) == 0


def test_the_queue_never_commits_a_transaction_it_did_not_open(any_pipe, installed):
    p = any_pipe
    installed(False)
    queue = p.Analysis.jobs
    connection = p.connection
    connection.start_transaction()
    try:
        p.Analysis.insert1(dict(KEY, result=1.0), allow_direct_insert=True)
        for call in (queue.rescue, queue.refresh, lambda: queue.claim(1)):
            with pytest.raises(dj.DataJointError, match="transaction"):
                call()
        assert connection.in_transaction
    finally:
        connection.cancel_transaction()
    assert len(p.Analysis & KEY) == 0


# ------------------------------------------------------------------------------ B: nested populate
def _sibling_body(read_other=False, p=None):
    def body(self, key):
        if read_other:
            len(p.Other())  # sideways: Other is not upstream of Sibling
        self.insert1(dict(key, x=float(key["session_id"])))

    return body


def _session(key):
    return {"subject_id": key["subject_id"], "session_id": key["session_id"]}


def test_make_populating_another_table_in_direct_mode(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Sibling"] = _sibling_body()
    inner = {}

    def body(self, key):
        inner["result"] = p.Sibling.populate(_session(key))
        self.insert1(dict(key, result=1.0))

    pipeline.BODIES["Analysis"] = body
    result = p.Analysis.populate(KEY, reserve_jobs=True)
    assert result == {"success_count": 1, "error_list": []}
    assert inner["result"] == {"success_count": 1, "error_list": []}
    assert p.Sibling.to_dicts() == [dict(_session(KEY), x=1.0)]
    assert len(p.Analysis & KEY) == 1 and _job_absent(p, KEY)


def _job_absent(p, key):
    return len(p.Analysis.jobs & key) == 0  # keep_completed is off: a finished job is deleted


def test_nested_make_is_still_gated_and_its_failure_rolls_back_to_the_savepoint(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Sibling"] = _sibling_body(read_other=True, p=p)
    inner = {}

    def body(self, key):
        inner["result"] = p.Sibling.populate(_session(key), suppress_errors=True, return_exception_objects=True)
        self.insert1(dict(key, result=1.0))

    pipeline.BODIES["Analysis"] = body
    result = p.Analysis.populate(KEY, reserve_jobs=True)
    assert result == {"success_count": 1, "error_list": []}  # the outer make() went on
    [(_, error)] = inner["result"]["error_list"]
    assert isinstance(error, ProvenanceError) and "Sibling.make()" in str(error) and "Other" in str(error)
    assert len(p.Sibling()) == 0 and len(p.Analysis & KEY) == 1


def test_nested_violation_not_suppressed_fails_the_outer_job(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Sibling"] = _sibling_body(read_other=True, p=p)

    def body(self, key):
        self.insert1(dict(key, result=1.0))
        p.Sibling.populate(_session(key))

    pipeline.BODIES["Analysis"] = body
    before = pipeline.counts(p)
    result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True, return_exception_objects=True)
    [(_, error)] = result["error_list"]
    assert isinstance(error, ProvenanceError) and "Sibling.make()" in str(error)
    assert pipeline.counts(p) == before
    assert _job(p.Analysis, KEY)["status"] == "error"


def test_outer_make_reading_the_nested_table_sideways_is_still_blocked(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Sibling"] = _sibling_body()

    def body(self, key):
        p.Sibling.populate(_session(key))
        self.insert1(dict(key, result=float(len(p.Sibling()))))  # Sibling is not upstream of Analysis

    pipeline.BODIES["Analysis"] = body
    before = pipeline.counts(p)
    result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True, return_exception_objects=True)
    [(_, error)] = result["error_list"]
    assert isinstance(error, ProvenanceError) and "Analysis.make()" in str(error) and "Sibling" in str(error)
    assert pipeline.counts(p) == before  # the nested rows were rolled back with the outer job


def test_nested_populate_with_reserve_jobs_is_refused(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Sibling"] = _sibling_body()

    def body(self, key):
        self.insert1(dict(key, result=1.0))
        p.Sibling.populate(_session(key), reserve_jobs=True)

    pipeline.BODIES["Analysis"] = body
    before = pipeline.counts(p)
    result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True, return_exception_objects=True)
    [(_, error)] = result["error_list"]
    assert isinstance(error, JobQueueInMakeError) and "reserve_jobs=False" in str(error)
    assert pipeline.counts(p) == before


def test_nested_populate_from_a_tripartite_make_fetch(any_pipe, installed):
    p = any_pipe
    installed(True)
    pipeline.BODIES["Sibling"] = _sibling_body()
    runs = []

    def make_fetch(self, key):
        runs.append(p.Sibling.populate(_session(key))["success_count"])
        return (len(p.Session.Epoch & key),)

    def make_compute(self, key, epochs):
        return (float(epochs),)

    def make_insert(self, key, value):
        self.insert1(dict(key, result=value))

    cls = p.Analysis
    saved = cls.__dict__["make"]
    del cls.make
    cls.make_fetch, cls.make_compute, cls.make_insert = make_fetch, make_compute, make_insert
    try:
        result = cls.populate(KEY)
    finally:
        cls.make = saved
        del cls.make_fetch, cls.make_compute, cls.make_insert
    assert result == {"success_count": 1, "error_list": []}
    assert runs == [1, 0]  # made outside the transaction; the fetch inside it finds nothing left to do
    assert len(p.Sibling()) == 1 and (cls & KEY).fetch1("result") == 2.0


# ------------------------------------------------------------------------------ C: a swallowed refusal
def test_make_returning_after_a_noted_refusal_fails_its_job(any_pipe, installed):
    p = any_pipe
    installed(True)

    def body(self, key):
        _own_rows(self, key)
        context.note_blocked(context.current(self.connection), "Strict provenance: simulated refusal")

    pipeline.BODIES["Analysis"] = body
    before = pipeline.counts(p)
    result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True, return_exception_objects=True)
    [(_, error)] = result["error_list"]
    assert isinstance(error, ProvenanceError) and "simulated refusal" in str(error)
    assert "caught this error" in str(error)
    assert pipeline.counts(p) == before
    job = _job(p.Analysis, KEY)
    assert job["status"] == "error" and job["error_message"].startswith("ProvenanceError: Strict provenance: simulated")


def test_make_catching_the_gates_error_fails_its_job(any_pipe, installed, monkeypatch):
    """The gate's ``_report`` notes the refusal (wired here as strict.py will)."""
    p = any_pipe
    installed(True)
    original = gate._report

    def report(window, sql, violations):
        try:
            original(window, sql, violations)
        except ProvenanceError as error:
            context.note_blocked(window, str(error))
            raise

    monkeypatch.setattr(gate, "_report", report)

    def body(self, key):
        try:
            len(p.Other())
        except ProvenanceError:
            pass  # goes on without the data
        _own_rows(self, key)

    pipeline.BODIES["Analysis"] = body
    before = pipeline.counts(p)
    with pytest.raises(ProvenanceError, match="read Other"):
        p.Analysis.populate(KEY, reserve_jobs=True)
    assert pipeline.counts(p) == before
    assert _job(p.Analysis, KEY)["status"] == "error"


def test_a_noted_refusal_in_make_fetch_fails_the_job(any_pipe, installed):
    p = any_pipe
    installed(True)

    def make_fetch(self, key):
        context.note_blocked(context.current(), "Strict provenance: simulated in fetch")
        return (1,)

    def make_compute(self, key, n):
        return (float(n),)

    def make_insert(self, key, value):
        self.insert1(dict(key, result=value))

    cls = p.Analysis
    saved = cls.__dict__["make"]
    del cls.make
    cls.make_fetch, cls.make_compute, cls.make_insert = make_fetch, make_compute, make_insert
    try:
        result = cls.populate(KEY, suppress_errors=True)
    finally:
        cls.make = saved
        del cls.make_fetch, cls.make_compute, cls.make_insert
    [(_, message)] = result["error_list"]
    assert "simulated in fetch" in message and "make_fetch() caught" in message
    assert len(cls & KEY) == 0
