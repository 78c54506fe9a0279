"""The repository model: modules, table classes, their definitions and the foreign-key graph.

Built from the per-file summaries (``djlint.summaries``: Python's ast, cached on disk) and a global
resolution pass; the make() analysis reuses the same ast trees (``ModuleInfo.ast_tree``), parsed again
only for modules whose summary came from the cache.
Nothing is imported or executed. A name that cannot be resolved becomes an *unknown* placeholder
node (``"?Name"``) so that no rule raises a false alarm about tables whose ancestry touches it.

This module reads the files and keeps the ``Model``; each step of the build is a module of
``djlint.repo``: indexing, tables, fkgraph, policy_names; name resolution and the origin of unknown
names are parts of the ``Model`` class (``djlint.repo.resolution``, ``djlint.repo.unknown_origins``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djlint.cache import config_material, relative_path, tool_fingerprint
from djlint.config import Config, Policy
from djlint.config import path_matches as _excluded
from djlint.definition import Definition
from djlint.definition import definition_from_record as _definition_from_record
from djlint.diagnostics import Diagnostic
from djlint.fileio import NotAnalysable, read_source, resolved
from djlint.provenance import AllowedSets
# The steps of the build, under the names ``_build_model`` and ``reposition`` (below) call them by.
from djlint.repo.fkgraph import build_graph as _build_graph
from djlint.repo.fkgraph import note_unknown_parents as _note_definition_problems
from djlint.repo.indexing import activate_schemas as _activate_schemas
from djlint.repo.indexing import bind_method_aliases as _bind_method_aliases
from djlint.repo.indexing import binding_index as _binding_index
from djlint.repo.indexing import index_modules as _index_modules
from djlint.repo.indexing import link_activations as _link_activations
from djlint.repo.policy_names import resolve_policy as _check_policy
from djlint.repo.records import Binding, ClassInfo, FunctionInfo, ModuleInfo, PolicyName, Symbol, TableInfo
from djlint.repo.resolution import NameResolution
from djlint.repo.tables import build_tables as _build_tables
from djlint.repo.tables import classify_classes as _classify_classes
from djlint.repo.unknown_origins import UnknownOrigins
from djlint.snapshot import ModelSnapshot, summary_digests
from djlint.summaries import SummaryCache, decode_source, load_summary
from djlint.unknowns import UNKNOWN_PREFIX, Unknowns

if TYPE_CHECKING:
    import networkx as nx

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        ".env",
        "build",
        "dist",
        "__pycache__",
        "node_modules",
        ".tox",
        ".nox",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".djlint_cache",
        ".eggs",
        ".ipynb_checkpoints",
    }
)


# ---------------------------------------------------------------------------------------------
# File discovery and module names
# ---------------------------------------------------------------------------------------------
def discover(paths: Sequence[Path], config: Config) -> list[Path]:
    """Every ``.py`` under ``paths`` (files given explicitly are kept), minus exclusions."""
    found: dict[Path, None] = {}
    root = config.root.resolve()
    for given in paths:
        given = resolved(given)
        if not given.is_dir():  # a file, or a FIFO or device that is reported as not analysable
            if given.suffix == ".py" and not _excluded(relative_path(given, root), config.exclude):
                found[given] = None
            continue
        excluding = bool(config.exclude)
        for directory, subdirs, files in os.walk(given):
            subdirs[:] = sorted(
                d
                for d in subdirs
                if d not in SKIPPED_DIRS
                and not d.endswith(".egg-info")
                and not (excluding and _excluded(relative_path(Path(directory, d), root), config.exclude))
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    file = Path(directory, name)
                    if not (excluding and _excluded(relative_path(file, root), config.exclude)):
                        found[file] = None
    return list(found)


def module_name(path: Path, root: Path, _inits: dict[Path, bool] | None = None) -> tuple[str, bool]:
    """(dotted module name, is the file a package ``__init__``)."""
    inits = {} if _inits is None else _inits

    def has_init(directory: Path) -> bool:
        found = inits.get(directory)
        if found is None:
            found = inits[directory] = os.path.isfile(os.path.join(directory, "__init__.py"))
        return found

    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    directory = path.parent
    if has_init(directory):
        while has_init(directory) and directory.parent != directory:
            parts.insert(0, directory.name)
            directory = directory.parent
        return ".".join(parts), is_package
    relative = relative_path(path.with_suffix(""), root).split("/")
    if relative and relative[0] == "src" and len(relative) > 1:
        relative = relative[1:]
    if relative and relative[0] == "..":  # outside the root: keep only the stem
        relative = [path.stem]
    if is_package:
        relative = relative[:-1] or [path.parent.name]
    return ".".join(relative), is_package


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
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
        self.diagnostics: list[Diagnostic] = []  # the build's own findings: the DJ000 of ``broken``
        self.unknown_names: dict[str, tuple[str, int, int]] = {}  # name -> first (path, line, column)
        self.files: list[str] = []
        self.covers_root = True  # were all files under root analysed (policy names decidable)?
        self.broken: dict[str, Diagnostic] = {}  # display path -> why the file is not analysed (DJ000)
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
                for path in discover([self.root], replace(self.config, exclude=())):
                    if os.path.normpath(path) in analysed:
                        continue
                    data = _read(path)
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


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------
def _read(path: Path) -> bytes | str:
    """The file's bytes, or why it is not analysed (regular files only, bounded: djlint.fileio)."""
    try:
        return read_source(path)
    except NotAnalysable as error:
        return f"not analysed: {error}"
    except OSError as error:
        return f"cannot read the file: {error.strerror or error}"


def build_model(
    paths: Sequence[Path], config: Config, cwd: Path, *, use_cache: bool = True,
    sources: Mapping[Path, bytes] | None = None,
) -> Model:
    """Summarise every file (cached), then resolve names, tables, definitions and the graph.

    ``sources``: contents that stand in for files on disk (resolved path -> bytes), e.g. an editor's
    unsaved buffer; the model snapshot, which checks files on disk, is then neither used nor written."""
    # The build allocates many small objects and frees none: the cyclic collector's passes over the
    # growing heap cost a third of a warm run, so it is paused for the build.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_model(paths, config, cwd, use_cache, sources or {})
    finally:
        if collecting:
            gc.enable()


def _build_model(
    paths: Sequence[Path], config: Config, cwd: Path, use_cache: bool, sources: Mapping[Path, bytes]
) -> Model:
    root = config.root.resolve()
    cwd = cwd.resolve()
    cache_dir = config.cache_dir if config.cache_dir is not None else root / ".djlint_cache"
    cache = (
        SummaryCache(Path(cache_dir), root) if use_cache and not os.environ.get("DJLINT_NO_CACHE") else None
    )

    given = [resolved(p if p.is_absolute() else cwd / p) for p in paths]
    files = discover(given, config)
    listed = [(relative_path(path, cwd), path) for path in files]
    snapshot = None
    if cache is not None and not sources:
        snapshot = ModelSnapshot(Path(cache_dir), (config_material(config), tool_fingerprint(), str(root),
                                                   str(cwd), [str(p) for p in given]), root)
        restored = snapshot.restore(listed, config)
        if restored is not None:
            return restored
    model = Model(root, config)
    model.snapshot = snapshot
    model.covers_root = any(p == root or p in root.parents for p in given)
    taken: set[str] = set()
    inits: dict[Path, bool] = {}
    for display, path in listed:
        model.files.append(display)
        data = sources[path] if path in sources else _read(path)
        if isinstance(data, str):
            model.broken[display] = Diagnostic(display, 1, 1, "DJ000", data)
            continue
        digest, summary, tree, text = load_summary(data, cache)
        if snapshot is not None:
            known = snapshot.previous.get(display)
            model.snapshot_table[display] = (
                tuple(known) if known is not None and known[0] == digest else (digest, *summary_digests(summary))
            )
        if "error" in summary:
            error = summary["error"]
            model.broken[display] = Diagnostic(
                display,
                int(error.get("line") or 1),
                int(error.get("column") or 1),
                "DJ000",
                f"cannot parse the file: {error.get('message')}",
            )
            continue
        name, is_package = module_name(path, root, inits)
        plain = name
        if name in taken:  # two separate trees with the same module name: keep both
            name = relative_path(path.with_suffix(""), root).replace("/", ".").lstrip(".")
            while name in taken:
                name += "_"
        taken.add(name)
        if text is None:
            text, _ = decode_source(data)
        source = text if text is not None else data.decode("utf-8", "replace")
        info = ModuleInfo(name, path, display, source, digest, is_package, summary)
        if tree is not None and _defines_make(summary):
            info._ast = tree  # parsed by the cheap pass (cold run): make() analysis need not parse again
        model.modules[name] = info
        model.by_path[display] = info
        model._by_plain_name.setdefault(plain, []).append(name)
        pieces = plain.split(".")
        for i in range(1, len(pieces)):
            model._packages.add(".".join(pieces[:i]))

    if cache is not None:
        cache.flush()
    model.diagnostics.extend(model.broken.values())
    _index_modules(model)
    _link_activations(model)
    _activate_schemas(model)
    _bind_method_aliases(model)
    _classify_classes(model)
    _build_tables(model)
    # Every index name resolution reads is complete (tables, tiers, schemas, linking): from here on a
    # name always means the same, so resolutions are memoised (the foreign keys' are reused by make()).
    model._memo = {}
    _build_graph(model)
    _check_policy(model, cwd)
    model.diagnostics.sort()
    model._built_unknown_names = dict(model.unknown_names)
    return model


_MAKE_NAMES = frozenset({"make", "_make_tuples", "make_fetch", "make_compute", "make_insert"})


def _defines_make(summary: dict[str, Any]) -> bool:
    return any(_MAKE_NAMES.intersection(record.get("methods", ())) for record in summary.get("classes", ()))


# ---------------------------------------------------------------------------------------------
# Moved lines (djlint.snapshot)
# ---------------------------------------------------------------------------------------------
def reposition(model: Model, name: str, summary: dict[str, Any]) -> None:
    """Lines moved in module ``name`` and nothing else changed there (``summary`` has the shape of the
    summary the model was built from; djlint.snapshot checks): give the model's objects from that
    module their new positions, and redo the build's findings located in it."""
    model._bindings[name], model._stars[name] = _binding_index(summary)
    records: dict[str, dict[str, Any]] = {}
    for record in summary.get("classes", []):
        class_id = f"{name}.{record['qualname']}"
        first = class_id not in records
        records.setdefault(class_id, record)  # the build keeps the first class of a name ...
        methods = record.get("methods", {})
        for method, (line, column) in methods.items():
            function = model.functions.get(f"{class_id}.{method}")  # ... and the last method
            if function is not None:
                function.line, function.column = line, column
        if first:
            cls = model.classes[class_id]
            cls.line, cls.column = record["line"], record["column"]
            cls.aliases = dict(record.get("aliases", {}))
            for method, (line, column) in methods.items():
                own = cls.methods.get(method)
                if own is not None and own.id == f"{class_id}.{method}":
                    own.line, own.column = line, column
    seen: set[str] = set()
    for binding in summary.get("bindings", []):
        function = model.functions.get(f"{name}.{binding[1]}") if binding[0] == "def" else None
        if function is not None and function.class_id is None and function.id not in seen:
            seen.add(function.id)
            function.line, function.column = binding[2], binding[3] if len(binding) > 3 else 1
    for table in model.tables.values():
        cls = model.classes.get(table.id)
        if cls is not None and cls.inherited_from in records:  # a Part of a template class here
            source = model.classes[cls.inherited_from]
            cls.line, cls.column = source.line, source.column
        if cls is not None and (cls.module == name or cls.inherited_from in records):
            table.line, table.column = cls.line, cls.column
        owner = records.get(table.definition_owner or "")
        if owner is not None and table.definition is not None:
            _move_definition(table.definition, _definition_from_record(owner.get("definition")))
    display = model.modules[name].display_path
    model.diagnostics = [d for d in model.diagnostics if not (d.path == display and d.code == "DJ001")]
    model.unknown_names = {n: place for n, place in model._built_unknown_names.items() if place[0] != display}
    for table in model.tables.values():
        if (table.definition_path or table.path) == display:
            _note_definition_problems(model, table)
    model.diagnostics.sort()
    model._built_unknown_names = dict(model.unknown_names)


def _move_definition(definition: Definition, moved: Definition | None) -> None:
    if moved is None:
        return
    definition.line, definition.problems = moved.line, moved.problems
    for old, new in zip(definition.attributes, moved.attributes):
        old.line, old.column = new.line, new.column
    for old_fk, new_fk in zip(definition.foreign_keys, moved.foreign_keys):
        old_fk.line, old_fk.column = new_fk.line, new_fk.column
