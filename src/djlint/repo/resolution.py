"""What a name means in a module's global scope: imports (relative, star, of siblings in a script
folder), classes and their nested classes and methods, virtual modules, schema objects, aliases, names
an Element's ``activate(linking_module=...)`` injects and ``[tool.djlint] linking`` maps.

``NameResolution`` is a part of ``djlint.model.Model``: it reads the indexes the build fills
(``djlint.repo.indexing``, ``djlint.repo.tables``) and nothing else.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import TYPE_CHECKING

from djlint.repo.records import Binding, ClassInfo, FunctionInfo, ModuleInfo, Symbol, TableInfo

if TYPE_CHECKING:
    from djlint.config import Config

# A copy of datajoint inside the repository (a vendored checkout, a submodule) is never the library the
# pipeline imports: ``import datajoint`` always means the installed package.
ALWAYS_EXTERNAL = frozenset({"datajoint"})
_BUILTINS = frozenset(dir(builtins))


class NameResolution:
    """Name resolution over the model's indexes (a part of ``Model``, which fills them)."""

    config: Config
    modules: dict[str, ModuleInfo]
    tables: dict[str, TableInfo]
    classes: dict[str, ClassInfo]
    _bindings: dict[str, dict[str, list[Binding]]]  # module -> global name -> its bindings, in order
    _stars: dict[str, list[Binding]]  # module -> its star imports
    _by_plain_name: dict[str, list[str]]  # dotted name as on disk -> modules (two trees may share one)
    _packages: set[str]  # every package prefix of an analysed module (namespace packages too)
    _schema_tables: dict[str, dict[str, str]]  # database name -> class qualname -> table id
    _schema_modules: dict[str, list[str]]  # database name -> modules declaring it
    _linking_modules: dict[str, list[str]]  # element module -> modules given as linking_module
    _activated_schemas: dict[tuple[str, str], str]  # (module, schema variable) -> name
    _resolving: set[tuple[str, str]]  # lookups in progress (cycles)
    _memo: dict[tuple[str, str], Symbol | None] | None  # on once the model is built

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

    def global_bindings(self, module: str) -> Iterator[Binding]:
        """Every module-level binding of ``module`` but its star imports, grouped by name in the order
        the names are first bound (a name's bindings in source order)."""
        for group in self._bindings.get(module, {}).values():
            yield from group

    def method_info(self, class_id: str, name: str) -> FunctionInfo | None:
        cls = self.classes.get(class_id)
        if cls is None:
            return None
        for candidate in [cls.id, *cls.bases]:
            found = self.classes[candidate].methods.get(name) if candidate in self.classes else None
            if found is not None:
                return found
        return None

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
            level, target = star.level, star.module or ""
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

    def schema_name(self, module: str, binding: Binding) -> str:
        """The database name of a schema binding: given to ``dj.schema(...)``, or later to
        ``schema.activate(...)`` / the Element's ``activate(...)``; "" when not known."""
        return binding.schema or self._activated_schemas.get((module, binding.name), "")

    def _binding(self, module: str, binding: Binding) -> Symbol | None:
        """What one of ``module``'s global bindings makes its name mean (the bindings' layouts:
        ``djlint.summaries``)."""
        kind = binding.kind
        if kind == "class":
            class_id = f"{module}.{binding.name}"
            return self._class_symbol(class_id) if class_id in self.classes else None
        if kind == "def":
            return Symbol("function", f"{module}.{binding.name}", module)
        if kind == "import":
            target = binding.module or ""
            found = self._module_named(target, near=module) or self._module_named(
                self._sibling(module, target)
            )
            return Symbol("module", found) if found else Symbol("external", target)
        if kind == "from":
            local, level, source, name = binding.name, binding.level, binding.module or "", binding.imported or ""
            absolute = self._absolute(module, level, source)
            owner = self._module_named(absolute, near=module)
            if owner is None and level == 0:
                owner = self._module_named(self._sibling(module, absolute))
            if owner is not None and owner in self.modules:
                symbol = self._lookup(owner, name, module_scope_only=True)
                if symbol is not None and symbol.kind != "unknown":
                    return symbol
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
            schema, local = binding.schema, binding.name
            if schema is not None and schema in self._schema_modules:
                return Symbol("module", self._schema_modules[schema][0], schema=schema)
            return Symbol("unknown", local, local)
        if kind == "schema":
            return Symbol("schema", self.schema_name(module, binding), module)
        if kind == "alias":
            return self.resolve(module, binding.dotted or "")
        if kind == "value":
            return Symbol("value", f"{module}.{binding.name}", module)
        return None
