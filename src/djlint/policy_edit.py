"""``djlint --add-policy``: sanction the current DJ201/DJ301 findings in the shared policy.

Writes ``[tool.djlint.allow."module.Table"]`` entries (``reads``/``writes``, module-qualified class
names) into the repository's ``pyproject.toml`` with tomlkit, so comments, order and formatting of the
file stay as they were; names already sanctioned are not repeated. Both djlint and djruntime's strict
mode read the same entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from djlint.diagnostics import Diagnostic

ROLES = {"DJ201": "reads", "DJ301": "writes"}


def wanted(diagnostics: Sequence[Diagnostic]) -> dict[str, dict[str, set[str]]]:
    """table -> role -> names that the findings need sanctioned."""
    entries: dict[str, dict[str, set[str]]] = {}
    for d in diagnostics:
        role = ROLES.get(d.code)
        if role is None or d.table is None or d.target is None:
            continue
        entries.setdefault(d.table, {}).setdefault(role, set()).add(d.target)
    return entries


def add_policy(pyproject: Path, diagnostics: Sequence[Diagnostic]) -> int:
    """Add the entries; the number of names added. ``pyproject`` is created when missing."""
    import tomlkit

    entries = wanted(diagnostics)
    if not entries:
        return 0
    text = pyproject.read_text(encoding="utf-8") if pyproject.exists() else ""
    document = tomlkit.parse(text)
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    section = "dj-provenance" if "dj-provenance" in tool else "djlint"
    settings = tool.setdefault(section, tomlkit.table())
    allow = settings.setdefault("allow", tomlkit.table(is_super_table=True))
    added = 0
    for table, roles in sorted(entries.items()):
        entry = allow.setdefault(table, tomlkit.table())
        for role, names in sorted(roles.items()):
            current = entry.setdefault(role, tomlkit.array())
            for name in sorted(names - {str(n) for n in current}):
                current.append(name)
                added += 1
    if added:
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return added
