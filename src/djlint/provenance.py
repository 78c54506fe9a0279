"""What a ``make()`` may read and write: the one definition shared by djlint and djruntime.

The rule (see README, "The allowed set"):

* Collapse every master with its Parts into one *entity*.
* Table T may **read** every table of every entity that is an ancestor of T's entity (through primary
  or secondary foreign keys, across modules and schemas), and every table of T's own entity (T and its
  Parts). So the Parts of an ancestor master are readable (they are inserted atomically with it), and
  so are the parents of T's own Parts (they are dependencies of T's entity).
* T may **write** T and its Parts.
* The policy (``[tool.djlint.allow]``) adds sanctioned reads and writes per table.

Both packages call these functions with their own node names: djlint with module-qualified class
names (``lab.ephys.Clustering.Unit``), djruntime with full table names (```lab`.`__clustering__unit```).
Nothing here knows about either; it only needs the foreign-key graph and who is whose master.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from graphlib import CycleError, TopologicalSorter
from typing import Any

# A node of the graph: a table's id (djlint: "module.Class", a ``?name`` placeholder; datajoint: the
# full table name, or the number of an alias node).
Node = str
MasterOf = Callable[[Node], "Node | None"]


def entity_of(node: Node, master_of: MasterOf) -> Node:
    """The entity a table belongs to: its master if it is a Part, else itself."""
    master = master_of(node)
    return node if master is None else master


class AllowedSets:
    """Precomputed entity view of one foreign-key graph; answers "may T read / write X" for many tables.

    ``graph`` is anything with ``nodes`` and ``edges()`` (a networkx DiGraph: djlint's model, datajoint's
    ``connection.dependencies``), with an edge ``parent -> child`` per foreign key, primary or secondary;
    any other node (e.g. datajoint's alias nodes for renamed keys) is its own entity. Everything is read
    out into plain sets and dicts once, including every entity's ancestors (one pass in topological
    order), so the object is cheap to query, to pickle and to load.
    """

    def __init__(self, graph: Any, master_of: MasterOf) -> None:
        self._read(graph.nodes, graph.edges(), master_of)

    @classmethod
    def from_edges(
        cls, nodes: Iterable[Node], edges: Iterable[tuple[Node, Node]], master_of: MasterOf
    ) -> AllowedSets:
        """The same, from the graph's nodes and ``(parent, child)`` edges."""
        sets = cls.__new__(cls)
        sets._read(nodes, edges, master_of)
        return sets

    def _read(self, nodes: Iterable[Node], edges: Iterable[Any], master_of: MasterOf) -> None:
        self.master_of = master_of
        self.nodes: frozenset[Node] = frozenset(nodes)
        self.members: dict[Node, set[Node]] = {}
        self.parents: dict[Node, set[Node]] = {}  # entity -> parent entities
        self.table_parents: dict[Node, list[Node]] = {}  # table -> parent tables
        for node in self.nodes:
            entity = entity_of(node, master_of)
            self.members.setdefault(entity, set()).add(node)
            self.parents.setdefault(entity, set())
        for parent, child, *_ in edges:
            self.table_parents.setdefault(child, []).append(parent)
            a, b = entity_of(parent, master_of), entity_of(child, master_of)
            if a != b:
                self.parents[b].add(a)
        self._ancestors = _all_ancestors(self.parents)
        self._reads: dict[Node, frozenset[Node]] = {}

    def own_entity(self, table: Node) -> set[Node]:
        """T and its Parts (or, for a Part, its master and siblings)."""
        return set(self.members.get(entity_of(table, self.master_of), {table}))

    def ancestor_entities(self, table: Node) -> frozenset[Node]:
        entity = entity_of(table, self.master_of)
        if entity not in self.parents:
            return frozenset()
        if entity not in self._ancestors:  # a graph with a cycle: one search for this entity
            self._ancestors[entity] = frozenset(_search(self.parents, entity))
        return self._ancestors[entity]

    def is_table_ancestor(self, table: Node, candidate: Node) -> bool:
        """Is ``candidate`` upstream of ``table`` itself through foreign keys, masters and Parts not
        collapsed (what datajoint's ``self.upstream`` holds besides the table)? The search climbs from
        ``table`` and stops at ``candidate``, usually a parent or a grandparent."""
        entity = entity_of(candidate, self.master_of)
        if entity != entity_of(table, self.master_of) and entity not in self.ancestor_entities(table):
            return False  # not even its entity is upstream
        seen: set[Node] = set()
        frontier = list(self.table_parents.get(table, ()))
        while frontier:
            node = frontier.pop()
            if node == candidate:
                return True
            if node not in seen:
                seen.add(node)
                frontier.extend(self.table_parents.get(node, ()))
        return False

    def reads(self, table: Node, extra: Iterable[Node] = ()) -> frozenset[Node]:
        """Every table a make() of ``table`` may read."""
        if table not in self._reads:
            allowed = self.own_entity(table)
            for entity in self.ancestor_entities(table):
                allowed |= self.members.get(entity, {entity})
            self._reads[table] = frozenset(allowed)
        extra = frozenset(extra)
        return self._reads[table] | extra if extra else self._reads[table]

    def may_read(self, table: Node, target: Node, extra: Iterable[Node] = ()) -> bool:
        """``target in self.reads(table, extra)``, without building the set (rules ask once per read)."""
        if target in extra:
            return True
        entity = entity_of(target, self.master_of)
        if entity == entity_of(table, self.master_of):
            return target in self.own_entity(table)
        return entity in self.ancestor_entities(table) and target in self.members.get(entity, {entity})

    def writes(self, table: Node, extra: Iterable[Node] = ()) -> frozenset[Node]:
        """Every table a make() of ``table`` may write: T and its Parts, plus the policy's."""
        allowed = self.own_entity(table)
        allowed.update(extra)
        return frozenset(allowed)

    def downstream_of(self, sources: Iterable[Node]) -> set[Node]:
        """Every entity below any of ``sources`` (entities), the sources excluded unless on a cycle."""
        children: dict[Node, list[Node]] = {}
        for child, parents in self.parents.items():
            for parent in parents:
                children.setdefault(parent, []).append(child)
        return _search(children, *sources)


def _search(neighbours: dict[Node, Any], *starts: Node) -> set[Node]:
    """Every node reachable from ``starts`` along ``neighbours`` (depth first)."""
    found: set[Node] = set()
    frontier = [n for start in starts for n in neighbours.get(start, ())]
    while frontier:
        node = frontier.pop()
        if node not in found:
            found.add(node)
            frontier.extend(neighbours.get(node, ()))
    return found


def _all_ancestors(parents: dict[Node, set[Node]]) -> dict[Node, frozenset[Node]]:
    """Ancestors of every node in one pass in topological order (a search per node costs ~20x more on a
    2,000-table pipeline); empty for a graph with a cycle, which is then searched node by node."""
    try:
        order = list(TopologicalSorter(parents).static_order())
    except CycleError:
        return {}
    ancestors: dict[Node, frozenset[Node]] = {}
    for node in order:
        found: set[Node] = set()
        for parent in parents.get(node, ()):
            found.add(parent)
            found |= ancestors[parent]
        ancestors[node] = frozenset(found)
    return ancestors


def allowed_reads(
    graph: Any, table: Node, master_of: MasterOf, extra: Iterable[Node] = ()
) -> frozenset[Node]:
    """Every table a make() of ``table`` may read (one-shot form of :class:`AllowedSets`)."""
    return AllowedSets(graph, master_of).reads(table, extra)


def allowed_writes(
    graph: Any, table: Node, master_of: MasterOf, extra: Iterable[Node] = ()
) -> frozenset[Node]:
    """Every table a make() of ``table`` may write (one-shot form of :class:`AllowedSets`)."""
    return AllowedSets(graph, master_of).writes(table, extra)
