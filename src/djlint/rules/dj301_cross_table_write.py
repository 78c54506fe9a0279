"""DJ301: make() writes a table other than its own table and its Parts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.diagnostics import Diagnostic
from djlint.rules._makeflow_common import finding, make_label, table_label, unique, where

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ301"
NAME = "cross-table-write"
SUMMARY = "make() inserts into, updates or deletes from a table that is not its own table or one of its Parts."
WHY = """
populate() runs make() inside one transaction per key and records the key as done when it commits. A
make() owns exactly its table and its Parts. Writing anywhere else - insert/insert1 into a Manual table,
update1 of a task table, delete/drop, raw `INSERT`/`UPDATE`/`DELETE` through `dj.conn().query(...)`, or a
method of another table class that inserts into itself - changes rows no foreign key attributes to this
computation: deleting this result does not undo the write, a re-run writes twice, and a failed job leaves
no trace. Put the data in a Part table, make the other table a downstream Computed table, or - for a
sanctioned fan-out ingestion - name it in `[tool.djlint.allow."module.Table"] writes = [...]`.
"""
FIX = """
Move the write into a make() of the written table (populated from this table's rows), make the written
table a Part of this one (inserted in the same transaction), or, for sanctioned fan-out ingestion,
name it in `[tool.djlint.allow."module.Table"] writes = [...]` (`djlint --add-policy` writes it).
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
class Note(dj.Manual):
    definition = """
    note_id : int
    ---
    text : varchar(255)
    """


@schema
class TrialCount(dj.Computed):
    definition = """
    -> Session
    ---
    trials : int
    """

    def make(self, key):
        self.insert1(dict(key, trials=0))
        Note.insert1(dict(note_id=key["session_id"], text="no trials"))
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
class TrialCount(dj.Computed):
    definition = """
    -> Session
    ---
    trials : int
    """

    class Note(dj.Part):
        definition = """
        -> master
        ---
        text : varchar(255)
        """

    def make(self, key):
        self.insert1(dict(key, trials=0))
        self.Note.insert1(dict(key, text="no trials"))
'''

HOW_FOUND = """
Reads ``MakeFacts.writes`` (``Write`` facts of ``djlint.makeflow.facts``: inserts, updates, deletes and
raw-SQL writes of a make() and the helpers it calls), recorded by the make()
interpreter (``djlint.makeflow``: ``datajoint_api.py`` for table methods and raw SQL, ``state.py`` where
the fact is recorded). It asks ``Model.allowed.writes``
(the table and its Parts) with the policy's writes.
"""


def check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]:
    if facts is None:
        return []
    policy = model.policy
    found = []
    for write in facts.writes:
        if write.target not in model.tables:
            continue
        if write.target in model.allowed.writes(write.table, extra=policy.writes_of(write.table)):
            continue
        found.append(finding(
            model, write, CODE,
            f"cross-table write: {make_label(model, write.table)} writes {table_label(model, write.target)} "
            f"({write.how}); make() may write only {table_label(model, write.table)} and its Parts"
            f"{where(model, write)}",
            fixes.write_fix(model, write.table, write.target)))
    return unique(found)
