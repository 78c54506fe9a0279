"""DJ001: information — a name or definition djlint could not resolve (what it could make legal is not
reported), or a make() whose analysis stopped early."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint.diagnostics import Diagnostic

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ001"
NAME = "unknown-name"
SUMMARY = (
    "A table name resolves to nothing in the analysed code (or a definition is not a literal); "
    "reads it could make legal are not reported."
)
WHY = """
djlint never imports your code, so it only knows the tables it can read. Names injected at run time
(DataJoint Elements' ``activate(..., linking_module=...)``, ``schema.spawn_missing_classes()``,
virtual modules of schemas declared elsewhere, tables from installed packages) and definitions built
at run time (f-strings, variables) cannot be followed. Rather than guess — and raise false alarms —
djlint marks such a name unknown and says so once per name with this informational note. Below it,
only what stays decidable is reported (see DJ201): a read of a table that the unknown name cannot make
an ancestor (a descendant of it, or of the table itself). A table of an installed package, or of a
schema no analysed table lives in, is taken as a root (``external-roots``).

Resolve a name with ``[tool.djlint] linking = { Session = "pipeline.session.Session" }`` in
``pyproject.toml``, or silence the note with ``ignore = ["DJ001"]``.
"""
BAD = '''
import datajoint as dj

schema = dj.schema("ephys")


@schema
class Recording(dj.Imported):
    definition = """
    -> Session        # injected at run time by activate(linking_module=...)
    """
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("ephys")


@schema
class Session(dj.Manual):
    definition = """
    session_id : int
    """


@schema
class Recording(dj.Imported):
    definition = """
    -> Session
    """
'''


KNOWN_LIMITS = """
The note names the first place a name is met (its earliest file and line); other places using the same
name are not listed.
"""
HOW_FOUND = """
Three records, none a make() fact of its own:

- ``Model.tables``: a table whose ``definition`` is not a literal string (``TableInfo.definition`` with
  ``literal`` false; ``djlint.repo.tables`` reads it from the summary).
- ``Model.unknown_names``: each name that resolves to no table, at its earliest place; the model notes
  the foreign keys of definitions (``djlint.repo.fkgraph``), the make() interpreter
  (``djlint.makeflow``) the names its reads and writes use (``Model.note_unknown``).
- ``MakeFacts.failures``: (table, function id, error) for a make() whose analysis stopped on an error of
  djlint's own (``djlint.makeflow.driver``).
"""


def check(model: Model, facts: MakeFacts | None = None) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    for table_info in model.tables.values():
        definition = table_info.definition
        if definition is not None and not definition.literal:
            found.append(Diagnostic(
                table_info.definition_path or table_info.path, definition.line, 1, CODE,
                f"definition of {table_info.qualname} is not a literal; skipped (its ancestry is unknown)"))
    # a part of the repository analysed alone (--isolated): the name may well be defined in the rest
    hint = ("map it with [tool.djlint] linking" if model.covers_root else
            "analyse the whole repository, without --isolated, or map it with [tool.djlint] linking")
    for name, (path, line, column) in sorted(
        model.unknown_names.items(), key=lambda item: (item[1], item[0])
    ):
        found.append(
            Diagnostic(
                path,
                line,
                column,
                CODE,
                f"'{name}' resolves to no table in the analysed code; reads it could make legal are not "
                f"reported ({hint})",
            )
        )
    # the analysis of a make() stopped by an error of djlint's own: say so where the make() is
    for table, function, error in (facts.failures if facts is not None else ()):
        info = model.functions.get(function)
        module = model.modules.get(info.module) if info is not None else None
        if info is None or module is None:
            continue
        found.append(Diagnostic(
            module.display_path, info.line, info.column, CODE,
            f"the analysis of {model.table_name(table, schema=False)}.{info.name}() stopped early "
            f"({error}); its findings may be incomplete (a djlint bug: please report it)",
            table=table))
    return found
