"""The pre-commit hook, run by real pre-commit in a temporary git repository.

The hook analyses the whole repository (a make() is judged against every table) and reports the findings
in the files pre-commit passes (the commit's changed files) and every finding whose cause lies in them. Two set-ups: the hook declared by this repository's ``.pre-commit-hooks.yaml``
run as a local ``language: system`` hook with the test environment's ``djlint`` (fast, offline), and the
very hook definition installed by pre-commit itself from this repository's git HEAD (pre-commit builds a
virtualenv for it: that needs the package index, as any ``language: python`` hook does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())

SIDEWAYS = textwrap.dedent(
    '''\
    import datajoint as dj

    from .acquisition import Recording
    from .ephys import CellType

    schema = dj.Schema("example_extra")


    @schema
    class ProbeCheck(dj.Computed):
        definition = """
        -> Recording
        ---
        ok : bool
        """

        def make(self, key):
            kinds = CellType.fetch()
            self.insert1(dict(key, ok=len(kinds) > 0))
    '''
)
SIDEWAYS_LINE = next(n for n, line in enumerate(SIDEWAYS.splitlines(), 1) if "CellType.fetch()" in line)


def test_hook_definition():
    (hook,) = HOOKS
    assert hook["id"] == "djlint"
    assert hook["language"] == "python"
    assert hook["entry"].split() == ["djlint", "--changed"]  # whole repository, changed files and their effects
    assert hook["types_or"] == ["python", "toml"]  # pyproject.toml holds the policy
    assert hook["require_serial"] is True


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def pipeline_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository holding the example pipeline, committed, with the extra module not yet added."""
    root = tmp_path / "lab-pipeline"
    shutil.copytree(REPO / "fixtures" / "example", root, ignore=shutil.ignore_patterns(".djlint_cache", "__pycache__"))
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    for variable in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE"):
        monkeypatch.delenv(variable, raising=False)
    git("init", "-q", "-b", "main", cwd=root)
    git("config", "user.email", "lab@example.org", cwd=root)
    git("config", "user.name", "Lab Member", cwd=root)
    git("config", "commit.gpgsign", "false", cwd=root)
    return root


def pre_commit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "pre-commit"), *args], cwd=cwd, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )


def _local_config(root: Path) -> None:
    """This repository's hook as a local system hook: same entry, types and serial mode."""
    (hook,) = HOOKS
    local = {**hook, "language": "system", "entry": str(VENV_BIN / "djlint") + hook["entry"][len("djlint"):]}
    local.pop("minimum_pre_commit_version", None)
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))


def test_commit_is_refused_for_a_sideways_read_and_only_passed_files_are_reported(pipeline_repo):
    root = pipeline_repo
    _local_config(root)
    assert pre_commit("install", cwd=root).returncode == 0

    git("add", ".", cwd=root)
    first = git("commit", "-q", "-m", "example pipeline", cwd=root)
    assert first.returncode == 0, first.stdout + first.stderr  # the clean pipeline passes

    (root / "pipeline" / "extra.py").write_text(SIDEWAYS)
    git("add", "pipeline/extra.py", cwd=root)
    refused = git("commit", "-m", "add probe check", cwd=root)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    # found only with the whole repository: CellType is defined in pipeline/ephys.py, not passed
    assert f"pipeline/extra.py:{SIDEWAYS_LINE}:" in output and "DJ201" in output and "CellType" in output
    assert git("log", "--oneline", cwd=root).stdout.count("\n") == 1

    # run on another file only: the violation in extra.py (still in the work tree) is not reported
    other = pre_commit("run", "djlint", "--files", "pipeline/analysis.py", cwd=root)
    assert other.returncode == 0, other.stdout
    assert "DJ201" not in other.stdout

    # the user suppresses it knowingly: the commit goes through
    (root / "pipeline" / "extra.py").write_text(SIDEWAYS.replace("CellType.fetch()", "CellType.fetch()  # noqa: DJ201"))
    git("add", "pipeline/extra.py", cwd=root)
    accepted = git("commit", "-q", "-m", "add probe check", cwd=root)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def _setup_script() -> str:
    """The pre-commit set-up script of docs/djlint-usage.md, exactly as a user pastes it."""
    text = (REPO / "docs" / "djlint-usage.md").read_text()
    block = text.split("<!-- pre-commit-setup -->", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert block.startswith("DJP=")
    return block


@pytest.mark.timeout(1200)  # pre-commit builds a virtualenv with the package and its dependencies
def test_pre_commit_installs_and_runs_the_declared_hook(pipeline_repo):
    """The documented set-up, pasted into a lab's repository with DJP set to this repository: pre-commit
    builds the hook's virtualenv from its committed HEAD (pinned by sha), light, and the hook works."""
    if not (REPO / ".git").exists():
        pytest.skip("this checkout is not a git repository: pre-commit cannot clone it")
    root = pipeline_repo
    script = _setup_script().replace("DJP=/path/to/datajoint-provenance", f"DJP={REPO}", 1)
    setup = subprocess.run(["bash", "-e", "-c", script], cwd=root, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert setup.returncode == 0, setup.stdout + setup.stderr
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    head = git("rev-parse", "HEAD", cwd=REPO).stdout.strip()
    assert config["repos"][0]["rev"] == head and config["repos"][0]["hooks"] == [{"id": "djlint"}]
    (root / "pipeline" / "extra.py").write_text(SIDEWAYS)
    git("add", ".", cwd=root)
    began = time.monotonic()
    failing = pre_commit("run", "djlint", "--files", "pipeline/extra.py", cwd=root)
    elapsed = time.monotonic() - began
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert f"pipeline/extra.py:{SIDEWAYS_LINE}:" in failing.stdout and "DJ201" in failing.stdout
    passing = pre_commit("run", "djlint", "--files", "pipeline/analysis.py", cwd=root)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    everything = pre_commit("run", "djlint", "--all-files", cwd=root)
    assert everything.returncode == 1 and everything.stdout.count(" DJ201 ") == 1
    # the hook's environment is the lint install: no datajoint, no database driver, no numpy/pandas
    (environment,) = Path(os.environ["PRE_COMMIT_HOME"]).glob("repo*/py_env-*")
    installed = {p.name.split("-")[0].lower() for p in environment.glob("lib/python*/site-packages/*.dist-info")}
    assert {"flake8", "sqlglot", "datajoint_provenance"} <= installed
    assert not installed & {"datajoint", "pymysql", "numpy", "pandas", "psycopg2_binary"}, installed
    size = sum(f.stat().st_size for f in environment.rglob("*") if f.is_file())
    print(f"hook environment: {size / 1e6:.0f} MB, first run (install + lint) {elapsed:.1f} s")
    assert size < 80e6


def test_the_build_emits_no_deprecation_warning(tmp_path):
    """pyproject.toml as setuptools reads it today (e.g. project.license as an SPDX string)."""
    shutil.copytree(REPO, tmp_path / "src", ignore=shutil.ignore_patterns(
        ".git", ".venv", ".djlint_cache", "__pycache__", "*.egg-info", "build", "fixtures", "tests", "bench"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                            str(tmp_path / "src")], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    output = built.stdout + built.stderr
    assert "Deprecat" not in output and "deprecat" not in output, [
        line for line in output.splitlines() if "eprecat" in line]


# A lab pipeline of five modules: Analysis reads Subject through Session's foreign key; ProbeQC already
# reads Note sideways (a finding committed before the hook was installed, in a file no test edits).
LAB = {
    "pyproject.toml": "[project]\nname = 'lab'\nversion = '0'\n",
    "lab/__init__.py": "",
    "lab/subject.py": """\
import datajoint as dj

schema = dj.Schema("lab_subject")


@schema
class Subject(dj.Manual):
    definition = \"""
    subject_id : int
    ---
    species : varchar(32)
    \"""


@schema
class Probe(dj.Manual):
    definition = \"""
    probe_id : int
    \"""
""",
    "lab/session.py": """\
import datajoint as dj

from .subject import Subject

schema = dj.Schema("lab_session")


@schema
class Session(dj.Manual):
    definition = \"""
    -> Subject
    session_idx : int
    ---
    session_note : varchar(255)
    \"""
""",
    "lab/analysis.py": """\
import datajoint as dj

from .session import Session
from .subject import Subject

schema = dj.Schema("lab_analysis")


@schema
class Analysis(dj.Computed):
    definition = \"""
    -> Session
    ---
    species : varchar(32)
    \"""

    def make(self, key):
        species = (Subject & key).fetch1("species")
        self.insert1(dict(key, species=species))
""",
    "lab/notes.py": """\
import datajoint as dj

schema = dj.Schema("lab_notes")


@schema
class Note(dj.Manual):
    definition = \"""
    note_id : int
    \"""
""",
    "lab/probe_qc.py": """\
import datajoint as dj

from .notes import Note
from .subject import Probe

schema = dj.Schema("lab_probe_qc")


@schema
class ProbeQC(dj.Computed):
    definition = \"""
    -> Probe
    ---
    n_notes : int
    \"""

    def make(self, key):
        self.insert1(dict(key, n_notes=len(Note.fetch())))
""",
}
ANALYSIS_READ = next(n for n, line in enumerate(LAB["lab/analysis.py"].splitlines(), 1) if "fetch1" in line)


@pytest.fixture
def lab_repo(pipeline_repo: Path) -> Path:
    """The lab pipeline committed (with its old ProbeQC finding) before the hook was installed."""
    root = pipeline_repo
    shutil.rmtree(root / "pipeline")
    for relative, text in LAB.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    git("add", ".", cwd=root)
    assert git("commit", "-q", "-m", "lab pipeline", cwd=root).returncode == 0
    _local_config(root)
    assert pre_commit("install", cwd=root).returncode == 0
    git("add", ".", cwd=root)
    assert git("commit", "-q", "-m", "hook", cwd=root).returncode == 0
    return root


def _commit(root: Path, relative: str, text: str) -> subprocess.CompletedProcess[str]:
    (root / relative).write_text(text)
    git("add", relative, cwd=root)
    return git("commit", "-m", f"edit {relative}", cwd=root)


def test_a_definition_change_is_refused_for_the_finding_it_causes_in_an_unchanged_file(lab_repo):
    root = lab_repo
    edited = LAB["lab/session.py"].replace("    -> Subject\n", "    subject_id : int\n")
    refused = _commit(root, "lab/session.py", edited)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    # reported where it is, in a file the commit does not touch
    assert f"lab/analysis.py:{ANALYSIS_READ}:" in output and "DJ201" in output and "Subject" in output
    assert "lab/probe_qc.py" not in output  # an old finding the change has nothing to do with
    assert "lab/session.py:" not in output


def test_an_unrelated_edit_does_not_drag_in_unrelated_findings(lab_repo):
    root = lab_repo
    edited = LAB["lab/session.py"].replace("session_note : varchar(255)", "session_note : varchar(1024)")
    accepted = _commit(root, "lab/session.py", edited)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr  # ProbeQC's old finding stays out
    # ... but an edit of Note's definition (the table ProbeQC reads) does bear on it
    touched = LAB["lab/notes.py"].replace("note_id : int", "note_id : bigint")
    refused = _commit(root, "lab/notes.py", touched)
    assert refused.returncode != 0 and "lab/probe_qc.py:" in refused.stdout + refused.stderr
    git("reset", "-q", "--hard", cwd=root)
    # a changed pyproject.toml (the policy) bears on every finding
    refused = _commit(root, "pyproject.toml", LAB["pyproject.toml"] + "[tool.djlint]\n")
    assert refused.returncode != 0 and "lab/probe_qc.py:" in refused.stdout + refused.stderr
