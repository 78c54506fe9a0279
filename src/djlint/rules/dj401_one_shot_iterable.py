"""DJ401: a one-shot iterable (generator, map, zip, ...) is consumed twice inside make()."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.diagnostics import Diagnostic
from djlint.rules._makeflow_common import finding, make_label, unique

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ401"
NAME = "one-shot-iterable"
SUMMARY = "A generator/iterator bound to a name in make() is consumed a second time, which sees nothing."
WHY = """
Generator expressions, generator functions, map(), filter(), zip(), iter(), reversed(), enumerate() and
itertools.* produce their items once. In make() a common slip is to insert such an iterable and then use
it again - a second insert, list()/len(list())/sum(), a for-loop, `in`: the second consumer silently sees
nothing, so Part rows or counts go missing without an error and the job is still marked done. Handing a
generator to a single insert is fine. Materialise it once (`rows = list(...)`) when you need it twice.
"""
FIX = """
Materialise the iterable once where it is bound: `rows = list(...)`. `djlint --fix` makes this edit
(a safe fix: every consumer then sees every element).
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
class Units(dj.Computed):
    definition = """
    -> Recording
    ---
    unit_count : int
    """

    class Unit(dj.Part):
        definition = """
        -> master
        unit_id : int
        """

    def make(self, key):
        rows = (dict(key, unit_id=i) for i in range(4))
        self.Unit.insert(rows)
        self.insert1(dict(key, unit_count=len(list(rows))))
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
class Units(dj.Computed):
    definition = """
    -> Recording
    ---
    unit_count : int
    """

    class Unit(dj.Part):
        definition = """
        -> master
        unit_id : int
        """

    def make(self, key):
        rows = [dict(key, unit_id=i) for i in range(4)]
        self.insert1(dict(key, unit_count=len(rows)))
        self.Unit.insert(rows)
'''

HOW_FOUND = """
Reads ``MakeFacts.one_shot_reuses`` (``OneShotReuse`` facts of ``djlint.makeflow.facts``: a one-shot iterable (a
generator, ``map()``, ``zip()``, ``iter()``...) consumed a second time, with where it was first
consumed), recorded by the make() interpreter (``makeflow/consumption.py``, which follows one-shot values through local
names). The rule only words them.
"""


def check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]:
    if facts is None:
        return []
    found = []
    for reuse in facts.one_shot_reuses:
        first = f" (first consumed at line {reuse.first.line})" if reuse.first is not None else ""
        found.append(finding(
            model, reuse, CODE,
            f"one-shot iterable {reuse.name} consumed again by {reuse.how} in {make_label(model, reuse.table)}"
            f"{first}: this consumer sees nothing",
            fixes.one_shot_fix(model, reuse.path, reuse.line, reuse.name,
                               reuse.first.line if reuse.first is not None else None)))
    return unique(found)
