"""``self.upstream`` inside make(), seeded from the key rather than from the not-yet-inserted row.

datajoint 2.3.5 builds ``Diagram.trace(self & key)``: for a key that spans several parents (``-> Subject``,
``-> Param``) the restriction reaching ``Param`` is projected from ``self``'s rows, which do not exist
while make() runs, so ``self.upstream[Param]`` is empty. Here each parent is restricted by the key's
values for its foreign key (renamed attributes mapped back: ``-> Probe.proj(ref='probe_id')`` restricts
``Probe`` by ``probe_id = key['ref']``; two foreign keys to one parent give both rows), and the
restriction then travels further upstream by datajoint's own rules. A parent referenced only through a
secondary (non-key) foreign key is not determined by the key, so it comes unrestricted.
"""

from __future__ import annotations

import networkx as nx
from datajoint.condition import AndList
from datajoint.diagram import Diagram
from datajoint.errors import DataJointError

from .. import context


def trace_from_key(table, key: dict) -> Diagram:
    """A trace Diagram of ``table``'s ancestors restricted by ``key`` (``diagram[Parent]`` etc.)."""
    connection = table.connection
    connection.dependencies.load_all_upstream()
    node = table.full_table_name

    result = Diagram.__new__(Diagram)
    nx.MultiDiGraph.__init__(result, connection.dependencies)
    result._connection = connection
    result.context = {}
    result._cascade_restrictions = {}
    result._restrict_conditions = {}
    result._restriction_attrs = {}
    result._mode = "trace"
    ancestors = set(nx.ancestors(result, node)) | {node}
    result.nodes_to_show = set(ancestors)
    result._expanded_nodes = set(ancestors)

    restrictions = result._cascade_restrictions  # OR semantics per table, as datajoint's trace
    undetermined = set()
    for parent, _, edge in result.in_edges(node, data=True):
        attr_map = edge.get("attr_map", {})
        if attr_map and all(child in key for child in attr_map):
            restrictions.setdefault(parent, []).append({p: key[c] for c, p in attr_map.items()})
            result._restriction_attrs.setdefault(parent, set()).update(attr_map.values())
        else:
            undetermined.add(parent)
    for parent in undetermined:
        # Not determined by the key (a secondary foreign key): every row is a candidate.
        restrictions[parent] = []
        result._restriction_attrs[parent] = set()
    # Propagate from the parents upward (self's own edges are already seeded).
    result._propagate_restrictions_upstream(node)
    restrictions[node] = [AndList([dict(key)])]
    result._restriction_attrs[node] = set(key)

    keep = set(restrictions)
    result.remove_nodes_from(set(result.nodes()) - keep)
    result.nodes_to_show &= keep
    result._expanded_nodes &= keep
    return result


def _upstream(self):
    """Pre-restricted ancestor view for the current ``make(self, key)`` call (djruntime).

    ``self.upstream[T]`` is ``T`` restricted to the rows this key depends on, for every ancestor
    ``T``; built on first use and memoized for the call. Raises outside make().
    """
    if self._upstream_key is None:
        raise DataJointError(
            "self.upstream is only available inside make(). "
            "Outside make(), construct a trace explicitly: dj.Diagram.trace(self & key)."
        )
    if self._upstream is None:
        with context.bookkeeping():  # dependency loading is the framework's, not make()'s reads
            self._upstream = trace_from_key(self, self._upstream_key)
    return self._upstream


upstream_property = property(_upstream)
