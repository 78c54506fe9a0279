"""What ``djlint graph`` draws: the tables of a repository model as nodes (coloured as dj.Diagram colours
them), its foreign keys as edges and the findings between two tables as finding edges; and the part of
it around one table (``focus``). Drawn as text by :mod:`djlint.graph`, as SVG and HTML by
:mod:`djlint.graph_render`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from djlint.diagnostics import Diagnostic

if TYPE_CHECKING:
    from djlint.model import Model

# dj.Diagram's light theme (datajoint 2.3.5, diagram.py): (fill, stroke, text) per tier.
TIER_COLOURS: dict[str, tuple[str, str, str]] = {
    "Manual": ("#E8F0E9", "#3E7A52", "#28513A"),
    "Lookup": ("#F0F0F1", "#808285", "#5A5C5F"),
    "Computed": ("#FFEDE5", "#FF5113", "#B23200"),
    "Imported": ("#E0F4FC", "#00A0DF", "#00537A"),
    "Part": ("#FFFFFF", "#B9BBBE", "#55585C"),
}
UNKNOWN_COLOURS = ("#EEEEEE", "#9E9E9E", "#616161")  # a name djlint cannot resolve: grey placeholder
EDGE_COLOUR = "#171C39"  # dj.Diagram's edge navy
FINDING_COLOUR = "#D32F2F"


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # as messages name the table: class name (module-qualified when two tables share it)
    tier: str | None  # Manual, Lookup, Imported, Computed, Part; None for an unknown name
    unknown: bool = False
    module: str = ""
    schema: str = ""  # the database
    master: str | None = None  # a Part's master table

    @property
    def colours(self) -> tuple[str, str, str]:
        if self.unknown:
            return UNKNOWN_COLOURS
        return TIER_COLOURS.get(self.tier or "", UNKNOWN_COLOURS)

    @property
    def rounded_ends(self) -> bool:
        """Computed and Imported tables are drawn with round ends (dj.Diagram: ellipse / stadium)."""
        return self.tier in ("Computed", "Imported")


@dataclass(frozen=True)
class Edge:
    """A foreign key, parent -> child."""

    source: str
    target: str
    primary: bool


@dataclass(frozen=True)
class FindingEdge:
    """Findings between two tables, in the direction data flows: a read goes from the table read to the
    table whose make() reads it, a write from the make()'s table to the table written."""

    source: str
    target: str
    codes: tuple[str, ...]


@dataclass
class PipelineGraph:
    nodes: dict[str, Node]
    edges: list[Edge]
    findings: list[FindingEdge]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def finding_edge_of(self, diagnostic: Diagnostic) -> FindingEdge | None:
        ends = _finding_ends(diagnostic)
        if ends is None:
            return None
        for edge in self.findings:
            if (edge.source, edge.target) == ends:
                return edge
        return None


def _finding_ends(diagnostic: Diagnostic) -> tuple[str, str] | None:
    if not diagnostic.table or not diagnostic.target or diagnostic.table == diagnostic.target:
        return None
    if diagnostic.code.startswith("DJ3"):  # a write: data flows out of make()
        return diagnostic.table, diagnostic.target
    return diagnostic.target, diagnostic.table


def build_graph(model: Model, diagnostics: Iterable[Diagnostic]) -> PipelineGraph:
    """The foreign-key graph of ``model`` with the findings of ``diagnostics`` between two tables."""
    graph = model.graph
    nodes: dict[str, Node] = {}

    def add(node_id: str) -> None:
        if node_id in nodes:
            return
        data = graph.nodes[node_id] if node_id in graph else {"unknown": True}
        table = model.tables.get(node_id)
        unknown = bool(data.get("unknown")) or table is None
        nodes[node_id] = Node(
            id=node_id,
            label=model.table_name(node_id).partition(" (")[0],  # the database goes to ``schema``
            schema=(table.schema or "") if table else "",
            tier=None if unknown or table is None else table.tier,
            unknown=unknown,
            module=table.module if table else "",
            master=table.master if table else None,
        )

    for node_id in graph.nodes:
        add(node_id)
    edges = [Edge(s, t, bool(d.get("primary"))) for s, t, d in graph.edges(data=True)]
    codes: dict[tuple[str, str], set[str]] = {}
    kept = sorted(diagnostics)
    for diagnostic in kept:
        ends = _finding_ends(diagnostic)
        if ends is None:
            continue
        for end in ends:
            add(end)
        codes.setdefault(ends, set()).add(diagnostic.code)
    findings = [FindingEdge(s, t, tuple(sorted(c))) for (s, t), c in codes.items()]
    return PipelineGraph(nodes, edges, findings, kept)


def find_nodes(graph: PipelineGraph, name: str) -> list[str]:
    """Nodes a user-given name denotes: a table id, a class name, or a dotted suffix of an id."""
    wanted = name.strip()
    exact = [n for n in graph.nodes if n == wanted]
    if exact:
        return exact
    return [
        node.id for node in graph.nodes.values()
        if node.label == wanted or node.id.endswith("." + wanted)
        or node.id.lstrip("?").partition("@")[0] == wanted
    ]


def focus(graph: PipelineGraph, name: str, depth: int | None = None) -> PipelineGraph:
    """The part of ``graph`` around the table ``name``: its ancestors and descendants up to ``depth``
    foreign keys away (all when None), its master and Parts, and the tables its findings touch.
    Raises LookupError when ``name`` denotes no table."""
    centres = find_nodes(graph, name)
    if not centres:
        raise LookupError(f"no table named {name!r} in the graph")
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for edge in graph.edges:
        children.setdefault(edge.source, []).append(edge.target)
        parents.setdefault(edge.target, []).append(edge.source)
    # a master and its Parts are one entity: focusing on either shows both
    entity = set(centres)
    masters = {graph.nodes[c].master or c for c in centres}
    entity |= masters | {n.id for n in graph.nodes.values() if n.master in masters}
    keep = set(entity)
    for links in (parents, children):
        frontier, steps = set(entity), 0
        while frontier and (depth is None or steps < depth):
            frontier = {n for f in frontier for n in links.get(f, [])} - keep
            keep |= frontier
            steps += 1
    for finding in graph.findings:
        if finding.source in entity or finding.target in entity:
            keep |= {finding.source, finding.target}
    return PipelineGraph(
        {n: node for n, node in graph.nodes.items() if n in keep},
        [e for e in graph.edges if e.source in keep and e.target in keep],
        [e for e in graph.findings if e.source in keep and e.target in keep],
        [d for d in graph.diagnostics if d.table in keep and (d.target is None or d.target in keep)],
    )
