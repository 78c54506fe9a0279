"""Settings of a linted repository and the shared policy, read from ``pyproject.toml``.

The table is ``[tool.dj-provenance]``, or ``[tool.djlint]`` when there is none (a ``[tool.djlint]`` that
configures djLint, the HTML template linter of the same name, is left to it). The policy is read by
djlint and by djruntime (``djruntime.install(policy=PATH)``) through :func:`load_policy`, so both
packages sanction exactly the same extra reads and writes:

```toml
[tool.dj-provenance]                # or [tool.djlint]
select = ["DJ"]                    # code prefixes to report (flake8's and ruff's meaning)
extend-select = []                 # added to select
ignore = ["DJ401"]
extend-ignore = []                 # added to ignore
per-file-ignores = { "tests/*" = ["DJ3"] }   # glob -> codes ignored in matching files
exclude = ["notebooks/*"]          # glob patterns, relative to the repository root
linking = { Subject = "lab.subject.Subject" }   # names injected at run time -> module-qualified tables
external-roots = true              # tables of installed packages cannot descend from yours
cache-dir = ".djlint_cache"

[tool.dj-provenance.allow."lab.ingest.SessionImport"]  # module-qualified class name
reads = ["lab.reference.ProbeGeometry"]
writes = ["lab.session.Session"]
```

Strict: an unknown key, a value of the wrong type, or a code selector that matches no djlint code is a
ConfigError whose message is one line naming the file, the key and what was expected.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djlint.fileio import NotAnalysable, read_regular, resolved

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(ValueError):
    """The configuration cannot be read or is malformed; ``str()`` is one line naming the file."""


TABLES = ("dj-provenance", "djlint")  # [tool.dj-provenance] wins when both are present
KEYS = ("select", "extend-select", "ignore", "extend-ignore", "per-file-ignores", "exclude", "linking",
        "allow", "cache-dir", "external-roots")
_SHARED = frozenset({"ignore", "exclude", "per-file-ignores"})  # also djLint's (HTML templates) keys
_OURS_ONLY = frozenset(KEYS) - _SHARED
# The configuration keys of djLint, the HTML template linter that also reads [tool.djlint].
DJLINT_HTML_KEYS = frozenset({
    "blank_line_after_tag", "blank_line_before_tag", "close_void_tags", "css", "custom_blocks",
    "custom_html", "exclude", "extend_exclude", "extension", "files", "format_attribute_template_tags",
    "format_css", "format_js", "ignore", "ignore_blocks", "ignore_case", "include", "indent", "indent_css",
    "indent_js", "js", "line_break_after_multiline_tag", "linter_output_format", "max_attribute_length",
    "max_blank_lines", "max_line_length", "no_function_formatting", "no_line_after_yaml",
    "no_set_formatting", "per-file-ignores", "preserve_blank_lines", "preserve_leading_space", "profile",
    "require_pragma", "use_gitignore",
}) - _SHARED
MAX_PYPROJECT_BYTES = 4 * 1024 * 1024
_PREFIX = re.compile(r"^[A-Z]+[0-9]*$")


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
    table: str = "[tool.djlint]"  # the table it was read from ("[tool.dj-provenance]" wins when present)

    def entry_name(self, table: str) -> str:
        """How messages name the policy entry of ``table``: ``[tool.djlint.allow."mod.Table"]``."""
        return f'{self.table[:-1]}.allow."{table}"]'

    def reads_of(self, table: str) -> frozenset[str]:
        entry = self.allow.get(table)
        return entry.reads if entry else frozenset()

    def writes_of(self, table: str) -> frozenset[str]:
        entry = self.allow.get(table)
        return entry.writes if entry else frozenset()



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
    extend_select: tuple[str, ...] = ()
    extend_ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (glob, codes), in file order
    table: str | None = None  # the table read, e.g. "[tool.dj-provenance]"

    def enabled(self, code: str, path: str | None = None) -> bool:
        """Longest matching prefix wins between the selected and the ignored codes (as in flake8 and
        ruff); ``path`` (root-relative) adds the ``per-file-ignores`` whose glob matches it."""
        selected = self.select + self.extend_select
        ignored = self.ignore + self.extend_ignore
        if path is not None and self.per_file_ignores:
            ignored += tuple(c for pattern, codes in self.per_file_ignores if path_matches(path, [pattern])
                             for c in codes)
        best_select = max((len(p) for p in selected if code.startswith(p)), default=-1)
        best_ignore = max((len(p) for p in ignored if code.startswith(p)), default=-1)
        return best_select >= 0 and best_select > best_ignore


def find_root(start: Path) -> Path:
    """The repository root: the nearest directory at or above ``start`` holding a ``pyproject.toml``
    or a ``.git``; ``start`` itself (or its directory) when there is none."""
    start = resolved(start)
    if not start.is_dir():
        start = start.parent
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file() or (directory / ".git").exists():
            return directory
    return start


def path_matches(relative: str, patterns: Sequence[str]) -> bool:
    """Whether a root-relative path (``/`` separators) matches one of the glob ``patterns``: the path or
    one of its leading directories matches, or a pattern without ``/`` matches one of its names (as
    flake8's and ruff's ``exclude`` and ``per-file-ignores``)."""
    if not patterns:
        return False
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        for prefix in prefixes:
            if fnmatch.fnmatchcase(prefix, pattern):
                return True
        if "/" not in pattern and any(fnmatch.fnmatchcase(p, pattern) for p in parts):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Reading pyproject.toml
# ---------------------------------------------------------------------------------------------
def known_codes() -> tuple[str, ...]:
    """Every code djlint can report, from the rule modules' file names (``dj201_...py``), without
    importing them (the warm path answers from the result cache and imports no rule)."""
    global _KNOWN_CODES
    if _KNOWN_CODES is None:
        rules = Path(__file__).resolve().parent / "rules"
        found = {f"DJ{m.group(1)}" for p in rules.glob("dj*.py") if (m := re.match(r"dj(\d{3})_", p.name))}
        _KNOWN_CODES = tuple(sorted(found))
    return _KNOWN_CODES


_KNOWN_CODES: tuple[str, ...] | None = None


def check_selectors(codes: Sequence[str], where: str) -> tuple[str, ...]:
    """``codes`` when each is a code or code prefix matching at least one known code; else ConfigError
    naming ``where`` (e.g. ``--select``)."""
    problems: list[str] = []
    result = _selectors(list(codes), where, problems)
    if problems:
        raise ConfigError("; ".join(problems))
    return result


def read_pyproject(pyproject: Path) -> dict[str, Any]:
    """The parsed ``pyproject.toml``; ConfigError (one line, naming the file) for anything else: not
    readable, not a regular file, not UTF-8, not TOML."""
    try:
        data = read_regular(pyproject, MAX_PYPROJECT_BYTES)
    except OSError as error:
        reason = error.strerror if not isinstance(error, NotAnalysable) and error.strerror else str(error)
        raise ConfigError(f"{pyproject}: cannot read the file: {reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"{pyproject}: not UTF-8 (byte 0x{data[error.start]:02x} on line {line}); TOML files are UTF-8"
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{pyproject}: invalid TOML: {' '.join(str(error).split())}") from None
    except RecursionError:
        raise ConfigError(f"{pyproject}: invalid TOML: nested too deeply") from None
    return document


def _table_of_this_tool(document: dict[str, Any], pyproject: Path) -> tuple[str | None, dict[str, Any]]:
    """(header, table): ``[tool.dj-provenance]`` when present, else ``[tool.djlint]`` unless it is the
    HTML template linter djLint's; (None, {}) when neither applies."""
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{pyproject}: [tool] must be a table, got {_describe(tool)}")
    for name in TABLES:
        if name not in tool:
            continue
        header = f"[tool.{name}]"
        table = tool[name]
        if not isinstance(table, dict):
            raise ConfigError(f"invalid {header} in {pyproject}: it must be a table, got {_describe(table)}")
        if name == "djlint" and _belongs_to_djlint_html(table):
            return None, {}
        return header, table
    return None, {}


def _belongs_to_djlint_html(table: dict[str, Any]) -> bool:
    """Whether a ``[tool.djlint]`` table configures djLint, the HTML template linter of the same name:
    it holds none of this tool's own keys, and one of djLint's, or a shared key in djLint's form (a
    string of codes that are not DJ codes, e.g. ``ignore = "H014,T003"``)."""
    if _OURS_ONLY.intersection(table):
        return False
    if DJLINT_HTML_KEYS.intersection(table):
        return True

    def html_form(value: Any) -> bool:
        if isinstance(value, str):
            return not re.search(r"\bDJ\d*\b", value, re.IGNORECASE)
        if isinstance(value, dict):  # per-file-ignores = { "file.html" = "H026" }
            return any(html_form(v) for v in value.values())
        return False

    return any(html_form(table[key]) for key in _SHARED if key in table)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


def _strings(value: Any, key: str, expected: str, problems: list[str]) -> list[str] | None:
    if not isinstance(value, list):
        problems.append(f"{key} must be a list of {expected}, got {_describe(value)}")
        return None
    wrong = [item for item in value if not isinstance(item, str)]
    if wrong:
        problems.append(f"{key} must be a list of {expected}, got a list holding {_describe(wrong[0])}")
        return None
    return value


def _selectors(value: Any, key: str, problems: list[str]) -> tuple[str, ...]:
    items = _strings(value, key, 'code prefixes (strings such as "DJ2" or "DJ201")', problems)
    if items is None:
        return ()
    codes = known_codes()
    result: list[str] = []
    for item in items:
        code = item.strip().upper()
        if not _PREFIX.match(code):
            problems.append(f"{key}: {item!r} is not a code or code prefix (e.g. DJ2, DJ201)")
        elif not any(known.startswith(code) for known in codes):
            problems.append(f"{key}: {item!r} matches no djlint code (known: {', '.join(codes)})")
        else:
            result.append(code)
    return tuple(result)


def _check_keys(
    table: dict[str, Any], allowed: Sequence[str], where: str, problems: list[str], shared_table: bool = False
) -> None:
    """An unknown key is a problem; ``shared_table``: the table is ``[tool.djlint]``, which djLint reads too."""
    for key in table:
        if key in allowed:
            continue
        import difflib  # here: only an invalid table needs it

        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
        if shared_table and key in DJLINT_HTML_KEYS:
            hint = "a key of djLint, the HTML template linter: move this tool's settings to [tool.dj-provenance]"
        problems.append(f"{where}unknown key {key!r} ({hint})")


def _policy(tool: dict[str, Any], header: str, problems: list[str]) -> dict[str, Allowance]:
    allow = tool.get("allow", {})
    if not isinstance(allow, dict):
        problems.append(f"allow must be a table of tables ({header[:-1]}.allow.\"pkg.Table\"]), got {_describe(allow)}")
        return {}
    entries: dict[str, Allowance] = {}
    for table, entry in allow.items():
        where = f'allow."{table}"'
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a table with reads/writes, got {_describe(entry)}")
            continue
        _check_keys(entry, ("reads", "writes"), f"{where}: ", problems)
        names = "module-qualified class names"
        reads = _strings(entry.get("reads", []), f"{where}.reads", names, problems) or []
        writes = _strings(entry.get("writes", []), f"{where}.writes", names, problems) or []
        entries[table] = Allowance(reads=frozenset(reads), writes=frozenset(writes))
    return entries


def parse_policy(tool: dict[str, Any], source: Path | None = None, header: str = "[tool.djlint]") -> Policy:
    """The ``allow`` policy of this tool's table; ConfigError listing every problem."""
    problems: list[str] = []
    entries = _policy(tool, header, problems)
    if problems:
        raise ConfigError(_message(header, source, problems))
    return Policy(allow=entries, source=source, table=header)


def _message(header: str, source: Path | None, problems: list[str]) -> str:
    where = f"invalid {header} in {source}" if source is not None else f"invalid {header}"
    return f"{where}: {'; '.join(problems)}"


def read_tool_table(pyproject: Path) -> tuple[str | None, dict[str, Any]]:
    """(header, table) of this tool in ``pyproject`` (see ``_table_of_this_tool``); (None, {}) when the
    file does not exist. Shared by djlint and by djruntime's policy reader."""
    if not os.path.exists(pyproject):
        return None, {}
    return _table_of_this_tool(read_pyproject(pyproject), pyproject)


def load_policy(pyproject: Path) -> Policy:
    """The shared policy of one ``pyproject.toml`` (empty when the file or the table is absent)."""
    header, tool = read_tool_table(pyproject)
    if header is None:
        return Policy(source=pyproject if os.path.exists(pyproject) else None)
    return parse_policy(tool, source=pyproject, header=header)


def load_config(root: Path) -> Config:
    """Read this tool's table from ``root/pyproject.toml``; defaults when absent. ConfigError (one line
    naming the file, the key and what was expected) for any problem."""
    pyproject = root / "pyproject.toml"
    header, tool = read_tool_table(pyproject)
    if header is None:
        source = pyproject if os.path.exists(pyproject) else None
        return Config(root=root, policy=Policy(source=source))
    problems: list[str] = []
    _check_keys(tool, KEYS, "", problems, shared_table=header == "[tool.djlint]")
    linking = tool.get("linking", {})
    if not isinstance(linking, dict) or not all(isinstance(v, str) for v in linking.values()):
        got = _describe(linking) if not isinstance(linking, dict) else "a table with a value that is not a string"
        problems.append(f"linking must map names to module-qualified names (a table of strings), got {got}")
        linking = {}
    cache_dir = tool.get("cache-dir")
    external_roots = tool.get("external-roots", True)
    if not isinstance(external_roots, bool):
        problems.append(f"external-roots must be true or false, got {_describe(external_roots)}")
        external_roots = True
    if cache_dir is not None and (not isinstance(cache_dir, str) or not cache_dir.strip()):
        problems.append(f"cache-dir must be a non-empty string (a directory path), got {_describe(cache_dir)}")
        cache_dir = None
    per_file: list[tuple[str, tuple[str, ...]]] = []
    per_file_table = tool.get("per-file-ignores", {})
    if not isinstance(per_file_table, dict):
        problems.append(f"per-file-ignores must be a table of glob = [codes], got {_describe(per_file_table)}")
    else:
        for pattern, codes in per_file_table.items():
            per_file.append((pattern, _selectors(codes, f'per-file-ignores."{pattern}"', problems)))
    exclude = _strings(tool.get("exclude", []), "exclude", "glob patterns (strings)", problems) or []
    config = Config(
        root=root,
        select=_selectors(tool.get("select", ["DJ"]), "select", problems),
        ignore=_selectors(tool.get("ignore", []), "ignore", problems),
        extend_select=_selectors(tool.get("extend-select", []), "extend-select", problems),
        extend_ignore=_selectors(tool.get("extend-ignore", []), "extend-ignore", problems),
        per_file_ignores=tuple(per_file),
        exclude=tuple(exclude),
        linking=dict(linking),
        policy=Policy(allow=_policy(tool, header, problems), source=pyproject, table=header),
        cache_dir=(root / cache_dir) if cache_dir is not None else None,
        table=header,
        external_roots=external_roots,
    )
    if problems:
        raise ConfigError(_message(header, pyproject, problems))
    return config
