"""The ``djlint`` command line.

The first half drives ``djlint.cli.main`` in-process over a stand-in analysis (fixed findings), to pin
down options, exit statuses and baselines independently of the analyzer; the second half runs the real
installed ``djlint`` console script on real pipelines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from djlint import cache, cachestore, cli
from djlint.diagnostics import Diagnostic

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
FIXTURES = REPO / "fixtures"

# --------------------------------------------------------------------------------------------------
# stand-in analysis


SOURCE = {
    "pipeline/analysis.py": "import datajoint as dj\n\n\nclass Spikes(dj.Computed):\n    def make(self, key):\n"
    "        probe = (Probe & key).fetch1()\n        Session.insert1(key)\n",
    "pipeline/ephys.py": "from .lab import *\n",
}
FINDINGS = [  # root-relative, as analyze(cwd=root) returns them
    Diagnostic("pipeline/analysis.py", 6, 18, "DJ201", "Spikes.make reads Probe"),
    Diagnostic("pipeline/analysis.py", 7, 9, "DJ301", "Spikes.make writes Session"),
    Diagnostic("pipeline/ephys.py", 1, 1, "DJ001", "unknown name Subject"),
]


class _Repo(type(Path())):  # a Path that also records the stand-in's calls
    calls: list


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository of two files and a stand-in analysis that records its calls."""
    root = _Repo(tmp_path / "repo")
    for relative, text in SOURCE.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (root / "pyproject.toml").write_text("[tool.djlint]\n")
    calls = []

    def fake_analysis(paths, config, analysis_root, use_cache=True):
        calls.append((list(paths), config))
        found = [d for d in FINDINGS if config.enabled(d.code)]
        excluded = [p for p in config.exclude]
        found = [d for d in found if not any(Path(d.path).match(p) for p in excluded)]
        return found, [analysis_root / p for p in SOURCE], cache.Digests()

    monkeypatch.setattr(cache, "_run_analysis", fake_analysis)
    monkeypatch.chdir(root)
    root.calls = calls
    return root


def run_main(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_text_report_and_exit_1(repo, capsys):
    status, out, err = run_main(capsys, "--no-cache")
    assert status == 1
    assert out.splitlines() == [
        "pipeline/analysis.py:6:18: DJ201 Spikes.make reads Probe",
        "pipeline/analysis.py:7:9: DJ301 Spikes.make writes Session",
        "pipeline/ephys.py:1:1: DJ001 unknown name Subject",
    ]


def test_informational_findings_alone_exit_0(repo, capsys):
    status, out, _ = run_main(capsys, "--no-cache", "--select", "DJ001")
    assert status == 0
    assert out == "pipeline/ephys.py:1:1: DJ001 unknown name Subject\n"


def test_select_and_ignore_override_config(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.djlint]\nignore = ["DJ2"]\n')
    status, out, _ = run_main(capsys, "--no-cache")
    assert "DJ201" not in out and "DJ301" in out and status == 1
    status, out, _ = run_main(capsys, "--no-cache", "--ignore", "DJ3,DJ001")
    assert [line.split()[1] for line in out.splitlines()] == ["DJ201"]
    status, out, _ = run_main(capsys, "--no-cache", "--select", "dj2")  # config's ignore still applies
    assert (status, out) == (0, "")
    status, out, _ = run_main(capsys, "--no-cache", "--select", "dj2", "--ignore", "")  # case-insensitive
    assert [line.split()[1] for line in out.splitlines()] == ["DJ201"]


def test_exclude_adds_to_config(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.djlint]\nexclude = ["notebooks/*"]\n')
    run_main(capsys, "--no-cache", "--exclude", "pipeline/ephys.py,build/*", "--exclude", "x/*")
    assert repo.calls[-1][1].exclude == ("notebooks/*", "pipeline/ephys.py", "build/*", "x/*")


def test_paths_relative_to_the_current_directory(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo / "pipeline")
    status, out, _ = run_main(capsys, "--no-cache", "--format", "json", "--isolated", "analysis.py")
    assert status == 1
    paths = {record["path"] for record in json.loads(out)}
    assert paths == {"analysis.py", "ephys.py"}  # the stand-in reports both; real ones are relative too
    (analysed, config) = repo.calls[-1]
    assert analysed == [repo / "pipeline" / "analysis.py"] and config.root == repo


def test_a_file_is_judged_in_its_whole_repository_by_default(repo, capsys, monkeypatch):
    monkeypatch.chdir(repo / "pipeline")
    status, out, _ = run_main(capsys, "--no-cache", "--format", "json", "analysis.py")
    assert status == 1
    assert {record["path"] for record in json.loads(out)} == {"analysis.py"}  # only the given file's
    (analysed, config) = repo.calls[-1]
    assert analysed == [repo] and config.root == repo  # ... judged in the whole repository
    status, out, _ = run_main(capsys, "--no-cache", "--format", "json", ".")
    assert {record["path"] for record in json.loads(out)} == {"analysis.py", "ephys.py"}


def test_no_cache_disables_every_cache_for_the_run_only(repo, capsys, monkeypatch):
    monkeypatch.delenv("DJLINT_NO_CACHE", raising=False)
    seen = []
    original = cache._run_analysis

    def spy(paths, config, root, use_cache=True):
        seen.append((use_cache, os.environ.get("DJLINT_NO_CACHE")))
        return original(paths, config, root, use_cache)

    monkeypatch.setattr(cache, "_run_analysis", spy)
    run_main(capsys, "--no-cache")
    assert seen == [(False, "1")]
    assert "DJLINT_NO_CACHE" not in os.environ
    assert not (repo / ".djlint_cache").exists()


def test_exit_zero(repo, capsys):
    assert run_main(capsys, "--no-cache", "--exit-zero")[0] == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--format", "xml"], "invalid choice"),
        (["--select", "DJ-2"], "not a code or code prefix"),
        (["--no-such-option"], "unrecognized arguments"),
        (["missing_dir"], "no such file or directory: missing_dir"),
        (["--baseline", "nothing.json"], "baseline file not found"),
        (["--write-baseline", "no/such/dir/b.json"], "cannot write the baseline"),
        (["-o", "no/such/dir/report.txt"], "cannot write no/such/dir/report.txt"),
    ],
)
def test_usage_errors_exit_2_without_traceback(repo, capsys, argv, message):
    status, out, err = run_main(capsys, "--no-cache", *argv)
    assert status == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_bad_config_exits_2_with_a_clear_message(repo, capsys):
    (repo / "pyproject.toml").write_text('[tool.djlint]\nselect = "DJ"\nlinking = ["x"]\n')
    status, out, err = run_main(capsys, "--no-cache")
    assert status == 2 and "linking must map names" in err and "Traceback" not in err
    (repo / "pyproject.toml").write_text("[tool.djlint\n")
    status, out, err = run_main(capsys, "--no-cache")
    assert status == 2 and "pyproject.toml" in err and "Traceback" not in err


def test_internal_error_exits_2(repo, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("analyzer bug")

    monkeypatch.setattr(cache, "_run_analysis", boom)
    status, out, err = run_main(capsys, "--no-cache")
    assert status == 2 and "internal error: RuntimeError: analyzer bug" in err


def test_statistics(repo, capsys):
    status, out, _ = run_main(capsys, "--no-cache", "--statistics")
    assert out.splitlines()[-1].split() == ["3", "total"]
    status, out, err = run_main(capsys, "--no-cache", "--statistics", "--format", "json")
    assert len(json.loads(out)) == 3  # stdout stays valid JSON
    assert err.splitlines()[-1].split() == ["3", "total"]


def test_output_file(repo, capsys):
    status, out, _ = run_main(capsys, "--no-cache", "--format", "sarif", "-o", "report.sarif")
    assert status == 1 and out == ""
    log = json.loads((repo / "report.sarif").read_text())
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["DJ201", "DJ301", "DJ001"]


def test_github_format(repo, capsys):
    status, out, _ = run_main(capsys, "--no-cache", "--format", "github")
    assert out.splitlines()[0] == (
        "::error file=pipeline/analysis.py,line=6,col=18,title=DJ201::DJ201 Spikes.make reads Probe"
    )
    assert out.splitlines()[2].startswith("::notice file=pipeline/ephys.py,")


# --------------------------------------------------------------------------------------------------
# baseline


def test_baseline_only_new_findings_fail(repo, capsys):
    status, out, err = run_main(capsys, "--no-cache", "--write-baseline", "djlint-baseline.json")
    assert status == 0 and "wrote 3 finding(s)" in err
    baseline = json.loads((repo / "djlint-baseline.json").read_text())
    assert baseline["entries"][0] == {
        "path": "pipeline/analysis.py",
        "code": "DJ201",
        "message": "Spikes.make reads Probe",
        "text": "probe = (Probe & key).fetch1()",
        "count": 1,
    }
    status, out, err = run_main(capsys, "--no-cache", "--baseline", "djlint-baseline.json")
    assert status == 0 and out == "" and "3 finding(s) matched the baseline" in err


def test_baseline_survives_line_moves_but_not_new_copies(repo, capsys, monkeypatch):
    run_main(capsys, "--no-cache", "--write-baseline", "base.json")
    # two lines inserted above: every finding moves down by 2, same text -> still known
    source = repo / "pipeline/analysis.py"
    lines = source.read_text().splitlines(keepends=True)
    source.write_text("".join(lines[:4] + ["        # a comment\n", "        x = 1\n"] + lines[4:]))
    moved = [Diagnostic(d.path, d.line + 2 if d.path.endswith("analysis.py") else d.line, d.column, d.code,
                        d.message) for d in FINDINGS]
    # and a second copy of the sideways read, on a new line
    text = source.read_text() + "        probe = (Probe & key).fetch1()\n"
    source.write_text(text)
    copy = Diagnostic("pipeline/analysis.py", len(text.splitlines()), 18, "DJ201", "Spikes.make reads Probe")
    monkeypatch.setattr(cache, "_run_analysis", lambda paths, config, root, use_cache=True: ([*moved, copy], [], cache.Digests()))
    status, out, err = run_main(capsys, "--no-cache", "--baseline", "base.json")
    assert status == 1
    assert out == f"pipeline/analysis.py:{copy.line}:18: DJ201 Spikes.make reads Probe\n"
    assert "3 finding(s) matched" in err


def test_baseline_paths_are_relative_to_the_baseline_file(repo, capsys, monkeypatch):
    run_main(capsys, "--no-cache", "--write-baseline", "base.json")
    monkeypatch.chdir(repo / "pipeline")
    status, out, _ = run_main(capsys, "--no-cache", "--baseline", "../base.json", ".")
    assert status == 0 and out == ""


def test_changed_line_text_is_a_new_finding(repo, capsys):
    run_main(capsys, "--no-cache", "--write-baseline", "base.json")
    source = repo / "pipeline/analysis.py"
    source.write_text(source.read_text().replace("(Probe & key).fetch1()", "(Probe & key).fetch1('x')"))
    status, out, _ = run_main(capsys, "--no-cache", "--baseline", "base.json")
    assert status == 1 and out.splitlines() == ["pipeline/analysis.py:6:18: DJ201 Spikes.make reads Probe"]


def test_malformed_baseline_exits_2(repo, capsys):
    (repo / "bad.json").write_text('{"tool": "djlint", "version": 1, "entries": [{"path": 1}]}')
    status, _, err = run_main(capsys, "--no-cache", "--baseline", "bad.json")
    assert status == 2 and "malformed baseline entry" in err
    (repo / "other.json").write_text("[]")
    status, _, err = run_main(capsys, "--no-cache", "--baseline", "other.json")
    assert status == 2 and "not a djlint baseline" in err


# --------------------------------------------------------------------------------------------------
# whole-repo mode (pre-commit) and the result cache


def test_whole_repo_reports_only_the_given_files(repo, capsys):
    status, out, _ = run_main(capsys, "--no-cache", "--whole-repo", "pipeline/ephys.py")
    assert status == 0 and out == "pipeline/ephys.py:1:1: DJ001 unknown name Subject\n"
    assert repo.calls[-1][0] == [repo]  # the whole repository was analysed
    status, out, _ = run_main(capsys, "--no-cache", "--whole-repo", "pipeline/analysis.py")
    assert status == 1 and len(out.splitlines()) == 2


def test_whole_repo_judges_each_file_in_its_own_repository(repo, capsys):
    sub = repo / "sub"
    for relative, text in SOURCE.items():
        (sub / relative).parent.mkdir(parents=True, exist_ok=True)
        (sub / relative).write_text(text)
    (sub / "pyproject.toml").write_text("[tool.djlint]\n")
    status, out, _ = run_main(capsys, "--no-cache", "--whole-repo", "pipeline/analysis.py", "sub/pipeline/analysis.py")
    assert sorted(call[0][0] for call in repo.calls) == [repo, sub]
    assert [line.split(":")[0] for line in out.splitlines()] == ["pipeline/analysis.py"] * 2 + [
        "sub/pipeline/analysis.py"
    ] * 2


def test_cache_answers_unchanged_inputs_and_misses_on_any_change(repo, capsys):
    assert run_main(capsys)[0] == 1
    assert len(repo.calls) == 1
    first = run_main(capsys)
    assert len(repo.calls) == 1  # answered from the cache
    assert first[0] == 1 and len(first[1].splitlines()) == 3
    (repo / "pipeline/ephys.py").write_text("from .lab import *  # edited\n")
    run_main(capsys)
    assert len(repo.calls) == 2  # content change
    (repo / "pipeline/new.py").write_text("x = 1\n")
    run_main(capsys)
    assert len(repo.calls) == 3  # new file
    run_main(capsys, "--ignore", "DJ3")
    assert len(repo.calls) == 4  # different effective config
    (repo / "pyproject.toml").write_text("[tool.djlint]\n# touched\n")
    run_main(capsys, "--ignore", "DJ3")
    assert len(repo.calls) == 5  # pyproject changed
    run_main(capsys, "--no-cache")
    assert len(repo.calls) == 6
    assert (repo / ".djlint_cache" / ".gitignore").read_text().strip().endswith("*")


def test_corrupt_cache_entry_is_ignored(repo, capsys):
    run_main(capsys)
    (entry,) = (repo / ".djlint_cache" / "results").glob("*.json")
    entry.write_text('{"format": 1, "key": "')
    status, out, _ = run_main(capsys)
    assert status == 1 and len(out.splitlines()) == 3 and len(repo.calls) == 2
    json.loads(entry.read_bytes()[: -cachestore.TAG_SIZE])  # rewritten whole: the document, then its tag
    run_main(capsys)
    assert len(repo.calls) == 2  # and valid: it answers the next run


def test_cached_paths_follow_the_current_directory(repo, capsys, monkeypatch):
    run_main(capsys, str(repo))  # fills the cache from the root
    monkeypatch.chdir(repo / "pipeline")
    status, out, _ = run_main(capsys, "--format", "json", str(repo))
    assert len(repo.calls) == 1
    assert [r["path"] for r in json.loads(out)] == ["analysis.py", "analysis.py", "ephys.py"]


# --------------------------------------------------------------------------------------------------
# --explain


def test_explain_every_registered_code():
    from djlint.rules import REGISTRY

    assert REGISTRY, "the rule registry is empty"
    for code, module in REGISTRY.items():
        result = subprocess.run([VENV_BIN / "djlint", "--explain", code.lower()], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{code} ({module.NAME}): {module.SUMMARY.strip()}")
        for title in ("Why", "Bad", "Good"):
            assert f"\n{title}\n" in result.stdout


def test_explain_unknown_code_exits_2():
    result = subprocess.run([VENV_BIN / "djlint", "--explain", "DJ999"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown code 'DJ999'" in result.stderr and result.stdout == ""


# --------------------------------------------------------------------------------------------------
# end to end: the real console script on real pipelines


def djlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "djlint"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def example(tmp_path):
    target = tmp_path / "example"
    shutil.copytree(FIXTURES / "example", target, ignore=shutil.ignore_patterns(".djlint_cache"))
    return target


def test_clean_example_exits_0(example):
    result = djlint("--no-cache", cwd=example)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "djlint", "--format", "json"], cwd=example, capture_output=True, text=True
    )
    assert result.returncode == 0 and json.loads(result.stdout) == []


VIOLATING_ANALYSIS = textwrap.dedent(
    '''\
    import datajoint as dj

    from .acquisition import Recording
    from .ephys import CellType

    schema = dj.Schema("example_extra")


    @schema
    class ProbeCheck(dj.Computed):
        definition = """
        -> Recording
        check_id : int
        ---
        ok : bool
        """

        def make(self, key):
            kinds = CellType.fetch()
            self.insert1(dict(key, check_id=1, ok=len(kinds) > 0))
    '''
)


def _violating(example: Path) -> Path:
    """The example pipeline plus a module with a non-FK primary key attribute in a Computed table
    (DJ101) and a make() reading a table outside its upstream (DJ201)."""
    extra = example / "pipeline" / "extra.py"
    extra.write_text(VIOLATING_ANALYSIS)
    return extra


def _expected_line(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_formats_agree_on_a_real_violation(example):
    _violating(example)
    text = djlint("--no-cache", "--select", "DJ101", cwd=example)
    assert text.returncode == 1, text.stderr
    line = _expected_line(VIOLATING_ANALYSIS, "check_id : int")
    finding, fix = text.stdout.splitlines()
    assert fix.startswith("    fix: move check_id below `---`")
    path, line_no, column, rest = finding.split(":", 3)
    assert (path, int(line_no)) == ("pipeline/extra.py", line)
    assert rest.split()[0] == "DJ101"

    as_json = json.loads(djlint("--no-cache", "--select", "DJ101", "--format", "json", cwd=example).stdout)
    assert [(r["path"], r["line"], r["column"], r["code"]) for r in as_json] == [
        ("pipeline/extra.py", line, int(column), "DJ101")
    ]
    assert as_json[0]["message"] == rest.split(" ", 2)[2]
    sarif = json.loads(djlint("--no-cache", "--select", "DJ101", "--format", "sarif", cwd=example).stdout)
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "DJ101"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": line, "startColumn": int(column)}
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pipeline/extra.py"
    rules = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"DJ000", "DJ001", "DJ101"} <= rules
    github = djlint("--no-cache", "--select", "DJ101", "--format", "github", cwd=example).stdout
    assert github.startswith(f"::error file=pipeline/extra.py,line={line},col={int(column)},title=DJ101::DJ101 ")

    from_sub = djlint("--no-cache", "--select", "DJ101", "--format", "json", cwd=example / "pipeline")
    assert [(r["path"], r["line"]) for r in json.loads(from_sub.stdout)] == [("extra.py", line)]


def test_sideways_read_needs_the_whole_repository(example):
    _violating(example)
    whole = djlint("--no-cache", "--select", "DJ2", cwd=example)
    line = _expected_line(VIOLATING_ANALYSIS, "CellType.fetch()")
    assert whole.returncode == 1, whole.stderr
    findings = [f for f in whole.stdout.splitlines() if not f.startswith("    fix: ")]
    assert [f.split(":")[:2] for f in findings] == [["pipeline/extra.py", str(line)]]
    assert " DJ201 " in whole.stdout and "CellType" in whole.stdout
    # --isolated, the one file alone: its imports resolve nowhere -> no false alarm, DJ201 is not claimed
    alone = djlint("--no-cache", "--select", "DJ2", "--isolated", "pipeline/extra.py", cwd=example)
    assert (alone.returncode, alone.stdout) == (0, "")
    # the one file, the natural call: the whole repository's answer, for that file only
    natural = djlint("--no-cache", "pipeline/extra.py", cwd=example)
    assert natural.returncode == 1 and " DJ001 " not in natural.stdout
    assert [f for f in natural.stdout.splitlines() if " DJ2" in f] == findings
    from_inside = djlint("--no-cache", "--select", "DJ2", "extra.py", cwd=example / "pipeline")
    assert from_inside.stdout == whole.stdout.replace("pipeline/extra.py", "extra.py")
    # --isolated: the unknown names' advice is to analyse the whole repository, not to map them
    isolated = djlint("--no-cache", "--isolated", "pipeline/extra.py", cwd=example)
    unknown = [f for f in isolated.stdout.splitlines() if " DJ001 " in f]
    assert unknown and all("analyse the whole repository, without --isolated" in f for f in unknown)
    # --whole-repo (old hook entries) is the default now
    focused = djlint("--no-cache", "--select", "DJ2", "--whole-repo", "pipeline/extra.py", cwd=example)
    assert focused.stdout == whole.stdout
    other = djlint("--no-cache", "--whole-repo", "pipeline/analysis.py", cwd=example)
    assert (other.returncode, other.stdout) == (0, "")


def test_baseline_on_a_real_violation(example):
    extra = _violating(example)
    assert djlint("--write-baseline", "djlint-baseline.json", cwd=example).returncode == 0
    assert json.loads((example / "djlint-baseline.json").read_text())["entries"]
    assert djlint("--baseline", "djlint-baseline.json", cwd=example).returncode == 0
    # move everything down three lines: still known
    moved = VIOLATING_ANALYSIS.replace("import datajoint as dj\n", "import datajoint as dj\n\n\n# moved\n")
    extra.write_text(moved)
    result = djlint("--baseline", "djlint-baseline.json", cwd=example)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr
    # a second non-FK primary key attribute: new
    extra.write_text(moved.replace("check_id : int\n", "check_id : int\n    check_kind : varchar(8)\n"))
    result = djlint("--baseline", "djlint-baseline.json", cwd=example)
    assert result.returncode == 1
    finding, fix = result.stdout.splitlines()
    assert " DJ101 " in finding and finding.split(":")[1] == str(_expected_line(moved, "check_id") + 1)
    assert fix.startswith("    fix: move check_kind below `---`")


def test_warm_cache_gives_the_same_report(example):
    _violating(example)
    cold = djlint(cwd=example)
    assert (example / ".djlint_cache").is_dir()
    warm = djlint(cwd=example)
    assert cold.returncode == warm.returncode == 1
    assert cold.stdout == warm.stdout != ""
    fresh = djlint("--no-cache", cwd=example)
    assert fresh.stdout == cold.stdout


def test_python_dash_m_matches_console_script(example):
    _violating(example)
    script = djlint("--no-cache", cwd=example)
    module = subprocess.run(
        [sys.executable, "-m", "djlint", "--no-cache"], cwd=example, capture_output=True, text=True
    )
    assert (module.returncode, module.stdout) == (script.returncode, script.stdout)


def test_version_and_help():
    assert djlint("--version", cwd=REPO).stdout.startswith("djlint ")
    help_text = djlint("--help", cwd=REPO)
    assert help_text.returncode == 0 and "--write-baseline" in help_text.stdout
    assert os.path.basename(str(VENV_BIN / "djlint")) == "djlint"
