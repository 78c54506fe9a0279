"""On-disk cache of make() facts, so that a run after editing one file re-analyses only the make()
entry points whose inputs changed.

An entry (one make() of one table) is reused when all its inputs are unchanged:
  * the content digest of every module whose code it interpreted (make(), helpers, mixins, properties),
  * what every name it resolved means now (each (module, schema, name) the run asked the model — the
    schema when the name is an attribute of a virtual module — and the answer),
  * the model's declarations: tables, tiers, masters, Parts, schemas, definitions' keys and foreign keys,
    classes and their bases/methods/attributes, functions, modules (with ``__all__``) and the
    ``linking`` setting - what the interpretation reads from the model besides names (not line numbers).
So adding an import or a module-level name to one module re-analyses only the make() bodies whose
names now mean something else. One ``marshal`` pack per repository root, a file of the cache layer
(``djlint.cachestore``): signed with the user's key, verified before it is read, keyed by djlint's own
sources and the Python version.
"""
from __future__ import annotations

import dataclasses
import hashlib
import marshal
from collections.abc import Callable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

from djlint.cachestore import Store
from djlint.makeflow.facts import FACT_KINDS, Fact, Location

if TYPE_CHECKING:
    from djlint.model import Model, Symbol

KEEP_PACKS = 8  # facts packs per cache directory (one per repository root)


def _plain(value: object) -> object:
    """A canonical form (lists, tuples and sets alike) so that fresh and cached summaries agree."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(repr(_plain(v)) for v in value))
    if isinstance(value, dict):
        return tuple(sorted((str(k), repr(_plain(v))) for k, v in value.items()))
    return value


def fingerprint(model: Model) -> str:
    """The model's declarations the facts depend on besides resolved names (not lines, not bodies)."""
    h = hashlib.blake2b(digest_size=16)
    for table_id in sorted(model.tables):
        t = model.tables[table_id]
        d = t.definition
        definition = None if d is None else (
            d.literal,
            tuple((a.name, a.in_key) for a in d.attributes),
            tuple((fk.target, fk.unknown, fk.primary, tuple(sorted((k, str(v)) for k, v in fk.renames.items())))
                  for fk in d.foreign_keys),
        )
        h.update(repr((table_id, t.module, t.qualname, t.tier, t.master, tuple(t.parts), t.schema,
                       definition)).encode())
    for class_id in sorted(model.classes):
        c = model.classes[class_id]
        h.update(repr((class_id, c.module, c.qualname, tuple(c.bases), tuple(sorted(c.methods)),
                       tuple(sorted(set(c.attributes))))).encode())
    for function_id in sorted(model.functions):
        f = model.functions[function_id]
        h.update(repr((function_id, f.module, f.qualname, f.class_id)).encode())
    for name in sorted(model.modules):
        info = model.modules[name]
        summary = getattr(info, "summary", None) or {}
        h.update(repr((name, info.display_path, getattr(info, "is_package", None),
                       _plain(summary.get("all")), _plain(summary.get("flags")))).encode())
    h.update(repr(sorted(getattr(model.config, "linking", {}).items())).encode())
    return h.hexdigest()


def meaning(symbol: Symbol | None) -> tuple[str, str, str | None, str | None] | None:
    """A resolved name's answer, comparable across runs."""
    if symbol is None:
        return None
    return (symbol.kind, symbol.target, symbol.module, symbol.schema)


class _FactCodec:
    """A fact as a plain tuple for marshal: its class name, then its fields in declaration order, a
    Location as (path, line, column). Derived from the dataclass, so a new fact kind needs nothing here."""

    def __init__(self, kind: type[Fact]) -> None:
        self.kind = kind
        self.make: Callable[..., Fact] = kind
        names = [f.name for f in dataclasses.fields(kind)]
        hints = get_type_hints(kind)
        self.places = tuple(Location in (hints[name], *get_args(hints[name])) for name in names)
        self.values = attrgetter(*names)

    def encode(self, fact: Fact) -> tuple[object, ...]:
        return (self.kind.__name__, *[
            (value.path, value.line, value.column) if place and value is not None else value
            for value, place in zip(self.values(fact), self.places)])

    def decode(self, values: Sequence[Any]) -> Fact:   # as marshal gives them back: plain tuples
        return self.make(*[Location(*value) if place and value is not None else value
                           for value, place in zip(values, self.places)])


_CODECS = {kind: _FactCodec(kind) for kind in FACT_KINDS}
_CODECS_BY_NAME = {kind.__name__: codec for kind, codec in _CODECS.items()}


def encode_fact(fact: Fact) -> tuple[object, ...]:
    return _CODECS[type(fact)].encode(fact)


def decode_fact(record: tuple[object, ...]) -> Fact:
    return _CODECS_BY_NAME[str(record[0])].decode(record[1:])


class FactsCache:
    """The facts of every make() of one repository root, in one ``marshal`` pack (a file of the cache
    layer, ``djlint.cachestore``: verified before it is unmarshalled, keyed by djlint's own sources)."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.cache_files = Store(directory, "makeflow", "makeflow-{}.pack", keep=KEEP_PACKS, repository=root)
        self.key = self.cache_files.key(str(root))
        self._entries: dict[str, Any] | None = None
        self._fresh: dict[str, Any] = {}
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = {}
            data = self.cache_files.load(self.key)  # unsigned (e.g. shipped): absent
            try:
                value = marshal.loads(data) if data is not None else None
                if isinstance(value, dict):
                    self._entries = value
            except Exception:  # noqa: BLE001 - damaged on the way: start again
                self._entries = {}
        return self._entries

    def lookup(self, key: str, structure: str, model: Any,
               resolve: Callable[[str, str, str | None], Any]) -> tuple | None:
        """The cached (facts, unknown notes, resolutions) of an entry whose inputs are all unchanged,
        else None. ``resolve(module, dotted, schema)`` answers what a name means in the current model."""
        entry = self._load().get(key)
        try:
            stored_structure, modules, resolutions, facts, notes = entry  # type: ignore[misc]
            if stored_structure != structure:
                return None
            for name, digest in modules:
                info = model.modules.get(name)
                if info is None or info.digest != digest:
                    return None
            for module, schema, dotted, answer in resolutions:
                if meaning(resolve(module, dotted, schema)) != (None if answer is None else tuple(answer)):
                    return None
            result = [decode_fact(tuple(f)) for f in facts], [tuple(n) for n in notes]
        except Exception:  # noqa: BLE001 - an entry of another shape: a miss
            return None
        self._fresh[key] = entry
        return result

    def store(self, key: str, structure: str, modules: dict[str, str],
              resolved: dict[tuple[str, str | None, str], Any],
              facts: list[Fact], notes: list[tuple]) -> None:
        self._fresh[key] = (
            structure,
            tuple(sorted(modules.items())),
            tuple((module, schema, dotted, meaning(symbol)) for (module, schema, dotted), symbol in resolved.items()),
            tuple(encode_fact(f) for f in facts),
            tuple(notes),
        )
        self._dirty = True

    def flush(self) -> None:
        """Write the pack (only the entries of this run: others are stale) when something changed."""
        if not self._dirty:
            return
        try:
            self.cache_files.store(self.key, marshal.dumps(self._fresh))  # False: read-only, or no key
        except ValueError:
            pass
