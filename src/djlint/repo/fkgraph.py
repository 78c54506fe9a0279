"""The foreign-key graph: each foreign key resolved to its parent table (or to a ``?name`` node when it
names nothing known), as plain node and edge lists and the ``AllowedSets`` the rules ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djlint.definition import ForeignKey
from djlint.provenance import AllowedSets
from djlint.repo.records import Symbol, TableInfo
from djlint.unknowns import UNKNOWN_PREFIX

if TYPE_CHECKING:
    from djlint.model import Model


def _resolve_reference(model: Model, table: TableInfo, fk: ForeignKey) -> None:
    """``fk.target``: the table the reference names, in ``table``'s module (``master``, a sibling Part
    by bare name); else ``fk.unknown``: the name as it stays unresolved."""
    ref = fk.ref
    if ref is None:
        fk.unknown = fk.text
        return
    if ref == "master" or ref.startswith("master."):
        if table.master:
            if ref == "master":
                fk.target = table.master
                return
            symbol = model.attribute(Symbol("table", table.master, table.module), ref.split(".", 1)[1])
        else:
            fk.unknown = ref
            return
    elif ref == "self" or ref.startswith("self."):
        fk.unknown = ref
        return
    else:
        symbol = model.resolve(table.module, ref)
        if (symbol is None or symbol.kind == "unknown") and table.master:
            # a Part naming a sibling Part or its master by bare class name
            master = model.classes.get(table.master)
            head = ref.split(".")[0]
            if master is not None and head == master.name:
                symbol = model.resolve(table.module, master.qualname + ref[len(head) :])
            elif master is not None and f"{master.id}.{head}" in model.classes:
                symbol = model.attribute(Symbol("table", master.id, master.module), head)
    if symbol is not None and symbol.kind == "table":
        fk.target = symbol.target
    elif symbol is not None and symbol.kind == "external":
        fk.unknown = symbol.target
    elif symbol is not None and symbol.kind == "unknown":
        fk.unknown = symbol.target
    else:
        fk.unknown = ref


def note_unknown_parents(model: Model, table: TableInfo) -> None:
    """Note each foreign key of ``table``'s definition that names nothing known (DJ001 reports the names;
    a definition that is not a literal it finds in the table record itself)."""
    definition = table.definition
    if definition is None or not definition.literal:
        return
    path = table.definition_path or table.path
    for fk in definition.foreign_keys:
        if fk.target is None:
            model.note_unknown(fk.unknown or fk.text, path, fk.line, fk.column)


def build_graph(model: Model) -> None:
    """The graph's nodes and edges (a ``?...definition`` parent for a definition that is not a literal),
    the nodes outside the repository, and ``model.allowed``."""
    nodes: dict[str, dict[str, Any]] = {
        table.id: {"tier": table.tier, "master": table.master} for table in model.tables.values()
    }
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    unknown = {"tier": None, "master": None, "unknown": True}
    external: set[str] = set()
    for table in model.tables.values():
        definition = table.definition
        if definition is None or not definition.literal:
            placeholder = f"{UNKNOWN_PREFIX}{table.id}.definition"
            nodes[placeholder] = dict(unknown)
            edges[placeholder, table.id] = {"primary": True, "renames": {}}
            continue
        for fk in definition.foreign_keys:
            _resolve_reference(model, table, fk)
            if fk.target is not None:
                parent = fk.target
            else:
                parent, outside = (model.unknown_node(table.module, fk.ref) if fk.ref is not None
                                   else (f"{UNKNOWN_PREFIX}{fk.unknown}@{table.module}", False))
                if parent not in nodes:
                    nodes[parent] = dict(unknown)
                    if outside:
                        external.add(parent)
                elif not outside:  # one in-repo reference of the name is enough to keep it unknown
                    external.discard(parent)
            if parent == table.id:
                continue
            data = edges.get((parent, table.id))
            if data is None:
                edges[parent, table.id] = {"primary": fk.primary, "renames": dict(fk.renames)}
            else:
                data["primary"] = data["primary"] or fk.primary
                data["renames"].update(fk.renames)
        note_unknown_parents(model, table)
    model.external_nodes = external
    model._graph_data = (list(nodes.items()), [(parent, child, data) for (parent, child), data in edges.items()])
    model._graph = None
    model.allowed = AllowedSets.from_edges(
        nodes, edges, {table.id: table.master for table in model.tables.values()}.get
    )
