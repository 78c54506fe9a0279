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

from collections.abc import Callable, Hashable, Iterable
from typing import TypeVar

import networkx as nx

Node = TypeVar("Node", bound=Hashable)
MasterOf = Callable[[Hashable], "Hashable | None"]


def entity_of(node: Node, master_of: MasterOf) -> Node:
    """The entity a table belongs to: its master if it is a Part, else itself."""
    master = master_of(node)
    return node if master is None else master  # type: ignore[return-value]


def entity_graph(graph: nx.DiGraph, master_of: MasterOf) -> nx.DiGraph:
    """The foreign-key graph with every master and its Parts contracted into one node.

    ``graph`` has an edge ``parent -> child`` for each foreign key (primary or secondary); any
    other node (e.g. datajoint's alias nodes for renamed keys) is kept as its own entity.
    """
    collapsed = nx.DiGraph()
    for node in graph.nodes:
        collapsed.add_node(entity_of(node, master_of))
    for parent, child in graph.edges():
        a, b = entity_of(parent, master_of), entity_of(child, master_of)
        if a != b:
            collapsed.add_edge(a, b)
    return collapsed


def entity_members(graph: nx.DiGraph, master_of: MasterOf) -> dict[Hashable, set[Hashable]]:
    """Map each entity to the tables it holds (the master and its Parts)."""
    members: dict[Hashable, set[Hashable]] = {}
    for node in graph.nodes:
        members.setdefault(entity_of(node, master_of), set()).add(node)
    return members


class AllowedSets:
    """Precomputed entity view of one graph; answers "may T read / write X" for many tables.

    Build once per graph (cheap: one contraction), then ask per table. Ancestor sets are memoised
    per entity, so asking for every table of a large pipeline costs one pass over the graph.
    """

    def __init__(self, graph: nx.DiGraph, master_of: MasterOf) -> None:
        self.master_of = master_of
        self.entities = entity_graph(graph, master_of)
        self.members = entity_members(graph, master_of)
        self._ancestors: dict[Hashable, frozenset[Hashable]] = {}
        self._reads: dict[Hashable, frozenset[Hashable]] = {}

    def own_entity(self, table: Hashable) -> set[Hashable]:
        """T and its Parts (or, for a Part, its master and siblings)."""
        return set(self.members.get(entity_of(table, self.master_of), {table}))

    def ancestor_entities(self, table: Hashable) -> frozenset[Hashable]:
        entity = entity_of(table, self.master_of)
        if entity not in self.entities:
            return frozenset()
        if not self._ancestors:
            self._ancestors = _all_ancestors(self.entities)
        if entity not in self._ancestors:  # a graph with a cycle: one search for this entity
            self._ancestors[entity] = frozenset(nx.ancestors(self.entities, entity))
        return self._ancestors[entity]

    def reads(self, table: Hashable, extra: Iterable[Hashable] = ()) -> frozenset[Hashable]:
        """Every table a make() of ``table`` may read."""
        if table not in self._reads:
            allowed = self.own_entity(table)
            for entity in self.ancestor_entities(table):
                allowed |= self.members.get(entity, {entity})
            self._reads[table] = frozenset(allowed)
        extra = frozenset(extra)
        return self._reads[table] | extra if extra else self._reads[table]

    def may_read(self, table: Hashable, target: Hashable, extra: Iterable[Hashable] = ()) -> bool:
        """``target in self.reads(table, extra)``, without building the set (rules ask once per read)."""
        if target in extra:
            return True
        entity = entity_of(target, self.master_of)
        if entity == entity_of(table, self.master_of):
            return target in self.own_entity(table)
        return entity in self.ancestor_entities(table) and target in self.members.get(entity, {entity})

    def writes(self, table: Hashable, extra: Iterable[Hashable] = ()) -> frozenset[Hashable]:
        """Every table a make() of ``table`` may write: T and its Parts, plus the policy's."""
        allowed = self.own_entity(table)
        allowed.update(extra)
        return frozenset(allowed)


def _all_ancestors(graph: nx.DiGraph) -> dict[Hashable, frozenset[Hashable]]:
    """Ancestors of every node in one pass in topological order (a search per node costs ~20x more on a
    2,000-table pipeline); empty for a graph with a cycle, which is then searched node by node."""
    try:
        order = list(nx.topological_sort(graph))
    except nx.NetworkXUnfeasible:
        return {}
    ancestors: dict[Hashable, frozenset[Hashable]] = {}
    for node in order:
        found: set[Hashable] = set()
        for parent in graph.predecessors(node):
            found.add(parent)
            found |= ancestors[parent]
        ancestors[node] = frozenset(found)
    return ancestors


def allowed_reads(
    graph: nx.DiGraph, table: Hashable, master_of: MasterOf, extra: Iterable[Hashable] = ()
) -> frozenset[Hashable]:
    """Every table a make() of ``table`` may read (one-shot form of :class:`AllowedSets`)."""
    return AllowedSets(graph, master_of).reads(table, extra)


def allowed_writes(
    graph: nx.DiGraph, table: Hashable, master_of: MasterOf, extra: Iterable[Hashable] = ()
) -> frozenset[Hashable]:
    """Every table a make() of ``table`` may write (one-shot form of :class:`AllowedSets`)."""
    return AllowedSets(graph, master_of).writes(table, extra)
