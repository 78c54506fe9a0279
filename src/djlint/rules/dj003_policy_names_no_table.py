"""DJ003: a name in the [tool.djlint.allow] policy matches no table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint.diagnostics import Diagnostic

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ003"
NAME = "policy-names-no-table"
SUMMARY = "A table, read or write named in [tool.djlint.allow] matches no table class in the repository."
WHY = """
The policy in ``pyproject.toml`` sanctions specific sideways reads and fan-out writes, per table, by
module-qualified class name (``pipeline.ingest.ScanIngest``), for djlint and for the runtime gate alike.
A misspelt or stale name would silently sanction nothing — or, after a rename, leave an allowance
pointing at a table that no longer exists. So a name that matches no table is an error, reported in
``pyproject.toml`` at the entry.
"""
_PIPELINE = '''
import datajoint as dj

schema = dj.schema("lab")


@schema
class Reference(dj.Lookup):
    definition = """
    reference_id : int
    """


@schema
class Scan(dj.Manual):
    definition = """
    scan_id : int
    """
'''
PYPROJECT_BAD = """
[tool.djlint.allow."pipeline.Scan"]
reads = ["pipeline.Referense"]    # misspelt: sanctions nothing
"""
PYPROJECT_GOOD = """
[tool.djlint.allow."pipeline.Scan"]
reads = ["pipeline.Reference"]
"""
# The examples are pipeline.py; the policy they are checked with is shown (and used) as pyproject.toml.
BAD = (
    "# pyproject.toml:\n"
    + "".join(f"#   {line}\n" for line in PYPROJECT_BAD.strip().splitlines())
    + _PIPELINE
)
GOOD = (
    "# pyproject.toml:\n"
    + "".join(f"#   {line}\n" for line in PYPROJECT_GOOD.strip().splitlines())
    + _PIPELINE
)


FIX = "Correct the name to the module-qualified class name of an analysed table, or remove the entry."
KNOWN_LIMITS = """
When only a part of the repository is analysed (paths given, ``--isolated``), a name is reported only
when the module it points into was analysed: the others cannot be decided. The line is the first line
after the entry's header where the name is written as a TOML string.
"""
HOW_FOUND = """
Needs no make() fact: the model records every name the policy writes, with its line in the policy's
file (``Model.policy_names``, ``PolicyName`` records made by ``djlint.repo.policy_names``); this rule
asks ``Model.table_named`` for each.
"""


def check(model: Model, facts: MakeFacts | None = None) -> Iterable[Diagnostic]:
    found: list[Diagnostic] = []
    analysed = set(model.modules)
    header_of = model.config.table or "[tool.djlint]"
    for written in model.policy_names:
        if model.table_named(written.name) is not None or not _decidable(model, written.name, analysed):
            continue
        where = {
            "table": f'{header_of[:-1]}.allow."{written.entry}"]',
            "reads": f'allow."{written.entry}".reads',
            "writes": f'allow."{written.entry}".writes',
        }[written.role]
        found.append(Diagnostic(
            written.path, written.line, 1, CODE,
            f"{where} names {written.name!r}, which matches no table in the analysed code"))
    return found


def _decidable(model: Model, name: str, analysed: set[str]) -> bool:
    """A policy name is an error when the whole repository was analysed, or when the module it
    points into was analysed (a partial run cannot tell about modules it did not read)."""
    if model.covers_root:
        return True
    parts = name.split(".")
    return any(".".join(parts[:i]) in analysed for i in range(1, len(parts)))
