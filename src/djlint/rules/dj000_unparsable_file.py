"""DJ000: a file that cannot be read as Python."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint.diagnostics import Diagnostic

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ000"
NAME = "unparsable-file"
SUMMARY = "The file has a syntax error or bytes that cannot be decoded; it was not analysed."
WHY = """
djlint reads every module of the repository to build the table graph. A file it cannot parse
contributes no tables and no make() code, so tables defined there are unknown to the other rules
(which then stay silent about anything depending on them rather than guess). One DJ000 is reported
per such file, at the line of the error; the rest of the repository is analysed normally.
"""
BAD = '''
import datajoint as dj

schema = dj.schema("lab")


@schema
class Subject(dj.Manual):
    definition = """
    subject_id : int
    """

    def describe(self)
        return "missing colon above"
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("lab")


@schema
class Subject(dj.Manual):
    definition = """
    subject_id : int
    """

    def describe(self):
        return "fixed"
'''


FIX = "Fix the syntax error or the encoding at the reported line; the file is analysed again on the next run."
KNOWN_LIMITS = """
A file that is not a regular file (a FIFO, a device) or is too large is reported the same way, with the
reason, and never read.
"""
HOW_FOUND = """
Needs no fact: while the build reads the files (``djlint.build``), a file that cannot be read, decoded
or parsed is recorded in ``Model.broken`` (display path -> a ``BrokenFile``: unreadable, and why, or a
syntax error at its line).
"""


def check(model: Model, facts: MakeFacts | None = None) -> Iterable[Diagnostic]:
    """One finding per file the model could not read as Python."""
    return [
        Diagnostic(broken.path, broken.line, broken.column, CODE,
                   broken.detail if broken.problem == "unreadable" else f"cannot parse the file: {broken.detail}")
        for broken in model.broken.values()
    ]
