"""What the analysis of make() bodies finds: plain records the rules turn into diagnostics.

Every fact names the make() owner (``table``, a TableId), the ``target`` table when there is one,
and where to report (``path``/``line``/``column``, 1-based; ``path`` is the module's display path).
``how`` is a short human description ("fetch1", "operand of &", "len()"...).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int
    column: int


@dataclass(frozen=True)
class Fact:
    table: str
    location: Location
    how: str

    @property
    def path(self) -> str:
        return self.location.path

    @property
    def line(self) -> int:
        return self.location.line

    @property
    def column(self) -> int:
        return self.location.column


@dataclass(frozen=True)
class Read(Fact):
    """make() of ``table`` reads ``target``. ``alternatives``: when the table read is chosen at run time
    (``src = A if c else B``, ``mod = acute or chronic``), every table it is chosen among (``target``
    included); the read is a sure sideways read only if all of them are out of the allowed set."""

    target: str = ""
    via: tuple[str, ...] = ()  # the calls from make() to the function holding the reported line
    executes: Location | None = None  # where the read runs, when not at the reported line
    call: Location | None = None  # the call in make() that reaches it, when ``via`` is not empty
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Write(Fact):
    """make() of ``table`` writes ``target`` (insert, update1, delete, raw SQL, other table's method)."""

    target: str = ""
    via: tuple[str, ...] = ()
    executes: Location | None = None
    call: Location | None = None


@dataclass(frozen=True)
class UpstreamIndex(Fact):
    """``self.upstream[target]`` inside make() of ``table``."""

    target: str = ""


@dataclass(frozen=True)
class KeyMismatch(Fact):
    """A row written by make() of ``table`` sets key attribute ``attribute`` to ``value`` (source text)."""

    target: str = ""
    attribute: str = ""
    value: str = ""


@dataclass(frozen=True)
class OneShotReuse(Fact):
    """A one-shot iterable bound to ``name`` is consumed again here (first at ``first``)."""

    name: str = ""
    first: Location | None = None


@dataclass(frozen=True)
class Connect(Fact):
    """A separate database connection is opened inside make() (``how`` = the callable's name)."""


@dataclass
class MakeFacts:
    reads: list[Read] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    upstream_indexes: list[UpstreamIndex] = field(default_factory=list)
    key_mismatches: list[KeyMismatch] = field(default_factory=list)
    one_shot_reuses: list[OneShotReuse] = field(default_factory=list)
    connections: list[Connect] = field(default_factory=list)
    # make() entry points analysed, as (table, "module.Class.method")
    entries: list[tuple[str, str]] = field(default_factory=list)
    # make() analyses stopped by an internal error: (table, function, error)
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, fact: Fact) -> None:
        bucket = {
            Read: self.reads,
            Write: self.writes,
            UpstreamIndex: self.upstream_indexes,
            KeyMismatch: self.key_mismatches,
            OneShotReuse: self.one_shot_reuses,
            Connect: self.connections,
        }[type(fact)]
        bucket.append(fact)

    def dedupe(self) -> None:
        for name in ("reads", "writes", "upstream_indexes", "key_mismatches", "one_shot_reuses", "connections"):
            items = getattr(self, name)
            setattr(self, name, list(dict.fromkeys(items)))
