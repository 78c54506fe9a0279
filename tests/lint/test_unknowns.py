"""What stays decidable below unknown names (djlint.unknowns): a read reported there must be outside the
allowed set of every pipeline the unknown names could stand for. Checked against random pipelines whose
true foreign-key graph is known and partly hidden, as the linter sees a pipeline below names it cannot
resolve; plus the configuration switch through the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from djlint.provenance import AllowedSets
from djlint.unknowns import UNKNOWN_PREFIX, Unknowns


@st.composite
def pipelines(draw):  # type: ignore[no-untyped-def]
    """A random acyclic pipeline (tables t0..tn in topological order, some of them Parts of an earlier
    master) and a set of hidden entities (their names resolve nowhere). The entities (masters with their
    Parts) form no cycle either: each make() inserts a master with its Parts, so an entity that another
    entity's Parts reference is made first (the one assumption rule 1 adds to acyclic foreign keys;
    README, "Unknown names")."""
    n = draw(st.integers(3, 9))
    masters: dict[str, str | None] = {}
    edges: list[tuple[str, str]] = []
    for i in range(n):
        name = f"t{i}"
        earlier = [f"t{j}" for j in range(i)]
        master = draw(st.sampled_from([None, *[t for t in earlier if masters[t] is None]])) if earlier else None
        masters[name] = master
        if master is not None:
            edges.append((master, name))
        entity = master or name
        for parent in draw(st.lists(st.sampled_from(earlier), max_size=3, unique=True)) if earlier else []:
            sofar = AllowedSets.from_edges(masters, edges, masters.get)
            if parent != master and entity not in sofar.ancestor_entities(parent) and \
                    (masters[parent] or parent) != entity:
                edges.append((parent, name))
    entities = [t for t, m in masters.items() if m is None]
    hidden_masters = set(draw(st.lists(st.sampled_from(entities), max_size=3, unique=True)))
    hidden = {t for t, m in masters.items() if t in hidden_masters or m in hidden_masters}
    return masters, edges, hidden


def _visible(masters, edges, hidden):  # type: ignore[no-untyped-def]
    """The graph as djlint sees it: a hidden table is a ``?`` node with no parents and no master."""
    def node(t: str) -> str:
        return f"{UNKNOWN_PREFIX}{t}" if t in hidden else t

    nodes = {node(t) for t in masters}
    seen = [(node(p), node(c)) for p, c in edges if c not in hidden]
    master_of = {t: m for t, m in masters.items() if t not in hidden}
    return AllowedSets.from_edges(nodes, seen, master_of.get), master_of


@settings(max_examples=1500, deadline=None)
@given(pipelines())
def test_a_decided_read_is_outside_the_allowed_set_of_the_true_pipeline(pipeline) -> None:  # type: ignore[no-untyped-def]
    masters, edges, hidden = pipeline
    truth = AllowedSets.from_edges(masters, edges, masters.get)
    visible, _ = _visible(masters, edges, hidden)
    unknowns = Unknowns(visible)
    known = [t for t in masters if t not in hidden]
    for table in (t for t in known if masters[t] is None):
        for target in known:
            if visible.may_read(table, target):
                assert truth.may_read(table, target)  # what is seen is true
            elif not unknowns.may_be_allowed(table, target):
                assert not truth.may_read(table, target), (table, target)


@settings(max_examples=200, deadline=None)
@given(pipelines())
def test_with_nothing_hidden_everything_is_decided(pipeline) -> None:  # type: ignore[no-untyped-def]
    masters, edges, _ = pipeline
    visible, master_of = _visible(masters, edges, set())
    unknowns = Unknowns(visible)
    for table in (t for t in masters if masters[t] is None):
        assert unknowns.blockers(table) == ()
        assert not any(unknowns.may_be_allowed(table, target) for target in masters)


def test_external_roots_block_nothing_unless_switched_off() -> None:
    allowed = AllowedSets.from_edges(["?pkg.Subject", "Surgery", "Weight"],
                                     [("?pkg.Subject", "Surgery"), ("?pkg.Subject", "Weight")], {}.get)
    on = Unknowns(allowed, roots={"?pkg.Subject"})
    off = Unknowns(allowed)  # external-roots = false: the model passes no roots
    assert on.blockers("Weight") == () and not on.may_be_allowed("Weight", "Surgery")
    assert off.blockers("Weight") == ("?pkg.Subject",)
    assert not off.may_be_allowed("Weight", "Surgery")  # below the unknown: decided by rule 1 anyway


def test_external_roots_must_be_a_boolean(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.djlint]\nexternal-roots = "yes"\n')
    (tmp_path / "a.py").write_text("x = 1\n")
    result = subprocess.run([sys.executable, "-m", "djlint", "--no-cache", "."], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "external-roots must be true or false" in result.stderr
    assert "Traceback" not in result.stderr
