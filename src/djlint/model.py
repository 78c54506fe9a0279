"""The repository model: modules, table classes, their definitions and the foreign-key graph.

Built from the per-file summaries (``djlint.summaries``: Python's ast, cached on disk) and a global
resolution pass; the make() analysis reuses the same ast trees (``ModuleInfo.ast_tree``), parsed again
only for modules whose summary came from the cache.
Nothing is imported or executed. A name that cannot be resolved becomes an *unknown* placeholder
node (``"?Name"``) so that no rule raises a false alarm about tables whose ancestry touches it.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djlint.config import Allowance, Config, Policy
from djlint.definition import Attribute, Definition, ForeignKey
from djlint.diagnostics import Diagnostic
from djlint.fileio import read_source, source_or_reason
from djlint.provenance import AllowedSets
from djlint.unknowns import UNKNOWN_PREFIX, Unknowns
from djlint.walk import discover, relative_path

if TYPE_CHECKING:
    import networkx as nx

    from djlint.snapshot import ModelSnapshot

TIERS = ("Manual", "Lookup", "Imported", "Computed", "Part")
# A copy of datajoint inside the repository (a vendored checkout, a submodule) is never the library the
# pipeline imports: ``import datajoint`` always means the installed package.
ALWAYS_EXTERNAL = frozenset({"datajoint"})
_BUILTINS = frozenset(dir(builtins))


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Symbol:
    """What a name means in a module's global scope.

    kind: "table" | "class" | "function" | "module" | "unknown" | "external" | "schema" | "value".
    target: TableId / class id / function id ("module.qualname") / module name / the unknown name as
    written / the external dotted name ("numpy.mean", "builtins.len", "datajoint.Computed") / the
    schema's database name ("" when not a literal) / "module.name" of a plain module-level variable.
    module: the defining module for table/class/function/value; the name for unknown.
    schema: for a virtual module (``dj.create_virtual_module``): its database name.
    """

    kind: str
    target: str
    module: str | None = None
    schema: str | None = None


@dataclass
class FunctionInfo:
    id: str  # "module.qualname" (methods: "module.Class.method")
    module: str
    qualname: str
    name: str
    line: int
    column: int
    class_id: str | None = None



@dataclass
class ClassInfo:
    id: str
    module: str
    qualname: str
    name: str
    line: int
    column: int
    base_texts: list[str | None]
    decorators: list[str | None]
    methods: dict[str, FunctionInfo]
    attributes: list[str]
    parent: str | None = None  # enclosing class id (nested classes)
    bases: list[str] = field(default_factory=list)  # repo class ids, MRO order (transitive)
    direct_bases: list[Symbol] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)
    tier: str | None = None
    definition_record: dict[str, Any] | None = None
    aliases: dict[str, list[Any]] = field(default_factory=dict)  # ``make = helper``: name -> [dotted, line]
    inline_schema: str | None = None  # ``@dj.schema("name")`` as the decorator
    inherited_from: str | None = None  # a Part nested in a template base class: that class's id

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "definition_record": None}  # parsed into the table's definition


@dataclass
class TableInfo:
    id: str
    module: str
    qualname: str
    path: str  # display path
    line: int
    column: int
    tier: str
    master: str | None
    parts: list[str]
    definition: Definition | None
    bases: list[str]
    schema: str | None
    definition_path: str = (
        ""  # display path of the file holding the definition (a base class's, if inherited)
    )
    definition_owner: str | None = None  # id of the class whose ``definition`` this is


class ModuleInfo:
    """One analysed file; ``ast_tree`` is parsed on first use (or handed over by the cheap pass)."""

    def __init__(
        self,
        name: str,
        path: Path,
        display_path: str,
        source: str,
        digest: str,
        is_package: bool,
        summary: dict[str, Any],
    ) -> None:
        self.name = name
        self.path = path
        self.display_path = display_path
        self.source = source
        self.digest = digest
        self.is_package = is_package
        self.summary = summary
        self._ast: Any = None
        self._lines: list[str] | None = None

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name!r}, {self.display_path!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Of the summary, only what name resolution reads after the build (the rest is in the model's
        # indexes); tree and lines are re-derived from the source on use.
        kept = {key: self.summary[key] for key in ("all", "flags") if key in self.summary}
        return {**self.__dict__, "summary": kept, "_ast": None, "_lines": None}

    def replace_source(self, digest: str, summary: dict[str, Any], tree: Any, source: str) -> None:
        """The file changed but its summary did not (djlint.snapshot): only the text is new."""
        self.digest, self.summary, self.source = digest, summary, source
        self._ast, self._lines = tree, None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.splitlines()
        return self._lines

    @property
    def ast_tree(self) -> Any:
        if self._ast is None:
            import ast

            self._ast = ast.parse(self.source)
        return self._ast

# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------
class Model:
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
        self.allowed: AllowedSets = AllowedSets.from_edges((), (), {}.get)
        self.diagnostics: list[Diagnostic] = []
        self.unknown_names: dict[str, tuple[str, int, int]] = {}  # name -> first (path, line, column)
        self.files: list[str] = []
        self.covers_root = True  # were all files under root analysed (policy names decidable)?
        self.broken: dict[str, Diagnostic] = {}
        self.by_path: dict[str, ModuleInfo] = {}
        self._bindings: dict[str, dict[str, list[list[Any]]]] = {}
        self._stars: dict[str, list[list[Any]]] = {}
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

    # -- public API --------------------------------------------------------------------------
    def resolve(self, module: str, dotted: str) -> Symbol | None:
        """The meaning of ``dotted`` (as written in ``module``'s global scope)."""
        if not dotted or module not in self.modules:
            return None
        if self._memo is not None:
            key = (module, dotted)
            if key not in self._memo:
                self._memo[key] = self._resolve(module, dotted)
            return self._memo[key]
        return self._resolve(module, dotted)

    def _resolve(self, module: str, dotted: str) -> Symbol | None:
        parts = dotted.split(".")
        symbol = self._lookup(module, parts[0])
        for index, part in enumerate(parts[1:], start=1):
            if symbol is None:
                return None
            symbol = self.attribute(symbol, part, written=".".join(parts[: index + 1]))
        if (
            symbol is not None
            and symbol.kind == "unknown"
            and dotted in self.config.linking
            and "." in dotted
        ):
            return self._linked(dotted)
        return symbol

    def attribute(self, symbol: Symbol, name: str, written: str | None = None) -> Symbol | None:
        """``symbol.name``: a submodule, a module's global, a nested class, a method, ..."""
        written = written or f"{symbol.target}.{name}"
        if symbol.kind == "unknown":
            return Symbol("unknown", written, written)
        if symbol.kind == "external":
            return Symbol("external", f"{symbol.target}.{name}")
        if symbol.kind == "module":
            if symbol.schema is not None:
                table = self._schema_tables.get(symbol.schema, {}).get(name)
                return (
                    Symbol("table", table, self.tables[table].module)
                    if table
                    else Symbol("unknown", written, written)
                )
            found = (
                self._lookup(symbol.target, name, module_scope_only=True)
                if symbol.target in self.modules
                else None
            )
            if found is not None and found.kind != "unknown":
                return found
            sub = self._module_named(f"{symbol.target}.{name}")
            if sub is not None:
                return Symbol("module", sub)
            return Symbol("unknown", written, written)
        if symbol.kind in ("table", "class"):
            cls = self.classes.get(symbol.target)
            if cls is None:
                return None
            for class_id in [cls.id, *cls.bases]:
                nested = f"{class_id}.{name}"
                if nested in self.classes:
                    return self._class_symbol(nested)
                method = self.classes[class_id].methods.get(name) if class_id in self.classes else None
                if method is not None:
                    return Symbol("function", method.id, method.module)
            return None
        return None

    def global_names(self, module: str) -> list[str]:
        """The names ``module`` binds at module level (imports, classes, functions, assignments)."""
        return list(self._bindings.get(module, {}))

    def method_info(self, class_id: str, name: str) -> FunctionInfo | None:
        cls = self.classes.get(class_id)
        if cls is None:
            return None
        for candidate in [cls.id, *cls.bases]:
            found = self.classes[candidate].methods.get(name) if candidate in self.classes else None
            if found is not None:
                return found
        return None

    @property
    def unknowns(self) -> Unknowns:
        """What stays decidable below the names this model could not resolve (djlint.unknowns)."""
        if self._unknowns is None:
            self._unknowns = Unknowns(self.allowed, self.external_nodes if self.config.external_roots else ())
        return self._unknowns

    def unknown_node(self, module: str, dotted: str) -> tuple[str, bool]:
        """The graph node of the unresolved ``dotted`` (as written in ``module``), and whether it comes
        from outside the analysed repository: an installed package's table, or one of a schema that no
        analysed table lives in (a virtual module, ``spawn_missing_classes()``). An installed module the
        repository activates with ``linking_module=`` receives the repository's tables: not outside.

        A name from outside is its full dotted name. Any other is scoped by the module where it stays
        unresolved (after following imports), so that two modules' run-time names ``Session`` are not
        taken for one table (the descendant test of djlint.unknowns relies on it)."""
        return self._unknown_origin(module, dotted, set())

    def _unknown_origin(self, module: str, dotted: str, seen: set[tuple[str, str]]) -> tuple[str, bool]:
        """``unknown_node``, following imports (a method, not a recursive closure: a closure referring
        to itself is a reference cycle that would keep the whole model alive until a full collection)."""
        local = (f"{UNKNOWN_PREFIX}{dotted}@{module}", False)
        if (module, dotted) in seen or len(seen) > 32:
            return local
        seen.add((module, dotted))
        head, _, rest = dotted.partition(".")
        bindings = self._bindings.get(module, {}).get(head)
        if not bindings:
            star = self._from_stars(module, head) if self._stars.get(module) else None
            if star is not None and star.kind == "external":
                return self._outside(star.target, rest)
            info = self.modules.get(module)
            spawned = info is not None and "spawn" in info.summary.get("flags", ())
            return (local[0], True) if spawned and self._spawns_foreign(module) else local
        if len(bindings) > 1:
            return local
        binding = bindings[0]
        kind = binding[0]
        if kind == "virtual":
            schema = binding[2]
            if schema is None:
                return local
            return f"{UNKNOWN_PREFIX}{rest or head}@{schema}", self._foreign_schema(schema)
        if kind == "alias":
            return self._unknown_origin(module, f"{binding[2]}.{rest}" if rest else binding[2], seen)
        if kind not in ("import", "from"):
            return local
        symbol = self._binding(module, binding)
        if symbol is not None and symbol.kind == "external":
            return self._outside(symbol.target, rest)
        if symbol is not None and symbol.kind == "module" and rest:
            return self._unknown_origin(symbol.target, rest, seen)
        if symbol is not None and symbol.kind == "unknown" and kind == "from":
            _, _, level, source, name, _line = binding
            owner = self._module_named(self._absolute(module, level, source), near=module)
            if owner in self.modules:  # a name the source module gets at run time
                return self._unknown_origin(owner, f"{name}.{rest}" if rest else name, seen)
        return local

    def _outside(self, target: str, rest: str) -> tuple[str, bool]:
        dotted = f"{target}.{rest}" if rest else target
        return f"{UNKNOWN_PREFIX}{dotted}", self._installed(dotted)

    def _installed(self, dotted: str) -> bool:
        """An external name of an installed package: not a module of the repository that was left out of
        the analysis (excluded, or outside the paths given), and not linked to the repository by an
        in-repo ``activate(..., linking_module=...)``."""
        if dotted.partition(".")[0] in self._repository_names():
            return False
        return not any(dotted == linked or dotted.startswith(linked + ".") for linked in self._linked_externals)

    def _repository_names(self) -> frozenset[str]:
        """Top-level module and package names on disk in the repository (its root, and ``src/``)."""
        if self._on_disk is None:
            names: set[str] = set()
            for folder in (self.root, self.root / "src"):
                try:
                    entries = os.listdir(folder)
                except OSError:
                    continue
                names.update(entry[:-3] if entry.endswith(".py") else entry for entry in entries)
            self._on_disk = frozenset(names - ALWAYS_EXTERNAL)
        return self._on_disk

    def _foreign_schema(self, schema: str) -> bool:
        """No analysed table lives in ``schema``, none lives in a schema whose name is unknown, and no file
        of the repository left out of the analysis (``exclude``, paths analysed alone) names it."""
        if self._unnamed_schemas is None:
            self._unnamed_schemas = any(t.schema is None and t.master is None for t in self.tables.values())
        if schema in self._schema_tables or self._unnamed_schemas:
            return False
        return not any(schema in text for text in self._left_out_sources())

    def _left_out_sources(self) -> list[str]:
        """The text of every ``.py`` under the root that the analysis did not read (read once, bounded)."""
        if self._left_out is None:
            self._left_out = []
            if self.config.exclude or not self.covers_root:
                analysed = {os.path.normpath(info.path) for info in self.modules.values()}
                for path in discover([self.root], replace(self.config, exclude=())):
                    if os.path.normpath(path) in analysed:
                        continue
                    data = source_or_reason(path)
                    if isinstance(data, bytes):
                        self._left_out.append(data.decode("utf-8", "replace"))
        return self._left_out

    def _spawns_foreign(self, module: str) -> bool:
        """``schema.spawn_missing_classes()`` in ``module``: every schema it binds is a foreign one."""
        names = [self.schema_name(module, b) for group in self._bindings.get(module, {}).values()
                 for b in group if b[0] == "schema"]
        return bool(names) and all(name and self._foreign_schema(name) for name in names)

    def table_named(self, name: str) -> str | None:
        """The table a module-qualified class name denotes (``pipeline.lab.Scan``, or a re-export such as
        ``pipeline.Scan``), found as the runtime finds it: the module, then the attribute in it."""
        if name in self.tables:
            return name
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self.modules:
                symbol = self.resolve(module, ".".join(parts[cut:]))
                return symbol.target if symbol is not None and symbol.kind == "table" else None
        return None

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

    # -- lookup internals --------------------------------------------------------------------
    def _class_symbol(self, class_id: str) -> Symbol:
        module = self.classes[class_id].module
        return Symbol("table" if class_id in self.tables else "class", class_id, module)

    def _module_named(self, name: str, near: str | None = None) -> str | None:
        """A module (or namespace package) with this absolute name; prefers ``near``'s tree."""
        if name.partition(".")[0] in ALWAYS_EXTERNAL:
            return None
        candidates = self._by_plain_name.get(name)
        if candidates:
            if near is not None and len(candidates) > 1:
                near_root = self.modules[near].path.parent if near in self.modules else None
                for candidate in candidates:
                    if near_root is not None and near_root in self.modules[candidate].path.parents:
                        return candidate
            return candidates[0]
        if name in self._packages:
            return name
        return None

    def _absolute(self, module: str, level: int, name: str) -> str:
        if level == 0:
            return name
        info = self.modules.get(module)
        base = module.split(".")
        if not (info and info.is_package):
            base = base[:-1]
        if level > 1:
            base = base[: max(len(base) - (level - 1), 0)]
        return ".".join([*base, name] if name else base)

    def _lookup(self, module: str, name: str, module_scope_only: bool = False) -> Symbol | None:
        key = (module, name)
        if key in self._resolving or len(self._resolving) > 64:  # a cycle, or absurdly deep chains
            return Symbol("unknown", name, name)
        self._resolving.add(key)
        try:
            return self._lookup_inner(module, name, module_scope_only)
        finally:
            self._resolving.discard(key)

    def _lookup_inner(self, module: str, name: str, module_scope_only: bool) -> Symbol | None:
        bindings = self._bindings.get(module, {}).get(name)
        if bindings:
            best: Symbol | None = None
            for binding in reversed(bindings):  # later bindings win; any branch may do
                symbol = self._binding(module, binding)
                if symbol is None:
                    continue
                if symbol.kind in ("table", "class", "module", "function", "schema"):
                    return symbol
                if best is None or (best.kind == "unknown" and symbol.kind != "unknown"):
                    best = symbol
            if best is not None and best.kind != "unknown":
                return best
            star = self._from_stars(module, name)
            return star or best
        star = self._from_stars(module, name)
        if star is not None:
            return star
        for linking in self._linking_modules.get(module, ()):
            found = self._lookup(linking, name, module_scope_only=True)
            if found is not None and found.kind != "unknown":
                return found
        info = self.modules.get(module)
        if info is not None and info.is_package:
            # a package's submodules become its globals once imported (``from . import sub``)
            submodule = self._module_named(f"{module}.{name}", near=module)
            if submodule is not None:
                return Symbol("module", submodule)
        if module_scope_only:
            return None
        if name in _BUILTINS:
            return Symbol("external", f"builtins.{name}")
        if name in self.config.linking:
            return self._linked(name)
        return Symbol("unknown", name, name)

    def _linked(self, name: str) -> Symbol:
        target = self.config.linking[name]
        if target in self.tables:
            return Symbol("table", target, self.tables[target].module)
        if target in self.classes:
            return self._class_symbol(target)
        found = self._module_named(target)
        if found:
            return Symbol("module", found)
        head, _, tail = target.rpartition(".")
        owner = self._module_named(head) if head else None
        if owner:
            symbol = self.attribute(Symbol("module", owner), tail, written=name)
            if symbol is not None:
                return symbol
        return Symbol("unknown", name, name)

    def _from_stars(self, module: str, name: str) -> Symbol | None:
        external_guess: Symbol | None = None
        for star in self._stars.get(module, []):
            _, _, level, target, _line = star
            absolute = self._absolute(module, level, target)
            source = self._module_named(absolute, near=module) or (
                self._module_named(self._sibling(module, absolute)) if level == 0 else None
            )
            if source is None or source not in self.modules:
                if external_guess is None and level == 0:
                    external_guess = Symbol("external", f"{absolute}.{name}")
                continue
            exported = self.modules[source].summary.get("all")
            if exported is not None and name not in exported:
                continue
            if exported is None and name.startswith("_"):
                continue
            found = self._lookup(source, name, module_scope_only=True)
            if found is not None and found.kind != "unknown":
                return found
        return external_guess

    def _sibling(self, module: str, absolute: str) -> str:
        """``import helper`` from a script folder without ``__init__``: the module next to it."""
        parent = module.rsplit(".", 1)[0] if "." in module else ""
        return f"{parent}.{absolute}" if parent else absolute

    def schema_name(self, module: str, binding: list[Any]) -> str:
        """The database name of a schema binding: given to ``dj.schema(...)``, or later to
        ``schema.activate(...)`` / the Element's ``activate(...)``; "" when not known."""
        return binding[2] or self._activated_schemas.get((module, binding[1]), "")

    def _binding(self, module: str, binding: list[Any]) -> Symbol | None:
        kind = binding[0]
        if kind == "class":
            class_id = f"{module}.{binding[1]}"
            return self._class_symbol(class_id) if class_id in self.classes else None
        if kind == "def":
            return Symbol("function", f"{module}.{binding[1]}", module)
        if kind == "import":
            target = binding[2]
            found = self._module_named(target, near=module) or self._module_named(
                self._sibling(module, target)
            )
            return Symbol("module", found) if found else Symbol("external", target)
        if kind == "from":
            _, local, level, source, name, _line = binding
            absolute = self._absolute(module, level, source)
            owner = self._module_named(absolute, near=module)
            if owner is None and level == 0:
                owner = self._module_named(self._sibling(module, absolute))
            if owner is not None and owner in self.modules:
                found = self._lookup(owner, name, module_scope_only=True)
                if found is not None and found.kind != "unknown":
                    return found
                sub = self._module_named(f"{owner}.{name}")
                if sub:
                    return Symbol("module", sub)
                return Symbol("unknown", local, local)  # e.g. made by spawn_missing_classes()
            sub = self._module_named(f"{absolute}.{name}", near=module)
            if sub:
                return Symbol("module", sub)
            if owner is not None:  # a namespace package without the name
                return Symbol("unknown", local, local)
            if level > 0:
                return Symbol("unknown", local, local)
            return Symbol("external", f"{absolute}.{name}" if absolute else name)
        if kind == "virtual":
            schema = binding[2]
            local = binding[1]
            if schema is not None and schema in self._schema_modules:
                return Symbol("module", self._schema_modules[schema][0], schema=schema)
            return Symbol("unknown", local, local)
        if kind == "schema":
            return Symbol("schema", self.schema_name(module, binding), module)
        if kind == "alias":
            return self.resolve(module, binding[2])
        if kind == "value":
            return Symbol("value", f"{module}.{binding[1]}", module)
        return None


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------
_MAKE_NAMES = frozenset({"make", "_make_tuples", "make_fetch", "make_compute", "make_insert"})


def _defines_make(summary: dict[str, Any]) -> bool:
    return any(_MAKE_NAMES.intersection(record.get("methods", ())) for record in summary.get("classes", ()))


def _index_modules(model: Model) -> None:
    for name, info in model.modules.items():
        model._bindings[name], model._stars[name] = _binding_index(info.summary)
        for record in info.summary.get("classes", []):
            class_id = f"{name}.{record['qualname']}"
            parent = f"{name}.{record['parent']}" if record.get("parent") else None
            methods = {
                method: FunctionInfo(
                    f"{class_id}.{method}",
                    name,
                    f"{record['qualname']}.{method}",
                    method,
                    where[0],
                    where[1],
                    class_id,
                )
                for method, where in record.get("methods", {}).items()
            }
            cls = ClassInfo(
                class_id,
                name,
                record["qualname"],
                record["name"],
                record["line"],
                record["column"],
                record.get("bases", []),
                record.get("decorators", []),
                methods,
                record.get("attributes", []),
                parent,
                definition_record=record.get("definition"),
                aliases=dict(record.get("aliases", {})),
                inline_schema=record.get("inline_schema"),
            )
            model.classes.setdefault(class_id, cls)
            if parent and parent in model.classes:
                model.classes[parent].nested.append(class_id)
            for function in methods.values():
                model.functions[function.id] = function
        for binding in info.summary.get("bindings", []):
            if binding[0] == "def":
                function_id = f"{name}.{binding[1]}"
                model.functions.setdefault(
                    function_id,
                    FunctionInfo(
                        function_id,
                        name,
                        binding[1],
                        binding[1],
                        binding[2],
                        binding[3] if len(binding) > 3 else 1,
                        None,
                    ),
                )


def _binding_index(summary: dict[str, Any]) -> tuple[dict[str, list[list[Any]]], list[list[Any]]]:
    """A module's global bindings by name, and its star imports."""
    bindings: dict[str, list[list[Any]]] = {}
    stars: list[list[Any]] = []
    for binding in summary.get("bindings", []):
        if binding[0] == "star":
            stars.append(binding)
        else:
            bindings.setdefault(binding[1], []).append(binding)
    return bindings, stars


def _bind_method_aliases(model: Model) -> None:
    """``make = _make_summary`` / ``_make_tuples = make`` in a class body: the function becomes a
    method of the class under that name (make() code written outside the class)."""
    for cls in model.classes.values():
        for name, (target, _line) in cls.aliases.items():
            if name in cls.methods:
                continue
            if target in cls.methods:  # an earlier method of the same class body
                cls.methods[name] = cls.methods[target]
                continue
            symbol = model.resolve(cls.module, target)
            if symbol is not None and symbol.kind == "function" and symbol.target in model.functions:
                cls.methods[name] = model.functions[symbol.target]


def _activate_schemas(model: Model) -> None:
    """``schema = dj.schema()`` named later: ``schema.activate("lab_ephys")`` in the module or elsewhere,
    or the Element's ``ephys.activate("lab_ephys", linking_module=...)`` (its main schema)."""
    for name, info in model.modules.items():
        for receiver, schema_name, _line in info.summary.get("schema_activations", []):
            symbol = model.resolve(name, receiver)
            if symbol is None:
                continue
            if symbol.kind == "schema" and not symbol.target and symbol.module in model.modules:
                owner, preferred = symbol.module, receiver.rpartition(".")[2]
            elif symbol.kind == "module" and symbol.target in model.modules:
                owner, preferred = symbol.target, "schema"
            else:
                continue
            unnamed = [b[1] for b in model._bindings[owner].get(preferred, []) if b[0] == "schema" and not b[2]]
            if not unnamed:
                unnamed = [n for n, group in model._bindings[owner].items()
                           if any(b[0] == "schema" and not b[2] for b in group)]
                if len(unnamed) != 1:
                    continue  # which schema of the module is meant is not clear
            model._activated_schemas.setdefault((owner, unnamed[0]), schema_name)


def _datajoint_tier(symbol: Symbol | None) -> str | None:
    if symbol is None or symbol.kind != "external":
        return None
    parts = symbol.target.split(".")
    if parts[0] == "datajoint" and parts[-1] in TIERS:
        return parts[-1]
    return None


def _classify_classes(model: Model) -> None:
    """Resolve bases, compute each class's repo MRO and its DataJoint tier (through user bases)."""
    for cls in model.classes.values():
        symbols: list[Symbol] = []
        for text in cls.base_texts:
            symbol = model.resolve(cls.module, text) if text else None
            symbols.append(symbol or Symbol("unknown", text or "?", text or "?"))
        cls.direct_bases = symbols

    state: dict[str, int] = {}

    for class_id in list(model.classes):
        _classify_class(model, state, class_id)



def _classify_class(model: Model, state: dict[str, int], class_id: str) -> None:
    """The repo MRO and tier of one class, its bases first (a function, not a recursive closure: that
    would be a reference cycle keeping the model alive until a full collection)."""
    if state.get(class_id) == 2:
        return
    if state.get(class_id) == 1:  # inheritance cycle: stop
        return
    state[class_id] = 1
    cls = model.classes[class_id]
    order: list[str] = []
    tier: str | None = None
    for symbol in cls.direct_bases:
        direct_tier = _datajoint_tier(symbol)
        if direct_tier and tier is None:
            tier = direct_tier
        if (
            symbol.kind in ("table", "class")
            and symbol.target in model.classes
            and symbol.target != class_id
        ):
            _classify_class(model, state, symbol.target)
            base = model.classes[symbol.target]
            for candidate in [base.id, *base.bases]:
                if candidate not in order and candidate != class_id:
                    order.append(candidate)
            if tier is None and base.tier:
                tier = base.tier
    cls.bases = order
    cls.tier = tier
    state[class_id] = 2


def _definition_from_record(record: dict[str, Any] | None) -> Definition | None:
    if record is None:
        return None
    if not record.get("literal", True):
        return Definition(line=record.get("line", 1), literal=False)
    definition = Definition(line=record.get("line", 1), literal=True, comment=record.get("comment", ""))
    definition.attributes = [
        Attribute(name=a[0], type=a[1], default=a[2], comment=a[3], line=a[4], in_key=a[5], column=a[6])
        for a in record.get("attributes", [])
    ]
    definition.foreign_keys = [
        ForeignKey(
            text=f[0], ref=f[1], primary=f[2], options=set(f[3]), renames=dict(f[4]), line=f[5], column=f[6]
        )
        for f in record.get("foreign_keys", [])
    ]
    definition.indexes = list(record.get("indexes", []))
    definition.problems = [tuple(p) for p in record.get("problems", [])]  # type: ignore[misc]
    return definition


def _build_tables(model: Model) -> None:
    used_as_base = {base for cls in model.classes.values() for base in cls.bases}

    def is_master_table(cls: ClassInfo) -> bool:
        # an undecorated class used as a base class is a template, not a table itself
        return (
            cls.tier is not None and cls.tier != "Part" and bool(cls.decorators or cls.id not in used_as_base)
        )

    def add(cls: ClassInfo, master: str | None, record_owner: ClassInfo | None = None) -> None:
        record = cls.definition_record
        owner = record_owner or cls
        if record is None:
            for base in cls.bases:
                if model.classes[base].definition_record is not None:
                    record = model.classes[base].definition_record
                    owner = model.classes[base]
                    break
        schema: str | None = cls.inline_schema
        for decorator in cls.decorators:
            symbol = model.resolve(cls.module, decorator) if decorator else None
            if symbol is not None and symbol.kind == "schema":
                schema = symbol.target or None
        model.tables[cls.id] = TableInfo(
            id=cls.id,
            module=cls.module,
            qualname=cls.qualname,
            path=model.modules[cls.module].display_path,
            line=cls.line,
            column=cls.column,
            tier=cls.tier or "Part",
            master=master,
            parts=[],
            definition=_definition_from_record(record),
            bases=list(cls.bases),
            schema=schema,
            definition_path=model.modules[owner.module].display_path,
            definition_owner=owner.id if record is not None else None,
        )

    masters = [cls for cls in model.classes.values() if is_master_table(cls)]
    for cls in masters:
        add(cls, None)
    for cls in list(model.classes.values()):
        if cls.tier != "Part":
            continue
        parent = model.classes.get(cls.parent) if cls.parent else None
        if parent is not None and is_master_table(parent):
            add(cls, parent.id)
        elif parent is None and cls.decorators:
            add(cls, None)  # a decorated stand-alone Part class (unusual): keep it, without a master
    # Parts nested in a template base class belong to every table inheriting them (datajoint
    # declares ``T.Unit`` with T as master); each gets its own id under T.
    for cls in masters:
        for base_id in cls.bases:
            for nested_id in list(model.classes[base_id].nested):
                nested = model.classes[nested_id]
                part_id = f"{cls.id}.{nested.name}"
                if nested.tier != "Part" or part_id in model.classes:
                    continue
                inherited = ClassInfo(
                    id=part_id,
                    module=cls.module,
                    qualname=f"{cls.qualname}.{nested.name}",
                    name=nested.name,
                    line=nested.line,
                    column=nested.column,
                    base_texts=[],
                    decorators=[],
                    methods={},
                    attributes=[],
                    parent=cls.id,
                    bases=[nested.id, *nested.bases],
                    tier="Part",
                    definition_record=None,
                    inherited_from=nested.id,
                )
                model.classes[part_id] = inherited
                cls.nested.append(part_id)
                add(inherited, cls.id)
                model.tables[part_id].path = model.modules[nested.module].display_path
    for table in model.tables.values():
        if table.master:
            model.tables[table.master].parts.append(table.id)
    for table in model.tables.values():
        if table.master and table.schema is None:
            table.schema = model.tables[table.master].schema
    for table in model.tables.values():
        if table.schema:
            model._schema_tables.setdefault(table.schema, {}).setdefault(table.qualname, table.id)
            modules = model._schema_modules.setdefault(table.schema, [])
            if table.module not in modules:
                modules.append(table.module)
    # schemas declared in a module even when no table is decorated yet
    for name, info in model.modules.items():
        for binding in info.summary.get("bindings", []):
            schema_name = model.schema_name(name, binding) if binding[0] == "schema" else ""
            if schema_name:
                modules = model._schema_modules.setdefault(schema_name, [])
                if name not in modules:
                    modules.append(name)


def _resolve_reference(model: Model, table: TableInfo, fk: ForeignKey) -> None:
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


def _note_definition_problems(model: Model, table: TableInfo) -> None:
    """DJ001 for a definition that is not a literal, and each foreign key that names nothing known."""
    definition = table.definition
    path = table.definition_path or table.path
    if definition is not None and not definition.literal:
        model.diagnostics.append(Diagnostic(
            path, definition.line, 1, "DJ001",
            f"definition of {table.qualname} is not a literal; skipped (its ancestry is unknown)"))
    elif definition is not None:
        for fk in definition.foreign_keys:
            if fk.target is None:
                model.note_unknown(fk.unknown or fk.text, path, fk.line, fk.column)


def _build_graph(model: Model) -> None:
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
            _note_definition_problems(model, table)
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
        _note_definition_problems(model, table)
    model.external_nodes = external
    model._graph_data = (list(nodes.items()), [(parent, child, data) for (parent, child), data in edges.items()])
    model._graph = None
    model.allowed = AllowedSets.from_edges(
        nodes, edges, {table.id: table.master for table in model.tables.values()}.get
    )


def _toml_line(lines: list[str], needle: str, start: int = 0) -> int:
    for quote in ('"', "'"):
        text = f"{quote}{needle}{quote}"
        for index in range(start, len(lines)):
            if text in lines[index]:
                return index + 1
    return 0


def _check_policy(model: Model, cwd: Path) -> None:
    """Resolve the policy's names to tables (``model.policy``); DJ003 for a name that denotes none."""
    policy = model.config.policy
    if not policy.allow:
        return
    allow: dict[str, Allowance] = {}
    for table, entry in policy.allow.items():
        key = model.table_named(table) or table
        before = allow.get(key, Allowance())
        allow[key] = Allowance(
            before.reads | {model.table_named(name) or name for name in entry.reads},
            before.writes | {model.table_named(name) or name for name in entry.writes},
        )
    model.policy = Policy(allow=allow, source=policy.source)
    source = policy.source or (model.root / "pyproject.toml")
    try:
        lines = read_source(source).decode("utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    display = relative_path(Path(source).resolve(), cwd)
    analysed = set(model.modules)
    header_of = model.config.table or "[tool.djlint]"
    for table, entry in policy.allow.items():
        header = _toml_line(lines, table)
        start = header or 0
        for role, names in (
            ("table", [table]),
            ("reads", sorted(entry.reads)),
            ("writes", sorted(entry.writes)),
        ):
            for name in names:
                if model.table_named(name) is not None:
                    continue
                if not _policy_name_decidable(model, name, analysed):
                    continue
                line = header if role == "table" else _toml_line(lines, name, max(start - 1, 0))
                where = {
                    "table": f'{header_of[:-1]}.allow."{table}"]',
                    "reads": f'allow."{table}".reads',
                    "writes": f'allow."{table}".writes',
                }[role]
                model.diagnostics.append(
                    Diagnostic(
                        display,
                        line or 1,
                        1,
                        "DJ003",
                        f"{where} names {name!r}, which matches no table in the analysed code",
                    )
                )


def _policy_name_decidable(model: Model, name: str, analysed: set[str]) -> bool:
    """A policy name is an error when the whole repository was analysed, or when the module it
    points into was analysed (a partial run cannot tell about modules it did not read)."""
    if getattr(model, "covers_root", True):
        return True
    parts = name.split(".")
    return any(".".join(parts[:i]) in analysed for i in range(1, len(parts)))
