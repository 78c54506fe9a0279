"""The DataJoint definition language, parsed without datajoint and without ever raising.

A definition is the ``definition`` string of a table class::

    # table comment
    -> Session                      # primary key above the dashes
    unit_id = 0 : smallint          # attribute: name [= default] : type [# comment]
    ---
    -> [nullable] Probe.proj(probe='insertion')
    (reference) -> Electrode(electrode)      # legacy renamed foreign key
    quality : enum('good', 'mua')
    index(quality)

Lines are given back with their absolute line in the ``.py`` file through ``line_of`` (the caller
knows where each line of the string value physically sits). A parsed definition is kept in the per-file
summary as plain data (``definition_record``; ``AttributeRecord`` and ``ForeignKeyRecord`` name the
items of its lists) and made a ``Definition`` again by ``definition_from_record``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

DIVIDER = re.compile(r"^(-{3,}|_{3,})\s*(#.*)?$")  # the primary key ends here (a stripped line)
_INDEX = re.compile(r"^(unique\s+)?index\s*\(", re.IGNORECASE)
_LEGACY_FK = re.compile(r"^\(\s*(?P<new>[^()]*)\)\s*->\s*(?P<rest>.*)$", re.DOTALL)
_OPTIONS = re.compile(r"^\[(?P<options>[^\]]*)\]\s*(?P<rest>.*)$", re.DOTALL)
_REF = re.compile(r"^(?P<ref>[A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*(?P<tail>.*)$", re.DOTALL)
_ATTR_NAME = re.compile(r"^[A-Za-z_]\w*$")


@dataclass
class Attribute:
    name: str
    type: str
    default: str | None
    comment: str
    line: int
    in_key: bool
    column: int = 1


@dataclass
class ForeignKey:
    """``-> [options] Ref.proj(new='old')`` or legacy ``(new) -> Ref(old)``.

    ``ref`` is the referenced name as written (``lab.Session``, ``master``); ``target`` and
    ``unknown`` are filled by the model when it resolves ``ref`` in the module's scope.
    ``renames`` maps new attribute names to the referenced ones (``None`` when the legacy
    form ``(new) -> Ref`` leaves the old name implicit).
    """

    text: str
    ref: str | None
    primary: bool
    options: set[str]
    renames: dict[str, str | None]
    line: int
    column: int = 1
    target: str | None = None
    unknown: str | None = None


@dataclass
class Definition:
    attributes: list[Attribute] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    line: int = 1
    literal: bool = True
    comment: str = ""
    problems: list[tuple[int, str]] = field(default_factory=list)



def _split_comment(line: str) -> tuple[str, str]:
    """Split ``text # comment`` at the first ``#`` outside quotes."""
    quote: str | None = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), ""


def _split_colon(line: str) -> tuple[str, str] | None:
    """Split ``name = default : type`` at the first ``:`` outside quotes and brackets."""
    quote: str | None = None
    depth = 0
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == ":" and depth <= 0:
            return line[:index], line[index + 1 :]
    return None


def _proj_renames(call_text: str) -> dict[str, str | None] | None:
    """``.proj(new='old', ...)`` -> {new: old}; None when the text is not such a call."""
    try:
        node = ast.parse("_x" + call_text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "proj"):
        return None
    renames: dict[str, str | None] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            continue
        value = keyword.value
        renames[keyword.arg] = (
            value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
        )
    return renames


def parse_foreign_key(body: str, line: int, column: int, primary: bool) -> tuple[ForeignKey, str | None]:
    """Parse the text of one foreign-key line; returns the key and a problem (or None)."""
    text = body.strip()
    new_names: list[str] = []
    rest = text
    legacy = _LEGACY_FK.match(text)
    if legacy:
        new_names = [n.strip() for n in legacy.group("new").split(",") if n.strip()]
        rest = legacy.group("rest")
    else:
        rest = text[2:] if text.startswith("->") else text
    rest = rest.strip()
    options: set[str] = set()
    opt = _OPTIONS.match(rest)
    if opt:
        options = {o.strip().lower() for o in opt.group("options").split(",") if o.strip()}
        rest = opt.group("rest").strip()
    fk = ForeignKey(
        text=text, ref=None, primary=primary, options=options, renames={}, line=line, column=column
    )
    match = _REF.match(rest)
    if not match:
        return fk, f"cannot read the referenced table in {text!r}"
    ref = re.sub(r"\s+", "", match.group("ref"))
    tail = match.group("tail").strip()
    if ref.endswith(".proj") and tail.startswith("("):
        ref = ref[: -len(".proj")]
        tail = ".proj" + tail
    elif ref.endswith(".proj"):
        ref = ref[: -len(".proj")]
    fk.ref = ref
    problem = None
    if tail.startswith(".proj"):
        renames = _proj_renames(tail)
        if renames is None:
            problem = f"cannot read the renames in {text!r}"
        else:
            fk.renames = renames
    elif tail.startswith("(") and new_names:
        old_names = [n.strip() for n in tail.strip("()").split(",") if n.strip()]
        if len(old_names) == len(new_names):
            fk.renames = dict(zip(new_names, old_names, strict=True))
        else:
            problem = f"renamed attributes do not match in {text!r}"
    elif tail and tail != "()":
        problem = f"unexpected text after the referenced table in {text!r}"
    if new_names and not fk.renames:
        fk.renames = {name: None for name in new_names}
    return fk, problem


def parse_attribute(body: str, line: int, column: int, in_key: bool) -> tuple[Attribute | None, str | None]:
    text, comment = _split_comment(body)
    parts = _split_colon(text)
    if parts is None:
        return None, f"cannot read attribute line {body.strip()!r}"
    head, type_ = parts
    default: str | None = None
    if "=" in head:
        name, default = head.split("=", 1)
        default = default.strip()
    else:
        name = head
    name = name.strip()
    if not _ATTR_NAME.match(name) or not name.isidentifier():  # \w also takes e.g. "¼"
        return None, f"bad attribute name in {body.strip()!r}"
    return Attribute(
        name=name,
        type=type_.strip(),
        default=default,
        comment=comment,
        line=line,
        in_key=in_key,
        column=column,
    ), None


def parse_definition(
    text: str,
    line_of: Sequence[int] | Callable[[int], int] | None = None,
    column_of: Sequence[int] | Callable[[int], int] | None = None,
    start_line: int = 1,
) -> Definition:
    """Parse a definition string. Never raises: unreadable lines go to ``problems``.

    ``line_of[i]`` / ``column_of[i]`` give the absolute position of line ``i`` (0-based) of ``text``;
    by default line ``i`` is ``start_line + i``.
    """

    def where(table: Sequence[int] | Callable[[int], int] | None, index: int, default: int) -> int:
        try:
            if table is None:
                return default
            if callable(table):
                return int(table(index))
            return int(table[index]) if index < len(table) else (int(table[-1]) if table else default)
        except Exception:  # a bad mapping must not break parsing
            return default

    definition = Definition(line=start_line)
    if not isinstance(text, str):
        definition.literal = False
        return definition
    in_key = True
    first = True
    for index, raw in enumerate(text.split("\n")):
        stripped = raw.strip()
        if not stripped:
            continue
        line = where(line_of, index, start_line + index)
        column = where(column_of, index, len(raw) - len(raw.lstrip()) + 1)
        if stripped.startswith("#"):
            if first:
                definition.comment = stripped[1:].strip()
            first = False
            continue
        first = False
        if DIVIDER.match(stripped):
            in_key = False
            continue
        if stripped.startswith("->") or _LEGACY_FK.match(stripped):
            body, _comment = _split_comment(stripped)
            fk, problem = parse_foreign_key(body, line, column, in_key)
            definition.foreign_keys.append(fk)
            if problem:
                definition.problems.append((line, problem))
            continue
        if _INDEX.match(stripped):
            definition.indexes.append(_split_comment(stripped)[0])
            continue
        attribute, problem = parse_attribute(stripped, line, column, in_key)
        if attribute is not None:
            definition.attributes.append(attribute)
        if problem:
            definition.problems.append((line, problem))
    return definition


# -- the definition as plain data: the summary's record (lists and dicts, cached with marshal) -----------
class AttributeRecord(NamedTuple):
    """What the items of one attribute's list in a definition record are."""

    name: str
    type: str
    default: str | None
    comment: str
    line: int
    in_key: bool
    column: int


class ForeignKeyRecord(NamedTuple):
    """What the items of one foreign key's list in a definition record are."""

    text: str
    ref: str | None
    primary: bool
    options: list[str]
    renames: dict[str, str | None]
    line: int
    column: int


def definition_record(definition: Definition) -> dict[str, Any]:
    """``definition`` as plain data (what ``marshal`` can store); problems as ``[line, message]``."""
    return {
        "attributes": [
            list(AttributeRecord(a.name, a.type, a.default, a.comment, a.line, a.in_key, a.column))
            for a in definition.attributes
        ],
        "foreign_keys": [
            list(ForeignKeyRecord(f.text, f.ref, f.primary, sorted(f.options), f.renames, f.line, f.column))
            for f in definition.foreign_keys
        ],
        "indexes": definition.indexes,
        "line": definition.line,
        "literal": definition.literal,
        "comment": definition.comment,
        "problems": [list(p) for p in definition.problems],
    }


def definition_from_record(record: dict[str, Any] | None) -> Definition | None:
    """The ``Definition`` a record holds (``definition_record``, or ``{"literal": False, "line": ...}``
    for a definition that is not a literal string)."""
    if record is None:
        return None
    if not record.get("literal", True):
        return Definition(line=record.get("line", 1), literal=False)
    definition = Definition(line=record.get("line", 1), literal=True, comment=record.get("comment", ""))
    for a in map(AttributeRecord._make, record.get("attributes", [])):
        definition.attributes.append(Attribute(
            name=a.name, type=a.type, default=a.default, comment=a.comment, line=a.line, in_key=a.in_key,
            column=a.column))
    for f in map(ForeignKeyRecord._make, record.get("foreign_keys", [])):
        definition.foreign_keys.append(ForeignKey(
            text=f.text, ref=f.ref, primary=f.primary, options=set(f.options), renames=dict(f.renames),
            line=f.line, column=f.column))
    definition.indexes = list(record.get("indexes", []))
    definition.problems = [(line, message) for line, message in record.get("problems", [])]
    return definition


def definition_record_shape(record: dict[str, Any]) -> dict[str, Any]:
    """A definition record without its lines and columns (djlint.summaries.shape)."""
    attributes = map(AttributeRecord._make, record.get("attributes", []))
    foreign_keys = map(ForeignKeyRecord._make, record.get("foreign_keys", []))
    return {
        **record,
        "line": None,
        "column": None,
        "problems": [[message] for _line, message in record.get("problems", [])],
        "attributes": [[a.name, a.type, a.default, a.comment, a.in_key] for a in attributes],
        "foreign_keys": [[f.text, f.ref, f.primary, f.options, f.renames] for f in foreign_keys],
    }
