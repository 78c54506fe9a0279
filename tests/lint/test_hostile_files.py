"""Python files that are not regular files (issue 14 item 7), through the real ``djlint`` command: a
``.py`` symlink to ``/dev/zero`` or ``/dev/urandom``, a FIFO, an oversized file. Each is reported as
DJ000 saying why, never read without bound, never waited on; the rest of the repository is analysed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hostile import FINDINGS, findings, make_pipeline, run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_pipeline(tmp_path / "repo")


def plant(repo: Path, kind: str) -> tuple[Path, str]:
    """A hostile ``pipeline/odd.py`` and the reason djlint must give."""
    path = repo / "pipeline" / "odd.py"
    if kind in ("/dev/zero", "/dev/urandom"):
        path.symlink_to(kind)
        return path, "not analysed: a character device, not a regular file"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "not analysed: a FIFO, not a regular file"
    if kind == "huge":
        with path.open("wb") as out:  # sparse: costs no disk
            out.truncate(64 * 1024 * 1024)
        return path, "not analysed: larger than 16 MiB"
    raise AssertionError(kind)


KINDS = ["/dev/zero", "/dev/urandom", "fifo", "huge"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_a_python_file_that_is_not_regular_is_reported_not_read(repo: Path, kind: str, cache: bool) -> None:
    _, reason = plant(repo, kind)
    args = () if cache else ("--no-cache",)
    for _ in range(2 if cache else 1):  # the second run answers from the result cache
        result = run("djlint", *args, cwd=repo)
        assert result.returncode == 1, result.stderr[-2000:]
        assert f"pipeline/odd.py:1:1: DJ000 {reason}\n" in result.stdout
        assert findings(result) == sorted([*FINDINGS, "pipeline/odd.py:1:1: DJ000"])
        assert result.stderr == ""


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_a_hostile_file_given_by_name(repo: Path, kind: str) -> None:
    _, reason = plant(repo, kind)
    result = run("djlint", "--no-cache", "pipeline/odd.py", cwd=repo)
    assert result.returncode == 1 and result.stdout == f"pipeline/odd.py:1:1: DJ000 {reason}\n"
    whole = run("djlint", "--whole-repo", "pipeline/odd.py", cwd=repo)
    assert whole.returncode == 1 and whole.stdout == f"pipeline/odd.py:1:1: DJ000 {reason}\n"


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo"])
def test_reports_that_quote_lines_do_not_read_hostile_files(repo: Path, kind: str) -> None:
    """SARIF and baselines read the text of each reported line: not from a FIFO or a device."""
    plant(repo, kind)
    sarif = run("djlint", "--format", "sarif", cwd=repo)
    assert sarif.returncode == 1
    assert "DJ000" in [r["ruleId"] for r in json.loads(sarif.stdout)["runs"][0]["results"]]
    assert run("djlint", "--write-baseline", "baseline.json", cwd=repo).returncode == 0
    again = run("djlint", "--baseline", "baseline.json", cwd=repo)
    assert again.returncode == 0 and again.stdout == ""


def test_a_symlink_to_a_regular_python_file_is_still_analysed(repo: Path, tmp_path: Path) -> None:
    """The look-alike: a symlinked module is an ordinary module."""
    elsewhere = tmp_path / "shared_ephys.py"
    elsewhere.write_text((repo / "pipeline" / "ephys.py").read_text())
    (repo / "pipeline" / "ephys.py").unlink()
    (repo / "pipeline" / "ephys.py").symlink_to(elsewhere)
    result = run("djlint", "--no-cache", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS


def test_bounded_reads_of_regular_files(tmp_path: Path) -> None:
    """The reader under every source, configuration and cache read: whole files, growing ones, files
    that report no size (procfs), and the bound."""
    from djlint.fileio import NotAnalysable, read_regular

    small = tmp_path / "small.py"
    small.write_bytes(b"x = 1\n" * 1000)
    assert read_regular(small, 1 << 20) == b"x = 1\n" * 1000
    empty = tmp_path / "empty.py"
    empty.write_bytes(b"")
    assert read_regular(empty, 10) == b""
    status = Path("/proc/self/status")
    if status.is_file() and status.stat().st_size == 0:
        assert b"Name:" in read_regular(status, 1 << 20)
    with pytest.raises(NotAnalysable, match="larger than 100 bytes"):
        read_regular(small, 100)
    link = tmp_path / "link.py"
    link.symlink_to(small)
    assert read_regular(link, 1 << 20) == small.read_bytes()
    with pytest.raises(OSError):
        read_regular(link, 1 << 20, follow_symlinks=False)
