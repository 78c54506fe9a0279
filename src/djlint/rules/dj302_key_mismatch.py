"""DJ302: a row written by make() sets a key attribute to something other than the make key's value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.diagnostics import Diagnostic
from djlint.rules._makeflow_common import finding, make_label, table_label, unique

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ302"
NAME = "key-mismatch"
SUMMARY = "A row inserted by make() sets a make-key attribute to a constant or to another key field."
WHY = """
make(key) is called to compute the rows of exactly one key; populate() marks that key as done. A row whose
key attribute is set to something else - `{**key, "session": 3}`, `dict(key, subject_id=other_key_field)`,
`row["session"] = 0` - is stored under another key: the key populate() asked for stays missing and is
computed again, while the foreign row blocks (or silently pre-empts) the other key's own make(). Every
attribute the row shares with the make key must carry the key's value; copy it from `key`.
"""
FIX = """
Write the key attribute from the make key (`key["attr"]`, or `dict(key, ...)` without overriding it).
"""
BAD = '''
import datajoint as dj

schema = dj.schema("behavior")


@schema
class Session(dj.Manual):
    definition = """
    session_id : int
    """


@schema
class Summary(dj.Computed):
    definition = """
    -> Session
    ---
    total : int
    """

    def make(self, key):
        self.insert1({**key, "session_id": 0, "total": 1})
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("behavior")


@schema
class Session(dj.Manual):
    definition = """
    session_id : int
    """


@schema
class Summary(dj.Computed):
    definition = """
    -> Session
    ---
    total : int
    """

    def make(self, key):
        self.insert1({**key, "total": 1})
'''

HOW_FOUND = """
Reads ``MakeFacts.key_mismatches`` (``KeyMismatch`` facts of ``djlint.makeflow.facts``: a row written
by make() whose key attribute is set to a value other than the make key's), recorded by the make()
interpreter (``makeflow/key_consistency.py``, where rows built from ``key`` are followed). The rule only words them.
"""


def check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]:
    if facts is None:
        return []
    found = []
    for mismatch in facts.key_mismatches:
        found.append(finding(
            model, mismatch, CODE,
            f"key mismatch: {make_label(model, mismatch.table)} writes a {table_label(model, mismatch.target)} "
            f"row with {mismatch.attribute}={mismatch.value}, not the make key's {mismatch.attribute}",
            fixes.key_fix(mismatch.attribute)))
    return unique(found)
