"""SVG and a self-contained HTML page of a :class:`djlint.graph_model.PipelineGraph`, laid out here without
Graphviz: a layered (Sugiyama-style) drawing, top to bottom like dj.Diagram.

1. Layers: longest path from the roots along foreign keys; a root is then moved down next to its
   highest child so that lone lookups do not float at the top.
2. An edge spanning several layers gets a dummy point per layer it crosses (so it routes around nodes).
3. Order within layers: barycentre sweeps down and up, keeping the order with the fewest crossings.
4. x: each node is pulled to the mean of its neighbours, under the order and minimal gaps (solved exactly
   per layer by isotonic regression, pool-adjacent-violators).
Findings do not take part in the layout: they are drawn over it as red dashed curves.
"""

from __future__ import annotations

import functools
import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from djlint.graph_model import EDGE_COLOUR, FINDING_COLOUR, TIER_COLOURS, UNKNOWN_COLOURS, PipelineGraph

FONT = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
FONT_SIZE = 12
PART_FONT_SIZE = 10
CHAR_WIDTH = 0.64  # of the font size: a wide sans-serif's average advance (a little generous)
NODE_HEIGHT = 28
PART_HEIGHT = 22
GAP_X = 36
GAP_Y = 64
MARGIN = 20
DUMMY_WIDTH = 8


@dataclass
class Box:
    x: float  # centre
    y: float  # centre
    width: float
    height: float


@dataclass
class Layout:
    boxes: dict[str, Box]
    routes: dict[tuple[str, str], list[tuple[float, float]]]  # (parent, child) -> points, top to bottom
    width: float
    height: float


def _label(graph: PipelineGraph, node_id: str) -> str:
    node = graph.nodes[node_id]
    return ("? " if node.unknown else "") + node.label


def _size(graph: PipelineGraph, node_id: str) -> tuple[float, float]:
    node = graph.nodes[node_id]
    size = PART_FONT_SIZE if node.tier == "Part" else FONT_SIZE
    width = len(_label(graph, node_id)) * size * CHAR_WIDTH + (28 if node.rounded_ends else 18)
    return width, PART_HEIGHT if node.tier == "Part" else NODE_HEIGHT


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    children: dict[str, list[str]] = {n: [] for n in nodes}
    for source, target in edges:
        children[source].append(target)
        parents[target].append(source)
    # Kahn's order; a cycle (never declared by a valid pipeline) is broken where it is met
    remaining = {n: len(parents[n]) for n in nodes}
    order: list[str] = []
    ready = [n for n in nodes if remaining[n] == 0]
    seen: set[str] = set()
    while len(order) < len(nodes):
        if not ready:
            ready = [next(n for n in nodes if n not in seen)]
        node = ready.pop(0)
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        for child in children[node]:
            remaining[child] -= 1
            if remaining[child] <= 0 and child not in seen:
                ready.append(child)
    layer: dict[str, int] = {}
    for node in order:
        layer[node] = max((layer[p] + 1 for p in parents[node] if p in layer), default=0)
    for node in reversed(order):  # roots sink to just above their highest child
        if not parents[node] and children[node]:
            layer[node] = max(layer[node], min(layer[c] for c in children[node]) - 1)
    return layer


def _crossings(upper: list[str], lower: list[str], links: dict[str, list[str]]) -> int:
    """Edge crossings between two adjacent layers: inversions of the lower ends, counted with a
    Fenwick tree (O(E log E); the layered drawing of a 2,000-table repository has ~10^4 edges)."""
    position = {n: i for i, n in enumerate(lower)}
    ends = sorted((i, position[c]) for i, n in enumerate(upper) for c in links.get(n, []) if c in position)
    tree = [0] * (len(lower) + 1)
    crossings = 0
    for seen, (_, end) in enumerate(ends):
        below, k = 0, end + 1  # earlier edges ending at or left of ``end`` do not cross this one
        while k:
            below += tree[k]
            k -= k & -k
        crossings += seen - below
        k = end + 1
        while k <= len(lower):
            tree[k] += 1
            k += k & -k
    return crossings


def _barycentre(node: str, row: dict[str, int], at: dict[str, int], links: dict[str, list[str]]) -> float:
    """Mean position of the node's neighbours in the reference layer (its own place when it has none)."""
    near = [at[n] for n in links[node] if n in at]
    return sum(near) / len(near) if near else float(row[node])


def _isotonic(desired: list[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence nearest (weighted least squares) to ``desired``."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(desired, weights):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean2, weight2, count2 = blocks.pop()
            mean1, weight1, count1 = blocks.pop()
            total = weight1 + weight2
            blocks.append([(mean1 * weight1 + mean2 * weight2) / total, total, count1 + count2])
    result: list[float] = []
    for mean, _, count in blocks:
        result += [mean] * int(count)
    return result


def layout(graph: PipelineGraph) -> Layout:
    nodes = list(graph.nodes)
    fk = [(e.source, e.target) for e in graph.edges if e.source != e.target]
    layer = _layers(nodes, fk)
    sizes = {n: _size(graph, n) for n in nodes}

    # dummy points for long edges; every link then joins adjacent layers
    down: dict[str, list[str]] = {n: [] for n in nodes}
    up: dict[str, list[str]] = {n: [] for n in nodes}
    chains: list[list[str]] = []
    for index, (source, target) in enumerate(fk):
        chain = [source]
        for step in range(layer[source] + 1, layer[target]):
            dummy = f"\0{index}.{step}"
            layer[dummy] = step
            sizes[dummy] = (DUMMY_WIDTH, 0.0)
            down[dummy], up[dummy] = [], []
            chain.append(dummy)
        chain.append(target)
        for a, b in itertools.pairwise(chain):
            down[a].append(b)
            up[b].append(a)
        chains.append(chain)

    depth = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    first_seen = {n: i for i, n in enumerate(nodes)}
    for node in sorted(layer, key=lambda n: (n.startswith("\0"), first_seen.get(n, 0))):
        rows[layer[node]].append(node)

    def total_crossings(order: list[list[str]]) -> int:
        return sum(_crossings(order[i], order[i + 1], down) for i in range(len(order) - 1))

    best, best_count = [list(r) for r in rows], total_crossings(rows)
    for sweep in range(12):
        going_down = sweep % 2 == 0
        indices = range(1, depth) if going_down else range(depth - 2, -1, -1)
        for i in indices:
            reference = rows[i - 1] if going_down else rows[i + 1]
            position = {n: k for k, n in enumerate(reference)}
            links = up if going_down else down
            own = {m: k for k, m in enumerate(rows[i])}
            rows[i] = sorted(rows[i], key=functools.partial(_barycentre, row=own, at=position, links=links))
        count = total_crossings(rows)
        if count < best_count:
            best, best_count = [list(r) for r in rows], count
    rows = best

    # x: pack, then pull towards neighbours under order and gaps
    x: dict[str, float] = {}
    for row in rows:
        cursor = 0.0
        for node in row:
            width = sizes[node][0]
            x[node] = cursor + width / 2
            cursor += width + GAP_X
    neighbours = {n: up[n] + down[n] for n in x}
    weight = {n: len(neighbours[n]) + (4 if n.startswith("\0") else 1) for n in x}  # keep long edges straight
    for sweep in range(16):
        going_down = sweep % 2 == 0
        indices = range(depth) if going_down else range(depth - 1, -1, -1)
        for i in indices:
            row = rows[i]
            if not row:
                continue
            desired = [
                sum(x[n] for n in neighbours[node]) / len(neighbours[node]) if neighbours[node] else x[node]
                for node in row
            ]
            weights = [weight[node] for node in row]
            offsets, offset = [], 0.0
            for k, node in enumerate(row):
                if k:
                    offset += (sizes[row[k - 1]][0] + sizes[node][0]) / 2 + GAP_X
                offsets.append(offset)
            placed = _isotonic([d - o for d, o in zip(desired, offsets)], weights)
            for node, base, o in zip(row, placed, offsets):
                x[node] = base + o
    left = min((x[n] - sizes[n][0] / 2 for n in x), default=0.0)
    row_height = [max((sizes[n][1] for n in row), default=0.0) or NODE_HEIGHT for row in rows]
    y_of_row, cursor = [], MARGIN
    for height in row_height:
        y_of_row.append(cursor + height / 2)
        cursor += height + GAP_Y
    boxes = {
        n: Box(x[n] - left + MARGIN, y_of_row[layer[n]], sizes[n][0], sizes[n][1]) for n in x
    }
    routes = {}
    for chain in chains:
        first, last = boxes[chain[0]], boxes[chain[-1]]
        points = [(first.x, first.y + first.height / 2)]
        points += [(boxes[d].x, boxes[d].y) for d in chain[1:-1]]
        points.append((last.x, last.y - last.height / 2))
        routes[chain[0], chain[-1]] = points
    width = max((b.x + b.width / 2 for b in boxes.values()), default=0.0) + MARGIN
    height = cursor - GAP_Y + MARGIN if rows else 2 * MARGIN
    real = {n: b for n, b in boxes.items() if not n.startswith("\0")}
    return Layout(real, routes, max(width, 2 * MARGIN), height)


def _path(points: list[tuple[float, float]]) -> str:
    """A smooth path through ``points`` (top to bottom), vertical at every point."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        middle = (y0 + y1) / 2
        parts.append(f"C{x0:.1f},{middle:.1f} {x1:.1f},{middle:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _boundary(box: Box, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre towards a point leaves the box."""
    dx, dy = towards[0] - box.x, towards[1] - box.y
    if dx == 0 and dy == 0:
        return box.x, box.y
    scale = min(
        (box.width / 2) / abs(dx) if dx else math.inf,
        (box.height / 2) / abs(dy) if dy else math.inf,
    )
    return box.x + dx * scale, box.y + dy * scale


def _finding_curve(source: Box, target: Box, bend: float) -> tuple[str, list[tuple[float, float]]]:
    """A quadratic curve between two boxes, bent sideways so it does not hide a foreign key; and points
    along it where its label may sit, the middle first."""
    mx, my = (source.x + target.x) / 2, (source.y + target.y) / 2
    dx, dy = target.x - source.x, target.y - source.y
    length = math.hypot(dx, dy) or 1.0
    cx, cy = mx - dy / length * bend, my + dx / length * bend
    start = _boundary(source, (cx, cy))
    end = _boundary(target, (cx, cy))
    path = f"M{start[0]:.1f},{start[1]:.1f} Q{cx:.1f},{cy:.1f} {end[0]:.1f},{end[1]:.1f}"
    spots = [
        ((1 - t) ** 2 * start[0] + 2 * t * (1 - t) * cx + t * t * end[0],
         (1 - t) ** 2 * start[1] + 2 * t * (1 - t) * cy + t * t * end[1])
        for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.15, 0.85)
    ]
    return path, spots


def _overlaps(a: Box, b: Box) -> bool:
    return abs(a.x - b.x) < (a.width + b.width) / 2 and abs(a.y - b.y) < (a.height + b.height) / 2


def _tables_svg(graph: PipelineGraph, placed: Layout) -> list[str]:
    esc = html.escape
    out = ['<g class="tables">']
    for node_id, box in placed.boxes.items():
        node = graph.nodes[node_id]
        fill, stroke, text = node.colours
        radius = box.height / 2 if node.rounded_ends else 4
        dash = ' stroke-dasharray="4 3"' if node.unknown else ""
        size = PART_FONT_SIZE if node.tier == "Part" else FONT_SIZE
        tier = "unknown name" if node.unknown else (node.tier or "")
        where = (f" in {node.module}" if node.module else "") + (f" (database {node.schema})" if node.schema else "")
        out.append(
            f'<g class="table {esc(tier.split()[0].lower())}" data-id="{esc(node_id)}">'
            f"<title>{esc(node.label)}: {esc(tier + where)}</title>"
            f'<rect x="{box.x - box.width / 2:.1f}" y="{box.y - box.height / 2:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="{radius:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1.3"{dash}/>'
            f'<text x="{box.x:.1f}" y="{box.y:.1f}" dy="0.35em" text-anchor="middle" fill="{text}" '
            f'font-size="{size}">{esc(_label(graph, node_id))}</text></g>'
        )
    out.append("</g>")
    return out


def to_svg(graph: PipelineGraph, placed: Layout | None = None) -> str:
    """The picture: foreign keys, then the findings' curves, the tables over them, and the findings'
    labels on top (a label is never hidden)."""
    placed = placed or layout(graph)
    esc = html.escape
    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="djlint-graph" width="{placed.width:.0f}" '
        f'height="{placed.height:.0f}" viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" '
        f'font-family="{FONT}" font-size="{FONT_SIZE}">'),
        "<defs>",
        (f'<marker id="fk-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE_COLOUR}"/></marker>'),
        (f'<marker id="finding-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{FINDING_COLOUR}"/></marker>'),
        "</defs>",
        '<rect class="background" width="100%" height="100%" fill="#FFFFFF"/>',
        '<g class="foreign-keys">',
    ]
    for edge in graph.edges:
        route = placed.routes.get((edge.source, edge.target))
        if route is None:  # a table referencing itself: nothing to draw between two places
            continue
        width = 1.6 if edge.primary else 0.9
        out.append(
            f'<path class="fk" d="{_path(route)}" fill="none" stroke="{EDGE_COLOUR}" stroke-opacity="0.62" '
            f'stroke-width="{width}" marker-end="url(#fk-arrow)"/>'
        )
    out.append("</g>")
    curves, labels = ['<g class="findings">'], ['<g class="finding-labels">']
    pair_count: dict[frozenset[str], int] = {}
    taken: list[Box] = list(placed.boxes.values())
    for index, finding in enumerate(graph.findings):
        source, target = placed.boxes[finding.source], placed.boxes[finding.target]
        pair = frozenset((finding.source, finding.target))
        nth = pair_count.get(pair, 0)
        pair_count[pair] = nth + 1
        path, spots = _finding_curve(source, target, 36 + 28 * nth)
        label = ", ".join(finding.codes)
        label_width = len(label) * 11 * CHAR_WIDTH + 8
        # the first spot along the curve where the label covers no table and no other label
        candidates = [Box(x, y + shift, label_width, 16) for shift in (0, -14, 14) for x, y in spots]
        spot = next(
            (c for c in candidates if not any(_overlaps(c, other) for other in taken)),
            next((c for c in candidates if not any(_overlaps(c, b) for b in placed.boxes.values())), candidates[0]),
        )
        taken.append(spot)
        lx, ly = spot.x, spot.y
        title = (
            f"<title>{esc(label)}: {esc(graph.nodes[finding.source].label)} to "
            f"{esc(graph.nodes[finding.target].label)}</title>"
        )
        curves.append(
            f'<g class="finding" id="finding-{index}" data-codes="{esc(label)}">{title}'
            f'<path d="{path}" fill="none" stroke="{FINDING_COLOUR}" stroke-width="2" stroke-dasharray="6 4" '
            f'marker-end="url(#finding-arrow)"/></g>'
        )
        labels.append(
            f'<g class="finding-label" id="finding-{index}-label">{title}'
            f'<rect x="{lx - label_width / 2:.1f}" y="{ly - 8:.1f}" width="{label_width:.1f}" height="16" rx="3" '
            f'fill="#FFFFFF" stroke="{FINDING_COLOUR}" stroke-width="0.8"/>'
            f'<text x="{lx:.1f}" y="{ly:.1f}" dy="0.35em" text-anchor="middle" font-size="11" '
            f'font-weight="bold" fill="{FINDING_COLOUR}">{esc(label)}</text></g>'
        )
    out += curves + ["</g>"] + _tables_svg(graph, placed) + labels + ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


_CSS = """
body { margin: 0; font-family: FONT; color: #222; background: #FAFAFA; }
header { padding: 10px 18px; background: #171C39; color: #FFF; }
header h1 { font-size: 17px; margin: 0; }
header p { margin: 4px 0 0; font-size: 13px; color: #C9CFD9; }
main { display: flex; align-items: flex-start; gap: 16px; padding: 16px; }
.picture svg { max-width: 100%; height: auto; display: block; }
.picture { flex: 1 1 auto; overflow: auto; background: #FFF; border: 1px solid #DDD; border-radius: 6px; }
aside { flex: 0 0 360px; max-height: calc(100vh - 100px); overflow: auto; font-size: 13px; }
aside h2 { font-size: 15px; margin: 4px 0 8px; }
ol.findings { padding-left: 20px; margin: 0 0 16px; }
ol.findings li { margin-bottom: 8px; line-height: 1.35; }
ol.findings li.edge { cursor: pointer; }
ol.findings .code { font-weight: bold; color: RED; }
ol.findings .info { font-weight: bold; color: #757575; }
ol.findings .where { font-family: monospace; font-size: 12px; color: #555; }
p.clean { color: #3E7A52; font-weight: bold; }
ul.legend { list-style: none; padding: 0; margin: 0; }
ul.legend li { margin: 3px 0; display: flex; align-items: center; gap: 8px; }
ul.legend .swatch { display: inline-block; width: 28px; height: 14px; border: 1.5px solid; }
svg .finding.highlight path { stroke-width: 4; }
svg .finding-label.highlight rect { fill: #FFEBEE; }
"""

_SCRIPT = """
document.querySelectorAll('ol.findings li[data-edge]').forEach(function (item) {
  var edge = document.getElementById(item.getAttribute('data-edge'));
  if (!edge) return;
  var label = document.getElementById(item.getAttribute('data-edge') + '-label');
  item.addEventListener('mouseenter', function () { edge.classList.add('highlight'); label.classList.add('highlight'); });
  item.addEventListener('mouseleave', function () { edge.classList.remove('highlight'); label.classList.remove('highlight'); });
});
"""


def to_html(graph: PipelineGraph, title: str = "djlint graph") -> str:
    """One self-contained page (no external resources): the picture, and beside it the findings and
    the legend."""
    from djlint.output import is_informational

    esc = html.escape
    svg = to_svg(graph)
    edge_ids = {(f.source, f.target): f"finding-{i}" for i, f in enumerate(graph.findings)}
    violations = [d for d in graph.diagnostics if not is_informational(d.code)]
    items = []
    for diagnostic in graph.diagnostics:
        edge = graph.finding_edge_of(diagnostic)
        attribute = f' data-edge="{edge_ids[(edge.source, edge.target)]}" class="edge"' if edge else ""
        css = "info" if is_informational(diagnostic.code) else "code"
        items.append(
            f'<li{attribute}><span class="{css}">{esc(diagnostic.code)}</span> {esc(diagnostic.message)}<br>'
            f'<span class="where">{esc(diagnostic.path)}:{diagnostic.line}:{diagnostic.column}</span></li>'
        )
    findings = (
        f'<ol class="findings">{"".join(items)}</ol>' if items else '<p class="clean">No findings.</p>'
    )
    legend = []
    for tier, (fill, stroke, _) in TIER_COLOURS.items():
        radius = "7px" if tier in ("Computed", "Imported") else "3px"
        legend.append(
            f'<li><span class="swatch" style="background:{fill};border-color:{stroke};border-radius:{radius}">'
            f"</span>{tier}</li>"
        )
    fill, stroke, _ = UNKNOWN_COLOURS
    legend.append(
        f'<li><span class="swatch" style="background:{fill};border-color:{stroke};border-style:dashed"></span>'
        "name djlint cannot resolve (DJ001)</li>"
    )
    legend.append(
        f'<li><span class="swatch" style="border:none;border-top:2px dashed {FINDING_COLOUR};height:0"></span>'
        "sideways read / cross-table write (arrow: direction data flows)</li>"
    )
    legend.append(
        f'<li><span class="swatch" style="border:none;border-top:2px solid {EDGE_COLOUR};height:0"></span>'
        "foreign key, parent to child (thin: secondary)</li>"
    )
    tables = sum(1 for n in graph.nodes.values() if not n.unknown)
    summary = (
        f"{tables} tables, {len(graph.edges)} foreign keys, {len(violations)} violation(s), "
        f"{len(graph.diagnostics) - len(violations)} informational"
    )
    css = _CSS.replace("FONT", FONT).replace("RED", FINDING_COLOUR)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{css}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(summary)}</p></header>"
        f'<main><section class="picture">{svg}</section>'
        f"<aside><h2>Findings ({len(graph.diagnostics)})</h2>{findings}"
        f'<h2>Legend</h2><ul class="legend">{"".join(legend)}</ul></aside></main>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
