"""The make() rules as users see them: messages, noqa, select/ignore, and informational DJ001 for
unknown names a make() uses as tables."""

from __future__ import annotations

from pathlib import Path

from makeflow_harness import LAB, run, write_repo

from djlint.analysis import analyze
from djlint.rules import REGISTRY

ANALYSIS = '''
import datajoint as dj
import pymysql
from lab import Session, Weather

schema = dj.schema("analysis")


@schema
class Summary(dj.Computed):
    definition = """
    -> Session
    ---
    total : float
    """

    def make(self, key):
        weather = Weather.fetch()
        quiet = Weather.fetch1()  # noqa: DJ201
        Weather.insert1(dict(day="2024-01-01", temperature=1.0))
        rows = (r for r in range(3))
        first = list(rows)
        second = list(rows)
        connection = pymysql.connect(host="db")
        self.insert1({**key, "session": 0, "total": 0.0})
        trial = (InjectedTrial & key).fetch()
        again = (InjectedTrial & key).fetch()
'''


def test_messages_name_the_make_owner_the_table_and_the_database(tmp_path: Path) -> None:
    diagnostics = run(tmp_path, {"lab.py": LAB, "analysis.py": ANALYSIS}, codes=set(REGISTRY))
    by_code = {d.code: d for d in diagnostics}
    assert set(by_code) == {"DJ001", "DJ201", "DJ301", "DJ302", "DJ401", "DJ501"}
    assert by_code["DJ201"].line == 17 and by_code["DJ201"].message == (
        "sideways read: Summary.make() reads Weather (lab), which is not upstream of Summary (analysis)")
    assert "writes Weather (lab) (insert1)" in by_code["DJ301"].message
    assert "session=0" in by_code["DJ302"].message
    assert "rows consumed again by list()" in by_code["DJ401"].message and "line 21" in by_code["DJ401"].message
    assert "pymysql.connect" in by_code["DJ501"].message
    unknown = [d for d in diagnostics if d.code == "DJ001"]
    assert len(unknown) == 1 and unknown[0].line == 25 and "'InjectedTrial'" in unknown[0].message


def test_noqa_and_ignore_apply_to_make_rules(tmp_path: Path) -> None:
    write_repo(tmp_path, {"lab.py": LAB, "analysis.py": ANALYSIS}, "[tool.djlint]\nignore = ['DJ4', 'DJ001']\n")
    codes = {(d.line, d.code) for d in analyze([tmp_path], cwd=tmp_path, use_cache=False).diagnostics}
    assert (18, "DJ201") not in codes and (17, "DJ201") in codes
    assert not any(code.startswith("DJ4") or code == "DJ001" for _, code in codes)


def test_rules_without_facts_report_nothing() -> None:
    for code in ("DJ201", "DJ202", "DJ301", "DJ302", "DJ401", "DJ501"):
        assert list(REGISTRY[code].check(object(), None)) == []



def _upstream_example_line() -> int:
    """DJ202's own bad example (a self.upstream[X] of a non-ancestor X), as run() writes it."""
    source = REGISTRY["DJ202"].BAD.lstrip("\n")
    return next(n for n, line in enumerate(source.splitlines(), 1) if "self.upstream[" in line)


def test_upstream_index_outside_the_allowed_set_is_one_finding(tmp_path: Path) -> None:
    diagnostics = run(tmp_path, {"trace.py": REGISTRY["DJ202"].BAD})
    assert [(d.line, d.code) for d in diagnostics] == [(_upstream_example_line(), "DJ202")]


def test_upstream_index_is_a_sideways_read_when_dj202_is_ignored(tmp_path: Path) -> None:
    diagnostics = run(tmp_path, {"trace.py": REGISTRY["DJ202"].BAD}, "[tool.djlint]\nignore = ['DJ202']\n")
    assert [(d.line, d.code) for d in diagnostics] == [(_upstream_example_line(), "DJ201")]
