"""``djlint graph``: the foreign-key graph from source, findings as red dashed edges, through the CLI;
the layout's geometry; the HTML page in a real headless Chromium."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from djlint.graph_model import FINDING_COLOUR, TIER_COLOURS, UNKNOWN_COLOURS, Edge, Node, PipelineGraph
from djlint.graph_render import layout

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
VENV_BIN = Path(sys.executable).parent
SVG_NS = "{http://www.w3.org/2000/svg}"
DOT_NODE = re.compile(r'^\s+"(?P<id>[^"]+)" \[label="(?P<label>[^"]*)", shape=(?P<shape>\w+), style="(?P<style>[^"]*)", '
                      r'fillcolor="(?P<fill>[^"]+)", color="(?P<stroke>[^"]+)"')
DOT_EDGE = re.compile(r'^\s+"(?P<source>[^"]+)" -> "(?P<target>[^"]+)" \[(?P<attrs>[^\]]*)\];$')


def djlint(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "djlint"), *args], cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


def dot_of(*args: str) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    result = djlint("graph", *args, "--format", "dot", "--no-cache")
    assert result.returncode == 0, result.stderr
    nodes = {m["id"]: m.groupdict() for line in result.stdout.splitlines() if (m := DOT_NODE.match(line))}
    edges = [m.groupdict() for line in result.stdout.splitlines() if (m := DOT_EDGE.match(line))]
    return nodes, edges


def lint_pairs(fixture: str) -> set[tuple[str, str, str]]:
    """(code, table, target) of every finding between two tables, from djlint's own JSON report."""
    result = djlint(str(FIXTURES / fixture), "--format", "json", "--no-cache")
    assert result.returncode in (0, 1), result.stderr
    return {
        (d["code"], d["table"], d["target"]) for d in json.loads(result.stdout)
        if d.get("table") and d.get("target") and d["table"] != d["target"]
    }


def finding_edges(edges: list[dict[str, str]]) -> set[tuple[str, str, str]]:
    found = set()
    for edge in edges:
        if FINDING_COLOUR in edge["attrs"]:
            assert "style=dashed" in edge["attrs"] and "constraint=false" in edge["attrs"]
            label = re.search(r'label="([^"]+)"', edge["attrs"]).group(1)
            found |= {(code, edge["source"], edge["target"]) for code in label.split(", ")}
    return found


def test_example_pipeline_every_table_and_foreign_key_coloured_by_tier() -> None:
    from djlint.analysis import analyze

    model = analyze([FIXTURES / "example"], use_cache=False).model
    nodes, edges = dot_of(str(FIXTURES / "example"))
    assert set(nodes) == set(model.graph.nodes)
    for node_id, node in nodes.items():
        fill, stroke, _ = TIER_COLOURS[model.tables[node_id].tier]
        assert (node["fill"], node["stroke"]) == (fill, stroke), node_id
        assert node["shape"] == ("ellipse" if model.tables[node_id].tier in ("Computed", "Imported") else "box")
    assert {(e["source"], e["target"]) for e in edges} == set(model.graph.edges)
    assert not finding_edges(edges)  # the example pipeline is clean


@pytest.mark.parametrize("fixture", ["sideways_reads", "cross_table_writes", "upstream_non_ancestor"])
def test_every_finding_between_two_tables_is_a_red_dashed_edge_labelled_with_its_code(fixture: str) -> None:
    expected = lint_pairs(fixture)
    assert expected, "the fixture has findings between tables"
    nodes, edges = dot_of(str(FIXTURES / fixture))
    drawn = finding_edges(edges)
    # reads flow from the table read to the reader, writes from the writer to the table written
    wanted = {(c, tgt, tbl) if not c.startswith("DJ3") else (c, tbl, tgt) for c, tbl, tgt in expected}
    assert drawn == wanted
    assert all(source in nodes and target in nodes for _, source, target in drawn)


def test_unknown_names_are_grey_dashed_placeholders() -> None:
    from djlint.analysis import analyze

    model = analyze([FIXTURES / "unknown_ancestors"], use_cache=False).model
    unknown = {n for n, d in model.graph.nodes(data=True) if d.get("unknown")}
    assert unknown
    nodes, _ = dot_of(str(FIXTURES / "unknown_ancestors"))
    for node_id in unknown:
        assert nodes[node_id]["fill"] == UNKNOWN_COLOURS[0] and "dashed" in nodes[node_id]["style"]
        assert nodes[node_id]["label"].startswith("? ")
    known = set(nodes) - unknown
    assert known and all("dashed" not in nodes[n]["style"] for n in known)
    mermaid = djlint("graph", str(FIXTURES / "unknown_ancestors"), "--no-cache").stdout
    assert len(re.findall(r":::unknown$", mermaid, re.MULTILINE)) == len(unknown)


def test_mermaid_nodes_edges_and_red_dashed_findings() -> None:
    result = djlint("graph", str(FIXTURES / "sideways_reads"), "--format", "mermaid", "--no-cache")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart TB"
    links = [line for line in lines if re.match(r"^\s+n\d+ (-->|-\.)", line)]
    styles = [line for line in lines if line.strip().startswith("linkStyle ")]
    assert len(links) == len(styles) and links
    dashed = [i for i, line in enumerate(links) if " -. " in line]
    _, edges = dot_of(str(FIXTURES / "sideways_reads"))
    assert len(dashed) == sum(1 for e in edges if FINDING_COLOUR in e["attrs"])
    for index in dashed:
        assert re.search(r'-\. "DJ\d{3}(, DJ\d{3})*" \.->', links[index])
        assert f"stroke:{FINDING_COLOUR}" in styles[index] and f"linkStyle {index} " in styles[index]
    for index in set(range(len(links))) - set(dashed):
        assert FINDING_COLOUR not in styles[index]
    # labels are quoted and carry no character that breaks Mermaid's parser
    for line in lines:
        if re.match(r"^\s+n\d+\(?\[", line):
            assert re.match(r'^\s+n\d+(\["[^"<>]+"\]|\(\["[^"<>]+"\]\)):::\w+$', line), line


def test_focus_and_depth() -> None:
    nodes, _ = dot_of(str(FIXTURES / "example"), "--focus", "Clustering", "--depth", "1")
    from djlint.analysis import analyze

    graph = analyze([FIXTURES / "example"], use_cache=False).model.graph
    centre = "pipeline.ephys.Clustering"
    entity = {centre} | {p for p in graph.successors(centre) if p.startswith(centre + ".")}
    near = set(entity)
    for member in entity:
        near |= set(graph.predecessors(member)) | set(graph.successors(member))
    assert set(nodes) == near
    everything, _ = dot_of(str(FIXTURES / "example"), "--focus", "pipeline.ephys.Clustering")
    import networkx as nx

    assert set(everything) == set().union(*({n} | nx.ancestors(graph, n) | nx.descendants(graph, n) for n in entity))
    assert set(everything) > set(nodes)


def test_focus_on_a_part_shows_its_master_and_a_table_a_part_references_is_no_master() -> None:
    nodes, _ = dot_of(str(FIXTURES / "example"), "--focus", "Clustering.Unit", "--depth", "0")
    assert set(nodes) == {"pipeline.ephys.Clustering", "pipeline.ephys.Clustering.Unit"}
    nodes, _ = dot_of(str(FIXTURES / "example"), "--focus", "CellType", "--depth", "0")
    assert set(nodes) == {"pipeline.ephys.CellType"}  # Clustering.Unit references it: a child, not a Part
    nodes, _ = dot_of(str(FIXTURES / "example"), "--focus", "CellType", "--depth", "1")
    assert set(nodes) == {"pipeline.ephys.CellType", "pipeline.ephys.Clustering.Unit"}


def test_focus_keeps_the_findings_of_the_table() -> None:
    nodes, edges = dot_of(str(FIXTURES / "sideways_reads"), "--focus", "MotionCorrection", "--depth", "0")
    drawn = finding_edges(edges)
    assert drawn == {("DJ201", "vision.experiment.Surgery", "vision.imaging.MotionCorrection")}
    assert set(nodes) == {"vision.experiment.Surgery", "vision.imaging.MotionCorrection"}
    # the findings listed beside the picture are those of the tables shown
    page = djlint("graph", str(FIXTURES / "sideways_reads"), "--focus", "MotionCorrection", "--depth", "0",
                  "--format", "html", "--no-cache").stdout
    lint = json.loads(djlint(str(FIXTURES / "sideways_reads"), "--format", "json", "--no-cache").stdout)
    mine = [d for d in lint if d.get("table") == "vision.imaging.MotionCorrection"]
    listed = re.search(r'<ol class="findings">(.*?)</ol>', page).group(1)
    assert mine and listed.count("<li data-edge=") == len(mine) and listed.count("<li") == len(mine)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--focus", "NoSuchTable"], "no table named 'NoSuchTable'"),
        (["--depth", "-1", "--focus", "Clustering"], "--depth"),
        (["--format", "png"], "invalid choice"),
        (["does/not/exist"], "no such file"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    paths = [] if args and args[0] == "does/not/exist" else [str(FIXTURES / "example")]
    result = djlint("graph", *paths, *args, "--no-cache")
    assert result.returncode == 2
    assert message in result.stderr


def test_output_file_and_lint_command_unchanged(tmp_path: Path) -> None:
    target = tmp_path / "pipeline.svg"
    result = djlint("graph", str(FIXTURES / "example"), "--format", "svg", "-o", str(target), "--no-cache")
    assert result.returncode == 0 and result.stdout == ""
    ET.fromstring(target.read_text())  # well-formed
    # a directory called "graph" is still linted, not taken for the subcommand, when it is not first
    lint = djlint("--no-cache", str(FIXTURES / "example"))
    assert lint.returncode == 0 and lint.stdout == ""


def test_lint_path_does_not_import_the_graph_modules() -> None:
    code = "import sys, djlint.cli; print(sorted(m for m in sys.modules if m.startswith('djlint.graph')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False).stdout.strip() == "[]"


# -- the layout's geometry ---------------------------------------------------------------------------
def _random_graph(seed: int) -> PipelineGraph:
    rng = random.Random(seed)
    count = rng.randint(1, 40)
    tiers = ["Manual", "Lookup", "Imported", "Computed", "Part", None]
    nodes = {}
    for i in range(count):
        tier = rng.choice(tiers)
        nodes[f"t{i}"] = Node(f"t{i}", "T" * rng.randint(1, 30), tier, unknown=tier is None)
    edges = [
        Edge(f"t{a}", f"t{b}", rng.random() < 0.5)
        for b in range(count) for a in range(b) if rng.random() < 3 / count
    ]
    return PipelineGraph(nodes, edges, [])


@pytest.mark.parametrize("seed", range(40))
def test_layout_parents_above_children_and_no_overlap(seed: int) -> None:
    graph = _random_graph(seed)
    placed = layout(graph)
    boxes = placed.boxes
    assert set(boxes) == set(graph.nodes)
    assert set(placed.routes) == {(e.source, e.target) for e in graph.edges}
    for edge in graph.edges:
        route = placed.routes[edge.source, edge.target]
        parent, child = boxes[edge.source], boxes[edge.target]
        assert parent.y < child.y
        assert route[0] == pytest.approx((parent.x, parent.y + parent.height / 2))
        assert route[-1] == pytest.approx((child.x, child.y - child.height / 2))
        assert all(a[1] < b[1] for a, b in itertools.pairwise(route))
    items = list(boxes.values())
    for i, a in enumerate(items):
        assert a.x - a.width / 2 >= 0 and a.x + a.width / 2 <= placed.width
        assert a.y - a.height / 2 >= 0 and a.y + a.height / 2 <= placed.height
        for b in items[i + 1:]:
            apart_x = abs(a.x - b.x) >= (a.width + b.width) / 2
            apart_y = abs(a.y - b.y) >= (a.height + b.height) / 2
            assert apart_x or apart_y


# -- the HTML page in a real browser ------------------------------------------------------------------
def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


# Run inside the page: every table's text fits in its box, no two tables overlap, no finding's label
# covers a table, every finding is
# listed beside the picture and linked to its red edge, no resource is fetched from outside.
_CHECK = """
<script>
(function () {
  var problems = [];
  var boxes = [];
  document.querySelectorAll('svg g.table').forEach(function (g) {
    var r = g.querySelector('rect').getBBox(), t = g.querySelector('text').getBBox();
    if (t.x < r.x || t.x + t.width > r.x + r.width || t.y < r.y || t.y + t.height > r.y + r.height)
      problems.push('text outside box: ' + g.getAttribute('data-id'));
    boxes.push([g.getAttribute('data-id'), r]);
  });
  for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
    var a = boxes[i][1], b = boxes[j][1];
    if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
      problems.push('overlap: ' + boxes[i][0] + ' ' + boxes[j][0]);
  }
  document.querySelectorAll('svg g.finding-label rect').forEach(function (label) {
    var l = label.getBBox();
    boxes.forEach(function (box) {
      var b = box[1];
      if (l.x < b.x + b.width && b.x < l.x + l.width && l.y < b.y + b.height && b.y < l.y + l.height)
        problems.push('label over table: ' + box[0]);
    });
  });
  document.querySelectorAll('ol.findings li[data-edge]').forEach(function (li) {
    var edge = document.getElementById(li.getAttribute('data-edge'));
    if (!edge) problems.push('finding without edge: ' + li.textContent);
    else {
      li.dispatchEvent(new MouseEvent('mouseenter'));
      if (!edge.classList.contains('highlight')) problems.push('no highlight: ' + li.textContent);
      li.dispatchEvent(new MouseEvent('mouseleave'));
    }
  });
  var external = performance.getEntriesByType('resource').length;
  var out = document.createElement('pre');
  out.id = 'check';
  out.textContent = JSON.stringify({problems: problems, tables: boxes.length,
    findings: document.querySelectorAll('ol.findings li').length,
    edges: document.querySelectorAll('svg g.finding').length, external: external});
  document.body.appendChild(out);
})();
</script>
"""


def _browser(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium() or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={profile}", "--window-size=1600,1000", *extra,
            page.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("fixture", ["sideways_reads", "unknown_ancestors", "example"])
def test_html_page_in_headless_chromium(fixture: str, tmp_path: Path) -> None:
    if _chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "graph.html"
    result = djlint("graph", str(FIXTURES / fixture), "--format", "html", "-o", str(page), "--no-cache")
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # self-contained
    checked = tmp_path / "checked.html"
    checked.write_text(text.replace("</body>", _CHECK + "</body>"))
    dom = _browser(checked, tmp_path / "profile-dom", "--dump-dom")
    match = re.search(r'<pre id="check">(.*?)</pre>', dom.stdout, re.DOTALL)
    assert match, dom.stderr[-2000:]
    report = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert report["problems"] == []
    assert report["external"] == 0
    lint = json.loads(djlint(str(FIXTURES / fixture), "--format", "json", "--no-cache").stdout or "[]")
    assert report["findings"] == len(lint)
    assert report["tables"] == len(layout_nodes(fixture))
    shot = tmp_path / "graph.png"
    _browser(page, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def layout_nodes(fixture: str) -> dict[str, dict[str, str]]:
    return dot_of(str(FIXTURES / fixture))[0]


def test_readme_shows_the_example_pipeline_as_djlint_graph_draws_it() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## djlint graph"):]
    block = re.search(r"```mermaid\n(.*?)```", section, re.DOTALL).group(1)
    result = djlint("graph", "fixtures/example", "--no-cache")
    assert result.returncode == 0 and block == result.stdout
    assert (REPO / "docs" / "img" / "graph-findings.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("seed", range(30))
def test_crossing_count_equals_the_pairwise_count(seed: int) -> None:
    from djlint.graph_render import _crossings

    rng = random.Random(seed)
    upper = [f"u{i}" for i in range(rng.randint(0, 12))]
    lower = [f"l{i}" for i in range(rng.randint(0, 12))]
    links = {u: rng.sample(lower, rng.randint(0, len(lower))) for u in upper}
    at = {n: i for i, n in enumerate(lower)}
    pairs = [(i, at[c]) for i, u in enumerate(upper) for c in links[u]]
    brute = sum(1 for a, b in pairs for c, d in pairs if a < c and b > d)
    assert _crossings(upper, lower, links) == brute


def test_a_cycle_and_a_self_reference_are_still_drawn() -> None:
    from djlint.graph_render import to_svg

    nodes = {n: Node(n, n, "Manual") for n in ("a", "b", "c")}
    edges = [Edge("a", "b", True), Edge("b", "c", True), Edge("c", "a", False), Edge("b", "b", False)]
    svg = ET.fromstring(to_svg(PipelineGraph(nodes, edges, [])))
    assert len(svg.findall(f".//{SVG_NS}g[@class='table manual']")) == 3
    assert len(svg.findall(f".//{SVG_NS}path[@class='fk']")) == 3


def test_a_bad_configuration_exits_2(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "example", tmp_path / "repo")
    (tmp_path / "repo" / "pyproject.toml").write_text('[tool.djlint]\nselect = 5\n')
    result = djlint("graph", "repo", "--no-cache", cwd=tmp_path)
    assert result.returncode == 2 and "djlint graph: error:" in result.stderr and result.stdout == ""
