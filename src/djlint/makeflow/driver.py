"""Find every make() entry point of every Computed/Imported table and run the interpreter on it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from djlint.makeflow.cache import FactsCache, fingerprint
from djlint.makeflow.facts import MakeFacts
from djlint.makeflow.keys import KeyAttributes
from djlint.makeflow.frames import Shared
from djlint.makeflow.interpreter import MakeRun

if TYPE_CHECKING:
    from djlint.model import Model

# datajoint's make(), the tripartite make (2.x and 0.14), and the pre-0.12 name.
MAKE_METHODS = ("make", "make_fetch", "make_compute", "make_insert", "_make_tuples")
POPULATED_TIERS = frozenset({"Computed", "Imported"})


def _has_key_source(model: Model, table_id: str) -> bool:
    cls = model.classes.get(table_id)
    if cls is None:
        return False
    for class_id in [cls.id, *cls.bases]:
        other = model.classes.get(class_id)
        if other is not None and ("key_source" in other.methods or "key_source" in other.attributes):
            return True
    return False


def _make_key(model: Model, keys: KeyAttributes, table_id: str) -> frozenset[str]:
    """The attributes the make key is known to hold. With a key_source override of its own, the key
    may differ from the primary parents' keys: then only the fields make() reads from ``key`` count."""
    if _has_key_source(model, table_id):
        return frozenset()
    return keys.make_key(table_id)


def analyze_makes(model: Model, cache_dir: Path | None = None) -> MakeFacts:
    """Facts about every make() of the model: reads, writes, upstream indexes, written keys,
    one-shot iterables consumed twice, separate connections.

    With ``cache_dir``, the facts of each make() are cached on disk and reused while its inputs
    (the modules it interprets, the names it resolves, the model's structure) are unchanged."""
    facts = MakeFacts()
    shared = Shared(model)
    keys = KeyAttributes(model)
    cache = FactsCache(cache_dir, model.root) if cache_dir is not None and not os.environ.get(
        "DJLINT_NO_CACHE") else None
    structure = ""
    if cache is not None:
        if "makeflow.fingerprint" not in model.derived:
            model.derived["makeflow.fingerprint"] = fingerprint(model)
        structure = model.derived["makeflow.fingerprint"] + repr(sorted(shared.linking_map().items()))
    for table_id in sorted(model.tables):
        info = model.tables[table_id]
        if info.tier not in POPULATED_TIERS:
            continue
        for name in MAKE_METHODS:
            function_info = model.method_info(table_id, name)
            if function_info is None:
                continue
            facts.entries.append((table_id, function_info.id))
            key = f"{table_id}\0{function_info.id}"
            if cache is not None:
                hit = cache.lookup(key, structure, model, shared.resolve)
                if hit is not None:
                    found_facts, notes = hit
                    for fact in found_facts:
                        facts.add(fact)
                    for note in notes:
                        model.note_unknown(*note)
                    continue
            found = shared.sources.method(table_id, name)
            if found is None:
                continue
            module, function, function_info = found
            own = MakeFacts()
            run = MakeRun(shared, table_id, own, _make_key(model, keys, table_id))
            try:
                run.run_entry(module, function, function_info.class_id or table_id, function_info.id)
            except Exception as error:  # never crash on user code: keep what was found, go on
                if os.environ.get("DJLINT_DEBUG"):
                    raise
                facts.failures.append((table_id, function_info.id, f"{type(error).__name__}: {error}"))
                own.dedupe()
                for fact in own.all_facts():
                    facts.add(fact)
                continue
            own.dedupe()
            found_facts = own.all_facts()
            for fact in found_facts:
                facts.add(fact)
            if cache is not None:
                cache.store(key, structure, run.touched, run.resolved, found_facts, run.notes)
    if cache is not None:
        cache.flush()
    facts.dedupe()
    return facts

