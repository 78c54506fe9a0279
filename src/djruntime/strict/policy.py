"""The runtime side of the shared policy ``[tool.djlint.allow]`` (see ``djlint.config``).

djlint reads the policy as module-qualified class names; at run time each name is resolved to the
table it denotes by importing its module and reading the class's ``full_table_name``. A name that
matches no table is an error (:class:`PolicyError`), never a silent no-op.

Which file: the one named by ``djruntime.install(policy=...)``, else by ``DJ_PROVENANCE_POLICY`` (a named
file that does not exist is an error); else, per table, the ``pyproject.toml`` of the repository holding
the table's module (the file djlint reads for the same pipeline), wherever the process was started;
else the nearest one above the working directory (a pipeline installed into site-packages).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datajoint as dj

from djlint.config import ConfigError, Policy, load_policy

from djlint.sqltables import TableName

ENV_VARIABLE = "DJ_PROVENANCE_POLICY"
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
        where = policy.entry_name(table_name)
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


def named_file(policy: str | Path | None) -> Path | str | None:
    """The policy file named by ``install(policy=...)``, else by ``DJ_PROVENANCE_POLICY``; None: discover."""
    if policy is not None:
        return policy
    return os.environ.get(ENV_VARIABLE) or None


def module_directory(table: Any) -> Path | None:
    """The directory of the file defining ``table``'s class (None for classes without a source file)."""
    cls = table if isinstance(table, type) else type(table)
    module = sys.modules.get(getattr(cls, "__module__", ""), None)
    filename = getattr(module, "__file__", None)
    return Path(filename).resolve().parent if filename else None


_by_file: dict[Path | None, RuntimePolicy] = {}  # each pyproject.toml resolved once per install()
_by_class: dict[type, RuntimePolicy] = {}  # the hot path: one dict lookup per statement
_discover_lock = threading.Lock()


def discover(table: Any) -> RuntimePolicy:
    """The policy of the repository holding ``table``'s module (see the module docstring), resolved once
    per file until the next install(). No file found: no policy (``source`` is None)."""
    cls = table if isinstance(table, type) else type(table)
    found = _by_class.get(cls)
    if found is not None:
        return found
    directory = module_directory(cls)
    pyproject = (find_pyproject(directory) if directory is not None else None) or find_pyproject()
    with _discover_lock:
        found = _by_file.get(pyproject)
        if found is None:
            found = load(pyproject) if pyproject is not None else EMPTY
            _by_file[pyproject] = found
        _by_class[cls] = found
    return found


def forget_discovered() -> None:
    """Read every policy file afresh at the next use (install() calls it)."""
    with _discover_lock:
        _by_file.clear()
        _by_class.clear()


def describe_source(policy: RuntimePolicy, table: Any) -> str:
    """The sentence every refusal ends with: which policy file applied, or where none was found."""
    if policy.source is not None:
        return f"Policy file: {policy.source}."
    directory = module_directory(table)
    where = f"{directory} or " if directory is not None else ""
    return (f"Policy file: none (no pyproject.toml above {where}the working directory {os.getcwd()}; name "
            f"one with {ENV_VARIABLE} or djruntime.install(policy=...)).")
