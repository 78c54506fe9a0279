"""What a make() may read and write: the shared allowed sets over datajoint's dependency graph.

A make() of table T may read ``djlint.provenance.AllowedSets`` (masters with their Parts, entity
ancestors, T and its Parts) plus the policy's reads, and write T and its Parts plus the policy's
writes. The sets are cached per table instance while neither the graph nor the policy changes.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from datajoint.dependencies import extract_master

from djlint.provenance import AllowedSets
from djlint.sqltables import TableName

from ..errors import ProvenanceError
from . import policy as policy_module

_allowed_cache: dict[int, _Allowed] = {}  # by id(table instance); see cached()
_sets_cache: dict[int, tuple[Any, object, AllowedSets]] = {}  # by id(dependencies): (graph, generation, sets)
Sets = tuple[frozenset[TableName], frozenset[TableName]]  # (reads, writes)


def table_key(table: Any) -> TableName:
    """(schema, table) of a datajoint table."""
    name = policy_module.parse_full_name(str(table.full_table_name))
    if name is None:  # pragma: no cover - datajoint always quotes full names
        raise ProvenanceError(f"cannot read the table name {table.full_table_name!r}")
    return name


def _graph_generation(dependencies: Any) -> object | None:
    """An object datajoint replaces whenever it rebuilds the dependency graph: ``Dependencies.clear()``
    and ``load()``, its only mutations, each assign a new ``_loaded_schemas`` set. A cache entry holds
    the set, so its id cannot be reused: ``is`` tells in O(1) that the graph is unchanged (counting
    edges, as before, walked the whole graph at every make()). None: unknown, never reuse."""
    return getattr(dependencies, "_loaded_schemas", None)


def _allowed_sets(dependencies: Any, generation: object | None) -> AllowedSets:
    cached = _sets_cache.get(id(dependencies))  # the entry holds the graph, so its id is not reused
    if cached is not None and generation is not None and cached[1] is generation:
        return cached[2]
    sets = AllowedSets(dependencies, extract_master)
    _sets_cache.clear()
    _sets_cache[id(dependencies)] = (dependencies, generation, sets)
    return sets


_UPSTREAM_STATE = "_djruntime_upstream_schemas"


def _load_upstream(connection: Any, dependencies: Any) -> None:
    """Have the dependency graph hold every schema upstream of the activated ones (an ancestor may live
    in a schema this process never activated). The discovery queries run once per set of activated
    schemas; later, only a graph that datajoint reloaded smaller is loaded again."""
    registered = frozenset(connection.schemas)
    state = getattr(connection, _UPSTREAM_STATE, None)
    if state is None or state[0] != registered:
        dependencies.load_all_upstream()
        state = (registered, frozenset(getattr(dependencies, "_loaded_schemas", ()) or registered))
        setattr(connection, _UPSTREAM_STATE, state)
    elif not (dependencies._loaded and state[1] <= set(getattr(dependencies, "_loaded_schemas", ()))):
        dependencies.load(force=True, schema_names=set(state[1]))


@dataclass(frozen=True)
class _Allowed:
    """A table's allowed sets, with what they were computed from (compared by identity)."""

    table: weakref.ref  # not kept alive by the cache (nor its connection)
    database: Any
    generation: object
    policy: policy_module.RuntimePolicy
    reads: frozenset[TableName]
    writes: frozenset[TableName]


def forget() -> None:
    """Compute every table's sets afresh (the policy changed)."""
    _allowed_cache.clear()


def cached(table: Any, policy: policy_module.RuntimePolicy) -> Sets | None:
    """The sets of ``table`` under ``policy`` when neither changed since :func:`compute` (else None)."""
    # The engine runs every make() of a populate() on one table instance: while neither the graph nor the
    # policy changed, its sets stand (datajoint's full_table_name alone costs more than this check).
    entry = _allowed_cache.get(id(table))
    if entry is None or entry.policy is not policy or entry.database != table.database:
        return None
    if entry.generation is not _graph_generation(table.connection.dependencies) or entry.table() is not table:
        return None
    return entry.reads, entry.writes


def load_graph(table: Any) -> None:
    """Have the dependency graph hold ``table`` and every schema upstream of the activated ones (the
    caller marks the discovery queries as the gate's own)."""
    connection = table.connection
    dependencies = connection.dependencies
    _load_upstream(connection, dependencies)
    if table.full_table_name not in dependencies:  # declared since the graph was loaded
        setattr(connection, _UPSTREAM_STATE, None)
        _load_upstream(connection, dependencies)


def compute(table: Any, policy: policy_module.RuntimePolicy) -> Sets:
    """(reads, writes) a make() of ``table`` may do, from the graph :func:`load_graph` loaded."""
    full_name = table.full_table_name
    generation = _graph_generation(table.connection.dependencies)
    sets = _allowed_sets(table.connection.dependencies, generation)
    own = table_key(table)

    def names(nodes: Any) -> set[TableName]:
        return {n for n in (policy_module.parse_full_name(str(node)) for node in nodes) if n is not None}

    reads = frozenset(names(sets.reads(full_name)) | {own} | policy.reads_of(own))
    writes = frozenset(names(sets.writes(full_name)) | {own} | policy.writes_of(own))
    if generation is not None:
        if len(_allowed_cache) >= 256:
            _allowed_cache.clear()
        _allowed_cache[id(table)] = _Allowed(weakref.ref(table), table.database, generation, policy,
                                             reads, writes)
    return reads, writes
