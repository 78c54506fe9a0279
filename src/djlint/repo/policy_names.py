"""The ``allow`` policy's names: made the ids of the tables they denote (``model.policy``, what the rules
and the runtime gate check), and each located in ``pyproject.toml`` (``model.policy_names``), for DJ003
to report those that denote no table.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from djlint.walk import relative_path
from djlint.config import Allowance, Policy
from djlint.fileio import read_source
from djlint.repo.records import PolicyName

if TYPE_CHECKING:
    from djlint.model import Model


def resolve_policy(model: Model, cwd: Path) -> None:
    """``model.policy`` with every name made a table id (when it denotes one), and ``model.policy_names``
    (paths relative to ``cwd``)."""
    policy = model.config.policy
    if not policy.allow:
        return
    allow: dict[str, Allowance] = {}
    for table, entry in policy.allow.items():
        key = model.table_named(table) or table
        before = allow.get(key, Allowance())
        allow[key] = Allowance(
            before.reads | {model.table_named(name) or name for name in entry.reads},
            before.writes | {model.table_named(name) or name for name in entry.writes},
        )
    model.policy = Policy(allow=allow, source=policy.source)
    source = policy.source or (model.root / "pyproject.toml")
    try:
        lines = read_source(source).decode("utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    display = relative_path(Path(source).resolve(), cwd)
    for table, entry in policy.allow.items():
        header = _toml_line(lines, table)
        for role, names in (("table", [table]), ("reads", sorted(entry.reads)), ("writes", sorted(entry.writes))):
            for name in names:
                line = header if role == "table" else _toml_line(lines, name, max(header - 1, 0))
                model.policy_names.append(PolicyName(display, line or 1, table, role, name))


def _toml_line(lines: list[str], needle: str, start: int = 0) -> int:
    """The line (from 1) at or after line ``start`` (from 0) where ``needle`` is written as a TOML
    string; 0 when nowhere."""
    for quote in ('"', "'"):
        text = f"{quote}{needle}{quote}"
        for index in range(start, len(lines)):
            if text in lines[index]:
                return index + 1
    return 0
