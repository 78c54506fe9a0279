"""The last built repository model, kept on disk, so that a run after an edit that changes no file's
structure (a make() body or a helper edited, lines added or removed, comments) skips the model build.

Building the model (resolving every name, tier, Part and foreign key of the repository) is the
largest cost of a run after a one-file edit. It depends only on the files' summaries, the
configuration and the analyzer itself; so after each build the model is stored with a table of
every file's content hash, summary hash and shape hash (the summary without lines and columns). The
next run hashes the files; a file whose content changed is summarised again (one parse). If every
summary has its old shape, the stored model is used: the changed modules' text is swapped in and,
where only lines moved, the model's positions from that module are moved too (:func:`reposition`).
Anything else (a file added, removed or renamed; a class, import, method, attribute or foreign key
added, removed or changed) rebuilds.

The model is stored with ``pickle``, which can run code when loading, in the analysed repository's
cache directory, which a repository could ship. So a snapshot is a file of the cache layer
(``djlint.cachestore``): its signature, made with the user's key, is verified before any byte of it -
the file table (``marshal``) or the model (``pickle``) - is decoded; one that does not verify is never
read. Without a private key there is no snapshot, and every run builds the model.
"""

from __future__ import annotations

import marshal
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djlint.cachestore import Store, content_digest, user_key
from djlint.definition import Definition, definition_from_record
from djlint.fileio import read_source
from djlint.model import Model
from djlint.repo.fkgraph import note_unknown_parents
from djlint.repo.indexing import binding_index
from djlint.summaries import parse_and_summarize, shape

if TYPE_CHECKING:
    from djlint.config import Config

KEEP = 4  # snapshots per cache directory (one per scope: configuration, paths, working directory)
_MAGIC = b"DJLS"
_LENGTH = struct.Struct("<I")


def summary_digests(summary: dict[str, Any]) -> tuple[str, str]:
    """(hash of the summary, hash of its shape)."""
    return content_digest(marshal.dumps(summary)), content_digest(marshal.dumps(shape(summary)))


class ModelSnapshot:
    """One snapshot file per analysis scope (configuration, analysed paths, working directory)."""

    def __init__(self, directory: Path, scope: object, root: Path | None = None) -> None:
        # root: the repository: no directory between it and the cache may be a symlink
        self.cache_files = Store(directory, "snapshot", "model-{}.snapshot", keep=KEEP, repository=root)
        self.key = self.cache_files.key(scope)
        self.path = self.cache_files.path(self.key)
        # the stored file table, once restore() has read it: a rebuild reuses the hashes of unchanged files
        self.previous: dict[str, tuple[str, str, str]] = {}

    def restore(self, files: Sequence[tuple[str, Path]], config: Config) -> Model | None:
        """The stored model if every file of ``files`` ((display path, path) in analysis order) has the
        summary it had when the model was built; else None (the caller builds)."""
        data = self.cache_files.load(self.key)  # signature verified: written by this user's djlint
        if data is None:
            return None
        try:
            table, body = split(data)
        except (ValueError, EOFError, TypeError, struct.error):
            return None
        self.previous = table
        if [display for display, _ in files] != list(table):
            return None
        changed: dict[str, tuple[str, dict[str, Any], Any, str, bool]] = {}
        for display, path in files:
            try:
                source = read_source(path)
            except OSError:
                return None
            content = content_digest(source)
            stored_content, stored_summary, stored_shape = table[display]
            if content == stored_content:
                continue
            summary, tree, text = parse_and_summarize(source)
            if "error" in summary or text is None:
                return None
            new_summary, new_shape = summary_digests(summary)
            if new_shape != stored_shape:
                return None
            changed[display] = (content, summary, tree, text, new_summary != stored_summary)
        try:
            model = pickle.loads(body)
        except Exception:  # noqa: BLE001 - not a model this analyzer can load: rebuild
            return None
        if not isinstance(model, Model):
            return None
        model.config = config
        for display, (content, summary, tree, text, moved) in changed.items():
            info = model.by_path[display]
            info.replace_source(content, summary, tree, text)
            if moved:
                reposition(model, info.name, summary)
        model.restored = True
        return model

    def store(self, model: Model, table: dict[str, tuple[str, str, str]]) -> None:
        """Keep ``model`` with ``table`` (display path -> (content, summary and shape hashes), analysis
        order)."""
        if user_key() is None:  # nothing can be signed: not worth pickling
            return
        try:
            header = marshal.dumps(table)
            body = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        except (ValueError, TypeError, pickle.PicklingError, AttributeError, RecursionError):
            return  # not storable: every run builds
        self.cache_files.store(self.key, _MAGIC + _LENGTH.pack(len(header)) + header + body)


def split(data: bytes) -> tuple[dict[str, tuple[str, str, str]], bytes]:
    """(file table, pickled model) of a snapshot's verified data."""
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _LENGTH.size:
        raise ValueError("not a snapshot")
    (length,) = _LENGTH.unpack_from(data, len(_MAGIC))
    start = len(_MAGIC) + _LENGTH.size
    table = marshal.loads(data[start : start + length])
    if not isinstance(table, dict):
        raise ValueError("not a snapshot's file table")
    return table, data[start + length :]


# ---------------------------------------------------------------------------------------------
# Moved lines
# ---------------------------------------------------------------------------------------------
def reposition(model: Model, name: str, summary: dict[str, Any]) -> None:
    """Lines moved in module ``name`` and nothing else changed there (``summary`` has the shape of the
    summary the model was built from; ``restore`` checks): give the model's objects from that
    module their new positions, and redo the build's findings located in it."""
    model._bindings[name], model._stars[name] = binding_index(summary)
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
    for binding in model.global_bindings(name):  # just indexed from the new summary
        function = model.functions.get(f"{name}.{binding.name}") if binding.kind == "def" else None
        if function is not None and function.class_id is None and function.id not in seen:
            seen.add(function.id)
            function.line, function.column = binding.line, binding.column
    for table in model.tables.values():
        table_class = model.classes.get(table.id)
        if table_class is not None and table_class.inherited_from in records:  # a Part of a template here
            source = model.classes[table_class.inherited_from]
            table_class.line, table_class.column = source.line, source.column
        if table_class is not None and (table_class.module == name or table_class.inherited_from in records):
            table.line, table.column = table_class.line, table_class.column
        owner = records.get(table.definition_owner or "")
        if owner is not None and table.definition is not None:
            _move_definition(table.definition, definition_from_record(owner.get("definition")))
    display = model.modules[name].display_path
    model.unknown_names = {n: place for n, place in model._built_unknown_names.items() if place[0] != display}
    for table in model.tables.values():
        if (table.definition_path or table.path) == display:
            note_unknown_parents(model, table)
    model._built_unknown_names = dict(model.unknown_names)


def _move_definition(definition: Definition, moved: Definition | None) -> None:
    if moved is None:
        return
    definition.line, definition.problems = moved.line, moved.problems
    for old, new in zip(definition.attributes, moved.attributes):
        old.line, old.column = new.line, new.column
    for old_fk, new_fk in zip(definition.foreign_keys, moved.foreign_keys):
        old_fk.line, old_fk.column = new_fk.line, new_fk.column
