"""``djlint graph``: the declared foreign-key graph of a repository, drawn from source (no database),
with every finding between two tables (a sideways read, a cross-table write) as a red dashed edge.

The graph is built by :mod:`djlint.graph_model`; Mermaid and DOT are emitted here; SVG and the HTML
page come from :mod:`djlint.graph_render`, which lays the graph out itself (no Graphviz needed). The
lint path never imports this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from djlint.graph_model import (
    EDGE_COLOUR,
    FINDING_COLOUR,
    TIER_COLOURS,
    UNKNOWN_COLOURS,
    PipelineGraph,
    build_graph,
    focus,
)

FORMATS = ("mermaid", "dot", "svg", "html")


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
