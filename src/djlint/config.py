"""Settings of a linted repository: ``[tool.djlint]`` and the shared policy ``[tool.djlint.allow]``.

The policy is read by djlint and by djruntime (``djruntime.install(policy=PATH)``), so both packages
sanction exactly the same extra reads and writes:

```toml
[tool.djlint]
exclude = ["notebooks/*"]          # glob patterns, relative to the repository root
select = ["DJ"]                    # code prefixes to report
ignore = ["DJ401"]
linking = { Subject = "lab.subject.Subject" }   # names injected at run time -> module-qualified tables
external-roots = true              # tables of installed packages cannot descend from yours

[tool.djlint.allow."lab.ingest.SessionImport"]  # module-qualified class name
reads = ["lab.reference.ProbeGeometry"]
writes = ["lab.session.Session"]
```
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """The ``[tool.djlint]`` table is malformed."""


@dataclass(frozen=True)
class Allowance:
    """Sanctioned extra reads and writes of one table (module-qualified class names)."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    """``[tool.djlint.allow]``: per table, the reads and writes the contract would otherwise refuse."""

    allow: dict[str, Allowance] = field(default_factory=dict)
    source: Path | None = None

    def reads_of(self, table: str) -> frozenset[str]:
        entry = self.allow.get(table)
        return entry.reads if entry else frozenset()

    def writes_of(self, table: str) -> frozenset[str]:
        entry = self.allow.get(table)
        return entry.writes if entry else frozenset()

    def named_tables(self) -> list[tuple[str, str]]:
        """Every table the policy names, as (role, name), role being 'table', 'reads' or 'writes'."""
        names: list[tuple[str, str]] = []
        for table, entry in self.allow.items():
            names.append(("table", table))
            names.extend(("reads", name) for name in sorted(entry.reads))
            names.extend(("writes", name) for name in sorted(entry.writes))
        return names


@dataclass(frozen=True)
class Config:
    root: Path
    select: tuple[str, ...] = ("DJ",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    linking: dict[str, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    cache_dir: Path | None = None
    # Tables from outside the analysed repository (installed packages, schemas no module declares) are
    # taken as roots: they cannot descend from the repository's own tables (README, "Unknown names").
    external_roots: bool = True

    def enabled(self, code: str) -> bool:
        """Longest matching prefix wins between select and ignore (as in flake8 and ruff)."""
        best_select = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        best_ignore = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return best_select >= 0 and best_select > best_ignore


def find_root(start: Path) -> Path:
    """The repository root: the nearest directory at or above ``start`` holding a ``pyproject.toml``
    or a ``.git``; ``start`` itself (or its directory) when there is none."""
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file() or (directory / ".git").exists():
            return directory
    return start


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(value)


def _read_tool_table(pyproject: Path) -> dict[str, Any]:
    try:
        with pyproject.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{pyproject}: {error}") from error
    tool = data.get("tool", {}).get("djlint", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: [tool.djlint] must be a table")
    return tool


def parse_policy(tool: dict[str, Any], source: Path | None = None) -> Policy:
    allow = tool.get("allow", {})
    if not isinstance(allow, dict):
        raise ConfigError("[tool.djlint.allow] must be a table of tables")
    entries: dict[str, Allowance] = {}
    for table, entry in allow.items():
        if not isinstance(entry, dict):
            raise ConfigError(f'[tool.djlint.allow."{table}"] must be a table with reads/writes')
        unknown = set(entry) - {"reads", "writes"}
        if unknown:
            raise ConfigError(f'[tool.djlint.allow."{table}"]: unknown keys {sorted(unknown)}')
        entries[table] = Allowance(
            reads=frozenset(_string_list(entry.get("reads", []), f'allow."{table}".reads')),
            writes=frozenset(_string_list(entry.get("writes", []), f'allow."{table}".writes')),
        )
    return Policy(allow=entries, source=source)


def load_policy(pyproject: Path) -> Policy:
    """The shared policy of one ``pyproject.toml`` (empty when the file or the table is absent)."""
    if not pyproject.is_file():
        return Policy()
    return parse_policy(_read_tool_table(pyproject), source=pyproject)


def load_config(root: Path) -> Config:
    """Read ``[tool.djlint]`` from ``root/pyproject.toml``; defaults when absent."""
    pyproject = root / "pyproject.toml"
    tool = _read_tool_table(pyproject) if pyproject.is_file() else {}
    linking = tool.get("linking", {})
    if not isinstance(linking, dict) or not all(isinstance(v, str) for v in linking.values()):
        raise ConfigError("[tool.djlint] linking must map names to module-qualified names")
    cache_dir = tool.get("cache-dir")
    external_roots = tool.get("external-roots", True)
    if not isinstance(external_roots, bool):
        raise ConfigError("[tool.djlint] external-roots must be true or false")
    return Config(
        root=root,
        select=_string_list(tool.get("select", ["DJ"]), "select"),
        ignore=_string_list(tool.get("ignore", []), "ignore"),
        exclude=_string_list(tool.get("exclude", []), "exclude"),
        linking=dict(linking),
        policy=parse_policy(tool, source=pyproject if pyproject.is_file() else None),
        cache_dir=(root / cache_dir) if isinstance(cache_dir, str) else None,
        external_roots=external_roots,
    )
