"""DJ201: make() reads a table that is not upstream of the table it populates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.makeflow.keys import KeyAttributes
from djlint.diagnostics import Diagnostic, Fix
from djlint.rules._makeflow_common import finding, make_label, table_label, unique, where

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ201"
NAME = "sideways-read"
SUMMARY = "make() reads a table that is neither an ancestor of its table nor part of its own entity."
WHY = """
A computed row is only reproducible when everything make() read is recorded by the foreign-key graph:
DataJoint re-computes, deletes and traces rows along those edges. A make() may read its ancestors
(through primary or secondary foreign keys, in any module or schema), the Parts of those ancestors
(inserted atomically with their master), and its own table and Parts - nothing else. Reading any other
table ("sideways") makes the result depend on data the pipeline does not know about: change or delete
that table and the stored result silently stays. Every read counts: fetch/fetch1/to_dicts/to_pandas,
keys(), iteration, len(), truth tests, `in`, and a table used as an operand of &, -, *, +, .proj(),
.aggr(), dj.U or dj.Not - also inside the helpers make() calls. Fix it by declaring the dependency
(a foreign key to the table), or, when the read is sanctioned, by naming it in the shared policy
`[tool.djlint.allow."module.Table"] reads = [...]`.

Below names djlint cannot resolve (DJ001: Elements' run-time linking, `spawn_missing_classes()`, a
virtual module, an installed package's table) only what stays decidable is reported:
1. Foreign keys have no cycles. If the unknown ancestors of T are U1..Un, a table that is a descendant
   of every Ui (or of T itself) can never be an ancestor of T: reading it is reported. A table that
   could be an ancestor of some Ui is not (an unknown name never raises a false alarm). The test runs
   on tables: a Part is not below what its master's other Parts reference. It also assumes that no
   Part references a descendant of its own master (make() inserts both at once).
2. Installed code does not point into yours (`[tool.djlint] external-roots = true`, the default). A
   table imported from an installed package, or of a schema that no analysed table lives in (a virtual
   module, `spawn_missing_classes()`), cannot have ancestors in the analysed repository, so it is a
   root and hides nothing. An installed module that the repository activates with `linking_module=`
   receives its tables, and Elements' run-time names (`Session` inside an element module) may be the
   workflow's own tables: for those only rule 1 applies. Set `external-roots = false` if an installed
   package of yours declares foreign keys into the analysed schemas.
"""
FIX = """
Declare the dependency: add `-> Table` to the definition (below `---`: a secondary foreign key, whose
existing rows need a migration; above `---` it joins the primary key and changes the table's key).
`djlint --unsafe-fixes` adds the secondary line (and the import it needs). When the table read is a
*descendant* of the make()'s table, depending on it would change the table's grain: compute the result
in a table downstream of both, or give the table a `key_source` that waits for the descendant's rows.
A read sanctioned on purpose goes into `[tool.djlint.allow."module.Table"] reads = [...]`
(`djlint --add-policy` writes it).
"""
BAD = '''
import datajoint as dj

schema = dj.schema("ephys")


@schema
class Probe(dj.Lookup):
    definition = """
    probe : varchar(16)
    ---
    channels : int
    """
    contents = [("npx1", 384)]


@schema
class Recording(dj.Manual):
    definition = """
    recording_id : int
    """


@schema
class ChannelCount(dj.Computed):
    definition = """
    -> Recording
    ---
    channels : int
    """

    def make(self, key):
        channels = (Probe & "probe = 'npx1'").fetch1("channels")
        self.insert1(dict(key, channels=channels))
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("ephys")


@schema
class Probe(dj.Lookup):
    definition = """
    probe : varchar(16)
    ---
    channels : int
    """
    contents = [("npx1", 384)]


@schema
class Recording(dj.Manual):
    definition = """
    recording_id : int
    ---
    -> Probe
    """


@schema
class ChannelCount(dj.Computed):
    definition = """
    -> Recording
    ---
    channels : int
    """

    def make(self, key):
        channels = (Probe * Recording & key).fetch1("channels")
        self.insert1(dict(key, channels=channels))
'''

HOW_FOUND = """
Reads ``MakeFacts.reads`` (``Read`` facts of ``djlint.makeflow.facts``: every fetch, join operand,
restriction and raw-SQL ``SELECT`` of a make() and the helpers it calls, with ``alternatives`` when the
table is chosen at run time), recorded by the make() interpreter (``djlint.makeflow``: ``datajoint_api.py`` for
table methods, operators and raw SQL, ``state.py`` where the fact is recorded). It asks ``Model.allowed`` (``djlint.provenance.AllowedSets``) with the
policy's reads, then ``Model.unknowns`` (``djlint.unknowns``) whether an unresolved ancestor could make
the read legal; reads also reported as ``UpstreamIndex`` facts are left to DJ202.
"""


def check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]:
    if facts is None:
        return []
    policy = model.policy
    # self.upstream[X] outside the allowed set is never an ancestor either: DJ202 reports it (it raises at
    # run time, so nothing is read); one finding per mistake.
    upstream_reported = set()
    if model.config.enabled("DJ202"):
        upstream_reported = {(i.path, i.line, i.column, i.table, i.target) for i in facts.upstream_indexes}
    found = []
    keys = KeyAttributes(model)  # primary keys, computed once for every finding's fix
    advice: dict[tuple[str, str], Fix] = {}  # one fix per (table, target): many reads share it
    for read in facts.reads:
        if read.target not in model.tables:
            continue
        if (read.path, read.line, read.column, read.table, read.target) in upstream_reported:
            continue
        if model.allowed.may_read(read.table, read.target, extra=policy.reads_of(read.table)):
            continue
        if model.unknowns.may_be_allowed(read.table, read.target):
            continue  # an unknown ancestor could bring it in: never a false alarm
        if any(_may_read(model, read.table, other) for other in read.alternatives if other != read.target):
            continue  # chosen at run time among tables one of which may be read: not a sure sideways read
        pair = (read.table, read.target)
        if pair not in advice:
            advice[pair] = fixes.read_fix(model, read.table, read.target, keys)
        found.append(finding(
            model, read, CODE,
            f"sideways read: {make_label(model, read.table)} reads {table_label(model, read.target)}, "
            f"which is not upstream of {table_label(model, read.table)}{where(model, read)}", advice[pair]))
    return unique(found)


def _may_read(model: Model, table: str, target: str) -> bool:
    """Could a make() of ``table`` read ``target`` legally (or is ``target`` nothing we can judge)?"""
    if target not in model.tables:
        return True
    if model.allowed.may_read(table, target, extra=model.policy.reads_of(table)):
        return True
    return model.unknowns.may_be_allowed(table, target)
