"""The cheap per-file pass: what one module declares, as plain data (dicts, lists, str), cached on disk.

The summary holds everything the repository model needs from a file — its global bindings
(imports, classes, functions, virtual modules, schema objects), its classes with their bases,
decorators, methods and parsed ``definition`` strings — and nothing that depends on other files,
so it can be cached by content hash alone.

It uses Python's ``ast`` (its C parser is ~17x faster than libcst's on the synthetic benchmark repo;
``bench/model_bench.py`` measures both). Nothing here imports user code.
"""

from __future__ import annotations

import ast
import io
import marshal
import tokenize
from pathlib import Path
from typing import Any

from djlint.cachestore import Store, content_digest
from djlint.definition import definition_record, definition_record_shape, parse_definition
from djlint.linking import activation_callee, linking_argument
from djlint.string_layout import StringLayout

KEEP_PACKS = 8  # summary packs per cache directory (one per repository root)
# A summary's "bindings" are lists (marshal keeps them small and fast), first item the kind, last the
# line (a def: line, column); the model reads them as ``repo.records.Binding`` (``Binding.of``):
#   ["import", name, module, line]              import module / import module as name
#   ["from", name, level, module, imported, line]   from .module import imported as name
#   ["star", "*", level, module, line]          from module import *
#   ["class", name, line]  ["def", name, line, column]  ["value", name, line]
#   ["virtual", name, schema, line]             name = dj.create_virtual_module(..., "schema")
#   ["schema", name, schema, line]              name = dj.schema("schema") (schema None: named later)
#   ["alias", name, dotted, line]               name = other.name
_SCHEMA_FACTORIES = {"schema", "Schema", "create_schema"}
_VIRTUAL_FACTORIES = {"create_virtual_module", "VirtualModule"}
_COMPOUND: tuple[type[ast.stmt], ...] = (
    ast.If, ast.Try, ast.With, ast.For, ast.While, ast.AsyncWith, ast.AsyncFor
)
if hasattr(ast, "TryStar"):
    _COMPOUND = (*_COMPOUND, ast.TryStar)


def decode_source(data: bytes) -> tuple[str | None, dict[str, Any] | None]:
    """Bytes -> text honouring PEP 263; or an error record {line, column, message}."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        return None, {"line": getattr(error, "lineno", None) or 1, "column": 1, "message": str(error)}
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        start = getattr(error, "start", 0)
        line = data.count(b"\n", 0, start) + 1
        return None, {"line": line, "column": 1, "message": f"cannot decode as {encoding}: {error}"}
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def dotted(node: ast.AST | None) -> str | None:
    """``a.b.C`` for Name/Attribute chains (calls stripped: ``a.B()`` -> ``a.B``), else None."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        else:
            return None


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        if name:
            return name.rsplit(".", 1)[-1]
    return None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.AST | None:
    node: ast.AST | None = call.args[position] if len(call.args) > position else None
    for kw in call.keywords:
        if kw.arg == keyword:
            node = kw.value
    return node


class _Summarizer:
    def __init__(self, source: str) -> None:
        self.lines = StringLayout(source.splitlines(keepends=True))
        self.bindings: list[list[Any]] = []
        self.classes: list[dict[str, Any]] = []
        self.all: list[str] | None = None
        self.flags: set[str] = set()
        self.activations: list[list[Any]] = []
        self.schema_activations: list[list[Any]] = []  # [receiver, schema name, line]
        self.constants: dict[str, str] = {}  # module-level NAME = "text" seen so far

    # -- module scope -------------------------------------------------------------------------
    def module(self, tree: ast.Module, source: str) -> None:
        self.statements(tree.body)
        if "spawn_missing_classes" not in source and "activate" not in source:
            return  # walking every node is the costliest part of this pass; skip it when pointless
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = _call_name(node)
                if name == "spawn_missing_classes":
                    self.flags.add("spawn")
                elif name == "activate":
                    self.flags.add("activate")
                    self.activation(node)

    def schema_name(self, call: ast.Call, position: int, keyword: str = "schema_name") -> str | None:
        """The schema name given to a schema / virtual-module / activate call, when it is a literal or
        built from module-level string constants (None: absent, or computed at run time)."""
        return self.string(_argument(call, position, keyword))

    def string(self, node: ast.AST | None) -> str | None:
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.string(node.left), self.string(node.right)
            return left + right if left is not None and right is not None else None
        if isinstance(node, ast.JoinedStr):
            parts = [self.string(v.value if isinstance(v, ast.FormattedValue) and v.conversion == -1
                                 and v.format_spec is None else v) for v in node.values]
            return "".join(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        return None

    def activation(self, call: ast.Call) -> None:
        """``element.activate(..., linking_module=__name__ | "pkg.mod" | module)``: Elements' run-time
        injection of the linking module's names into the element module's namespace; and the schema
        name given to ``schema.activate("name")`` or ``element.activate("name", ...)``."""
        receiver = dotted(call.func.value) if isinstance(call.func, ast.Attribute) else None
        name = self.schema_name(call, 0) if receiver is not None else None
        if name is not None:
            self.schema_activations.append([receiver, name, call.lineno])
        callee = activation_callee(call)
        for keyword in call.keywords:
            linked = linking_argument(keyword.value) if keyword.arg == "linking_module" and callee else None
            if linked is not None:
                self.activations.append([callee, *linked, call.lineno])

    def statements(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self.bindings.append(["import", alias.asname, alias.name, stmt.lineno])
                else:
                    head = alias.name.split(".")[0]
                    self.bindings.append(["import", head, head, stmt.lineno])
        elif isinstance(stmt, ast.ImportFrom):
            module = stmt.module or ""
            for alias in stmt.names:
                if alias.name == "*":
                    self.bindings.append(["star", "*", stmt.level, module, stmt.lineno])
                else:
                    self.bindings.append(
                        ["from", alias.asname or alias.name, stmt.level, module, alias.name, stmt.lineno]
                    )
        elif isinstance(stmt, ast.ClassDef):
            self.bindings.append(["class", stmt.name, stmt.lineno])
            self.klass(stmt, None)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.bindings.append(["def", stmt.name, stmt.lineno, stmt.col_offset + 1])
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self.assignment(target.id, stmt.value, stmt.lineno)
                elif isinstance(target, (ast.Tuple, ast.List)):
                    for element in target.elts:
                        if isinstance(element, ast.Name):
                            self.bindings.append(["value", element.id, stmt.lineno])
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            if stmt.target.id == "__all__":
                extra = self._all_list(stmt.value)
                if extra is not None and self.all is not None:
                    self.all.extend(extra)
        elif isinstance(stmt, _COMPOUND):
            for name in ("body", "orelse", "finalbody"):
                self.statements(getattr(stmt, name, []) or [])
            for handler in getattr(stmt, "handlers", []) or []:
                self.statements(handler.body)

    @staticmethod
    def _all_list(node: ast.AST | None) -> list[str] | None:
        if isinstance(node, (ast.List, ast.Tuple)):
            names = [_literal_str(e) for e in node.elts]
            if all(n is not None for n in names):
                return [n for n in names if n is not None]
        return None

    def assignment(self, name: str, value: ast.AST | None, line: int) -> None:
        if name == "__all__":
            self.all = self._all_list(value)
            return
        call_name = _call_name(value) if value is not None else None
        text = self.string(value)
        if text is not None:
            self.constants[name] = text
        else:
            self.constants.pop(name, None)  # rebound to something else
        if isinstance(value, ast.Call) and call_name in _VIRTUAL_FACTORIES:
            self.bindings.append(["virtual", name, self.schema_name(value, 1), line])
        elif isinstance(value, ast.Call) and call_name in _SCHEMA_FACTORIES:
            self.bindings.append(["schema", name, self.schema_name(value, 0), line])
        elif isinstance(value, (ast.Name, ast.Attribute)) and dotted(value):
            self.bindings.append(["alias", name, dotted(value), line])
        else:
            self.bindings.append(["value", name, line])

    # -- classes --------------------------------------------------------------------------------
    def klass(self, node: ast.ClassDef, parent: str | None) -> None:
        qualname = f"{parent}.{node.name}" if parent else node.name
        record: dict[str, Any] = {
            "qualname": qualname,
            "name": node.name,
            "parent": parent,
            "line": node.lineno,
            "column": node.col_offset + 1,
            "bases": [dotted(b) for b in node.bases],
            "decorators": [dotted(d) for d in node.decorator_list],
            "definition": None,
            "methods": {},
            "attributes": [],
            "aliases": {},
            # ``@dj.schema("name")`` used inline as the decorator
            "inline_schema": next(
                (
                    self.schema_name(d, 0)
                    for d in node.decorator_list
                    if isinstance(d, ast.Call) and _call_name(d) in _SCHEMA_FACTORIES
                ),
                None,
            ),
        }
        self.classes.append(record)
        self.class_body(node.body, record, qualname)

    def class_body(self, body: list[ast.stmt], record: dict[str, Any], qualname: str) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                self.klass(stmt, qualname)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                record["methods"][stmt.name] = [stmt.lineno, stmt.col_offset + 1]
                if stmt.name == "definition":
                    record["definition"] = {
                        "literal": False,
                        "line": stmt.lineno,
                        "column": stmt.col_offset + 1,
                    }
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                record["attributes"].extend(names)
                if "definition" in names and stmt.value is not None:
                    record["definition"] = self.definition(stmt.value)
                elif isinstance(stmt.value, (ast.Name, ast.Attribute)) and dotted(stmt.value):
                    # ``make = _make_summary``: a function bound as a method under another name
                    for name in names:
                        record["aliases"][name] = [dotted(stmt.value), stmt.lineno]
            elif isinstance(stmt, _COMPOUND):
                for name in ("body", "orelse", "finalbody"):
                    self.class_body(getattr(stmt, name, []) or [], record, qualname)
                for handler in getattr(stmt, "handlers", []) or []:
                    self.class_body(handler.body, record, qualname)

    def definition(self, value: ast.expr) -> dict[str, Any]:
        where = {"line": value.lineno, "column": value.col_offset + 1}
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return {"literal": False, **where}
        layout = self.lines.layout(value)
        if layout is None:
            text, lines, columns = value.value, None, None
        else:
            text, lines, columns = layout
        parsed = parse_definition(text, lines, columns, start_line=value.lineno)
        parsed.line = value.lineno
        return {**definition_record(parsed), "column": value.col_offset + 1}


def summarize(data: bytes) -> dict[str, Any]:
    """The summary of one file's bytes. Never raises: errors become {"error": {...}}."""
    return parse_and_summarize(data)[0]


def parse_and_summarize(data: bytes) -> tuple[dict[str, Any], ast.Module | None, str | None]:
    """(summary, the ast tree, the decoded text); tree and text are None when the file is broken."""
    text, error = decode_source(data)
    if error is not None or text is None:
        return {"error": error or {"line": 1, "column": 1, "message": "cannot decode"}}, None, None
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        where = {"line": exc.lineno or 1, "column": max(exc.offset or 1, 1)}
        return {"error": {**where, "message": f"{type(exc).__name__}: {exc.msg}"}}, None, None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return {"error": {"line": 1, "column": 1, "message": f"{type(exc).__name__}: {exc}"}}, None, None
    summarizer = _Summarizer(text)
    try:
        summarizer.module(tree, text)
    except RecursionError as exc:
        return {"error": {"line": 1, "column": 1, "message": f"too deeply nested: {exc}"}}, None, None
    summary = {
        "bindings": summarizer.bindings,
        "classes": summarizer.classes,
        "all": summarizer.all,
        "flags": sorted(summarizer.flags),
        "activations": summarizer.activations,
        "schema_activations": summarizer.schema_activations,
    }
    return summary, tree, text


def shape(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without its lines and columns: what the repository model's structure depends on
    (two summaries of the same shape differ only in where things are). Every binding, activation and
    alias ends with its line (see the bindings' layout above); a ``def`` with its line and column."""
    return {
        **summary,
        "bindings": [b[:2] if b[0] == "def" else b[:-1] for b in summary.get("bindings", [])],
        "activations": [a[:-1] for a in summary.get("activations", [])],
        "schema_activations": [a[:-1] for a in summary.get("schema_activations", [])],
        "classes": [
            {
                **record,
                "line": None,
                "column": None,
                "methods": list(record.get("methods", {})),
                "aliases": {name: target[:1] for name, target in record.get("aliases", {}).items()},
                "definition": (
                    None if record.get("definition") is None else definition_record_shape(record["definition"])
                ),
            }
            for record in summary.get("classes", [])
        ],
    }


class SummaryCache:
    """The summaries of one repository, in one ``marshal`` pack per root (a file of the cache layer,
    ``djlint.cachestore``: ``<dir>/summaries-<key>.pack``), a dict content-hash -> summary.

    One file (not one per module) because opening and creating hundreds of small files costs more
    than the whole warm analysis; ``marshal`` because it loads several times faster than JSON. The pack
    is written only when something was added; its signature is verified before it is unmarshalled (an
    unsigned pack, e.g. one a repository ships, is ignored and rebuilt). Entries not used by the
    current run are kept up to a bound, so alternating runs over parts of the repository stay warm.
    """

    def __init__(self, directory: Path | None, root: Path | None = None) -> None:
        self.cache_files = (
            Store(directory, "summaries", "summaries-{}.pack", keep=KEEP_PACKS, repository=root)
            if directory is not None else None
        )
        self.key = self.cache_files.key(str(root)) if self.cache_files is not None else ""
        self._entries: dict[str, dict[str, Any]] | None = None
        self._used: dict[str, dict[str, Any]] = {}
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = {}
            data = self.cache_files.load(self.key) if self.cache_files is not None else None
            if data is not None:  # signed with the user's key: written by this djlint, so well-formed
                try:
                    value = marshal.loads(data)
                    if isinstance(value, dict):
                        self._entries = value
                except Exception:  # noqa: BLE001 - damaged on the way: rebuild
                    self._entries = {}
        return self._entries

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._load().get(key)
        if isinstance(value, dict):
            self._used[key] = value
            return value
        return None

    def put(self, key: str, summary: dict[str, Any]) -> None:
        self._used[key] = summary
        self._dirty = True

    def flush(self, keep: int = 2000) -> None:
        """Write the pack if this run added entries."""
        if not self._dirty or self.cache_files is None:
            return
        old = self._load()
        extra = [k for k in old if k not in self._used][-max(keep, len(self._used)) :]
        merged = {**{k: old[k] for k in extra}, **self._used}
        try:
            self.cache_files.store(self.key, marshal.dumps(merged))
        except ValueError:
            pass  # not storable: the next run summarises again
        self._dirty = False


def load_summary(
    data: bytes, cache: SummaryCache | None
) -> tuple[str, dict[str, Any], ast.Module | None, str | None]:
    """(content hash, summary, ast tree or None, decoded text or None): tree and text only when the
    summary was computed now (a cache hit parses nothing)."""
    key = content_digest(data)
    if cache is not None:
        cached = cache.get(key)
        if cached is not None:
            return key, cached, None, None
    summary, tree, text = parse_and_summarize(data)
    if cache is not None:
        cache.put(key, summary)
    return key, summary, tree, text
