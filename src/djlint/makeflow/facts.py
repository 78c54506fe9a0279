"""What the analysis of make() bodies finds: plain records the rules turn into diagnostics.

Every fact names the make() owner (``table``, a TableId), the ``target`` table when there is one,
and where to report (``path``/``line``/``column``, 1-based; ``path`` is the module's display path).
``how`` is a short human description ("fetch1", "operand of &", "len()"...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import get_args, get_type_hints


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
    """Every fact found, one list per kind: a list typed ``list[SomeFact]`` here is what declares a fact
    kind (``FACT_KINDS``, the facts cache's encoding and ``all_facts`` follow from it)."""

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
        getattr(self, FACT_KINDS[type(fact)]).append(fact)

    def all_facts(self) -> list[Fact]:
        """Every fact, kind by kind in the order ``MakeFacts`` declares them."""
        return [fact for bucket in FACT_KINDS.values() for fact in getattr(self, bucket)]

    def dedupe(self) -> None:
        for bucket in FACT_KINDS.values():
            setattr(self, bucket, list(dict.fromkeys(getattr(self, bucket))))


def _fact_kinds() -> dict[type[Fact], str]:
    hints = get_type_hints(MakeFacts)
    kinds: dict[type[Fact], str] = {}
    for bucket in fields(MakeFacts):
        (item,) = get_args(hints[bucket.name])[:1] or (None,)
        if isinstance(item, type) and issubclass(item, Fact):
            kinds[item] = bucket.name
    return kinds


# each kind of fact -> the MakeFacts list that holds it, derived from MakeFacts' fields
FACT_KINDS: dict[type[Fact], str] = _fact_kinds()
