"""Which policy file the runtime uses: the worker CLI on MariaDB, started from a directory that is not
the pipeline's repository (as a cluster job is), must find the policy in the pyproject.toml of the
repository holding the pipeline's modules, name the file in every refusal, and fail on a named file
that does not exist."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from pipelines import harness

pytestmark = [pytest.mark.db, pytest.mark.timeout(180)]

ALLOWANCE = '[tool.djlint.allow."pipelines.counting.Made"]\nreads = ["pipelines.counting.Note"]\n'


@pytest.fixture
def lab(mysql_server, schema_factory, tmp_path):
    """The counting pipeline as a lab repository of its own (with a pyproject.toml), and a directory
    elsewhere to start the worker from."""
    pipeline = harness.make_pipeline(schema_factory, mysql_server, tmp_path, items=3)
    repo = tmp_path / "lab-repo"
    (repo / "pipelines").mkdir(parents=True)
    shutil.copy(harness.RUNTIME_TESTS / "pipelines" / "counting.py", repo / "pipelines" / "counting.py")
    (repo / "pipelines" / "__init__.py").write_text("")
    (repo / "pyproject.toml").write_text('[project]\nname = "lab"\n')
    elsewhere = tmp_path / "scratch"
    elsewhere.mkdir()
    pipeline.repo, pipeline.elsewhere = repo, elsewhere
    pipeline.env = {**pipeline.env, "PYTHONPATH": str(repo), "DJRT_SIDEWAYS_READ": "1"}
    pipeline.env.pop("DJ_PROVENANCE_POLICY", None)
    return pipeline


def worker(lab, *args: str, **env: str) -> tuple[int, str]:
    process = subprocess.run(
        [sys.executable, "-m", "djruntime.engine.cli", "worker", "pipelines.counting:Made", "--strict", "raise", *args],
        cwd=lab.elsewhere, env={**lab.env, **env}, capture_output=True, text=True, timeout=150,
    )
    return process.returncode, process.stderr


def test_the_policy_of_the_pipeline_s_repository_applies_wherever_the_worker_starts(lab):
    (lab.repo / "pyproject.toml").write_text('[project]\nname = "lab"\n\n' + ALLOWANCE)
    code, err = worker(lab)
    assert code == 0, err
    assert len(lab.Made()) == 3  # the sanctioned sideways read of Note passed the gate


def test_every_refusal_names_the_policy_file_it_used(lab):
    code, err = worker(lab, "--max-calls", "1")
    assert code == 1 and "ProvenanceError" in err and "Note" in err, err
    assert f"Policy file: {lab.repo / 'pyproject.toml'}" in err  # found from the module, not from the cwd
    assert len(lab.Made()) == 0


def test_the_policy_named_by_the_environment_wins_and_must_exist(lab):
    named = lab.elsewhere / "policy.toml"
    named.write_text(ALLOWANCE)
    code, err = worker(lab, DJ_PROVENANCE_POLICY=str(named))
    assert code == 0, err
    assert len(lab.Made()) == 3
    missing = lab.elsewhere / "no-such-policy.toml"
    code, err = worker(lab, DJ_PROVENANCE_POLICY=str(missing))
    assert code == 2 and str(missing) in err and "does not exist" in err, err


def test_worker_policy_option_names_the_file(lab):
    named = lab.elsewhere / "policy.toml"
    named.write_text(ALLOWANCE)
    code, err = worker(lab, "--policy", str(named))
    assert code == 0, err
    code, err = worker(lab, "--policy", str(lab.elsewhere / "absent.toml"))
    assert code == 2 and "does not exist" in err, err


def test_no_policy_file_anywhere_says_where_it_looked(lab, tmp_path):
    os.remove(lab.repo / "pyproject.toml")
    code, err = worker(lab, "--max-calls", "1")
    assert code == 1 and "Policy file: none" in err and "DJ_PROVENANCE_POLICY" in err, err


def test_a_bad_name_in_the_discovered_policy_stops_the_worker_before_any_job(lab):
    (lab.repo / "pyproject.toml").write_text(
        '[tool.djlint.allow."pipelines.counting.Made"]\nreads = ["pipelines.counting.NoSuchTable"]\n')
    code, err = worker(lab)
    assert code == 2 and "NoSuchTable" in err and "matches no table" in err, err
    assert str(lab.repo / "pyproject.toml") in err
    assert len(lab.Made()) == 0
