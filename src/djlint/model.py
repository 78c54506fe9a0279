"""The repository model: modules, table classes, their definitions and the foreign-key graph.

Built from the per-file summaries (``djlint.summaries``: Python's ast, cached on disk) and a global
resolution pass; the make() analysis reuses the same ast trees (``ModuleInfo.ast_tree``), parsed again
only for modules whose summary came from the cache.
Nothing is imported or executed. A name that cannot be resolved becomes an *unknown* placeholder
node (``"?Name"``) so that no rule raises a false alarm about tables whose ancestry touches it.

This module keeps the ``Model``; ``djlint.build`` reads the files and runs the build, each step of
which is a module of ``djlint.repo``: indexing, tables, fkgraph, policy_names; name resolution and the origin of unknown
names are parts of the ``Model`` class (``djlint.repo.resolution``, ``djlint.repo.unknown_origins``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djlint.config import Config, Policy
from djlint.fileio import source_or_reason
from djlint.provenance import AllowedSets
from djlint.repo.records import Binding, BrokenFile, ClassInfo, FunctionInfo, ModuleInfo, PolicyName, Symbol, TableInfo
from djlint.repo.resolution import NameResolution
from djlint.repo.unknown_origins import UnknownOrigins
from djlint.unknowns import UNKNOWN_PREFIX, Unknowns
from djlint.walk import python_files

if TYPE_CHECKING:
    import networkx as nx

    from djlint.snapshot import ModelSnapshot

class Model(UnknownOrigins, NameResolution):
    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.config = config
        self.policy: Policy = config.policy  # with every name made the id of the table it denotes
        self.modules: dict[str, ModuleInfo] = {}
        self.tables: dict[str, TableInfo] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, FunctionInfo] = {}
        # The foreign-key graph as plain lists; the networkx graph is made on first use of ``graph``
        # (the analysis itself needs only ``allowed``, and importing networkx costs ~0.15 s a run).
        self._graph_data: tuple[list, list] = ([], [])
        self._graph: nx.DiGraph | None = None
        no_masters: dict[str, str | None] = {}
        self.allowed: AllowedSets = AllowedSets.from_edges((), (), no_masters.get)
        self.unknown_names: dict[str, tuple[str, int, int]] = {}  # name -> first (path, line, column)
        self.files: list[str] = []
        self.covers_root = True  # were all files under root analysed (policy names decidable)?
        self.broken: dict[str, BrokenFile] = {}  # display path -> why the file is not analysed (DJ000)
        self.policy_names: list[PolicyName] = []  # every name the policy writes, where (DJ003)
        self.by_path: dict[str, ModuleInfo] = {}
        self._bindings: dict[str, dict[str, list[Binding]]] = {}
        self._stars: dict[str, list[Binding]] = {}
        self._by_plain_name: dict[str, list[str]] = {}
        self._packages: set[str] = set()
        self._schema_tables: dict[str, dict[str, str]] = {}
        self._schema_modules: dict[str, list[str]] = {}
        self._unknowns: Unknowns | None = None
        self._unnamed_schemas: bool | None = None
        self._shared_qualnames: set[str] | None = None  # class names that more than one table has
        self._on_disk: frozenset[str] | None = None  # top-level names in the repository's folders
        self._left_out: list[str] | None = None  # sources under the root that were not analysed
        # unresolved foreign-key parents (``?name`` nodes) that every reference places outside the repo
        self.external_nodes: set[str] = set()
        self._linked_externals: set[str] = set()  # installed modules activated with a linking module
        self._linking_modules: dict[str, list[str]] = {}  # element module -> modules given as linking_module
        self._activated_schemas: dict[tuple[str, str], str] = {}  # (module, schema variable) -> name
        self._resolving: set[tuple[str, str]] = set()
        self._memo: dict[tuple[str, str], Symbol | None] | None = None  # on once the model is built
        self._built_unknown_names: dict[str, tuple[str, int, int]] = {}
        # Values computed from the built model alone (e.g. make() analysis's structure fingerprint),
        # kept with it in the snapshot.
        self.derived: dict[str, Any] = {}
        self.restored = False  # taken from a snapshot (djlint.snapshot) instead of built
        self.snapshot: ModelSnapshot | None = None  # where to keep this model, with its file table
        self.snapshot_table: dict[str, tuple[str, str, str]] = {}

    @property
    def graph(self) -> nx.DiGraph:
        """The foreign-key graph (networkx): a node per table (data: tier, master; ``unknown`` for the
        ``?name`` placeholders), an edge parent -> child per foreign key (data: primary, renames).
        For callers of the model only (the analysis reads the plain lists): networkx comes with the
        runtime extra, not with the lint install."""
        if self._graph is None:
            import networkx as nx

            nodes, edges = self._graph_data
            self._graph = nx.DiGraph()
            self._graph.add_nodes_from(nodes)
            self._graph.add_edges_from(edges)
        return self._graph

    def __getstate__(self) -> dict[str, Any]:
        """What djlint.snapshot keeps: the built model, without what make() analysis added (unknown
        names noted in make bodies, parsed trees) and without the networkx graph (made from the lists)."""
        state = self.__dict__.copy()
        state["_graph"] = None
        state["unknown_names"] = dict(self._built_unknown_names)
        state["_unknowns"] = None
        state["_shared_qualnames"] = None
        state["_left_out"] = None
        state["snapshot"] = None
        return state

    @property
    def unknowns(self) -> Unknowns:
        """What stays decidable below the names this model could not resolve (djlint.unknowns)."""
        if self._unknowns is None:
            self._unknowns = Unknowns(self.allowed, self.external_nodes if self.config.external_roots else ())
        return self._unknowns

    def _left_out_sources(self) -> list[str]:
        """The text of every ``.py`` under the root that the analysis did not read (read once, bounded)."""
        if self._left_out is None:
            self._left_out = []
            if self.config.exclude or not self.covers_root:
                analysed = {os.path.normpath(info.path) for info in self.modules.values()}
                for path in python_files([self.root], self.root):
                    if os.path.normpath(path) in analysed:
                        continue
                    data = source_or_reason(path)
                    if isinstance(data, bytes):
                        self._left_out.append(data.decode("utf-8", "replace"))
        return self._left_out

    def note_unknown(self, name: str, path: str, line: int, column: int = 1) -> None:
        """Record an unresolved name; one informational DJ001 per name is reported (earliest place)."""
        place = (path, line, column)
        current = self.unknown_names.get(name)
        if current is None or place < current:
            self.unknown_names[name] = place

    def module_of_path(self, display_path: str) -> ModuleInfo | None:
        return self.by_path.get(display_path)

    def table_name(self, table_id: str, *, schema: bool = True) -> str:
        """How messages name a table: its class name (qualname), module-qualified when another table has
        the same class name, plus the database when known (and ``schema``)."""
        table = self.tables.get(table_id)
        if table is None:
            return table_id.lstrip(UNKNOWN_PREFIX).partition("@")[0]
        if self._shared_qualnames is None:
            seen: set[str] = set()
            self._shared_qualnames = set()
            for other in self.tables.values():
                (self._shared_qualnames if other.qualname in seen else seen).add(other.qualname)
        name = table.id if table.qualname in self._shared_qualnames else table.qualname
        return f"{name} ({table.schema})" if table.schema and schema else name
