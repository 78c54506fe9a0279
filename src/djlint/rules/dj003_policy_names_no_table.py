"""DJ003: a name in the [tool.djlint.allow] policy matches no table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from djlint.diagnostics import Diagnostic

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


def check(model: Any, facts: Any = None) -> Iterable[Diagnostic]:
    return [d for d in model.diagnostics if d.code == CODE]
