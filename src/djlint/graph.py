"""``djlint graph``: the declared foreign-key graph of a repository, drawn from source (no database),
with every finding between two tables (a sideways read, a cross-table write) as a red dashed edge.

Mermaid and DOT are emitted here; SVG and the HTML page come from :mod:`djlint.graph_render`, which
lays the graph out itself (no Graphviz needed). The lint path never imports this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from djlint.diagnostics import Diagnostic
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
FORMATS = ("mermaid", "dot", "svg", "html")


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
    for edge in graph.findings:
        if edge.source in entity or edge.target in entity:
            keep |= {edge.source, edge.target}
    return PipelineGraph(
        {n: node for n, node in graph.nodes.items() if n in keep},
        [e for e in graph.edges if e.source in keep and e.target in keep],
        [e for e in graph.findings if e.source in keep and e.target in keep],
        [d for d in graph.diagnostics if d.table in keep and (d.target is None or d.target in keep)],
    )


# -- text formats ----------------------------------------------------------------------------------
def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(graph: PipelineGraph) -> str:
    """A Mermaid flowchart (renders in GitHub/GitLab Markdown inside a ```mermaid block)."""
    ids = {node: f"n{index}" for index, node in enumerate(graph.nodes)}
    lines = ["flowchart TB"]
    classes = {"Manual": "manual", "Lookup": "lookup", "Imported": "imported", "Computed": "computed",
               "Part": "part"}
    for tier, name in classes.items():
        fill, stroke, text = TIER_COLOURS[tier]
        lines.append(f"    classDef {name} fill:{fill},stroke:{stroke},color:{text}")
    fill, stroke, text = UNKNOWN_COLOURS
    lines.append(f"    classDef unknown fill:{fill},stroke:{stroke},color:{text},stroke-dasharray:4 3")
    for node in graph.nodes.values():
        label = _mermaid_text(("? " if node.unknown else "") + node.label)
        left, right = ("([", "])") if node.rounded_ends else ("[", "]")
        css = "unknown" if node.unknown else classes.get(node.tier or "", "unknown")
        lines.append(f'    {ids[node.id]}{left}"{label}"{right}:::{css}')
    styles = []
    index = 0
    for edge in graph.edges:
        lines.append(f"    {ids[edge.source]} --> {ids[edge.target]}")
        styles.append(f"    linkStyle {index} stroke:{EDGE_COLOUR},stroke-width:{2 if edge.primary else 1}px")
        index += 1
    for finding in graph.findings:
        lines.append(f'    {ids[finding.source]} -. "{", ".join(finding.codes)}" .-> {ids[finding.target]}')
        styles.append(f"    linkStyle {index} stroke:{FINDING_COLOUR},stroke-width:2px,color:{FINDING_COLOUR}")
        index += 1
    return "\n".join(lines + styles) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(graph: PipelineGraph) -> str:
    """Graphviz DOT: dj.Diagram's shapes and colours; findings as red dashed edges that do not
    constrain the ranking."""
    lines = [
        "digraph pipeline {",
        '    graph [rankdir=TB, fontname="Helvetica"];',
        '    node [fontname="Helvetica", fontsize=10, style="filled"];',
        f'    edge [color="{EDGE_COLOUR}", arrowsize=0.6];',
    ]
    for node in graph.nodes.values():
        fill, stroke, text = node.colours
        if node.unknown:
            shape, style = "box", "filled,dashed"
        elif node.rounded_ends:
            shape, style = "ellipse", "filled"
        else:
            shape, style = "box", "filled,rounded"
        size = ", fontsize=8" if node.tier == "Part" else ""
        label = ("? " if node.unknown else "") + node.label
        lines.append(
            f'    "{_dot_text(node.id)}" [label="{_dot_text(label)}", shape={shape}, style="{style}", '
            f'fillcolor="{fill}", color="{stroke}", fontcolor="{text}"{size}];'
        )
    for edge in graph.edges:
        width = 2 if edge.primary else 1
        lines.append(f'    "{_dot_text(edge.source)}" -> "{_dot_text(edge.target)}" [penwidth={width}];')
    for finding in graph.findings:
        lines.append(
            f'    "{_dot_text(finding.source)}" -> "{_dot_text(finding.target)}" [color="{FINDING_COLOUR}", '
            f'fontcolor="{FINDING_COLOUR}", style=dashed, penwidth=2, constraint=false, '
            f'label="{_dot_text(", ".join(finding.codes))}"];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- command line ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="djlint graph",
        description="Draw the declared foreign-key graph of a DataJoint repository from source (no "
        "database), coloured by tier as dj.Diagram does, with sideways reads and cross-table writes as "
        "red dashed edges labelled with their code and unresolved names as grey placeholders.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    parser.add_argument("--format", choices=FORMATS, default="mermaid", help="output format (default: mermaid)")
    parser.add_argument("--focus", metavar="TABLE", help="only this table's neighbourhood (class name or id)")
    parser.add_argument(
        "--depth", type=int, metavar="N",
        help="with --focus: ancestors and descendants up to N foreign keys away (default: all)",
    )
    parser.add_argument("-o", "--output-file", type=Path, metavar="FILE", help="write to FILE")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write djlint's caches")
    return parser


def render(graph: PipelineGraph, fmt: str, title: str = "djlint graph") -> str:
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    from djlint import graph_render

    return graph_render.to_svg(graph) if fmt == "svg" else graph_render.to_html(graph, title)


def graph_of(paths: Sequence[str], cwd: Path, use_cache: bool = True) -> PipelineGraph:
    """Analyse ``paths`` (as ``djlint PATH...`` does, with the repository's configuration) and build
    the graph with its findings."""
    from djlint.analysis import analyze
    from djlint.config import find_root, load_config

    given = [cwd / p for p in (paths or ["."])]
    for path in given:
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {path}")
    config = load_config(find_root(given[0]))
    result = analyze(given, config, cwd=cwd, use_cache=use_cache)
    return build_graph(result.model, result.diagnostics)


def main(argv: Sequence[str] | None = None) -> int:
    """``djlint graph``: 0 drawn, 2 usage or configuration error."""
    from djlint.config import ConfigError

    try:
        options = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    if options.depth is not None and options.depth < 0:
        print("djlint graph: error: --depth must be 0 or more", file=sys.stderr)
        return 2
    cwd = Path.cwd()
    try:
        graph = graph_of(options.paths, cwd, use_cache=not options.no_cache)
        if options.focus:
            graph = focus(graph, options.focus, options.depth)
    except (FileNotFoundError, LookupError, ConfigError) as error:
        message = error.args[0] if isinstance(error, LookupError) else str(error)
        print(f"djlint graph: error: {message}", file=sys.stderr)
        return 2
    title = "djlint graph: " + " ".join(options.paths or ["."])
    text = render(graph, options.format, title)
    if options.output_file is not None:
        try:
            options.output_file.write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"djlint graph: error: cannot write {options.output_file}: {error}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0
