"""DJ001: information — a name or definition djlint could not resolve; dependent checks are skipped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from djlint.diagnostics import Diagnostic

CODE = "DJ001"
NAME = "unknown-name"
SUMMARY = (
    "A table name resolves to nothing in the analysed code (or a definition is not a literal); "
    "checks that depend on it are skipped."
)
WHY = """
djlint never imports your code, so it only knows the tables it can read. Names injected at run time
(DataJoint Elements' ``activate(..., linking_module=...)``, ``schema.spawn_missing_classes()``,
virtual modules of schemas declared elsewhere, tables from installed packages) and definitions built
at run time (f-strings, variables) cannot be followed. Rather than guess — and raise false alarms —
djlint marks such a name unknown, does not report sideways reads (DJ201) for tables whose ancestry
touches it, and says so once per name with this informational note.

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


def check(model: Any, facts: Any = None) -> Iterable[Diagnostic]:
    found = [d for d in model.diagnostics if d.code == CODE]
    # a part of the repository analysed alone (--isolated): the name may well be defined in the rest
    hint = ("map it with [tool.djlint] linking" if getattr(model, "covers_root", True) else
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
                f"'{name}' resolves to no table in the analysed code; sideways-read checks of the tables "
                f"depending on it are skipped ({hint})",
            )
        )
    return found
