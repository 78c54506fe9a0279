"""Find every make() entry point of every Computed/Imported table and run the tracker on it."""

from __future__ import annotations

import os
from typing import Any

from djlint.makeflow.facts import MakeFacts
from djlint.makeflow.keys import KeyAttributes
from djlint.makeflow.tracker import MakeRun, Shared

# datajoint's make(), the tripartite make (2.x and 0.14), and the pre-0.12 name.
MAKE_METHODS = ("make", "make_fetch", "make_compute", "make_insert", "_make_tuples")
POPULATED_TIERS = frozenset({"Computed", "Imported"})


def _has_key_source(model: Any, table_id: str) -> bool:
    cls = model.classes.get(table_id)
    if cls is None:
        return False
    for class_id in [cls.id, *cls.bases]:
        other = model.classes.get(class_id)
        if other is not None and ("key_source" in other.methods or "key_source" in other.attributes):
            return True
    return False


def _make_key(model: Any, keys: KeyAttributes, table_id: str) -> frozenset[str]:
    """The attributes the make key is known to hold. With a key_source override of its own, the key
    may differ from the primary parents' keys: then only the fields make() reads from ``key`` count."""
    if _has_key_source(model, table_id):
        return frozenset()
    return keys.make_key(table_id)


def analyze_makes(model: Any) -> MakeFacts:
    """Facts about every make() of the model: reads, writes, upstream indexes, written keys,
    one-shot iterables consumed twice, separate connections."""
    facts = MakeFacts()
    shared = Shared(model)
    keys = KeyAttributes(model)
    for table_id in sorted(model.tables):
        info = model.tables[table_id]
        if info.tier not in POPULATED_TIERS:
            continue
        for name in MAKE_METHODS:
            found = shared.sources.method(table_id, name)
            if found is None:
                continue
            module, function, function_info = found
            facts.entries.append((table_id, function_info.id))
            run = MakeRun(shared, table_id, facts, _make_key(model, keys, table_id))
            try:
                run.run_entry(module, function, function_info.class_id or table_id, function_info.id)
            except Exception as error:  # never crash on user code: keep what was found, go on
                if os.environ.get("DJLINT_DEBUG"):
                    raise
                facts.failures.append((table_id, function_info.id, f"{type(error).__name__}: {error}"))
    facts.dedupe()
    return facts
