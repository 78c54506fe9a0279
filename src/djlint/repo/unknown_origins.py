"""Where a name the model cannot resolve comes from: the ``?name`` node that stands for it in the
foreign-key graph, and whether it lies outside the analysed repository (an installed package's table,
or one of a schema no analysed table lives in), which ``external-roots`` takes as a root.

``UnknownOrigins`` is a part of ``djlint.model.Model``, beside name resolution.
"""

from __future__ import annotations

import os
from pathlib import Path

from djlint.repo.resolution import ALWAYS_EXTERNAL, NameResolution
from djlint.unknowns import UNKNOWN_PREFIX


class UnknownOrigins(NameResolution):
    """The origin of unresolved names (a part of ``Model``)."""

    root: Path
    covers_root: bool  # were all files under root analysed?
    _linked_externals: set[str]  # installed modules activated with a linking module
    _on_disk: frozenset[str] | None  # top-level names in the repository's folders
    _unnamed_schemas: bool | None  # does a table live in a schema whose name is not known?

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
        kind = binding.kind
        if kind == "virtual":
            schema = binding.schema
            if schema is None:
                return local
            return f"{UNKNOWN_PREFIX}{rest or head}@{schema}", self._foreign_schema(schema)
        if kind == "alias":
            dotted = binding.dotted or ""
            return self._unknown_origin(module, f"{dotted}.{rest}" if rest else dotted, seen)
        if kind not in ("import", "from"):
            return local
        symbol = self._binding(module, binding)
        if symbol is not None and symbol.kind == "external":
            return self._outside(symbol.target, rest)
        if symbol is not None and symbol.kind == "module" and rest:
            return self._unknown_origin(symbol.target, rest, seen)
        if symbol is not None and symbol.kind == "unknown" and kind == "from":
            name = binding.imported or ""
            owner = self._module_named(self._absolute(module, binding.level, binding.module or ""), near=module)
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
        """The text of every ``.py`` under the root that the analysis did not read (``Model`` reads them)."""
        raise NotImplementedError

    def _spawns_foreign(self, module: str) -> bool:
        """``schema.spawn_missing_classes()`` in ``module``: every schema it binds is a foreign one."""
        names = [self.schema_name(module, b) for b in self.global_bindings(module) if b.kind == "schema"]
        return bool(names) and all(name and self._foreign_schema(name) for name in names)
