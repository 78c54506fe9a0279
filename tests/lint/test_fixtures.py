"""The fixture pipelines under ``fixtures/``: djlint must report exactly what they are annotated with.

Each directory of ``fixtures/`` is a small repository. A line that must carry diagnostics ends with
``# expect: DJ201`` (several: ``# expect: DJ201, DJ301``); inside a definition string that is a legal
definition comment. ``.py`` and ``.toml`` files are scanned, plus an optional ``expected.txt`` with
``path:line:CODE`` lines. Every fixture is analysed in a temporary copy (nothing is written into the
repository) and the set of (path, line, code) must equal the annotations: a diagnostic too many is a
false alarm, one too few a missed break. The same holds for the real command line
(`djlint --format json .` inside each fixture, with its exit status), and messages must name the table
written on their line. See fixtures/README.md for what each fixture demonstrates and for where each
code is expected.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(DJ\d{3}(?:\s*,\s*DJ\d{3})*)")
KNOWN_CODES = {"DJ000", "DJ001", "DJ003", "DJ101", "DJ201", "DJ202", "DJ301", "DJ302", "DJ401", "DJ501"}
SCANNED_SUFFIXES = {".py", ".toml"}
SKIPPED_DIRS = {"__pycache__", ".djlint_cache", ".git"}

# Fixtures that must produce no diagnostic at all.
CLEAN = {"example", "lookalikes", "not_make"}
# Fixtures written for one rule: each must expect that code at least once.
RULE_FIXTURES = {
    "sideways_reads": "DJ201",
    "upstream_non_ancestor": "DJ202",
    "cross_table_writes": "DJ301",
    "key_mismatch": "DJ302",
    "one_shot_reuse": "DJ401",
    "non_fk_primary_key": "DJ101",
    "separate_connection": "DJ501",
    "policy": "DJ003",
    "bad_input": "DJ000",
    "star_unpacking": "DJ401",
    "dead_branches": "DJ401",
    "class_functions": "DJ201",
    "run_time_choice": "DJ201",
}
# Fixtures whose annotations need a rule change that is not made yet: a strict xfail until it lands (then
# the XPASS fails and the entry must go).
Expectation = tuple[str, int, str]


def fixture_names() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name not in SKIPPED_DIRS)


def fixture_files(fixture: Path) -> list[Path]:
    return sorted(
        p
        for p in fixture.rglob("*")
        if p.is_file() and not SKIPPED_DIRS.intersection(p.relative_to(fixture).parts)
    )


def read_text(path: Path) -> str:
    # Some fixtures hold undecodable bytes on purpose; annotations are ASCII either way.
    return path.read_bytes().decode("utf-8", errors="replace")


def expected_diagnostics(fixture: Path) -> set[Expectation]:
    expected: set[Expectation] = set()
    for path in fixture_files(fixture):
        rel = path.relative_to(fixture).as_posix()
        if path.suffix in SCANNED_SUFFIXES:
            for lineno, line in enumerate(read_text(path).split("\n"), start=1):
                match = EXPECT.search(line)
                if match:
                    for code in match.group(1).split(","):
                        expected.add((rel, lineno, code.strip()))
        elif path.name == "expected.txt" and path.parent == fixture:
            for raw in read_text(path).splitlines():
                entry = raw.split("#", 1)[0].strip()
                if entry:
                    where, line, code = entry.rsplit(":", 2)
                    expected.add((where, int(line), code))
    return expected


def describe(
    entries: set[Expectation], messages: dict[Expectation, str] | None = None, root: Path | None = None
) -> str:
    """One line per entry; with ``messages`` the reported message, with ``root`` the source line."""
    lines = []
    for path, line, code in sorted(entries):
        note = ""
        if messages and (path, line, code) in messages:
            note = f"  {messages[(path, line, code)]}"
        elif root is not None and (root / path).is_file():
            source = read_text(root / path).split("\n")
            if 0 < line <= len(source):
                note = f"  | {source[line - 1].strip()[:140]}"
        lines.append(f"    {path}:{line}:{code}{note}")
    return "\n".join(lines)


@pytest.fixture(scope="session", params=fixture_names())
def fixture_copy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only copy of one fixture, shared by the tests of this module."""
    copy = tmp_path_factory.mktemp("fixture") / request.param
    shutil.copytree(FIXTURES / request.param, copy, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    return copy


_RESULTS: dict[Path, Any] = {}


def analysed(copy: Path) -> Any:
    """djlint.analysis.analyze on a fixture copy, once per copy."""
    if copy not in _RESULTS:
        from djlint.analysis import analyze

        _RESULTS[copy] = analyze([copy], cwd=copy)
    return _RESULTS[copy]


def test_fixture_diagnostics_are_exactly_the_annotated_ones(fixture_copy: Path) -> None:
    result = analysed(fixture_copy)
    messages: dict[Expectation, str] = {}
    for d in result.diagnostics:
        messages.setdefault((d.path, d.line, d.code), f"col {d.column}: {d.message}")
    got = set(messages)
    want = expected_diagnostics(fixture_copy)
    if got != want:
        report = [f"fixture {fixture_copy.name}: diagnostics differ from the annotations"]
        if want - got:
            report.append("  missing (annotated, not reported):\n" + describe(want - got, root=fixture_copy))
        if got - want:
            unexpected = describe(got - want, messages, fixture_copy)
            report.append("  unexpected (reported, not annotated):\n" + unexpected)
        pytest.fail("\n".join(report), pytrace=False)


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAMING_CODES = {"DJ201", "DJ202", "DJ301"}


def test_messages_name_the_table_as_written_on_the_line(fixture_copy: Path) -> None:
    """A sideways read or cross-table write names the table the user wrote on the reported line
    (its class name), so the reader can tell which of several tables on a line is meant."""
    result = analysed(fixture_copy)
    class_names = {table.qualname.rsplit(".", 1)[-1] for table in result.model.tables.values()}
    unnamed = []
    for d in result.diagnostics:
        if d.code not in NAMING_CODES:
            continue
        lines = read_text(fixture_copy / d.path).split("\n")
        source = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
        if ".query(" in source:  # raw SQL names the table in SQL, not as a class
            continue
        named = set(IDENTIFIER.findall(source.split("#", 1)[0])) & class_names
        if named and not any(re.search(rf"\b{name}\b", d.message) for name in named):
            unnamed.append(f"    {d.path}:{d.line}:{d.code} names none of {sorted(named)}: {d.message}")
    assert not unnamed, "messages that do not name the table written on their line:\n" + "\n".join(unnamed)


BREAKING_MODULE = '''
import datajoint as dj

schema = dj.Schema("intruder")


@schema
class Source(dj.Manual):
    definition = """
    source_id : int32
    """


@schema
class Other(dj.Manual):
    definition = """
    other_id : int32
    """


@schema
class Derived(dj.Computed):
    definition = """
    -> Source
    extra : int32
    """

    def make(self, key):
        Other.insert1({"other_id": len(Other())})
'''


def test_environments_and_build_trees_in_a_repository_are_not_analysed(tmp_path: Path) -> None:
    """A new user runs `djlint .` in a checkout holding a virtualenv, a build tree and notebook
    checkpoints: only the repository's own code is analysed."""
    from djlint.analysis import analyze

    repo = tmp_path / "example"
    shutil.copytree(FIXTURES / "example", repo, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    for place in (
        ".venv/lib/python3.11/site-packages/intruder",
        "venv/lib/python3.11/site-packages/intruder",
        "build/lib/pipeline",
        "pipeline/.ipynb_checkpoints",
    ):
        target = repo / place
        target.mkdir(parents=True, exist_ok=True)
        (target / "__init__.py").write_text("")
        (target / "breaking.py").write_text(BREAKING_MODULE)
    result = analyze([repo], cwd=repo)
    assert [(d.path, d.line, d.code) for d in result.diagnostics] == []
    # the same module inside the package itself is analysed: the test above can fail
    (repo / "pipeline" / "breaking.py").write_text(BREAKING_MODULE)
    codes = {d.code for d in analyze([repo], cwd=repo).diagnostics}
    assert {"DJ101", "DJ201", "DJ301"} <= codes


# --- the fixtures themselves are well formed -------------------------------------------------


def test_readme_describes_every_fixture() -> None:
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([\w-]+)/` \|", readme, flags=re.MULTILINE))
    assert listed == set(fixture_names())


@pytest.mark.parametrize("name", fixture_names())
def test_fixture_is_a_repository_with_a_package(name: str) -> None:
    fixture = FIXTURES / name
    markers = [m for m in ("pyproject.toml", "setup.py") if (fixture / m).is_file()]
    assert markers, f"{name}: every fixture is its own repository (pyproject.toml or a legacy setup.py)"
    assert list(fixture.rglob("__init__.py")), f"{name}: holds no package"


@pytest.mark.parametrize("name", fixture_names())
def test_annotations_name_known_codes(name: str) -> None:
    expected = expected_diagnostics(FIXTURES / name)
    unknown = {code for _, _, code in expected} - KNOWN_CODES
    assert not unknown, f"{name}: unknown codes {unknown}"
    if name in CLEAN:
        assert not expected, f"{name} is a clean fixture but carries expectations:\n{describe(expected)}"
    else:
        assert expected, f"{name}: a violation fixture without any expectation cannot fail"
    if name in RULE_FIXTURES:
        assert RULE_FIXTURES[name] in {code for _, _, code in expected}


@pytest.mark.parametrize("name", fixture_names())
def test_python_files_parse_unless_they_expect_dj000(name: str) -> None:
    """Fixtures are never run, but they must be plausible Python (the DJ000 files excepted)."""
    fixture = FIXTURES / name
    dj000 = {path for path, _, code in expected_diagnostics(fixture) if code == "DJ000"}
    for path in fixture_files(fixture):
        rel = path.relative_to(fixture).as_posix()
        if path.suffix == ".py" and rel not in dj000:
            ast.parse(path.read_bytes(), filename=str(path))
    for rel in dj000:
        source = (fixture / rel).read_bytes()
        with pytest.raises((SyntaxError, UnicodeDecodeError, ValueError)):
            ast.parse(source.decode("utf-8"))


def test_expected_txt_parsing_and_bad_bytes_are_read(tmp_path: Path) -> None:
    """The harness itself: annotations in .py/.toml, expected.txt entries, undecodable files."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    source = b"x = 1\n# caf\xe9  # expect: DJ000\ny = 2  # expect: DJ201, DJ301\n"
    (tmp_path / "pkg" / "m.py").write_bytes(source)
    (tmp_path / "pyproject.toml").write_text('[tool.djlint.allow."a.B"]\nreads = ["x.Y"]  # expect: DJ003\n')
    (tmp_path / "expected.txt").write_text("# comment\npkg/m.py:7:DJ501\n")
    assert expected_diagnostics(tmp_path) == {
        ("pkg/m.py", 2, "DJ000"),
        ("pkg/m.py", 3, "DJ201"),
        ("pkg/m.py", 3, "DJ301"),
        ("pyproject.toml", 2, "DJ003"),
        ("pkg/m.py", 7, "DJ501"),
    }


# --- the real command line on the README example --------------------------------------------


def test_cli_json_reports_exactly_the_annotations(fixture_copy: Path) -> None:
    """The command line, run inside the fixture, prints the annotated diagnostics as JSON and exits 1
    when anything but informational DJ001 is reported, 0 otherwise."""
    djlint = Path(sys.executable).parent / "djlint"
    assert djlint.is_file(), f"console script {djlint} is not installed"
    proc = subprocess.run(
        [str(djlint), "--format", "json", "."], cwd=fixture_copy, capture_output=True, text=True, timeout=300
    )
    want = expected_diagnostics(fixture_copy)
    assert proc.returncode == (1 if any(code != "DJ001" for _, _, code in want) else 0), proc.stderr
    got = {(d["path"], d["line"], d["code"]) for d in json.loads(proc.stdout or "[]")}
    if got != want:
        report = [f"fixture {fixture_copy.name}: `djlint --format json .` differs from the annotations"]
        if want - got:
            report.append("  missing:\n" + describe(want - got, root=fixture_copy))
        if got - want:
            report.append("  unexpected:\n" + describe(got - want, root=fixture_copy))
        pytest.fail("\n".join(report), pytrace=False)


FLAKE8_LINE = re.compile(r"^(?:\./)?(?P<path>.+?):(?P<line>\d+):\d+: (?P<code>DJ\d{3}) ")


@pytest.mark.parametrize("name", ["sideways_reads", "make_elsewhere", "virtual_modules", "elements_linking"])
def test_flake8_plugin_reports_the_annotations_of_python_files(name: str, tmp_path: Path) -> None:
    """`flake8 --select DJ .` (parallel workers, whole-repository model) agrees with the annotations
    of the .py files; DJ003 lives in pyproject.toml, which flake8 does not check."""
    copy = tmp_path / name
    shutil.copytree(FIXTURES / name, copy, ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "DJ", "."],
        cwd=copy, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr
    got = set()
    for line in proc.stdout.splitlines():
        match = FLAKE8_LINE.match(line)
        assert match, f"unexpected flake8 output: {line}"
        got.add((match["path"], int(match["line"]), match["code"]))
    want = {e for e in expected_diagnostics(copy) if e[0].endswith(".py")}
    assert got == want, f"missing {sorted(want - got)}, unexpected {sorted(got - want)}"


def test_cli_on_the_example_pipeline_is_silent_and_exits_zero(tmp_path: Path) -> None:
    """The README's command, `djlint fixtures/example`, run from a copy of the checkout's layout so the
    result cache is not written into the source tree."""
    djlint = Path(sys.executable).parent / "djlint"
    assert djlint.is_file(), f"console script {djlint} is not installed"
    shutil.copytree(FIXTURES / "example", tmp_path / "fixtures" / "example",
                    ignore=shutil.ignore_patterns(*SKIPPED_DIRS))
    proc = subprocess.run(
        [str(djlint), "fixtures/example"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stderr
