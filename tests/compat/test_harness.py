"""The compatibility harness's own checks: the comparison, the outcome plugin, the clean-up, loud failure.

The harness itself (datajoint's tests, plain and under djruntime) is a separate CI job:
``python tests/compat/harness.py``; these tests only prove it judges correctly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from deviations import DEVIATIONS  # noqa: E402

SIGINT = "tests/integration/test_jobs.py::test_sigint"
SIGTERM = "tests/integration/test_jobs.py::test_sigterm"
PENDING = {"populate": "djruntime.engine.populate", "on_interrupt": "pending"}


def outcomes(**by_id: str) -> dict[str, dict[str, str]]:
    return {
        test_id: {"outcome": outcome, "message": f"{outcome} message"} for test_id, outcome in by_id.items()
    }


def verdicts(comparison: harness.Comparison) -> dict[str, str]:
    return {row.test_id: row.verdict for row in comparison.rows}


# ------------------------------------------------------------------------------------------ comparison
def test_a_test_passing_plain_and_failing_under_djruntime_is_a_regression():
    comparison = harness.compare(outcomes(a="passed", b="passed"), outcomes(a="passed", b="failed"), PENDING)
    assert verdicts(comparison) == {"a": harness.SAME, "b": harness.REGRESSION}
    assert [row.note for row in comparison.regressions] == ["failed message"]


@pytest.mark.parametrize("after", ["error", "skipped", "xfailed", None])
def test_anything_but_a_pass_under_djruntime_is_a_regression(after):
    """An error in setup/teardown, a skip, or not running at all are no better than a failure."""
    under_djruntime = outcomes(a=after) if after else {}
    comparison = harness.compare(outcomes(a="passed"), under_djruntime, PENDING)
    assert verdicts(comparison) == {"a": harness.REGRESSION}


def test_failures_on_plain_datajoint_are_reported_not_counted():
    plain = outcomes(dot="failed", group_by="error", skip="skipped")
    comparison = harness.compare(plain, outcomes(dot="failed", group_by="passed", skip="skipped"), PENDING)
    assert verdicts(comparison) == {
        "dot": harness.FAILS_PLAIN,
        "group_by": harness.FAILS_PLAIN,
        "skip": harness.SAME,
    }
    assert not comparison.regressions


def test_the_signal_tests_are_deviations_under_the_default_on_interrupt():
    plain = outcomes(**{SIGINT: "passed", SIGTERM: "passed"})
    comparison = harness.compare(plain, outcomes(**{SIGINT: "failed", SIGTERM: "failed"}), PENDING)
    assert verdicts(comparison) == {SIGINT: harness.DEVIATION, SIGTERM: harness.DEVIATION}
    assert not comparison.regressions


def test_the_signal_tests_must_pass_when_djruntime_records_interrupts_as_errors():
    plain = outcomes(**{SIGINT: "passed", SIGTERM: "passed"})
    engine = dict(PENDING, on_interrupt="error")
    comparison = harness.compare(plain, outcomes(**{SIGINT: "failed", SIGTERM: "passed"}), engine)
    assert verdicts(comparison) == {SIGINT: harness.REGRESSION, SIGTERM: harness.SAME}


def test_a_listed_deviation_that_passes_is_reported():
    comparison = harness.compare(outcomes(**{SIGINT: "passed"}), outcomes(**{SIGINT: "passed"}), PENDING)
    assert verdicts(comparison) == {SIGINT: harness.STALE_DEVIATION}
    assert not comparison.regressions


def test_the_deviation_list_holds_only_the_deliberate_signal_behaviour():
    """Bugs (completed_time precision, refresh statement count) must never be listed as deviations."""
    assert {deviation.test_id for deviation in DEVIATIONS} == {SIGINT, SIGTERM}
    for deviation in DEVIATIONS:
        assert deviation.applies({"on_interrupt": "pending"})
        assert not deviation.applies({"on_interrupt": "error"})


def test_the_table_shows_regressions_first_with_their_error_line():
    plain = outcomes(
        **{
            "tests/integration/test_x.py::t1": "failed",
            "tests/integration/test_x.py::t2": "passed",
            SIGINT: "passed",
        }
    )
    under_djruntime = outcomes(
        **{
            "tests/integration/test_x.py::t1": "failed",
            "tests/integration/test_x.py::t2": "failed",
            SIGINT: "failed",
        }
    )
    table = harness.format_table(harness.compare(plain, under_djruntime, PENDING)).splitlines()
    assert table[2].startswith("test_x.py::t2") and table[2].endswith(harness.REGRESSION)
    assert table[3].strip() == "failed message"
    assert table[-1].startswith("3 tests: 0 same on both, 1 regressions, 1 deliberate deviations, 1 fail")


@pytest.mark.parametrize("report_only", [False, True])
def test_a_regression_fails_the_job_unless_only_reporting(report_only, capsys):
    regressed = harness.compare(outcomes(a="passed"), outcomes(a="failed"), PENDING)
    assert harness.conclude(regressed, report_only) == (0 if report_only else 1)
    assert "1 test(s) pass on plain datajoint and not under djruntime" in capsys.readouterr().err
    assert harness.conclude(harness.compare(outcomes(a="passed"), outcomes(a="passed"), PENDING), False) == 0


@pytest.mark.parametrize("value, report_only", [(None, False), ("0", False), ("", False), ("1", True)])
def test_report_only_from_the_environment(value, report_only):
    environ = {} if value is None else {"DJCOMPAT_REPORT_ONLY": value}
    assert harness.parse_args([], environ).report_only is report_only
    assert harness.parse_args(["--report-only"], environ).report_only is True


# ------------------------------------------------------------------------------------ a pass's checks
def result(test_outcomes, populate="djruntime.engine.populate") -> harness.PassResult:
    return harness.PassResult("djruntime", test_outcomes, {"populate": populate}, 0, 1.0, Path("log"))


def every_file(outcome="passed") -> dict[str, dict[str, str]]:
    by_id = {
        f"{path}::t[{backend}]": outcome for path in harness.SELECTION for backend in ("mysql", "postgresql")
    }
    return outcomes(**by_id)


def test_a_complete_pass_is_accepted():
    harness.check_pass(result(every_file()), "djruntime.")


@pytest.mark.parametrize(
    "damage, complaint",
    [
        (lambda r: r.outcomes.clear(), "ran no test"),
        (lambda r: r.engine.update(populate="datajoint.autopopulate"), "expected djruntime."),
        (lambda r: [r.outcomes.pop(k) for k in list(r.outcomes) if "test_jobs.py" in k], "nothing from"),
        (
            lambda r: [r.outcomes.pop(k) for k in list(r.outcomes) if "postgresql" in k],
            "no postgresql test passed",
        ),
    ],
)
def test_a_pass_that_proves_nothing_fails_loudly(damage, complaint):
    broken = result(every_file())
    damage(broken)
    with pytest.raises(harness.HarnessError, match=complaint):
        harness.check_pass(broken, "djruntime.")


def test_an_unfetchable_release_exits_2(tmp_path, monkeypatch, capsys):
    """No package index (or no such release): the job fails, it never passes silently."""
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    assert harness.main(["--work-dir", str(tmp_path / "work")]) == 2
    assert "cannot fetch datajoint==2.3.5's source release" in capsys.readouterr().err


def test_the_suite_environment_keeps_only_what_it_needs():
    mysql, postgres = harness.servers_from_environment({"DJ_HOST": "db.lab:3307", "DJ_PASS": "x"})
    assert (mysql.host, mysql.port, mysql.password) == ("db.lab", 3307, "x")
    env = harness.suite_environment(
        {
            "DJ_BACKEND": "postgresql",
            "DJ_JOBS_KEEP_COMPLETED": "1",
            "DJRUNTIME_ON_INTERRUPT": "error",
            "DJRUNTIME_MAX_BATCH": "1",
            "PATH": "/bin",
        },
        mysql,
        postgres,
        "djtest_compatab12",
    )
    assert (
        "DJ_BACKEND" not in env and "DJ_JOBS_KEEP_COMPLETED" not in env and "DJRUNTIME_MAX_BATCH" not in env
    )
    assert env["DJRUNTIME_ON_INTERRUPT"] == "error" and env["PATH"] == "/bin"
    assert (env["DJ_HOST"], env["DJ_PORT"], env["DJ_TEST_DB_PREFIX"]) == (
        "db.lab",
        "3307",
        "djtest_compatab12",
    )
    assert env["DJ_USE_EXTERNAL_CONTAINERS"] == "1" and env["DJ_STRICT_PROVENANCE"] == "0"


def test_the_prefix_cannot_match_this_projects_test_schemas():
    """The project's runtime tests name schemas djtest_ + 10 hex digits; the suite drops <prefix>_%."""
    prefix = harness.new_prefix()
    # "djtest": the suite's read-only users are granted djtest%;
    # "_compat": 'o', 'm', 'p', 't' are no hex digits
    assert re.fullmatch(r"djtest_compat[0-9a-f]{8}", prefix)
    assert harness.new_prefix() != prefix


# ------------------------------------------------------------------------------- the outcome plugin
PLUGIN_TESTS = """
import os
import pytest

@pytest.fixture
def broken_setup():
    raise RuntimeError("setup broke")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")

def test_pass(): pass
def test_fail(): assert 1 == 2, "one is not two"
def test_setup_error(broken_setup): pass
def test_teardown_error(broken_teardown): pass
def test_skip(): pytest.skip("no dot binary")

@pytest.mark.xfail(reason="known")
def test_xfail(): assert False

@pytest.mark.xfail(reason="known")
def test_xpass(): pass

@pytest.mark.parametrize("backend", ["mysql", "postgresql"])
def test_param(backend): assert backend == "mysql"
"""


def run_plugin(tmp_path: Path, source: str, *plugins: str, env: dict | None = None) -> dict:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(source))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out = tmp_path / "out.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-c",
        "pytest.ini",
        "--rootdir",
        ".",
        "-p",
        "djcompat_outcomes",
        "--djcompat-out",
        str(out),
    ]
    for plugin in plugins:
        command += ["-p", plugin]
    environment = {**os.environ, "PYTHONPATH": str(HERE), **(env or {})}
    completed = subprocess.run(
        command + ["test_sample.py"],
        check=False,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), completed.stdout + completed.stderr
    return json.loads(out.read_text())


def test_the_plugin_records_every_kind_of_outcome_with_its_error_line(tmp_path):
    recorded = run_plugin(tmp_path, PLUGIN_TESTS)
    got = {test_id.split("::")[1]: entry["outcome"] for test_id, entry in recorded["outcomes"].items()}
    assert got == {
        "test_pass": "passed",
        "test_fail": "failed",
        "test_setup_error": "error",
        "test_teardown_error": "error",
        "test_skip": "skipped",
        "test_xfail": "xfailed",
        "test_xpass": "xpassed",
        "test_param[mysql]": "passed",
        "test_param[postgresql]": "failed",
    }
    messages = {test_id.split("::")[1]: entry["message"] for test_id, entry in recorded["outcomes"].items()}
    assert messages["test_fail"].splitlines() == ["AssertionError: one is not two", "assert 1 == 2"]
    assert messages["test_teardown_error"] == "RuntimeError: teardown broke"
    assert "no dot binary" in messages["test_skip"]
    assert recorded["exitstatus"] == 1


def test_the_plugin_tells_which_engine_ran(tmp_path):
    source = "def test_nothing(): pass\n"
    assert run_plugin(tmp_path, source)["engine"]["populate"] == "datajoint.autopopulate"
    under_djruntime = run_plugin(
        tmp_path, source, "djcompat_install", env={"DJRUNTIME_ON_INTERRUPT": "error"}
    )
    assert under_djruntime["engine"] == {"populate": "djruntime.engine.populate", "on_interrupt": "error"}


# --------------------------------------------------------------------------------- clean-up, real servers
@pytest.fixture(params=["mysql", "postgresql"])
def server(request) -> harness.Server:
    mysql, postgres = harness.servers_from_environment(os.environ)
    chosen = mysql if request.param == "mysql" else postgres
    try:
        chosen.connect().close()
    except Exception as error:  # noqa: BLE001 - any failure to connect is reported verbatim
        message = f"no {chosen.backend} server at {chosen.host}:{chosen.port} ({error})"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI requires the database tests to run", pytrace=False)
        pytest.skip(message)
    return chosen


def create_schema(server: harness.Server, name: str) -> None:
    statement = f"CREATE DATABASE `{name}`" if server.backend == "mysql" else f'CREATE SCHEMA "{name}"'
    with harness._closing(server.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(statement)


def test_the_plugin_records_the_schemas_the_suite_activates(tmp_path, server):
    name = f"djtest_{uuid.uuid4().hex[:10]}"
    source = f"""
        import datajoint as dj

        def test_schema():
            connection = dj.Connection("{server.host}:{server.port}", "{server.user}", "{server.password}",
                                       backend="{server.backend}", use_tls=False)
            schema = dj.Schema("{name}", connection=connection)
            schema.drop(prompt=False)
        """
    recorded = run_plugin(tmp_path, source)
    assert recorded["outcomes"]["test_sample.py::test_schema"]["outcome"] == "passed", recorded
    assert [(entry["backend"], entry["name"]) for entry in recorded["schemas"]] == [(server.backend, name)]


def test_leftovers_are_dropped_only_when_this_pass_made_them(server):
    mysql, postgres = harness.servers_from_environment(os.environ)
    prefix = harness.new_prefix()
    older, unrelated = f"{prefix}_older", f"djtest_{uuid.uuid4().hex[:10]}"
    made_prefixed, made_recorded = f"{prefix}_made", f"djtest_{uuid.uuid4().hex[:10]}"
    create_schema(server, older)
    try:
        before = harness._snapshot((mysql, postgres))
        for name in (unrelated, made_prefixed, made_recorded):
            create_schema(server, name)
        recorded = [
            {"backend": server.backend, "name": made_recorded},
            {"backend": server.backend, "name": older},
        ]  # activated, but it existed before the pass
        dropped = harness._drop_leftovers((mysql, postgres), before, recorded, prefix)
        assert sorted(dropped) == sorted(
            [f"{server.backend}:{made_prefixed}", f"{server.backend}:{made_recorded}"]
        )
        remaining = server.schemas()
        assert older in remaining and unrelated in remaining
        assert made_prefixed not in remaining and made_recorded not in remaining
    finally:
        for name in (older, unrelated, made_prefixed, made_recorded):
            server.drop_schema(name)


@pytest.mark.db
def test_runs_against_one_server_take_turns():
    mysql, _ = harness.servers_from_environment(os.environ)
    try:
        mysql.connect().close()
    except Exception as error:  # noqa: BLE001 - any failure to connect is reported verbatim
        if os.environ.get("CI"):
            pytest.fail(f"no mysql server ({error}) — CI requires the database tests to run", pytrace=False)
        pytest.skip(f"no mysql server ({error})")
    name = f"djcompat_test_{uuid.uuid4().hex[:8]}"  # not the real lock: a real run may be going on
    with harness.exclusive(mysql, 1, name):
        with pytest.raises(harness.HarnessError, match="another compatibility run holds"):
            with harness.exclusive(mysql, 0, name):
                pass
    with harness.exclusive(mysql, 0, name):  # released with its connection
        pass
