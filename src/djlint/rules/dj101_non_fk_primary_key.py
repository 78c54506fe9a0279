"""DJ101: a Computed/Imported table whose primary key has an attribute not coming from a foreign key."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.diagnostics import Diagnostic

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model
    from djlint.repo.records import TableInfo

CODE = "DJ101"
NAME = "non-fk-primary-key"
SUMMARY = (
    "A Computed or Imported table declares a primary-key attribute that does not come from a foreign key."
)
WHY = """
``populate()`` calls ``make(key)`` once per row of the key source: the join of the table's primary-key
parents. An auto-populated table's primary key must therefore be exactly what its parents determine.
A primary-key attribute of its own (``unit_id : int`` above the dashes) is invented by make(): it is
not recorded by any foreign key, ``key_source`` cannot know it, and provenance stops at it. Put the
extra rows in a Part table (``-> master`` plus the attribute), or move the attribute below ``---``.
Part tables, Manual and Lookup tables may declare their own key attributes.
"""
FIX = """
Move the attribute below `---` (a dependent attribute of each key), or into a Part table whose primary
key holds it (one Part row per value, inserted by the master's make()).
"""
BAD = '''
import datajoint as dj

schema = dj.schema("ephys")


@schema
class Recording(dj.Manual):
    definition = """
    recording_id : int
    """


@schema
class Spikes(dj.Computed):
    definition = """
    -> Recording
    unit_id : int
    ---
    spike_count : int
    """

    def make(self, key):
        self.insert1(dict(key, unit_id=0, spike_count=0))
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("ephys")


@schema
class Recording(dj.Manual):
    definition = """
    recording_id : int
    """


@schema
class Spikes(dj.Computed):
    definition = """
    -> Recording
    ---
    unit_count : int
    """

    class Unit(dj.Part):
        definition = """
        -> master
        unit_id : int
        ---
        spike_count : int
        """

    def make(self, key):
        self.insert1(dict(key, unit_count=1))
        self.Unit.insert1(dict(key, unit_id=0, spike_count=0))
'''

HOW_FOUND = """
Needs no make() fact: it reads the model's table records (``Model.tables``: ``TableInfo.tier``,
``master`` and the parsed ``definition``, whose ``Attribute.in_key`` marks the primary key). The
definition is parsed from the class's ``definition`` string by ``djlint.definition`` while the file is
summarised (``djlint.summaries``); ``djlint.repo.tables`` builds the table records.
"""


def check(model: Model, facts: MakeFacts | None = None) -> Iterable[Diagnostic]:
    # one diagnostic per attribute line: a definition inherited from a base class is reported
    # once, there, naming every table that uses it
    found: dict[tuple[str, int, int, str], list[TableInfo]] = {}
    for table in model.tables.values():
        if table.tier not in ("Computed", "Imported") or table.master is not None:
            continue
        definition = table.definition
        if definition is None or not definition.literal:
            continue
        path = table.definition_path or table.path
        for attribute in definition.attributes:
            if attribute.in_key:
                found.setdefault((path, attribute.line, attribute.column, attribute.name), []).append(table)
    for (path, line, column, name), tables in sorted(found.items()):
        tier = tables[0].tier
        names = ", ".join(sorted({t.qualname for t in tables}))
        yield Diagnostic(
            path,
            line,
            column,
            CODE,
            f"primary-key attribute '{name}' of {tier} table {names} does not come from a foreign key; "
            "make() invents it (use a Part table or move it below ---)",
            fix=fixes.primary_key_fix(names, name),
        )
