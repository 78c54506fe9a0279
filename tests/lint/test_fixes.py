"""Every finding says its fix; `--fix`, `--unsafe-fixes` and `--diff` apply or show the mechanical ones;
`--add-policy` sanctions the rest in pyproject.toml (issue 16, items 1-3). Each fix is checked the way a
user would: re-running djlint afterwards shows those findings gone and nothing new."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from djlint.config import load_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"


def djlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "djlint", "--no-cache", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180)


def findings(cwd: Path) -> list[dict]:
    result = djlint("--format", "json", cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def keys(records: list[dict]) -> set[tuple[str, str, str]]:
    """What a finding is, independent of the lines an edit moved."""
    return {(r["code"], r.get("table") or r["path"], r.get("target") or r["message"]) for r in records}


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns(".djlint_cache"))
    return target


def test_every_make_finding_carries_a_fix(tmp_path: Path) -> None:
    for name in ("sideways_reads", "cross_table_writes", "key_mismatch", "one_shot_reuse", "non_fk_primary_key",
                 "separate_connection", "upstream_non_ancestor"):
        for record in findings(copy(name, tmp_path)):
            if record["code"] in {"DJ101", "DJ201", "DJ202", "DJ301", "DJ302", "DJ401", "DJ501"}:
                assert record["fix"]["description"], record


def test_fix_materialises_one_shot_iterables_and_keeps_the_file(tmp_path: Path) -> None:
    repo = copy("one_shot_reuse", tmp_path)
    before = findings(repo)
    source = (repo / "units/metrics.py").read_text()
    assert any(r["code"] == "DJ401" for r in before)
    result = djlint("--fix", cwd=repo)
    assert "fixed" in result.stderr
    after = findings(repo)
    assert not any(r["code"] == "DJ401" for r in after)
    assert keys(after) <= keys(before)  # nothing new
    text = (repo / "units/metrics.py").read_text()
    assert "units = list(iter_units(path))" in text
    assert "rows = list(dict(key, unit_a=a, unit_b=b) for a, b in pairs)" in text  # no doubled parentheses
    # only the bound expressions changed: every comment survives
    assert [line for line in source.splitlines() if "#" in line] == [line for line in text.splitlines() if "#" in line]


def test_diff_shows_the_edits_without_writing(tmp_path: Path) -> None:
    repo = copy("one_shot_reuse", tmp_path)
    source = (repo / "units/metrics.py").read_text()
    result = djlint("--diff", cwd=repo)
    assert result.returncode == 1
    assert "--- a/units/metrics.py" in result.stdout and "+        units = list(iter_units(path))" in result.stdout
    assert (repo / "units/metrics.py").read_text() == source


def test_fix_alone_never_changes_a_definition(tmp_path: Path) -> None:
    repo = copy("helper_chains", tmp_path)
    before = {p: p.read_text() for p in repo.rglob("*.py")}
    djlint("--fix", cwd=repo)
    assert {p: p.read_text() for p in repo.rglob("*.py")} == before


@pytest.mark.parametrize("name", ["helper_chains", "sideways_reads", "aliased_imports", "example"])
def test_unsafe_fixes_declare_the_dependency(tmp_path: Path, name: str) -> None:
    repo = copy(name, tmp_path)
    before = findings(repo)
    fixable = {(r["table"], r["target"]) for r in before if r["code"] == "DJ201" and r["fix"]["edits"]}
    djlint("--unsafe-fixes", cwd=repo)
    after = findings(repo)
    assert keys(after) <= keys(before)  # nothing new, e.g. no name the added reference cannot resolve
    assert not fixable & {(r.get("table"), r.get("target")) for r in after if r["code"] == "DJ201"}
    assert not any(r["code"] == "DJ001" for r in after if r not in before)


def test_the_dependency_edit_is_a_secondary_line_with_its_import(tmp_path: Path) -> None:
    repo = copy("helper_chains", tmp_path)
    djlint("--unsafe-fixes", cwd=repo)
    text = (repo / "rig/analysis.py").read_text()
    assert text.count("from rig.hardware import Probe\n") == 1
    assert '    -> Session\n    ---\n    -> Probe\n    channels : int\n' in text


def test_a_finer_grained_read_gets_advice_not_an_edit(tmp_path: Path) -> None:
    repo = copy("ibl_style", tmp_path)
    summary = [r for r in findings(repo) if r["code"] == "DJ201" and r["table"].endswith("CumulativeSummary")]
    assert summary
    for record in summary:
        assert record["fix"]["edits"] == []
        assert "grain" in record["fix"]["description"] and "key_source" in record["fix"]["description"]


def test_sarif_fixes_have_artifact_changes(tmp_path: Path) -> None:
    repo = copy("one_shot_reuse", tmp_path)
    log = json.loads(djlint("--format", "sarif", cwd=repo).stdout)
    fixed = [r for r in log["runs"][0]["results"] if r["ruleId"] == "DJ401"]
    assert fixed and all(r["fixes"][0]["artifactChanges"][0]["replacements"] for r in fixed)
    replacement = fixed[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert set(replacement) == {"deletedRegion", "insertedContent"}
    assert replacement["insertedContent"]["text"].startswith("list(")


def test_add_policy_sanctions_reads_and_writes_keeping_the_file(tmp_path: Path) -> None:
    repo = copy("helper_chains", tmp_path)
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "# the lab's settings end here\n")
    before = findings(repo)
    assert {r["code"] for r in before} == {"DJ201", "DJ301"}
    result = djlint("--add-policy", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sanctioned 3" in result.stderr
    assert findings(repo) == []
    text = pyproject.read_text()
    assert "# the lab's settings end here" in text and text.startswith("[project]")
    policy = load_config(repo).policy
    assert policy.reads_of("rig.analysis.ChannelCount") == {"rig.hardware.Probe"}
    assert policy.writes_of("rig.analysis.Checked") == {"rig.analysis.Audit"}
    again = djlint("--add-policy", cwd=repo)  # idempotent
    assert "sanctioned 0" in again.stderr and pyproject.read_text() == text


def test_add_policy_respects_select(tmp_path: Path) -> None:
    repo = copy("helper_chains", tmp_path)
    djlint("--add-policy", "--select", "DJ301", cwd=repo)
    policy = load_config(repo).policy
    assert policy.writes_of("rig.analysis.Checked") == {"rig.analysis.Audit"}
    assert policy.reads_of("rig.analysis.ChannelCount") == frozenset()


TRICKY = '''
import datajoint as dj
from typing import Iterator

schema = dj.schema("tricky")


@schema
class Source(dj.Manual):
    definition = """
    source_id : int
    """


@schema
class Spread(dj.Computed):
    definition = """
    -> Source
    ---
    n : int
    """

    class Item(dj.Part):
        definition = """
        -> master
        item : int
        """

    def make(self, key):
        rows: Iterator[dict] = (
            dict(key, item=i)  # one row per item
            for i in range(3)
        )
        self.insert1(dict(key, n=len(list(rows))))
        self.Item.insert(rows)  # expect: DJ401

    def helper(self, key):
        rows = map(dict, [key])
        return rows
'''


def test_fix_finds_multi_line_and_annotated_bindings(tmp_path: Path) -> None:
    repo = tmp_path / "tricky"
    (repo / "pipe").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "tricky"\n')
    (repo / "pipe" / "__init__.py").write_text("")
    (repo / "pipe" / "spread.py").write_text(TRICKY)
    (record,) = [r for r in findings(repo) if r["code"] == "DJ401"]
    (edit,) = record["fix"]["edits"]
    assert (edit["line"], edit["end_line"]) == (30, 33)
    assert edit["replacement"].startswith("list(\n            dict(key, item=i)  # one row per item")
    djlint("--fix", cwd=repo)
    text = (repo / "pipe" / "spread.py").read_text()
    assert "        rows: Iterator[dict] = list(\n            dict(key, item=i)  # one row per item\n" in text
    assert "        rows = map(dict, [key])\n" in text  # another function's binding is not touched
    assert not [r for r in findings(repo) if r["code"] == "DJ401"]
