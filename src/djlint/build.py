"""Building the repository model: list the files, summarise each (from the summary pack when its
content is known), reuse the stored model when no file's structure changed (``djlint.snapshot``), else
resolve names, tables, definitions and the graph (``djlint.model``).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from djlint.cachestore import cache_directory, config_material
from djlint.config import Config
from djlint.fileio import resolved, source_or_reason
from djlint.linking import link_activations
from djlint.model import Model, ModuleInfo
from djlint.repo.records import BrokenFile
from djlint.repo.fkgraph import build_graph
from djlint.repo.indexing import activate_schemas, bind_method_aliases, index_modules
from djlint.repo.policy_names import resolve_policy
from djlint.repo.tables import build_tables, classify_classes
from djlint.snapshot import ModelSnapshot, summary_digests
from djlint.summaries import SummaryCache, decode_source, load_summary
from djlint.walk import discover, module_name, relative_path


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
    cache_dir = cache_directory(config, root)
    cache = (
        SummaryCache(Path(cache_dir), root) if use_cache and not os.environ.get("DJLINT_NO_CACHE") else None
    )

    given = [resolved(p if p.is_absolute() else cwd / p) for p in paths]
    files = discover(given, config)
    listed = [(relative_path(path, cwd), path) for path in files]
    snapshot = None
    if cache is not None and not sources:
        scope = (config_material(config), str(root), str(cwd), [str(p) for p in given])
        snapshot = ModelSnapshot(Path(cache_dir), scope, root)
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
        data = sources[path] if path in sources else source_or_reason(path)
        if isinstance(data, str):
            model.broken[display] = BrokenFile(display, 1, 1, "unreadable", data)
            continue
        digest, summary, tree, text = load_summary(data, cache)
        if snapshot is not None:
            known = snapshot.previous.get(display)
            model.snapshot_table[display] = (
                known if known is not None and known[0] == digest else (digest, *summary_digests(summary))
            )
        if "error" in summary:
            error = summary["error"]
            model.broken[display] = BrokenFile(
                display, int(error.get("line") or 1), int(error.get("column") or 1), "syntax", str(error.get("message"))
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
        if tree is not None and defines_make(summary):
            info._ast = tree  # parsed by the cheap pass (cold run): make() analysis need not parse again
        model.modules[name] = info
        model.by_path[display] = info
        model._by_plain_name.setdefault(plain, []).append(name)
        pieces = plain.split(".")
        for i in range(1, len(pieces)):
            model._packages.add(".".join(pieces[:i]))

    if cache is not None:
        cache.flush()
    index_modules(model)
    link_activations(model)
    activate_schemas(model)
    bind_method_aliases(model)
    classify_classes(model)
    build_tables(model)
    # Every index name resolution reads is complete (tables, tiers, schemas, linking): from here on a
    # name always means the same, so resolutions are memoised (the foreign keys' are reused by make()).
    model._memo = {}
    build_graph(model)
    resolve_policy(model, cwd)
    model._built_unknown_names = dict(model.unknown_names)
    return model


_MAKE_NAMES = frozenset({"make", "_make_tuples", "make_fetch", "make_compute", "make_insert"})


def defines_make(summary: dict[str, Any]) -> bool:
    """The module defines a make() method (its parse is kept for the make() analysis)."""
    return any(_MAKE_NAMES.intersection(record.get("methods", ())) for record in summary.get("classes", ()))
