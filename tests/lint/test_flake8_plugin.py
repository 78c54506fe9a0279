"""The flake8 plugin reports, file by file, exactly what the ``djlint`` command reports, using the
whole-repository model through the shared result cache; it is safe under ``flake8 -j``."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from djlint import cache
from djlint.config import load_config
from djlint.diagnostics import Diagnostic

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
VENV_BIN = Path(sys.executable).parent
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and (p / "pyproject.toml").is_file())


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def copy_fixture(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns(".djlint_cache", "__pycache__"))
    return target


def python_lines(report: str, unparsable: frozenset[str] = frozenset()) -> list[str]:
    """The findings flake8 can show: those in .py files (flake8 never sees pyproject.toml, where policy
    errors are reported) that flake8 can parse (on the others it runs no plugin and reports E999)."""
    return sorted(
        line
        for line in report.splitlines()
        if line.split(":", 1)[0].endswith(".py") and line.split(":", 1)[0] not in unparsable
    )


def flake8_unparsable(root: Path, files: list[str]) -> frozenset[str]:
    result = run("flake8", "--isolated", "--select", "E9", *files, cwd=root)
    return frozenset(line.split(":", 1)[0].removeprefix("./") for line in result.stdout.splitlines())


def flake8_dj(root: Path, *args: str) -> list[str]:
    # --isolated: ignore any flake8 configuration of the machine; the file list is given explicitly
    result = run("flake8", "--isolated", "--select", "DJ", *args, cwd=root)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return sorted(line.removeprefix("./") for line in result.stdout.splitlines())


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_flake8_reports_what_the_cli_reports_on_every_fixture(name, tmp_path):
    root = copy_fixture(name, tmp_path)
    cli = run("djlint", "--no-cache", "--format", "json", cwd=root)
    assert cli.returncode in (0, 1), cli.stderr
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    # one line per finding (the text format groups the findings of one place under one location)
    report = "".join(f"{d['path']}:{d['line']}:{d['column']}: {d['code']} {d['message']}\n"
                     for d in json.loads(cli.stdout))
    expected = python_lines(report, flake8_unparsable(root, files))
    # serially (one process hands the plugin one file after the other) ...
    assert flake8_dj(root, "-j", "1", *files) == expected
    # ... and by two parallel workers sharing the cache, after clearing it
    shutil.rmtree(root / ".djlint_cache", ignore_errors=True)
    assert flake8_dj(root, "-j", "2", *files) == expected


def test_flake8_finds_a_sideways_read_only_the_whole_repository_reveals(tmp_path):
    root = copy_fixture("sideways_reads", tmp_path)
    report = flake8_dj(root, "vision/quality.py")
    source = (root / "vision/quality.py").read_text().splitlines()
    expected = [n for n, text in enumerate(source, 1) if "expect: DJ201" in text]
    assert expected, "the fixture lost its annotations"
    # the tables read are defined in vision/experiment.py, which flake8 was not given
    assert [(entry.split(":")[0], int(entry.split(":")[1]), entry.split()[1]) for entry in report] == [
        ("vision/quality.py", line, "DJ201") for line in expected
    ]
    for entry in report:  # flake8 columns are 1-based in its output, like djlint's
        line, column = int(entry.split(":")[1]), int(entry.split(":")[2])
        assert source[line - 1][column - 1 :].startswith("experiment.")


def test_noqa_is_honoured_by_both(tmp_path):
    root = copy_fixture("sideways_reads", tmp_path)
    quality = root / "vision/quality.py"
    quality.write_text(quality.read_text().replace("# expect: DJ201", "# noqa: DJ201"))
    assert flake8_dj(root, "vision/quality.py") == []
    assert python_lines(run("djlint", "--no-cache", cwd=root).stdout) == python_lines(
        "\n".join(flake8_dj(root, *[p.relative_to(root).as_posix() for p in root.rglob("*.py")]))
    )


def flake8_buffer(root: Path, display_name: str, text: str) -> list[str]:
    """What an editor gets for an unsaved buffer: flake8 reads it from standard input."""
    result = subprocess.run(
        [str(VENV_BIN / "flake8"), "--isolated", "--select", "DJ", "--stdin-display-name", display_name, "-"],
        cwd=root, input=text, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    return sorted(line.removeprefix("./") for line in result.stdout.splitlines())


def test_standard_input_is_analysed_in_place_of_the_file_on_disk(tmp_path):
    root = copy_fixture("sideways_reads", tmp_path)
    quality = root / "vision/quality.py"
    saved = quality.read_text()
    on_disk = flake8_dj(root, "vision/quality.py")
    assert on_disk, "the fixture lost its sideways reads"
    assert flake8_buffer(root, "vision/quality.py", saved) == on_disk  # the saved text: the same answer
    # the buffer removed the violations: they go, although the file on disk still has them
    fixed = '"""Helpers removed: nothing is read here any more."""\n'
    assert flake8_buffer(root, "vision/quality.py", fixed) == []
    # the file on disk is clean now; violations typed into the buffer show before it is saved
    quality.write_text(fixed)
    assert flake8_dj(root, "vision/quality.py") == []
    assert flake8_buffer(root, "vision/quality.py", saved) == on_disk
    # the buffer of another file does not change what the file on disk reports
    assert flake8_dj(root, "vision/quality.py") == []


def test_warm_cache_is_reused_and_an_edit_invalidates_it(tmp_path):
    root = copy_fixture("sideways_reads", tmp_path)
    first = flake8_dj(root, "vision/quality.py")
    entries = list((root / ".djlint_cache" / "results").glob("*.json"))
    assert len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    assert flake8_dj(root, "vision/quality.py") == first
    assert entries[0].stat().st_mtime_ns == stamp  # read, not rewritten
    # the CLI shares the entry for the same analysis
    assert run("djlint", cwd=root).returncode == 1
    assert list((root / ".djlint_cache" / "results").glob("*.json")) == entries
    # edit the file so that its sideways reads disappear (not by noqa, which flake8 honours itself)
    quality = root / "vision/quality.py"
    quality.write_text('"""Helpers removed: nothing is read here any more."""\n')
    assert flake8_dj(root, "vision/quality.py") == []
    assert len(list((root / ".djlint_cache" / "results").glob("*.json"))) == 2


def test_plugin_stays_idle_when_no_dj_code_is_selected(tmp_path):
    root = copy_fixture("sideways_reads", tmp_path)
    result = run("flake8", "--isolated", "--select", "F", "vision", cwd=root)
    assert result.returncode in (0, 1), result.stderr
    assert " DJ" not in result.stdout
    assert not (root / ".djlint_cache").exists()  # no repository analysis happened
    # with flake8's default selection, extension codes are on
    default = run("flake8", "--isolated", "vision/quality.py", cwd=root)
    assert any(" DJ201 " in line for line in default.stdout.splitlines())


def test_plugin_is_registered_under_dj():
    result = run("flake8", "--version", cwd=REPO)
    assert "datajoint-provenance" in result.stdout


# --------------------------------------------------------------------------------------------------
# the cache under concurrency, with a slow stand-in analysis that counts its runs


def _worker(root: str, log: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    def slow_analysis(paths, config, analysis_root, use_cache=True):  # type: ignore[no-untyped-def]
        with open(log, "a") as handle:
            handle.write("analysed\n")
        time.sleep(0.5)
        return [Diagnostic("a.py", 1, 1, "DJ201", "read")], [analysis_root / "a.py"], cache.Digests()

    cache._run_analysis = slow_analysis
    config = load_config(Path(root))
    barrier.wait()
    results.put(cache.analyze_cached([Path(root)], config, cwd=Path(root)))


def test_concurrent_cold_workers_analyse_once(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text("[tool.djlint]\n")
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(str(tmp_path), str(log), barrier, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert outcomes == [[Diagnostic("a.py", 1, 1, "DJ201", "read")]] * 4
    assert log.read_text() == "analysed\n"  # one analysis; three workers waited and read its entry
    leftovers = [p.name for p in (tmp_path / ".djlint_cache" / "results").iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


def test_bad_configuration_is_a_clean_flake8_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.djlint]\nselect = 3\n')
    (tmp_path / "a.py").write_text("x = 1\n")
    for jobs in ("1", "2"):
        result = run("flake8", "--isolated", "--select", "DJ", "-j", jobs, "a.py", "a.py", cwd=tmp_path)
        assert result.returncode == 1
        assert "critical error" in result.stdout
        assert f"invalid [tool.djlint] in {tmp_path / 'pyproject.toml'}: select must be a list" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr


def test_repeated_in_process_runs_see_edits(tmp_path, monkeypatch):
    """Editors and tools may run flake8 several times in one process (flake8.api.legacy)."""
    from flake8.api import legacy

    root = copy_fixture("sideways_reads", tmp_path)
    monkeypatch.chdir(root)
    quality = root / "vision/quality.py"
    expected = quality.read_text().count("expect: DJ201")

    def count() -> int:
        style = legacy.get_style_guide(select=["DJ"])
        return style.check_files(["vision/quality.py"]).total_errors

    assert count() == expected > 0
    # no table read any more (not a noqa: flake8 would honour that by itself)
    quality.write_text('"""Helpers removed: nothing is read here any more."""\n')
    assert count() == 0
