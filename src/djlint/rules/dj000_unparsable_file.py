"""DJ000: a file that cannot be read as Python."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from djlint.diagnostics import Diagnostic

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


def check(model: Any, facts: Any = None) -> Iterable[Diagnostic]:
    return [d for d in model.diagnostics if d.code == CODE]
