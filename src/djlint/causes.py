"""Which files a finding depends on: what the pre-commit hook uses to report, for a commit, the findings
in the changed files AND every finding elsewhere that a change in them can have caused.

A finding is caused by file F (the one definition, conservative on purpose: reporting an old finding
once more is cheap, letting a new one through is what the hook is there to prevent) when F holds
- the finding's line, or one of its related places (e.g. the make() call that reaches a helper);
- a function on its call chain (``Diagnostic.via``);
- for a read or write finding (DJ2xx, DJ3xx): the definition of the make() table, of any table of its
  entity (its master, its Parts) or of any of its entity ancestors (removing a ``-> Subject`` from an
  ancestor turns a legitimate read of Subject into a sideways read); and the definition of the table
  read or written (``Diagnostic.target``);
- or F is the ``pyproject.toml`` of the repository: its policy and settings bear on every finding.

When a finding does not name its make() table (``Diagnostic.table`` unset), every table declared in the
finding's file stands in for it, with their ancestors; without ``Diagnostic.target``, every table its
message names: more files, never fewer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from djlint.diagnostics import Diagnostic
from djlint.model import Model

# codes judged against the foreign-key graph: their cause includes the tables' definitions
_GRAPH_CODES = ("DJ2", "DJ3")
CONFIG_FILE = "pyproject.toml"


def cause_files(diagnostic: Diagnostic, model: Model) -> set[str]:
    """The display paths (the model's frame, e.g. root-relative) of the files the finding depends on."""
    files = {diagnostic.path, *(place.path for place in diagnostic.related), CONFIG_FILE}
    files.update(_function_files(model, diagnostic.via))
    if diagnostic.code.startswith(_GRAPH_CODES):
        tables = _tables_of(model, diagnostic)
        files.update(_definition_files(model, _with_ancestry(model, tables)))
        for target in _targets_of(model, diagnostic):
            files.update(_definition_files(model, _entity(model, target)))
    return files


def caused_by(diagnostic: Diagnostic, changed: Collection[str], model: Model) -> bool:
    """Does a change in any of ``changed`` (display paths, as the model's) bear on the finding?"""
    return not cause_files(diagnostic, model).isdisjoint(changed)


def _tables_of(model: Model, diagnostic: Diagnostic) -> set[str]:
    if diagnostic.table:
        found = model.table_named(diagnostic.table)
        if found is not None:
            return {found}
    # unknown make() table: every table declared in the finding's file (conservative stand-in)
    return {table_id for table_id, info in model.tables.items() if info.path == diagnostic.path}


def _targets_of(model: Model, diagnostic: Diagnostic) -> set[str]:
    if diagnostic.target:
        found = model.table_named(diagnostic.target)
        return {found} if found is not None else set()
    # no target recorded: every table the message names, as messages name tables ("Class (database)")
    return {table_id for table_id in model.tables if model.table_name(table_id) in diagnostic.message}


def _entity(model: Model, table_id: str) -> set[str]:
    return set(model.allowed.own_entity(table_id)) | {table_id}


def _with_ancestry(model: Model, tables: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for table_id in tables:
        found |= _entity(model, table_id)
        for entity in model.allowed.ancestor_entities(table_id):
            found |= set(model.allowed.members.get(entity, {entity}))
    return found


def _definition_files(model: Model, tables: Iterable[str]) -> set[str]:
    files: set[str] = set()
    for table_id in tables:
        info = model.tables.get(table_id) if isinstance(table_id, str) else None
        if info is not None:  # unknown nodes (names outside the repository) have no file here
            files.add(info.path)
            if info.definition_path:
                files.add(info.definition_path)
    return files


def _function_files(model: Model, via: Iterable[str]) -> set[str]:
    """The files of the functions on a call chain, named ``module.function`` / ``module.Class.method``."""
    files: set[str] = set()
    for name in via:
        function = model.functions.get(name)
        module = function.module if function is not None else _module_prefix(model, name)
        if module is not None and module in model.modules:
            files.add(model.modules[module].display_path)
    return files


def _module_prefix(model: Model, name: str) -> str | None:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        if ".".join(parts[:cut]) in model.modules:
            return ".".join(parts[:cut])
    return None
