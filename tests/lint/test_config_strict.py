"""Configuration through the real front ends (the ``djlint`` console script and flake8, as subprocesses):

* every configuration problem is one line naming the file and the key, exit 2, never a traceback
  (issue 14 item 8: unreadable, non-UTF-8 and malformed files; issue 15 item 2: unknown keys, wrong
  types and code selectors that match no code);
* ``extend-select``, ``extend-ignore`` and ``per-file-ignores`` with flake8's and ruff's meaning;
* coexistence with djLint, the HTML template linter that also reads ``[tool.djlint]`` (issue 15
  item 7): its table is left alone, ``[tool.dj-provenance]`` wins, and ``dj-provenance-lint`` is the
  same command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from djlint.config import load_policy
from djlint.rules import REGISTRY

VENV_BIN = Path(sys.executable).parent
FINDING = re.compile(r"^\S+:\d+:\d+: [A-Z]+[0-9]+")
BEHAVIOR_LINE = "pipeline/behavior.py:33:9: DJ301"
EPHYS_LINE = "pipeline/ephys.py:33:21: DJ201"


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A pipeline with one sideways read (DJ201, ephys.py) and one cross-table write (DJ301, behavior.py)."""
    root = tmp_path / "repo"
    (root / "pipeline").mkdir(parents=True)
    (root / "pipeline" / "__init__.py").write_text("")
    (root / "pipeline" / "ephys.py").write_text(REGISTRY["DJ201"].BAD)
    (root / "pipeline" / "behavior.py").write_text(REGISTRY["DJ301"].BAD)
    (root / "pyproject.toml").write_text('[project]\nname = "pipeline"\n')
    return root


def configure(root: Path, text: str) -> None:
    (root / "pyproject.toml").write_text('[project]\nname = "pipeline"\n\n' + textwrap.dedent(text))


def findings(result: subprocess.CompletedProcess[str]) -> list[str]:
    """``path:line:column: CODE`` of each finding (not of the lines that may follow one, e.g. a fix)."""
    return [match.group(0) for line in result.stdout.splitlines() if (match := FINDING.match(line))]


def assert_config_error(root: Path, *needles: str, cli_args: tuple[str, ...] = ()) -> None:
    """djlint: exit 2 and one line on stderr holding every needle; flake8: one critical error line."""
    result = run("djlint", "--no-cache", *cli_args, cwd=root)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("djlint: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    if cli_args:
        return
    flake8 = run("flake8", "--isolated", "--select", "DJ", "pipeline/ephys.py", cwd=root)
    assert flake8.returncode == 1 and "Traceback" not in flake8.stdout + flake8.stderr, flake8.stderr
    (error,) = [line for line in flake8.stdout.splitlines() if line.startswith("djlint: ")]
    for needle in needles:
        assert needle in error, (needle, error)


# --------------------------------------------------------------------------------------------------
# unreadable and malformed files (issue 14 item 8)


def test_tool_that_is_not_a_table(repo: Path) -> None:
    configure(repo, "")
    (repo / "pyproject.toml").write_text("tool = 5\n")
    assert_config_error(repo, str(repo / "pyproject.toml"), "[tool] must be a table", "integer 5")


def test_non_utf8_pyproject(repo: Path) -> None:
    (repo / "pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\n\n[tool.djlint]\nselect = ["DJ"]\n')
    assert_config_error(repo, str(repo / "pyproject.toml"), "not UTF-8", "0xe9 on line 2")


def test_invalid_toml(repo: Path) -> None:
    (repo / "pyproject.toml").write_text("[tool.djlint\nselect = 1\n")
    assert_config_error(repo, str(repo / "pyproject.toml"), "invalid TOML")


def test_unreadable_pyproject(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    if os.geteuid() != 0:
        pyproject.chmod(0)
    else:  # root reads any file: a procfs entry that is write-only even for root
        target = Path("/proc/sys/vm/compact_memory")
        try:
            target.open("rb").close()
            pytest.skip("no file here that root cannot read")
        except PermissionError:
            pass
        except OSError:
            pytest.skip("no file here that root cannot read")
        pyproject.unlink()
        pyproject.symlink_to(target)
    assert_config_error(repo, str(pyproject), "cannot read the file", "ermission denied")


def test_pyproject_that_is_a_fifo_is_an_error_not_a_hang(repo: Path) -> None:
    (repo / ".git").mkdir()  # the root, whatever pyproject.toml is
    (repo / "pyproject.toml").unlink()
    os.mkfifo(repo / "pyproject.toml")
    result = run("djlint", "--no-cache", cwd=repo)
    assert result.returncode == 2 and "a FIFO, not a regular file" in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --------------------------------------------------------------------------------------------------
# strict keys and types (issue 14 item 8, issue 15 item 2)


@pytest.mark.parametrize(
    "table, needles",
    [
        ('reads = "x"', ['allow."pipeline.ephys.ChannelCount".reads must be a list', "the string 'x'"]),
        ("writes = [1]", ['allow."pipeline.ephys.ChannelCount".writes must be a list', "integer 1"]),
        ('read = ["pipeline.ephys.Probe"]', ["unknown key 'read'", "did you mean 'reads'?"]),
    ],
)
def test_policy_entries_are_strict(repo: Path, table: str, needles: list[str]) -> None:
    configure(repo, f'[tool.djlint.allow."pipeline.ephys.ChannelCount"]\n{table}\n')
    assert_config_error(repo, str(repo / "pyproject.toml"), "[tool.djlint]", *needles)


@pytest.mark.parametrize(
    "setting, needles",
    [
        ("cache-dir = 5", ["cache-dir must be a non-empty string", "integer 5"]),
        ('ignore = "DJ201"', ["ignore must be a list of code prefixes", "the string 'DJ201'"]),
        ('select = "DJ"', ["select must be a list of code prefixes"]),
        ('selet = ["DJ2"]', ["unknown key 'selet'", "did you mean 'select'?"]),
        ('colour = "red"', ["unknown key 'colour'", "expected one of: select, extend-select"]),
        ('select = ["XX"]', ["select: 'XX' matches no djlint code", "known: DJ000"]),
        ('select = ["DJ9"]', ["select: 'DJ9' matches no djlint code"]),
        ('ignore = ["E501"]', ["ignore: 'E501' matches no djlint code"]),
        ('extend-select = ["DJ-2"]', ["extend-select: 'DJ-2' is not a code or code prefix"]),
        ('extend-ignore = "DJ3"', ["extend-ignore must be a list"]),
        ('per-file-ignores = ["tests/*"]', ["per-file-ignores must be a table of glob = [codes]", "a list"]),
        ('per-file-ignores = { "tests/*" = "DJ3" }', ['per-file-ignores."tests/*" must be a list']),
        ('per-file-ignores = { "tests/*" = ["XY1"] }', ["per-file-ignores.\"tests/*\": 'XY1' matches no"]),
        ('select = ["DJ"]\nexclude = "notebooks"', ["exclude must be a list of glob patterns"]),
        ('linking = { Session = 3 }', ["linking must map names to module-qualified names"]),
        ("allow = 5", ["allow must be a table of tables"]),
        ('select = ["DJ2"]\nprofile = "django"', ["unknown key 'profile'", "djLint", "[tool.dj-provenance]"]),
    ],
)
def test_settings_are_strict(repo: Path, setting: str, needles: list[str]) -> None:
    configure(repo, f"[tool.djlint]\n{setting}\n")
    assert_config_error(repo, str(repo / "pyproject.toml"), "invalid [tool.djlint] in", *needles)


def test_every_problem_is_named_on_the_one_line(repo: Path) -> None:
    configure(repo, '[tool.djlint]\nselet = ["DJ2"]\ncache-dir = 5\nignore = "DJ201"\n')
    assert_config_error(repo, "unknown key 'selet'", "cache-dir must be", "ignore must be a list")


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_command_line_selectors_that_match_no_code_exit_2(repo: Path, option: str) -> None:
    assert_config_error(repo, f"{option}: 'XX' matches no djlint code", cli_args=(option, "XX"))
    assert run("djlint", "--no-cache", option, "DJ2", cwd=repo).returncode in (0, 1)


def test_a_valid_strict_configuration_is_accepted(repo: Path) -> None:
    configure(
        repo,
        """
        [tool.djlint]
        select = ["DJ"]
        ignore = []
        exclude = ["notebooks/*"]
        linking = {}
        cache-dir = ".lint-cache"

        [tool.djlint.allow."pipeline.ephys.ChannelCount"]
        reads = ["pipeline.ephys.Probe"]
        """,
    )
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == [BEHAVIOR_LINE], result.stderr
    assert (repo / ".lint-cache" / "results").is_dir() and not (repo / ".djlint_cache").exists()


# --------------------------------------------------------------------------------------------------
# extend-select, extend-ignore, per-file-ignores (issue 15 item 2)


def test_extend_select_adds_to_select(repo: Path) -> None:
    configure(repo, '[tool.djlint]\nselect = ["DJ2"]\nextend-select = ["DJ301"]\n')
    assert findings(run("djlint", "--no-cache", cwd=repo)) == [BEHAVIOR_LINE, EPHYS_LINE]
    configure(repo, '[tool.djlint]\nselect = ["DJ2"]\n')
    assert findings(run("djlint", "--no-cache", cwd=repo)) == [EPHYS_LINE]
    # --select replaces select; the configuration's extend-select still adds (as in flake8)
    configure(repo, '[tool.djlint]\nextend-select = ["DJ301"]\n')
    assert findings(run("djlint", "--no-cache", "--select", "DJ1", cwd=repo)) == [BEHAVIOR_LINE]


def test_extend_ignore_adds_to_ignore(repo: Path) -> None:
    configure(repo, '[tool.djlint]\nignore = ["DJ201"]\nextend-ignore = ["DJ3"]\n')
    result = run("djlint", "--no-cache", cwd=repo)
    assert result.returncode == 0 and findings(result) == []
    # --ignore replaces ignore; extend-ignore still applies
    assert findings(run("djlint", "--no-cache", "--ignore", "DJ1", cwd=repo)) == [EPHYS_LINE]
    # the longest matching prefix wins, across select and both ignore lists
    configure(repo, '[tool.djlint]\nextend-select = ["DJ301"]\nextend-ignore = ["DJ3", "DJ2"]\n')
    assert findings(run("djlint", "--no-cache", cwd=repo)) == [BEHAVIOR_LINE]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("pipeline/behavior.py", [EPHYS_LINE]),
        ("behavior.py", [EPHYS_LINE]),  # a name without "/" matches in any directory
        ("pipeline/*", [EPHYS_LINE]),
        ("pipeline", [EPHYS_LINE]),  # a directory: everything below it
        ("*/behav*.py", [EPHYS_LINE]),
        ("ephys.py", [BEHAVIOR_LINE, EPHYS_LINE]),  # a look-alike: other file, other code
        ("other/behavior.py", [BEHAVIOR_LINE, EPHYS_LINE]),
    ],
)
def test_per_file_ignores(repo: Path, pattern: str, expected: list[str]) -> None:
    configure(repo, f'[tool.djlint]\nper-file-ignores = {{ "{pattern}" = ["DJ3"] }}\n')
    assert findings(run("djlint", "--no-cache", cwd=repo)) == expected
    assert findings(run("djlint", cwd=repo)) == expected  # and through the result cache


def test_per_file_ignores_hold_from_a_subdirectory_and_in_flake8(repo: Path) -> None:
    configure(repo, '[tool.djlint]\nper-file-ignores = { "pipeline/behavior.py" = ["DJ301"] }\n')
    inside = run("djlint", "--no-cache", ".", cwd=repo / "pipeline")
    assert [line.split(":")[0] for line in findings(inside)] == ["ephys.py"]
    flake8 = run("flake8", "--isolated", "--select", "DJ", "pipeline/behavior.py", "pipeline/ephys.py", cwd=repo)
    assert [line.split(": ")[1].split()[0] for line in flake8.stdout.splitlines()] == ["DJ201"], flake8.stdout


# --------------------------------------------------------------------------------------------------
# coexistence with djLint (issue 15 item 7)

DJLINT_HTML = """
[tool.djlint]
profile = "django"
ignore = "H014,H017,T003"
max_line_length = 120
indent = 2
"""


@pytest.mark.parametrize(
    "table",
    [
        DJLINT_HTML,
        '[tool.djlint]\nignore = "H014,T003"\n',  # djLint's form of a key both tools have
        '[tool.djlint]\nexclude = ".venv,node_modules"\n',
        '[tool.djlint]\nper-file-ignores = { "templates/a.html" = "H026" }\n',
        '[tool.djlint]\nprofile = "jinja"\nselet = ["X"]\n',  # djLint's own key: not ours to judge
    ],
)
def test_a_djlint_html_table_is_left_alone(repo: Path, table: str) -> None:
    configure(repo, table)
    result = run("djlint", "--no-cache", cwd=repo)
    assert result.returncode == 1 and result.stderr == "", result.stderr
    assert findings(result) == [BEHAVIOR_LINE, EPHYS_LINE]
    flake8 = run("flake8", "--isolated", "--select", "DJ", "pipeline/ephys.py", cwd=repo)
    assert flake8.returncode == 1 and "DJ201" in flake8.stdout and "critical" not in flake8.stdout


def test_a_dj_code_in_a_string_is_ours_and_an_error(repo: Path) -> None:
    configure(repo, '[tool.djlint]\nignore = "DJ201,DJ301"\n')
    assert_config_error(repo, "ignore must be a list of code prefixes")


def test_dj_provenance_table_wins_over_djlint(repo: Path) -> None:
    configure(repo, DJLINT_HTML + '\n[tool.dj-provenance]\nselect = ["DJ2"]\n')
    assert findings(run("djlint", "--no-cache", cwd=repo)) == [EPHYS_LINE]
    # also over a [tool.djlint] with this tool's keys: only one table is read
    configure(repo, '[tool.djlint]\nselect = ["DJ3"]\n\n[tool.dj-provenance]\nselect = ["DJ2"]\n')
    assert findings(run("djlint", "--no-cache", cwd=repo)) == [EPHYS_LINE]
    # with its policy subtables
    configure(
        repo,
        DJLINT_HTML + '\n[tool.dj-provenance.allow."pipeline.ephys.ChannelCount"]\nreads = ["pipeline.ephys.Probe"]\n',
    )
    assert findings(run("djlint", "--no-cache", cwd=repo)) == [BEHAVIOR_LINE]


def test_dj_provenance_table_is_strict_and_named_in_errors(repo: Path) -> None:
    configure(repo, DJLINT_HTML + '\n[tool.dj-provenance]\nselet = ["DJ2"]\n')
    assert_config_error(repo, "invalid [tool.dj-provenance] in", "unknown key 'selet'")
    configure(repo, '[tool.dj-provenance]\nprofile = "django"\n')  # djLint's key has no place here
    assert_config_error(repo, "invalid [tool.dj-provenance] in", "unknown key 'profile' (expected one of: select")
    configure(repo, "[tool]\ndj-provenance = 3\n")
    assert_config_error(repo, "[tool.dj-provenance] in", "must be a table")


def test_a_policy_name_matching_no_table_names_the_table_read(repo: Path) -> None:
    configure(repo, '[tool.dj-provenance.allow."pipeline.ephys.NoSuchTable"]\nreads = []\n')
    result = run("djlint", "--no-cache", "--select", "DJ003", cwd=repo)
    assert result.returncode == 1
    assert '[tool.dj-provenance.allow."pipeline.ephys.NoSuchTable"] names' in result.stdout


def test_the_runtime_policy_reads_the_same_table(repo: Path) -> None:
    from djruntime.strict import policy as runtime_policy

    configure(repo, DJLINT_HTML + '\n[tool.dj-provenance.allow."nosuch_pkg.Table"]\nreads = ["nosuch_pkg.Other"]\n')
    assert set(load_policy(repo / "pyproject.toml").allow) == {"nosuch_pkg.Table"}
    with pytest.raises(runtime_policy.PolicyError, match="nosuch_pkg.Table"):
        runtime_policy.load(repo / "pyproject.toml")
    configure(repo, DJLINT_HTML)  # djLint's table alone: no policy, no error
    assert runtime_policy.load(repo / "pyproject.toml").reads == {}
    configure(repo, '[tool.dj-provenance.allow."nosuch_pkg.Table"]\nreads = "nosuch_pkg.Other"\n')
    with pytest.raises(runtime_policy.PolicyError, match="reads must be a list"):
        runtime_policy.load(repo / "pyproject.toml")


def test_dj_provenance_lint_is_the_same_command(repo: Path) -> None:
    version = run("dj-provenance-lint", "--version", cwd=repo)
    assert version.returncode == 0 and version.stdout == run("djlint", "--version", cwd=repo).stdout
    result = run("dj-provenance-lint", "--no-cache", cwd=repo)
    assert result.returncode == 1 and findings(result) == [BEHAVIOR_LINE, EPHYS_LINE]
