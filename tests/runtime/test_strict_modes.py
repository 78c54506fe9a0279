"""Strict gate, modes and the make() window: raise / warn / off from arguments and the environment,
make()'s own errors unchanged, the window cleared after any exit, nested windows, other threads.
"""

from __future__ import annotations

import logging
import threading

import datajoint as dj
import pytest
import strict_pipeline as pipeline
from strict_helpers import KEY, OTHER_KEY, assert_blocked, insert_own, run_make

from djruntime import ProvenanceError, context, strict
from djruntime.strict import gate


def test_strict_off_installs_no_gate_and_gives_the_same_results(pipe, empty_policy):
    strict.configure(strict_provenance=False)
    assert dj.Connection.query is gate._original_query
    seen = []
    run_make(pipe.Analysis, KEY, lambda self, key: (seen.append(len(pipe.Other())), insert_own(self, key)))
    assert seen == [2] and len(pipe.Analysis & KEY) == 1
    strict.configure(strict_provenance=True, policy=empty_policy)
    try:
        assert dj.Connection.query is not gate._original_query
        with pytest.raises(ProvenanceError):
            run_make(pipe.Analysis, OTHER_KEY | {"param_id": 1}, lambda self, key: len(pipe.Other()))
    finally:
        strict.configure(strict_provenance=False)
    assert dj.Connection.query is gate._original_query


def test_modes_from_arguments_and_environment(monkeypatch):
    monkeypatch.delenv(strict.ENV_VARIABLE, raising=False)
    assert strict.parse_mode(None) == "off"
    for value, expected in [("1", "raise"), ("raise", "raise"), ("warn", "warn"), ("0", "off")]:
        monkeypatch.setenv(strict.ENV_VARIABLE, value)
        assert strict.parse_mode(None) == expected
    assert strict.parse_mode(True) == "raise" and strict.parse_mode(False) == "off"
    with pytest.raises(ValueError):
        strict.parse_mode("sometimes")


def test_environment_variable_turns_the_gate_on(pipe, empty_policy, monkeypatch):
    monkeypatch.setenv(strict.ENV_VARIABLE, "1")
    strict.configure(policy=empty_policy)
    try:
        assert strict.mode() == "raise"
        assert_blocked(pipe, lambda self, key: len(pipe.Other()), "Other")
    finally:
        strict.configure(strict_provenance=False)


@pytest.mark.usefixtures("strict_warn")
def test_warn_mode_runs_the_statement_and_reports_each_violation_once(pipe, caplog):
    seen = []

    def body(self, key):
        seen.append(len(pipe.Other()))
        seen.append(len(pipe.Other()))
        insert_own(self, key)

    with caplog.at_level(logging.WARNING, logger="djruntime.strict"):
        run_make(pipe.Analysis, KEY, body)
        run_make(pipe.Analysis, dict(KEY, param_id=2), body)
    assert seen == [2, 2, 2, 2]
    assert len(pipe.Analysis & KEY) == 1
    logged = [r for r in caplog.records if "Other" in r.getMessage()]
    assert len(logged) == 1
    warnings = strict.collect_warnings(pipe.Analysis)
    assert len(warnings) == 1 and "Other" in warnings[0]
    assert strict.collect_warnings(pipe.Analysis) == []


@pytest.mark.usefixtures("strict_on")
def test_make_raising_its_own_error_reaches_the_caller_unchanged(pipe):
    mine = ValueError("my own failure")

    def body(self, key):
        insert_own(self, key)
        raise mine

    before = pipeline.counts(pipe)
    with pytest.raises(ValueError) as caught:
        run_make(pipe.Analysis, KEY, body)
    assert caught.value is mine
    assert pipeline.counts(pipe) == before


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)])
def test_window_is_cleared_after_exceptions_interrupts_and_exit(pipe, error):
    def body(self, key):
        insert_own(self, key)
        raise error

    with pytest.raises(type(error)):
        run_make(pipe.Analysis, KEY, body)
    assert context.current(pipe.connection) is None
    assert getattr(pipe.connection, "_djruntime_make_stack", []) == []
    assert len(pipe.Other()) == 2  # outside make() nothing is gated
    assert len(pipe.Analysis & KEY) == 0


@pytest.mark.usefixtures("strict_on")
def test_nested_windows_restore_the_outer_make(pipe):
    seen = []

    def body(self, key):
        insert_own(self, key)
        sibling = pipe.Sibling()
        sibling_key = {"subject_id": key["subject_id"], "session_id": key["session_id"]}
        with context.make_window(sibling, sibling_key, pipe.connection):
            pipe.Sibling._allow_insert = True
            sibling.insert1(dict(sibling_key, x=1.0))  # Sibling's own make may write Sibling
            seen.append(context.current(pipe.connection).table is sibling)
            with pytest.raises(ProvenanceError):
                len(pipe.Analysis())  # ... but not read Analysis, which is not its ancestor
        seen.append(context.current(pipe.connection).table is self)
        with pytest.raises(ProvenanceError):
            len(pipe.Sibling())  # back in Analysis's make: Sibling is not upstream

    run_make(pipe.Analysis, KEY, body)
    assert seen == [True, True]
    assert len(pipe.Sibling()) == 1 and len(pipe.Analysis & KEY) == 1


@pytest.mark.usefixtures("strict_on")
def test_query_from_another_thread_during_make_is_gated(any_pipe):
    p = any_pipe
    outcome = {}

    def worker():
        try:
            outcome["allowed"] = len(p.Session())
            outcome["forbidden"] = len(p.Other())
        except ProvenanceError as error:
            outcome["error"] = error

    def body(self, key):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        insert_own(self, key)

    run_make(p.Analysis, KEY, body)
    assert outcome["allowed"] == 4
    assert "forbidden" not in outcome and "Other" in str(outcome["error"])
    assert len(p.Other()) == 2  # after make(), the same thread's query passes
