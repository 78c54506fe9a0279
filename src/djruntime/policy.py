"""The runtime side of the shared policy ``[tool.djlint.allow]`` (see ``djlint.config``).

djlint reads the policy as module-qualified class names; at run time each name is resolved to the
table it denotes by importing its module and reading the class's ``full_table_name``. A name that
matches no table is an error (:class:`PolicyError`), never a silent no-op.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datajoint as dj

from djlint.config import ConfigError, Policy, load_policy

from .sqlclassify import TableName

_FULL_NAME = re.compile(r'^\s*[`"]?([^`".]+)[`"]?\.[`"]?([^`"]+)[`"]?\s*$')


class PolicyError(dj.DataJointError):
    """The policy names something that is not a table, or cannot be read."""


def parse_full_name(full_table_name: str) -> TableName | None:
    """```db`.`tbl``` or ``"db"."tbl"`` -> ("db", "tbl"); None when it is not one."""
    match = _FULL_NAME.match(full_table_name)
    if not match:
        return None
    return match.group(1), match.group(2)


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the working directory)."""
    directory = (start or Path(os.getcwd())).resolve()
    for candidate in (directory, *directory.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
    return None


def resolve_class(name: str) -> Any:
    """Import the module part of ``pkg.module.Class[.Part]`` and return the attribute it names."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
                continue  # this prefix is not a module; try a shorter one
            raise PolicyError(f"importing {module_name!r} for {name!r} failed: {error}") from error
        except Exception as error:  # the user's module failed to import: say so, with the cause
            raise PolicyError(f"importing {module_name!r} for {name!r} failed: {error!r}") from error
        for attribute in parts[split:]:
            try:
                obj = getattr(obj, attribute)
            except AttributeError:
                raise PolicyError(f"module {module_name!r} has no {'.'.join(parts[split:])!r}") from None
        return obj
    raise PolicyError(f"no importable module in {name!r}")


def table_of(name: str) -> TableName:
    """The table a module-qualified class name denotes (PolicyError when it is not a declared table)."""
    obj = resolve_class(name)
    try:
        full_name = obj.full_table_name
    except Exception as error:  # noqa: BLE001 - anything that is not a bound table
        raise PolicyError(f"{name!r} is not a datajoint table bound to a schema ({error})") from None
    table = parse_full_name(str(full_name)) if isinstance(full_name, str) else None
    if table is None:
        raise PolicyError(f"{name!r} is not a datajoint table bound to a schema")
    return table


@dataclass(frozen=True)
class RuntimePolicy:
    """The policy with every name resolved to a table: extra reads and writes per table."""

    reads: dict[TableName, frozenset[TableName]] = field(default_factory=dict)
    writes: dict[TableName, frozenset[TableName]] = field(default_factory=dict)
    names: dict[TableName, str] = field(default_factory=dict)  # table -> module-qualified name
    source: Path | None = None

    def reads_of(self, table: TableName) -> frozenset[TableName]:
        return self.reads.get(table, frozenset())

    def writes_of(self, table: TableName) -> frozenset[TableName]:
        return self.writes.get(table, frozenset())


EMPTY = RuntimePolicy()


def resolve(policy: Policy) -> RuntimePolicy:
    """Resolve every name of ``policy``; PolicyError lists every name that matches no table."""
    names: dict[TableName, str] = {}
    errors: list[str] = []

    def lookup(name: str, where: str) -> TableName | None:
        try:
            table = table_of(name)
        except PolicyError as error:
            errors.append(f'{where}: "{name}" matches no table ({error})')
            return None
        names.setdefault(table, name)
        return table

    reads: dict[TableName, frozenset[TableName]] = {}
    writes: dict[TableName, frozenset[TableName]] = {}
    for table_name, allowance in policy.allow.items():
        where = f'[tool.djlint.allow."{table_name}"]'
        table = lookup(table_name, where)
        extra_reads = {t for n in sorted(allowance.reads) if (t := lookup(n, where + " reads")) is not None}
        extra_writes = {t for n in sorted(allowance.writes) if (t := lookup(n, where + " writes")) is not None}
        if table is not None:
            reads[table] = reads.get(table, frozenset()) | frozenset(extra_reads)
            writes[table] = writes.get(table, frozenset()) | frozenset(extra_writes)
    if errors:
        source = f"{policy.source}: " if policy.source else ""
        raise PolicyError(source + "; ".join(errors))
    return RuntimePolicy(reads, writes, names, policy.source)


def load(path: str | Path | None = None) -> RuntimePolicy:
    """Read and resolve the policy of ``path`` (a ``pyproject.toml`` or its directory); default: the
    nearest ``pyproject.toml`` above the working directory; no file, no policy."""
    if path is None:
        pyproject = find_pyproject()
        if pyproject is None:
            return EMPTY
    else:
        pyproject = Path(path)
        if pyproject.is_dir():
            pyproject = pyproject / "pyproject.toml"
        if not pyproject.is_file():
            raise PolicyError(f"policy file {pyproject} does not exist")
    try:
        policy = load_policy(pyproject)
    except ConfigError as error:
        raise PolicyError(str(error)) from error
    if not policy.allow:
        return RuntimePolicy(source=pyproject)
    return resolve(policy)
