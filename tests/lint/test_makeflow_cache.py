"""The on-disk cache of make() facts: identical facts from the cache, and re-analysis of exactly the
make() entry points whose interpreted modules or resolved names changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from makeflow_harness import LAB, write_repo

from djlint.build import build_model
from djlint.config import load_config
from djlint.makeflow import analyze_makes, interpreter
from djlint.makeflow.cache import decode_fact, encode_fact
from djlint.makeflow.facts import FACT_KINDS, Fact, Location, MakeFacts

HELPERS = '''
from lab import Weather, Rig


def weather(key):
    return Weather.fetch()
'''
ANALYSIS = '''
import datajoint as dj
from lab import Session, Rig
from helpers import weather

schema = dj.schema("analysis")


@schema
class UsesHelper(dj.Computed):
    definition = """
    -> Session
    """

    def make(self, key):
        weather(key)
        self.insert1(key)


@schema
class Alone(dj.Computed):
    definition = """
    -> Session
    """

    def make(self, key):
        rows = (r for r in range(3))
        list(rows)
        sum(rows)
        Rig.fetch()
        self.insert1(key)
'''


def _facts(root: Path, cache: Path):
    model = build_model([root], load_config(root), root, use_cache=False)
    facts = analyze_makes(model, cache_dir=cache)
    return model, facts


def _summary(facts) -> list:
    return sorted(map(repr, [*facts.reads, *facts.writes, *facts.one_shot_reuses, *facts.key_mismatches,
                             *facts.connections, *facts.upstream_indexes]))


@pytest.fixture
def counted(monkeypatch):
    runs: list[str] = []
    original = interpreter.MakeRun.run_entry

    def counting(self, module, function, class_id, qualname):
        runs.append(self.owner)
        return original(self, module, function, class_id, qualname)

    monkeypatch.setattr(interpreter.MakeRun, "run_entry", counting)
    monkeypatch.delenv("DJLINT_NO_CACHE", raising=False)
    return runs


def test_unchanged_repository_is_answered_from_the_cache(tmp_path: Path, counted: list) -> None:
    root, cache = tmp_path / "repo", tmp_path / "cache"
    root.mkdir()
    write_repo(root, {"lab.py": LAB, "helpers.py": HELPERS, "analysis.py": ANALYSIS})
    _, cold = _facts(root, cache)
    assert sorted(counted) == ["analysis.Alone", "analysis.UsesHelper"]
    counted.clear()
    _, warm = _facts(root, cache)
    assert counted == [] and _summary(warm) == _summary(cold)
    assert any(r.target == "lab.Weather" for r in warm.reads) and warm.one_shot_reuses


def test_editing_a_helper_reanalyses_only_the_makes_that_run_it(tmp_path: Path, counted: list) -> None:
    root, cache = tmp_path / "repo", tmp_path / "cache"
    root.mkdir()
    write_repo(root, {"lab.py": LAB, "helpers.py": HELPERS, "analysis.py": ANALYSIS})
    _facts(root, cache)
    counted.clear()
    (root / "helpers.py").write_text(HELPERS.replace("Weather.fetch()", "Rig.fetch()"))
    _, facts = _facts(root, cache)
    assert counted == ["analysis.UsesHelper"]
    assert not any(r.target == "lab.Weather" for r in facts.reads)
    assert any(r.target == "lab.Rig" and r.path == "helpers.py" for r in facts.reads)


def test_a_name_resolving_differently_invalidates(tmp_path: Path, counted: list) -> None:
    root, cache = tmp_path / "repo", tmp_path / "cache"
    root.mkdir()
    uses_reexport = """
import datajoint as dj
from lab import Session
from shared import Thing

schema = dj.schema("analysis")


@schema
class Reader(dj.Computed):
    definition = \"\"\"
    -> Session
    \"\"\"

    def make(self, key):
        Thing.fetch()
        self.insert1(key)
"""
    write_repo(root, {"lab.py": LAB, "shared.py": "from lab import Subject as Thing\n", "analysis.py": uses_reexport})
    _, facts = _facts(root, cache)
    assert [r.target for r in facts.reads if r.path == "analysis.py"] == ["lab.Subject"]
    counted.clear()
    # only the re-exporting module changes; the make() module is byte-identical
    (root / "shared.py").write_text("from lab import Weather as Thing\n")
    _, facts = _facts(root, cache)
    assert counted == ["analysis.Reader"]
    assert [r.target for r in facts.reads if r.path == "analysis.py"] == ["lab.Weather"]


def test_a_new_import_reanalyses_only_the_makes_whose_names_change(tmp_path: Path, counted: list) -> None:
    root, cache = tmp_path / "repo", tmp_path / "cache"
    root.mkdir()
    write_repo(root, {"lab.py": LAB, "helpers.py": HELPERS, "analysis.py": ANALYSIS})
    _, cold = _facts(root, cache)
    counted.clear()
    # an import no make() name depends on: every entry is reused
    (root / "lab.py").write_text("import math\n" + (root / "lab.py").read_text())
    _, warm = _facts(root, cache)
    assert counted == [] and _summary(warm) == _summary(cold)
    # helpers now import a different Weather: only the make() that runs the helper is re-analysed
    (root / "helpers.py").write_text(HELPERS.replace("from lab import Weather, Rig", "from lab import Rig\nfrom lab import Rig as Weather"))
    _, facts = _facts(root, cache)
    assert counted == ["analysis.UsesHelper"]
    assert any(r.target == "lab.Rig" and r.path == "helpers.py" for r in facts.reads)
    assert not any(r.target == "lab.Weather" for r in facts.reads)


def test_a_name_added_to_a_star_imported_module_invalidates(tmp_path: Path, counted: list) -> None:
    root, cache = tmp_path / "repo", tmp_path / "cache"
    root.mkdir()
    star = ANALYSIS.replace("from lab import Session, Rig\n", "from lab import Session\nfrom shared import *\n")
    write_repo(root, {"lab.py": LAB, "helpers.py": HELPERS, "analysis.py": star,
                      "shared.py": "from lab import Rig\n"})
    _facts(root, cache)
    counted.clear()
    (root / "shared.py").write_text("from lab import Weather as Rig\n")  # same module text elsewhere
    _, facts = _facts(root, cache)
    assert counted == ["analysis.Alone"]
    assert [r.target for r in facts.reads if r.path == "analysis.py"] == ["lab.Weather"]


def test_every_fact_kind_is_declared_once_and_survives_the_cache() -> None:
    """A fact kind is a ``list[...]`` field of MakeFacts: it has its list and its cache encoding from that."""
    assert set(FACT_KINDS) == set(Fact.__subclasses__())
    facts = MakeFacts()
    for kind, bucket in FACT_KINDS.items():
        fact = kind("a.T", Location("a.py", 3, 5), kind.__name__)
        facts.add(fact)
        assert getattr(facts, bucket) == [fact]
        assert decode_fact(encode_fact(fact)) == fact
    assert [type(f) for f in facts.all_facts()] == list(FACT_KINDS)
