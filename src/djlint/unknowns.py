"""What stays decidable below names djlint cannot resolve.

Nearly every real pipeline hangs below some name the linter cannot resolve: an Elements table linked at
run time, a schema filled by ``spawn_missing_classes()``, a table of an installed package. Each becomes an
*unknown* ``?name`` node of the foreign-key graph. The allowed set of a make() of T (``djlint.provenance``)
is then incomplete only by the unknown nodes' own ancestors, and two facts keep most reads decidable:

1. **No cycles.** If T's unknown ancestors are U1..Un, a known table X can enter T's allowed set only by
   being (in the same entity as) an ancestor of some Ui. A known descendant of every Ui, or of T itself,
   cannot be: reading it is a sideways read, certainly. The test runs on tables, not entities: a Part is
   not below what its master's other Parts reference. Besides acyclic foreign keys it assumes acyclic
   entities: no Part references a descendant of its own master (make() inserts a master with its Parts
   before anything below the master can exist).
2. **Installed code does not point into yours** (``[tool.djlint] external-roots``, on by default). A table
   from outside the analysed repository (``Model.reference_is_external``) has no ancestor inside it, so it
   adds nothing to the allowed set: such a node is a root, and blocks no decision. Run-time linking names
   of Elements are not outside: they may be the repository's own tables.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from djlint.provenance import AllowedSets

UNKNOWN_PREFIX = "?"


class Unknowns:
    """Answers "can this table be in T's allowed set after all?" for one foreign-key graph.

    ``roots``: the unknown nodes taken as roots (rule 2; empty when ``external-roots`` is off). It holds
    no reference to the model, so that a finished analysis is freed at once (no reference cycle)."""

    def __init__(self, allowed: AllowedSets, roots: Collection[str] = ()) -> None:
        self.allowed = allowed
        self.roots = frozenset(roots)
        self._children: dict[str, list[str]] | None = None
        self._below: dict[str, frozenset[str]] = {}
        self._blockers: dict[str, tuple[str, ...]] = {}

    def blockers(self, table: str) -> tuple[str, ...]:
        """The unknown nodes among the entity ancestors of ``table`` that may hide more ancestors (all of
        them but the roots). Empty: ``table``'s allowed set is complete."""
        if table not in self._blockers:
            if table not in self.allowed.nodes:
                self._blockers[table] = (table,)  # not in the graph at all: nothing is known
            else:
                self._blockers[table] = tuple(sorted(
                    node for node in self.allowed.ancestor_entities(table)
                    if _is_unknown(node) and node not in self.roots))
        return self._blockers[table]

    def may_be_allowed(self, table: str, target: str) -> bool:
        """Could ``target`` be in ``table``'s allowed set once the unknown names are known? (Ask only
        for a target outside the known allowed set.)"""
        blockers = self.blockers(table)
        if not blockers:
            return False
        if target in self.below(table):
            return False
        return not all(target in self.below(node) for node in blockers)

    def below(self, node: str) -> frozenset[str]:
        """Every table downstream of ``node`` through foreign keys (tables, not entities)."""
        if node not in self._below:
            if self._children is None:
                self._children = {}
                for child, parents in self.allowed.table_parents.items():
                    for parent in parents:
                        self._children.setdefault(parent, []).append(child)
            found: set[str] = set()
            frontier = list(self._children.get(node, ()))
            while frontier:
                current = frontier.pop()
                if current not in found:
                    found.add(current)
                    frontier.extend(self._children.get(current, ()))
            self._below[node] = frozenset(found)
        return self._below[node]


def _is_unknown(node: object) -> bool:
    return isinstance(node, str) and node.startswith(UNKNOWN_PREFIX)
