"""Build small multi-module repositories in a temporary directory and compare djlint's make()
diagnostics with ``# expect: DJ201, DJ301`` annotations written on the lines themselves."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from djlint.analysis import analyze

EXPECT = re.compile(r"#\s*expect:\s*(DJ\d{3}(?:\s*,\s*DJ\d{3})*)")
MAKE_CODES = {"DJ201", "DJ202", "DJ301", "DJ302", "DJ401", "DJ501"}

HEADER = 'import datajoint as dj\n'
# A small lab pipeline (lab.py) the make() tests read from and write to.
LAB = '''
import datajoint as dj

schema = dj.schema("lab")


@schema
class Subject(dj.Manual):
    definition = """
    subject_id : int
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session : int
    """

    class Block(dj.Part):
        definition = """
        -> master
        block : int
        """


@schema
class Weather(dj.Manual):
    definition = """
    day : date
    ---
    temperature : float
    """


@schema
class Rig(dj.Lookup):
    definition = """
    rig : varchar(8)
    """
    contents = [("A",), ("B",)]
'''


def write_repo(root: Path, files: dict[str, str], pyproject: str | None = None) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    (root / "pyproject.toml").write_text(textwrap.dedent(pyproject or "[project]\nname = 'pipeline'\n"))


def run(root: Path, files: dict[str, str], pyproject: str | None = None, codes: set[str] | None = None):
    """The diagnostics (restricted to ``codes``, default the make() codes) of the repository."""
    write_repo(root, files, pyproject)
    result = analyze([root], cwd=root, use_cache=False)
    wanted = MAKE_CODES if codes is None else codes
    return [d for d in result.diagnostics if d.code in wanted]


def expected(root: Path, codes: set[str] | None = None) -> set[tuple[str, int, str]]:
    found = set()
    wanted = MAKE_CODES if codes is None else codes
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = EXPECT.search(line)
            if match:
                for code in re.split(r"\s*,\s*", match.group(1)):
                    if code in wanted:
                        found.add((path.relative_to(root).as_posix(), number, code))
    return found


def check(root: Path, files: dict[str, str], pyproject: str | None = None, codes: set[str] | None = None):
    """Assert that the reported (path, line, code) are exactly the annotated ones; return the diagnostics."""
    diagnostics = run(root, files, pyproject, codes)
    reported = {(d.path, d.line, d.code) for d in diagnostics}
    want = expected(root, codes)
    assert reported == want, (
        f"\nmissing: {sorted(want - reported)}\nextra: {sorted(reported - want)}\n"
        + "\n".join(f"  {d.path}:{d.line}:{d.column} {d.code} {d.message}" for d in diagnostics)
    )
    return diagnostics


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``text``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")
