"""DJ202: ``self.upstream[X]`` where X is not an ancestor of the table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.diagnostics import Diagnostic
from djlint.rules._makeflow_common import finding, make_label, table_label, unique

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ202"
NAME = "upstream-not-ancestor"
SUMMARY = "self.upstream[X] inside make() names a table X that is not an ancestor."
WHY = """
`self.upstream[X]` gives the rows of an upstream table X that belong to the current key: it traces the
foreign-key graph from the table being populated up to X (datajoint's `Diagram.trace`). When X is not
a foreign-key ancestor of the table there is no such path and the lookup raises at run time - after the
worker has reserved the job. That includes a Part of an ancestor master (the Part references its master,
not the other way round) and the parents of the table's own Parts: read those directly, e.g.
`(Ancestor.Part & key)`, which the read rule (DJ201) allows.
"""
FIX = """
Read the table directly (`Table & key`) when it is in the allowed set, or declare the dependency
(`-> Table`) so that it becomes a foreign-key ancestor that `self.upstream` can hold.
"""
BAD = '''
import datajoint as dj

schema = dj.schema("imaging")


@schema
class Scan(dj.Manual):
    definition = """
    scan_id : int
    """


@schema
class Stimulus(dj.Manual):
    definition = """
    stimulus_id : int
    """


@schema
class Response(dj.Computed):
    definition = """
    -> Scan
    ---
    stimulus_count : int
    """

    def make(self, key):
        stimuli = self.upstream[Stimulus].fetch("KEY")
        self.insert1(dict(key, stimulus_count=len(stimuli)))
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("imaging")


@schema
class Scan(dj.Manual):
    definition = """
    scan_id : int
    """


@schema
class Stimulus(dj.Manual):
    definition = """
    stimulus_id : int
    """


@schema
class Response(dj.Computed):
    definition = """
    -> Scan
    -> Stimulus
    ---
    stimulus_count : int
    """

    def make(self, key):
        stimuli = self.upstream[Stimulus].fetch("KEY")
        self.insert1(dict(key, stimulus_count=len(stimuli)))
'''

HOW_FOUND = """
Reads ``MakeFacts.upstream_indexes`` (``UpstreamIndex`` facts of ``djlint.makeflow.facts``: each
``self.upstream[X]`` in a make()), recorded by the make() interpreter (``makeflow/expressions.py``, at the
subscript). It asks ``Model.allowed.is_table_ancestor`` (the real foreign-key ancestors,
as datajoint's ``Diagram.trace``), then ``Model.unknowns`` whether an unresolved ancestor could make X
one.
"""


def check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]:
    if facts is None:
        return []
    found = []
    for index in facts.upstream_indexes:
        if index.target not in model.tables:
            continue
        # datajoint's self.upstream is Diagram.trace(self & key): the table itself and its real foreign-key
        # ancestors, not the entity-collapsed set the read rule uses (an ancestor's Part is not among them).
        if index.target == index.table or model.allowed.is_table_ancestor(index.table, index.target):
            continue
        if model.unknowns.may_be_allowed(index.table, index.target):
            continue  # an unknown ancestor could make it one
        found.append(finding(
            model, index, CODE,
            f"self.upstream[{table_label(model, index.target)}] in {make_label(model, index.table)}: "
            f"{table_label(model, index.target)} is not an ancestor of {table_label(model, index.table)} "
            f"(raises at run time)",
            fixes.upstream_fix(model, index.table, index.target)))
    return unique(found)
