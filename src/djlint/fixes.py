"""The way out of each finding: advice for every code, and the edits that are mechanical.

Rules call the ``*_fix`` functions to attach a :class:`~djlint.diagnostics.Fix` to their diagnostics.
Edits are computed from the positions Python's ``ast`` and the definition parser already give (cheap,
during the analysis); :func:`apply` writes them, checking with libcst that each edited file still
parses, so that nothing else in the file changes (comments and formatting survive by construction).

* safe (``--fix``): DJ401 — materialise the one-shot iterable with ``list(...)`` where it is bound.
* unsafe (``--unsafe-fixes``): DJ201 — declare the read table as a secondary foreign key of the make()'s
  table (a schema change: existing rows need a migration).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from djlint.definition import DIVIDER
from djlint.diagnostics import Diagnostic, Edit, Fix



def policy_entry(model: Any, table: str, *, reads: Iterable[str] = (), writes: Iterable[str] = ()) -> str:
    """The policy entry sanctioning these reads/writes, as one TOML line of advice, in the table the
    repository's policy lives in (``[tool.djlint]`` or ``[tool.dj-provenance]``)."""
    parts = []
    if reads:
        parts.append("reads = [" + ", ".join(f'"{r}"' for r in sorted(reads)) + "]")
    if writes:
        parts.append("writes = [" + ", ".join(f'"{w}"' for w in sorted(writes)) + "]")
    return model.policy.entry_name(table) + " " + "; ".join(parts)


def read_fix(model: Any, table: str, target: str, keys: Any = None) -> Fix:
    """DJ201: declare the dependency when the read table could be a parent; otherwise say why not.
    ``keys``: a ``KeyAttributes`` of the model shared by the findings of one run."""
    name, read = model.table_name(table, schema=False), model.table_name(target, schema=False)
    sanction = f"or sanction the read with {policy_entry(model, table, reads=[target])}"
    if _finer_grained(model, table, target, keys):
        return Fix(
            f"{read} has several rows per {name} key (it is finer-grained than {name}): a foreign key to it "
            f"would change {name}'s grain. Compute this in a table downstream of both (-> {name}, -> {read}) "
            f"that aggregates, or give {name} a key_source that waits for {read}'s rows; {sanction}")
    reference, import_edit = _reference(model, table, target)
    edits = _dependency_edits(model, table, reference)
    if edits and import_edit is not None:
        edits = (import_edit, *edits)
    return Fix(
        f"declare the dependency: add `-> {reference}` below `---` in {name}'s definition (a secondary "
        f"foreign key: existing rows need a migration that fills it; above `---` it would join {name}'s "
        f"primary key and change the table's key); {sanction}",
        edits, safe=False)


def _finer_grained(model: Any, table: str, target: str, keys: Any = None) -> bool:
    """Is ``target`` below ``table``, or keyed by part of ``table``'s key plus attributes of its own (a
    per-subject summary reading the subject's sessions)? Then it is aggregated, not a parent."""
    if target in model.unknowns.below(table):
        return True
    from djlint.makeflow.keys import KeyAttributes

    keys = keys if keys is not None else KeyAttributes(model)
    own, other = keys.primary_key(table), keys.primary_key(target)
    return bool(own & other) and bool(other - own)


def write_fix(model: Any, table: str, target: str) -> Fix:
    """DJ301: the write belongs to the written table's own make(), or to a Part, or to the policy."""
    name, written = model.table_name(table, schema=False), model.table_name(target, schema=False)
    return Fix(
        f"move the write into a make() of {written} (populated from {name}'s rows), or make {written} a "
        f"Part of {name} (inserted with it), or sanction it with {policy_entry(model, table, writes=[target])}")


def key_fix(attribute: str) -> Fix:
    """DJ302: the row's key attribute must be the make key's."""
    return Fix(f'write the key value from the make key: {attribute}=key["{attribute}"] '
               f"(or build the row as dict(key, ...) without overriding {attribute})")


def primary_key_fix(table: str, attribute: str) -> Fix:
    """DJ101: a Computed/Imported primary key comes from its foreign keys only."""
    return Fix(f"move {attribute} below `---` (a dependent attribute of each key), or into a Part table of "
               f"{table} with {attribute} in the Part's primary key (one row per value)")


def connection_fix() -> Fix:
    """DJ501: use the connection populate() runs make() in."""
    return Fix("use the table's own connection (self.connection, dj.conn() without reset), inside "
               "populate()'s transaction")


def upstream_fix(model: Any, table: str, target: str) -> Fix:
    """DJ202: self.upstream holds only foreign-key ancestors."""
    name, other = model.table_name(table, schema=False), model.table_name(target, schema=False)
    return Fix(f"read {other} directly ({other} & key) if it is in {name}'s allowed set, or declare the "
               f"dependency (-> {other}) to make it an ancestor")


def one_shot_fix(model: Any, path: str, line: int, name: str, first_line: int | None) -> Fix:
    """DJ401: materialise the iterable where it is bound (``list(...)``), when that binding is found."""
    edit = _materialise_edit(model, path, line, name, first_line)
    return Fix(f"materialise it once where it is bound: {name} = list(...)", (edit,) if edit else (),
               safe=edit is not None)


# --------------------------------------------------------------------------------------------- edits
def _reference(model: Any, table: str, target: str) -> tuple[str, Edit | None]:
    """How the module holding ``table``'s definition names ``target``: a global that already means the
    table or its module, else its class name plus an import to add."""
    owner = model.tables[table]
    module = model.classes[owner.definition_owner].module if owner.definition_owner in model.classes else owner.module
    info = model.tables[target]
    head, _, rest = info.qualname.partition(".")
    if info.module == module:
        return info.qualname, None
    for name in model.global_names(module):
        symbol = model.resolve(module, name)
        if symbol is None:
            continue
        if symbol.kind == "module" and symbol.target == info.module:
            return f"{name}.{info.qualname}", None
        if symbol.kind == "table" and symbol.target == target:
            return name, None
        if symbol.kind == "table" and rest and symbol.target == f"{info.module}.{head}":
            return f"{name}.{rest}", None
    source = model.modules[module]
    return info.qualname, _import_edit(source, f"from {info.module} import {head}\n")


def _import_edit(source: Any, statement: str) -> Edit | None:
    """Insert ``statement`` after the module's last top-level import."""
    try:
        tree = source.ast_tree  # the module's own parse, shared with the make() analysis
    except (SyntaxError, ValueError):
        return None
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    after = max((n.end_lineno or n.lineno for n in imports), default=0)
    return Edit(source.display_path, after + 1, 1, after + 1, 1, statement)


def _dependency_edits(model: Any, table: str, reference: str) -> tuple[Edit, ...]:
    """``-> reference`` as the first secondary line of the table's own definition (not one inherited
    from a base class: that edit would change every table sharing it)."""
    info = model.tables[table]
    definition = info.definition
    if definition is None or not definition.literal or info.definition_owner not in (None, table):
        return ()
    source = model.by_path.get(info.definition_path or info.path)
    if source is None:
        return ()
    lines = source.source.splitlines()
    entries = [e.line for e in (*definition.attributes, *definition.foreign_keys)]
    if not entries:
        return ()
    last = max(entries)
    for number in range(definition.line, min(last + 1, len(lines)) + 1):
        text = lines[number - 1]
        if DIVIDER.match(text.replace('"""', "").replace("'''", "").strip()):
            indent = text[: len(text) - len(text.lstrip())]
            return (Edit(source.display_path, number + 1, 1, number + 1, 1, f"{indent}-> {reference}\n"),)
    # no secondary part yet: the dashes and the reference after the last entry
    text = lines[last - 1]
    if '"""' in text or "'''" in text:
        return ()
    indent = text[: len(text) - len(text.lstrip())]
    return (Edit(source.display_path, last + 1, 1, last + 1, 1, f"{indent}---\n{indent}-> {reference}\n"),)


def _materialise_edit(model: Any, path: str, line: int, name: str, first_line: int | None) -> Edit | None:
    """``name = <iterable>`` → ``name = list(<iterable>)``: the last assignment to ``name`` before its first
    consumer, in the function holding ``line``. Found in the text (the statement alone is parsed): the
    module's tree is not loaded on an incremental run, and parsing it again costs more than all else."""
    source = model.by_path.get(path)
    if source is None:
        return None
    lines = source.source.splitlines(keepends=True)
    assignment = re.compile(rf"^(\s*){re.escape(name)}\s*(?::[^=]*)?=(?!=)")
    depth = _indent(lines[line - 1]) if 0 < line <= len(lines) else 0
    for number in range(min(first_line or line, len(lines) + 1) - 1, 0, -1):
        text = lines[number - 1]
        if _DEF.match(text) and _indent(text) < depth:
            return None  # reached the function's own def: no binding in it
        match = assignment.match(text)
        if match is None:
            continue
        value = _statement_value(lines, number, len(match.group(1)))
        if value is None:
            return None
        start, end = value
        piece = _slice(lines, *start, *end)
        wrapped = f"list{piece}" if piece.startswith("(") and _is_generator_expression(piece) else f"list({piece})"
        return Edit(path, start[0], _column(lines, *start), end[0], _column(lines, *end), wrapped)
    return None


_DEF = re.compile(r"^\s*(async\s+)?def\s")


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _statement_value(lines: Sequence[str], number: int, indent: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(line, byte offset) of the start and end of the value of the assignment statement starting at line
    ``number``: the statement is parsed alone, growing line by line until it parses (at most 50 lines)."""
    for last in range(number, min(number + 50, len(lines)) + 1):
        snippet = lines[number - 1][indent:] + "".join(lines[number:last])
        tree = _parse(snippet)
        if tree is None or not tree.body:
            continue
        statement = tree.body[0]
        value = getattr(statement, "value", None)
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or value is None or value.end_lineno is None:
            return None
        shift = len(lines[number - 1][:indent].encode("utf-8"))

        def place(row: int, offset: int) -> tuple[int, int]:
            return number + row - 1, offset + (shift if row == 1 else 0)

        return place(value.lineno, value.col_offset), place(value.end_lineno, value.end_col_offset or 0)
    return None


def _is_generator_expression(text: str) -> bool:
    tree = _parse(text)
    return tree is not None and len(tree.body) == 1 and isinstance(getattr(tree.body[0], "value", None),
                                                                      ast.GeneratorExp)


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _column(lines: Sequence[str], line: int, byte_offset: int) -> int:
    """ast's UTF-8 byte offset as a 1-based character column."""
    return len(lines[line - 1].encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1


def _slice(lines: Sequence[str], line: int, start: int, end_line: int, end: int) -> str:
    data = "".join(lines[line - 1:end_line]).encode("utf-8")
    last = sum(len(x.encode("utf-8")) for x in lines[line - 1:end_line - 1]) + end
    return data[start:last].decode("utf-8")


# --------------------------------------------------------------------------------------------- apply
@dataclass(frozen=True)
class Applied:
    path: Path
    before: str
    after: str
    fixed: int


def plan(diagnostics: Sequence[Diagnostic], cwd: Path, *, unsafe: bool) -> list[Applied]:
    """The files the fixes change, edited in memory (nothing is written). An edit that overlaps another is
    left out, and a file whose edited text would not parse (checked with libcst) is left as it is."""
    import libcst

    by_file: dict[Path, list[tuple[Edit, int]]] = {}
    for number, diagnostic in enumerate(diagnostics):
        fix = diagnostic.fix
        if fix is None or not fix.edits or not (fix.safe or unsafe):
            continue
        for edit in fix.edits:
            by_file.setdefault((cwd / edit.path).resolve(), []).append((edit, number))
    planned = []
    for path, edits in sorted(by_file.items()):
        try:
            before = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        after, fixed = _splice(before, edits)
        try:
            libcst.parse_module(after)
        except libcst.ParserSyntaxError:
            continue
        if after != before:
            planned.append(Applied(path, before, after, fixed))
    return planned


def _splice(text: str, edits: list[tuple[Edit, int]]) -> tuple[str, int]:
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        if line > len(lines):
            return len(text)
        return starts[line - 1] + column - 1

    owners: dict[tuple[int, int, str], set[int]] = {}  # one edit may serve several findings
    for edit, number in edits:
        span = (offset(edit.line, edit.column), offset(edit.end_line, edit.end_column), edit.replacement)
        owners.setdefault(span, set()).add(number)
    kept: list[tuple[int, int, str]] = []
    for span in sorted(owners, reverse=True):  # from the end, so earlier offsets stay valid
        if kept and span[1] > kept[-1][0]:
            continue  # overlaps an edit already kept
        kept.append(span)
    for start, end, replacement in kept:
        text = text[:start] + replacement + text[end:]
    return text, len(set().union(*(owners[span] for span in kept))) if kept else 0


def diff(planned: Sequence[Applied], cwd: Path) -> str:
    chunks: list[str] = []
    for change in planned:
        name = change.path.relative_to(cwd).as_posix() if change.path.is_relative_to(cwd) else str(change.path)
        chunks.extend(difflib.unified_diff(change.before.splitlines(keepends=True),
                                           change.after.splitlines(keepends=True), f"a/{name}", f"b/{name}"))
    return "".join(chunks)


def write(planned: Sequence[Applied]) -> int:
    """Write the edited files; the number of findings fixed."""
    for change in planned:
        change.path.write_text(change.after, encoding="utf-8")
    return sum(change.fixed for change in planned)
