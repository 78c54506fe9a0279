"""The ``djruntime`` console script: ``worker`` against the real server in subprocesses, and ``status``."""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys

import pytest
from pipelines import harness

from djruntime import engine
from djruntime.engine import cli

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def pipeline(mysql_server, schema_factory, tmp_path):
    return harness.make_pipeline(schema_factory, mysql_server, tmp_path, items=8)


def run_cli(args, pipeline, extra_env=None, timeout=120):
    return harness.finish(harness.cli(args, pipeline, extra_env), timeout=timeout)


# --------------------------------------------------------------------------------------- no database
def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets():
    backoff = cli.Backoff(1.0, 8.0, rng=random.Random(7))
    waits = [backoff.next() for _ in range(6)]
    for wait, ceiling in zip(waits, [1, 2, 4, 8, 8, 8]):
        assert ceiling / 2 <= wait <= ceiling
    assert len({round(wait, 6) for wait in waits}) == len(waits)  # jittered, not a fixed schedule
    backoff.reset()
    assert 0.5 <= backoff.next() <= 1.0


def test_usage_errors_exit_2(tmp_path, capsys):
    assert cli.main(["worker", "no_colon_here"]) == cli.EXIT_USAGE
    assert "expected MODULE:Table" in capsys.readouterr().err
    assert cli.main(["worker", "surely_not_a_module_xyz:Table"]) == cli.EXIT_USAGE
    assert "cannot import module" in capsys.readouterr().err
    assert cli.main(["status", "json:dumps"]) == cli.EXIT_USAGE
    assert "not a Computed or Imported table" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["worker", "m:T", "--strict", "sometimes"])


def test_summary_text():
    tally = cli.Tally()
    tally.add("Made", 3, 1)
    text = cli.summary(tally, 3725, stopped="SIGTERM")
    assert text.splitlines()[0].startswith("djruntime worker: made 3, errors 1, elapsed 1:02:05")
    assert "stopped by SIGTERM" in text and "  Made: made 3, errors 1" in text


@pytest.fixture
def interrupt_setting():
    saved = engine.settings.on_interrupt
    yield
    engine.configure(on_interrupt=saved)


@pytest.mark.parametrize(("setting", "fate"), [("pending", "returned to the queue"),
                                                ("error", "recorded as an error")])
def test_summary_names_the_interrupted_job_s_fate(interrupt_setting, setting: str, fate: str) -> None:
    """The worker's exit summary says what became of the job an interrupt stopped, as configured."""
    engine.configure(on_interrupt=setting)
    text = cli.summary(cli.Tally(made=3), 61.0, stopped="SIGTERM")
    assert text.startswith("djruntime worker: made 3, errors 0, elapsed 0:01:01")
    assert f"stopped by SIGTERM; the running job was {fate}" in text
    assert "stopped" not in cli.summary(cli.Tally(made=3), 61.0)


# --------------------------------------------------------------------------------------------- worker
@pytest.mark.db
def test_worker_drains_the_queue_and_summarises(pipeline):
    code, _out, err = run_cli(["worker", "pipelines.counting:Made"], pipeline)
    assert code == 0, err
    assert "djruntime worker: made 8, errors 0, elapsed" in err
    assert len(pipeline.Made()) == 8 and len(pipeline.Made.Detail()) == 24
    assert harness.statuses(pipeline.Made) == dict.fromkeys(harness.STATUSES, 0)
    assert "it/s" not in err and "job/s" not in err  # no progress bar when stderr is not a terminal


@pytest.mark.db
def test_console_script_is_installed(pipeline):
    script = shutil.which("djruntime", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert script, "the djruntime console script is not installed in the venv"
    process = subprocess.run([script, "worker", "pipelines.counting:Made", "--max-calls", "2"],
                             env=pipeline.env, cwd=str(harness.RUNTIME_TESTS), capture_output=True, text=True,
                             timeout=120, check=False)
    assert process.returncode == 0, process.stderr
    assert len(pipeline.Made()) == 2


@pytest.mark.db
def test_worker_error_exit_code_and_suppress_errors(pipeline):
    failing = {"DJRT_FAIL_ITEM": "4"}
    code, out, err = run_cli(["worker", "pipelines.counting:Made"], pipeline, failing)
    assert code == cli.EXIT_ERRORS
    assert "item 4 is configured to fail" in err
    assert harness.statuses(pipeline.Made)["error"] == 1
    assert harness.statuses(pipeline.Made)["reserved"] == 0

    (pipeline.Made.jobs & {"item": 4}).delete_quick()
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--suppress-errors"], pipeline, failing)
    assert code == 0, err
    assert "errors 1" in err and "item 4 is configured to fail" in err
    assert len(pipeline.Made()) == 7  # went on after the failure
    assert harness.statuses(pipeline.Made)["error"] == 1


@pytest.mark.db
def test_worker_max_calls_and_priority(pipeline):
    code, out, err = run_cli(["worker", "pipelines.counting:Made", "--max-calls", "3"], pipeline)
    assert code == 0, err
    assert "made 3," in err and len(pipeline.Made()) == 3 and len(harness.calls(pipeline)) == 3
    # priority: only jobs at this priority or more urgent (lower number)
    first = {key["item"] for key in pipeline.Made}
    urgent = sorted(set(range(8)) - first)[-2:]
    jobs = pipeline.Made.jobs
    pipeline.connection.query(f"UPDATE {jobs.full_table_name} SET priority=9 WHERE status='pending'")
    pipeline.connection.query(f"UPDATE {jobs.full_table_name} SET priority=1 WHERE item IN ({urgent[0]}, {urgent[1]})")
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--priority", "2", "--no-refresh"], pipeline)
    assert code == 0, err
    assert {key["item"] for key in pipeline.Made} == first | set(urgent)


@pytest.mark.db
def test_worker_wait_picks_up_new_keys_and_stops_cleanly_on_sigterm(pipeline):
    (pipeline.Item & "item >= 2").delete_quick()
    process = harness.cli(["worker", "pipelines.counting:Made", "--wait", "--backoff-min", "0.1",
                           "--backoff-max", "0.5"], pipeline, {"DJRT_MAKE_SLEEP": "0.3"})
    try:
        assert harness.wait_for(lambda: len(pipeline.Made()) == 2, timeout=60)
        pipeline.Item.insert([{"item": 20, "value": 1}, {"item": 21, "value": 2}, {"item": 22, "value": 3}])
        assert harness.wait_for(lambda: len(harness.calls(pipeline)) >= 3, timeout=60)  # found while idle
        process.send_signal(signal.SIGTERM)
        code, _out, err = harness.finish(process, timeout=60)
    finally:
        harness.kill_quietly(process)
    assert code == cli.EXIT_TERMINATED, err
    assert "stopped by SIGTERM" in err
    assert harness.statuses(pipeline.Made)["reserved"] == 0
    assert len(pipeline.Made.Detail()) == 3 * len(pipeline.Made())


@pytest.mark.db
def test_worker_progress_bar_when_asked(pipeline):
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--progress"], pipeline)
    assert code == 0, err
    assert "djruntime worker" in err and "8/8" in err


@pytest.mark.db
def test_worker_several_tables_and_strict_flag(pipeline):
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "pipelines.counting:Made", "--strict", "off"],
                             pipeline)
    assert code == 0, err
    assert len(pipeline.Made()) == 8


# --------------------------------------------------------------------------------------------- status
@pytest.mark.db
def test_status_counts_per_status(pipeline, monkeypatch):
    code, out, err = run_cli(["status", "pipelines.counting"], pipeline)
    assert code == 0, err
    header, row = out.splitlines()
    assert header.split() == ["table", *harness.STATUSES, "remaining", "total"]
    assert row.split() == ["Made", "0", "0", "0", "0", "0", "8", "8"]

    monkeypatch.setenv("DJRT_FAIL_ITEM", "1")
    run_cli(["worker", "pipelines.counting:Made", "--suppress-errors", "--max-calls", "3"], pipeline,
            {"DJRT_FAIL_ITEM": "1"})
    pipeline.Made.jobs.ignore({"item": 7})
    code, out, err = run_cli(["status", "pipelines.counting:Made", "--json"], pipeline)
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["table"] == "Made" and row["database"] == pipeline.Made.full_table_name
    assert {k: row[k] for k in harness.STATUSES} == {"pending": 4, "reserved": 0, "success": 0, "error": 1,
                                                     "ignore": 1}
    assert (row["remaining"], row["total"]) == (6, 8)


@pytest.mark.db
def test_worker_with_processes_draws_the_pool_bar(pipeline):
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--processes", "2", "--progress"], pipeline,
                              {"DJRT_MAKE_SLEEP": "0.5"})
    assert code == 0, err
    assert "8/8" in err and "made 8," in err
    assert len({pid for _, pid in harness.calls(pipeline)}) == 2


@pytest.mark.db
def test_worker_restrict(pipeline):
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--restrict", "item < 3"], pipeline)
    assert code == 0, err
    assert sorted(key["item"] for key in pipeline.Made.keys()) == [0, 1, 2]
    assert harness.statuses(pipeline.Made)["pending"] == 0  # jobs were queued only for the restriction


@pytest.mark.db
def test_worker_strict_flag_reaches_the_gate(pipeline):
    sideways = {"DJRT_SIDEWAYS_READ": "1"}
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--strict", "raise", "--max-calls", "1"],
                              pipeline, sideways)
    assert code == cli.EXIT_ERRORS, err
    assert "ProvenanceError" in err and "Note" in err and len(pipeline.Made()) == 0
    assert harness.statuses(pipeline.Made)["error"] == 1

    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--strict", "off", "--max-calls", "2"],
                              pipeline, sideways)
    assert code == 0, err
    assert len(pipeline.Made()) == 2


@pytest.mark.db
@pytest.mark.parametrize("processes", ["1", "2"])
def test_worker_strict_warn_reports_violations_and_goes_on(pipeline, processes):
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--strict", "warn", "--processes", processes],
                              pipeline, {"DJRT_SIDEWAYS_READ": "1", "DJRT_MAKE_SLEEP": "0.2"})
    assert code == 0, err
    assert len(pipeline.Made()) == 8
    assert "provenance warning:" in err and "Note" in err
    summary = [line for line in err.splitlines() if line.startswith("djruntime worker:")][0]
    # each worker process reports each distinct violation once (docs/strict.md), naming its own key
    reported = int(re.search(r"provenance warnings (\d+)", summary).group(1))
    assert 1 <= reported <= int(processes)
    # each warning is printed once: by the worker, not a second time by the gate's log record
    assert err.count("read Note (") == err.count("provenance warning:") == reported, err


# ------------------------------------------------------------------------------------ clean output
@pytest.mark.db
def test_status_json_parses_whatever_datajoint_logs(pipeline):
    chatty = {"DJ_LOG_LEVEL": "INFO", "DJ_LOG_STREAM": "stdout"}  # datajoint's connect banner, on stdout
    code, out, err = run_cli(["status", "pipelines.counting", "--json"], pipeline, chatty)
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["table"] == "Made" and row["remaining"] == 8
    assert "connected to" in err  # the banner is still shown, on stderr
    code, out, _err = run_cli(["status", "pipelines.counting"], pipeline, chatty)
    assert out.splitlines()[0].split()[0] == "table"


def test_version():
    process = subprocess.run([sys.executable, "-m", "djruntime.engine.cli", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert process.returncode == 0, process.stderr
    assert re.fullmatch(r"djruntime \S+ \(datajoint 2\.3\.\d+\)\n", process.stdout)


def test_a_lint_only_install_says_how_to_install_the_runtime(tmp_path):
    """Without site-packages (no datajoint), as after `pip install datajoint-provenance` alone."""
    src = str(harness.RUNTIME_TESTS.parents[1] / "src")
    code = (f"import sys; sys.path.insert(0, {src!r}); from djruntime.engine import cli; "
            "sys.exit(cli.main(['status', 'pipelines.counting']))")
    process = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert process.returncode == cli.EXIT_USAGE, process.stderr
    assert "datajoint-provenance[runtime]" in process.stderr and "Traceback" not in process.stderr
    library = f"import sys; sys.path.insert(0, {src!r}); import djruntime; djruntime.install()"
    process = subprocess.run([sys.executable, "-S", "-c", library], capture_output=True, text=True, timeout=60)
    assert process.returncode != 0 and "datajoint-provenance[runtime]" in process.stderr


def _bar_ends(err: str) -> list[tuple[int, int]]:
    return [(int(done), int(total)) for done, total in re.findall(r"(\d+)/(\d+) \[", err)]


@pytest.mark.db
def test_each_worker_s_bar_counts_its_own_jobs_and_the_summary_the_queue(pipeline):
    slow = {"DJRT_MAKE_SLEEP": "0.3"}
    first = harness.cli(["worker", "pipelines.counting:Made", "--progress"], pipeline, slow)
    second = harness.cli(["worker", "pipelines.counting:Made", "--progress"], pipeline, slow)
    results = [harness.finish(first, timeout=120), harness.finish(second, timeout=120)]
    made = []
    for code, _out, err in results:
        assert code == 0, err
        count = int(re.search(r"djruntime worker: made (\d+),", err).group(1))
        made.append(count)
        if count:
            assert _bar_ends(err)[-1] == (count, count), err  # a healthy worker's bar ends full
        # the summary adds the shared queue's state (the other worker may still hold the last job)
        assert re.search(r"all workers, Made: [0-8] of 8 done \(queue: pending 0, reserved [01],", err), err
    assert sum(made) == 8 and len(pipeline.Made()) == 8


@pytest.mark.db
def test_an_empty_run_draws_no_bar(pipeline):
    assert run_cli(["worker", "pipelines.counting:Made"], pipeline)[0] == 0  # drain the queue
    code, _out, err = run_cli(["worker", "pipelines.counting:Made", "--progress"], pipeline)
    assert code == 0, err
    assert _bar_ends(err) == [] and "job/s" not in err and "made 0," in err
    for reserve in (True, False):  # the engine's own bar, through populate(display_progress=True)
        process = harness.python(
            "import djruntime\nfrom pipelines import counting\n"
            f"djruntime.populate(counting.Made, reserve_jobs={reserve}, display_progress=True)\n", pipeline)
        code, _out, err = harness.finish(process, timeout=120)
        assert code == 0, err
        assert "it/s" not in err and "0it" not in err, err
