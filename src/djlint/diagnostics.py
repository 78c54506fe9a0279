"""The one record every rule produces and every front end prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, order=True)
class Related:
    """Another place of the same finding: where a read in a helper executes, the make() call reaching it."""

    path: str
    line: int
    column: int
    message: str


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the text from (line, column) up to (end_line, end_column), 1-based, end exclusive."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    replacement: str


@dataclass(frozen=True)
class Fix:
    """How to resolve a finding: what to do, and the edits that do it when they are mechanical.
    ``safe`` edits keep behaviour and schema (``--fix``); the others change a table (``--unsafe-fixes``)."""

    description: str
    edits: tuple[Edit, ...] = ()
    safe: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"description": self.description, "safe": self.safe,
                "edits": [{"path": e.path, "line": e.line, "column": e.column, "end_line": e.end_line,
                           "end_column": e.end_column, "replacement": e.replacement} for e in self.edits]}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Fix:
        edits = tuple(Edit(str(e["path"]), int(e["line"]), int(e["column"]), int(e["end_line"]),
                           int(e["end_column"]), str(e["replacement"])) for e in record.get("edits", ()))
        return cls(str(record["description"]), edits, bool(record.get("safe", False)))


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A finding. ``path`` is relative to the current directory with ``/`` separators;
    ``line`` and ``column`` are 1-based (flake8's plugin API converts the column to 0-based).

    The structured fields do not take part in equality or ordering (a finding is its place, code and
    message): ``table`` is the module-qualified table whose make() the finding is in, ``target`` the
    module-qualified table read or written, ``via`` the call chain from make() to the reported line,
    ``related`` the other places of the same finding.
    """

    path: str
    line: int
    column: int
    code: str
    message: str
    table: str | None = field(default=None, compare=False)
    target: str | None = field(default=None, compare=False)
    via: tuple[str, ...] = field(default=(), compare=False)
    related: tuple[Related, ...] = field(default=(), compare=False)
    fix: Fix | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        """The JSON record: the five core fields, then the structured ones that are set."""
        record: dict[str, object] = {
            "path": self.path, "line": self.line, "column": self.column,
            "code": self.code, "message": self.message,
        }
        if self.table is not None:
            record["table"] = self.table
        if self.target is not None:
            record["target"] = self.target
        if self.via:
            record["via"] = list(self.via)
        if self.related:
            record["related"] = [
                {"path": r.path, "line": r.line, "column": r.column, "message": r.message}
                for r in self.related
            ]
        if self.fix is not None:
            record["fix"] = self.fix.as_dict()
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Diagnostic:
        """The inverse of :meth:`as_dict` (raises on a malformed record)."""
        related = tuple(
            Related(str(r["path"]), int(r["line"]), int(r["column"]), str(r["message"]))
            for r in record.get("related", ())
        )
        return cls(
            str(record["path"]), int(record["line"]), int(record["column"]), str(record["code"]),
            str(record["message"]), table=record.get("table"), target=record.get("target"),
            via=tuple(str(v) for v in record.get("via", ())), related=related,
            fix=Fix.from_dict(record["fix"]) if record.get("fix") else None,
        )

    def rebased(self, path_of: Callable[[str], str]) -> Diagnostic:
        """The same finding with its path and its related places' paths mapped by ``path_of``."""
        fix = self.fix
        if fix is not None and fix.edits:
            fix = replace(fix, edits=tuple(replace(e, path=path_of(e.path)) for e in fix.edits))
        return replace(
            self, path=path_of(self.path),
            related=tuple(replace(r, path=path_of(r.path)) for r in self.related), fix=fix,
        )
