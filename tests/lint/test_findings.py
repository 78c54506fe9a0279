"""One diagnostic per finding, and where it happens said in structured fields (issue 12, items 3-4):
the make() table, the target, the call chain and the related places, through the real command line in
text, JSON and SARIF, from a cold run and from the result cache."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from djlint.analysis import analyze

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
DJLINT = [sys.executable, "-m", "djlint"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DJLINT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def chains(tmp_path: Path) -> Path:
    target = tmp_path / "helper_chains"
    shutil.copytree(FIXTURES / "helper_chains", target, ignore=shutil.ignore_patterns(".djlint_cache"))
    return target


def _reads(records: list[dict]) -> list[dict]:
    return [r for r in records if r["code"] == "DJ201"]


@pytest.mark.parametrize("cached", [False, True])
def test_a_read_reached_through_many_helpers_is_one_finding_per_make(chains: Path, cached: bool) -> None:
    if cached:  # fill the result cache, then read from it
        assert run("--format", "json", ".", cwd=chains).returncode == 1
    result = run("--format", "json", ".", *([] if cached else ["--no-cache"]), cwd=chains)
    assert result.returncode == 1, result.stderr
    reads = _reads(json.loads(result.stdout))
    # describe() reaches Probe through probe_rows five times (directly, via channel_count, probe_names,
    # bool and list): still one finding per make(), both at the line that names Probe
    assert [(r["path"], r["line"], r["table"]) for r in reads] == [
        ("rig/helpers.py", 6, "rig.analysis.ChannelCount"),
        ("rig/helpers.py", 6, "rig.analysis.Waveform"),
    ]
    assert {r["target"] for r in reads} == {"rig.hardware.Probe"}
    count, waveform = reads
    # the first call chain met, ending in the function that holds the reported line
    assert count["via"] == ["rig.helpers.describe", "rig.helpers.probe_rows"]
    assert waveform["via"] == ["rig.helpers.probe_names", "rig.helpers.probe_rows"]
    assert "(in rig.helpers.probe_rows, called from ChannelCount.make())" in count["message"]
    executed = {(r["path"], r["line"]) for r in count["related"] if r["message"] == "executed here"}
    assert executed == {("rig/helpers.py", 10), ("rig/helpers.py", 14), ("rig/helpers.py", 19)}
    assert count["related"][-1] == {"path": "rig/analysis.py", "line": 18, "column": 42,
                                    "message": "called from ChannelCount.make() here"}
    assert waveform["related"] == [
        {"path": "rig/helpers.py", "line": 14, "column": 12, "message": "executed here"},
        {"path": "rig/analysis.py", "line": 32, "column": 38, "message": "called from Waveform.make() here"},
    ]


def test_a_write_in_a_helper_names_where_it_executes(chains: Path) -> None:
    result = run("--format", "json", "--no-cache", ".", cwd=chains)
    write, = [r for r in json.loads(result.stdout) if r["code"] == "DJ301"]
    assert (write["path"], write["line"], write["table"], write["target"]) == (
        "rig/analysis.py", 49, "rig.analysis.Checked", "rig.analysis.Audit")
    assert "via" not in write  # Audit is named in make() itself
    assert write["related"] == [{"path": "rig/helpers.py", "line": 23, "column": 5, "message": "executed here"}]


def test_text_groups_the_findings_of_one_place(chains: Path) -> None:
    lines = run("--no-cache", ".", cwd=chains).stdout.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("rig/helpers.py:6:12: DJ201")]
    assert len(at) == 1
    assert "ChannelCount.make() reads Probe" in lines[at[0]]
    assert lines[at[0] + 1].startswith("    fix: declare the dependency: add `-> Probe`")
    assert lines[at[0] + 2].startswith("    also: sideways read: Waveform.make() reads Probe")
    assert lines[at[0] + 3].startswith("    fix: declare the dependency: add `-> Probe` below `---` in Waveform")


def test_sarif_carries_related_locations_and_properties(chains: Path) -> None:
    log = json.loads(run("--format", "sarif", "--no-cache", ".", cwd=chains).stdout)
    results = [r for r in log["runs"][0]["results"] if r["ruleId"] == "DJ201"]
    assert [r["properties"]["table"] for r in results] == ["rig.analysis.ChannelCount", "rig.analysis.Waveform"]
    related = results[1]["relatedLocations"]
    assert [(r["id"], r["physicalLocation"]["artifactLocation"]["uri"], r["physicalLocation"]["region"]["startLine"],
             r["message"]["text"]) for r in related] == [
        (1, "rig/helpers.py", 14, "executed here"),
        (2, "rig/analysis.py", 32, "called from Waveform.make() here"),
    ]
    properties = results[1]["properties"]
    assert properties.pop("fix").startswith("declare the dependency: add `-> Probe`")
    assert properties == {"table": "rig.analysis.Waveform", "target": "rig.hardware.Probe",
                          "via": ["rig.helpers.probe_names", "rig.helpers.probe_rows"]}
    assert results[1]["fixes"][0]["artifactChanges"][0]["artifactLocation"]["uri"] == "rig/analysis.py"


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "t"\n')
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


SHARED_NAMES = {
    "lab/__init__.py": "",
    "lab/acute.py": '''
        import datajoint as dj
        schema = dj.schema("lab_acute")

        @schema
        class Probe(dj.Manual):
            definition = """
            probe : int
            """
        ''',
    "lab/chronic.py": '''
        import datajoint as dj
        from . import acute
        schema = dj.schema("lab_chronic")

        @schema
        class Probe(dj.Manual):
            definition = """
            probe : int
            """

        @schema
        class Depth(dj.Computed):
            definition = """
            -> Probe
            """

            def _make_tuples(self, key):
                print(len(acute.Probe & key))
                self.insert1(key)
        ''',
}


def test_messages_qualify_clashing_class_names_and_name_legacy_make(tmp_path: Path) -> None:
    repo = _repo(tmp_path, SHARED_NAMES)
    result = analyze([repo], cwd=repo, use_cache=False)
    read, = [d for d in result.diagnostics if d.code == "DJ201"]
    assert read.message.startswith(
        "sideways read: Depth._make_tuples() reads lab.acute.Probe (lab_acute), which is not upstream of Depth")
    assert (read.table, read.target) == ("lab.chronic.Depth", "lab.acute.Probe")


def test_distinct_findings_at_one_place_are_all_kept(tmp_path: Path) -> None:
    """Two reads of two tables on one line, and one helper read by two make() bodies: four findings."""
    repo = _repo(tmp_path, {
        "p/__init__.py": "",
        "p/m.py": '''
            import datajoint as dj
            schema = dj.schema("p")

            @schema
            class A(dj.Manual):
                definition = """
                a : int
                """

            @schema
            class B(dj.Manual):
                definition = """
                b : int
                """

            def both(key):
                return len(A & key) + len(B & key)

            @schema
            class X(dj.Computed):
                definition = """
                x : int
                """
                def make(self, key):
                    self.insert1(dict(key, x=both(key)))

            @schema
            class Y(dj.Computed):
                definition = """
                y : int
                """
                def make(self, key):
                    self.insert1(dict(key, y=both(key)))
            ''',
    })
    reads = sorted((d.table, d.target) for d in analyze([repo], cwd=repo, use_cache=False).diagnostics
                   if d.code == "DJ201")
    assert reads == [("p.m.X", "p.m.A"), ("p.m.X", "p.m.B"), ("p.m.Y", "p.m.A"), ("p.m.Y", "p.m.B")]


def test_an_analysis_that_stops_early_is_reported_not_silent(tmp_path: Path, monkeypatch) -> None:
    """An error of djlint's own inside one make() (issue 17: facts.failures was never read): an
    informational DJ001 at that make(), and the other make() bodies are still analysed."""
    from djlint.makeflow import interpreter

    repo = _repo(tmp_path, SHARED_NAMES)
    (repo / "lab" / "other.py").write_text(textwrap.dedent('''
        import datajoint as dj
        from . import acute
        schema = dj.schema("lab_other")

        @schema
        class Count(dj.Computed):
            definition = """
            n : int
            """

            def make(self, key):
                print(len(acute.Probe & key))
                self.insert1(key)
        '''))
    original = interpreter.MakeRun.run_entry

    def failing(self, module, function, class_id, qualname):  # type: ignore[no-untyped-def]
        if qualname.endswith("Depth._make_tuples"):
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, module, function, class_id, qualname)

    monkeypatch.setattr(interpreter.MakeRun, "run_entry", failing)
    monkeypatch.delenv("DJLINT_DEBUG", raising=False)
    result = analyze([repo], cwd=repo, use_cache=False)
    stopped = [d for d in result.diagnostics if "stopped early" in d.message]
    assert [(d.path, d.code, d.table) for d in stopped] == [("lab/chronic.py", "DJ001", "lab.chronic.Depth")]
    assert "RecursionError: maximum recursion depth exceeded" in stopped[0].message
    assert any(d.code == "DJ201" and d.table == "lab.other.Count" for d in result.diagnostics)


def test_a_finished_analysis_is_freed_without_the_cycle_collector(chains: Path) -> None:
    """The model is freed by reference counting when the result goes: a reference cycle through it (say
    a helper object holding the model that the model holds) makes every run pay a full collection of
    millions of objects at exit (~0.8 s on the benchmark repository)."""
    import gc

    from djlint.model import Model

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        result = analyze([chains], cwd=chains, use_cache=False)
        assert result.model.unknowns.blockers("rig.analysis.ChannelCount") == ()
        assert any(d.code == "DJ201" for d in result.diagnostics)
        del result
        gc.collect()
        assert not [o for o in gc.garbage if isinstance(o, Model)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
