"""What the repository model holds: what a name means (``Symbol``), the functions, classes and tables it
found, the names its policy writes (``PolicyName``), and one analysed file (``ModuleInfo``).

Plain records, built by ``djlint.model`` from the per-file summaries; the rules and the make() analysis
read them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from djlint.definition import Definition

BindingKind = Literal["import", "from", "star", "class", "def", "value", "virtual", "schema", "alias"]


class Binding(NamedTuple):
    """A global binding of a module: what a name is bound to at module level.

    The summary stores it as a plain list (cached with marshal; layouts in ``djlint.summaries``);
    ``Binding.of`` names its parts once, where the model reads it."""

    kind: BindingKind
    name: str  # the bound name ("*" for a star import)
    line: int
    column: int = 1  # def
    module: str | None = None  # import: the module; from / star: the module named (relative: ``level``)
    level: int = 0  # from / star: the leading dots
    imported: str | None = None  # from: the name imported from ``module``
    schema: str | None = None  # virtual / schema: the database schema's name (None: not a literal)
    dotted: str | None = None  # alias: the dotted name bound again

    @classmethod
    def of(cls, record: list[Any]) -> Binding:
        kind = record[0]
        if kind == "import":
            return cls(kind, record[1], record[3], module=record[2])
        if kind == "from":
            return cls(kind, record[1], record[5], level=record[2], module=record[3], imported=record[4])
        if kind == "star":
            return cls(kind, record[1], record[4], level=record[2], module=record[3])
        if kind == "def":
            return cls(kind, record[1], record[2], column=record[3] if len(record) > 3 else 1)
        if kind in ("virtual", "schema"):
            return cls(kind, record[1], record[3], schema=record[2])
        if kind == "alias":
            return cls(kind, record[1], record[3], dotted=record[2])
        return cls(kind, record[1], record[2])  # class, value


SymbolKind = Literal["table", "class", "function", "module", "unknown", "external", "schema", "value"]


@dataclass(frozen=True)
class Symbol:
    """What a name means in a module's global scope.

    kind: "table" | "class" | "function" | "module" | "unknown" | "external" | "schema" | "value".
    target: TableId / class id / function id ("module.qualname") / module name / the unknown name as
    written / the external dotted name ("numpy.mean", "builtins.len", "datajoint.Computed") / the
    schema's database name ("" when not a literal) / "module.name" of a plain module-level variable.
    module: the defining module for table/class/function/value; the name for unknown.
    schema: for a virtual module (``dj.create_virtual_module``): its database name.
    """

    kind: SymbolKind
    target: str
    module: str | None = None
    schema: str | None = None


@dataclass
class FunctionInfo:
    id: str  # "module.qualname" (methods: "module.Class.method")
    module: str
    qualname: str
    name: str
    line: int
    column: int
    class_id: str | None = None


@dataclass
class ClassInfo:
    id: str
    module: str
    qualname: str
    name: str
    line: int
    column: int
    base_texts: list[str | None]
    decorators: list[str | None]
    methods: dict[str, FunctionInfo]
    attributes: list[str]
    parent: str | None = None  # enclosing class id (nested classes)
    bases: list[str] = field(default_factory=list)  # repo class ids, MRO order (transitive)
    direct_bases: list[Symbol] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)
    tier: str | None = None
    definition_record: dict[str, Any] | None = None
    aliases: dict[str, list[Any]] = field(default_factory=dict)  # ``make = helper``: name -> [dotted, line]
    inline_schema: str | None = None  # ``@dj.schema("name")`` as the decorator
    inherited_from: str | None = None  # a Part nested in a template base class: that class's id

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "definition_record": None}  # parsed into the table's definition


@dataclass
class TableInfo:
    id: str
    module: str
    qualname: str
    path: str  # display path
    line: int
    column: int
    tier: str
    master: str | None
    parts: list[str]
    definition: Definition | None
    bases: list[str]
    schema: str | None
    definition_path: str = (
        ""  # display path of the file holding the definition (a base class's, if inherited)
    )
    definition_owner: str | None = None  # id of the class whose ``definition`` this is


class BrokenFile(NamedTuple):
    """A file the build could not read as Python (DJ000 words it): ``unreadable`` (``detail`` says why,
    e.g. not a regular file, too large, a read error) or ``syntax`` (the parser's message at its line)."""

    path: str
    line: int
    column: int
    problem: Literal["unreadable", "syntax"]
    detail: str


class PolicyName(NamedTuple):
    """A table name written in the ``allow`` policy, and where: ``role`` is "table" (the entry's own
    table), "reads" or "writes"; ``entry`` the entry's table as written; ``path`` as reported."""

    path: str
    line: int
    entry: str
    role: str
    name: str


class ModuleInfo:
    """One analysed file; ``ast_tree`` is parsed on first use (or handed over by the cheap pass)."""

    def __init__(
        self,
        name: str,
        path: Path,
        display_path: str,
        source: str,
        digest: str,
        is_package: bool,
        summary: dict[str, Any],
    ) -> None:
        self.name = name
        self.path = path
        self.display_path = display_path
        self.source = source
        self.digest = digest
        self.is_package = is_package
        self.summary = summary
        self._ast: Any = None
        self._lines: list[str] | None = None

    def __repr__(self) -> str:
        return f"ModuleInfo({self.name!r}, {self.display_path!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Of the summary, only what name resolution reads after the build (the rest is in the model's
        # indexes); tree and lines are re-derived from the source on use.
        kept = {key: self.summary[key] for key in ("all", "flags") if key in self.summary}
        return {**self.__dict__, "summary": kept, "_ast": None, "_lines": None}

    def replace_source(self, digest: str, summary: dict[str, Any], tree: Any, source: str) -> None:
        """The file changed but its summary did not (djlint.snapshot): only the text is new."""
        self.digest, self.summary, self.source = digest, summary, source
        self._ast, self._lines = tree, None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.splitlines()
        return self._lines

    @property
    def ast_tree(self) -> Any:
        if self._ast is None:
            self._ast = ast.parse(self.source)
        return self._ast