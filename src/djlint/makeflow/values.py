"""The abstract values the make() interpreter gives to local names and expressions.

A value is a frozenset of atoms (one per thing the name may hold after branches merge); the empty
set means "nothing we know about" (data, numbers, unknown names) and never leads to an alarm.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from djlint.makeflow.facts import Location


@dataclass(frozen=True)
class Tab:
    """A table class, instance or a query expression whose operand is ``table``.
    ``origin`` is where the table is named (where a read or write of it is reported);
    None for ``self`` (reported where it is used). ``alt``: the tables it is chosen among at run time
    (itself included; see ``choose``), empty when it is no such choice."""

    table: str
    origin: Location | None = None
    alt: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Mod:
    """A module of the analysed repository; ``alt`` as for ``Tab`` (``mod = acute if ... else chronic``).
    ``schema``: a virtual module of that schema (``dj.create_virtual_module``), whose attributes are the
    schema's tables rather than the module's globals."""

    name: str
    alt: frozenset[str] = frozenset()
    schema: str | None = None


@dataclass(frozen=True)
class Cls:
    """A (non-table) class of the repository."""

    class_id: str


@dataclass(frozen=True)
class Inst:
    """An instance of a (non-table) repository class."""

    class_id: str


@dataclass(frozen=True)
class Fn:
    """A function of the repository (key of Model.functions)."""

    function_id: str


@dataclass(frozen=True)
class LocalFn:
    """A function or lambda defined inside analysed code (nested def); ``index`` into the run's registry."""

    index: int


@dataclass(frozen=True)
class Ext:
    """A name from outside the repository, fully qualified (``datajoint.U``, ``builtins.zip``)."""

    name: str


@dataclass(frozen=True)
class Attr:
    """``receiver.name`` not resolved further (a method, or metadata such as ``heading``)."""

    receiver: Atom
    name: str
    # looked up on a class (``Table.f``, ``self.Part.f``, ``cls.f``), not an instance: a plain function
    # stored in the class is then called without binding its first parameter
    through_class: bool = False


@dataclass(frozen=True)
class Key:
    """The make key (a dict of the key's attributes)."""


@dataclass(frozen=True)
class KeyField:
    """``key['name']``: the make key's own value of ``name``."""

    name: str


@dataclass(frozen=True)
class Const:
    """A literal (number, string, None, bool)."""

    value: object
    text: str


@dataclass(frozen=True)
class Field:
    name: str
    value: Value
    source: ast.AST         # the expression that gave the value; shown in messages
    location: Location


@dataclass(frozen=True)
class Row:
    """A dict built in the analysed code. ``spread_key``: holds the make key's items (``{**key}``,
    ``dict(key, ...)``); ``open``: has entries we cannot name (``**other``, computed keys)."""

    fields: tuple[Field, ...]
    spread_key: bool
    open: bool

    def with_field(self, item: Field) -> Row:
        kept = tuple(f for f in self.fields if f.name != item.name)
        return Row(kept + (item,), self.spread_key, self.open)


@dataclass(frozen=True)
class Seq:
    """A list/tuple/set built in the analysed code; ``items`` what its elements may be."""

    items: Value


@dataclass(frozen=True)
class Gen:
    """A one-shot iterable (generator, map/filter/zip/iter/reversed/enumerate, itertools.*).
    ``ident`` is unique per creation; ``items`` what it yields, when known."""

    ident: int
    location: Location
    items: Value = frozenset()


@dataclass(frozen=True)
class Unk:
    """A name that resolves nowhere (Elements linking, a virtual module of an undeclared schema).
    Used as a table, it is noted once as unknown (informational DJ001); it never raises an alarm."""

    name: str
    location: Location


@dataclass(frozen=True)
class Upstream:
    """``self.upstream``."""


@dataclass(frozen=True)
class Super:
    """``super()`` inside a method of ``class_id``, bound to ``self_value``."""

    class_id: str
    self_value: Value


@dataclass(frozen=True)
class Partial:
    """``functools.partial(func, *args, **keywords)``: calling it calls ``func`` with these first.
    ``args``/``keywords`` hold (value, ast node) pairs, as the interpreter passes arguments."""

    func: Value
    args: tuple[tuple[Value, ast.AST], ...]
    keywords: tuple[tuple[str, tuple[Value, ast.AST]], ...]


Atom = (Tab | Unk | Mod | Cls | Inst | Fn | LocalFn | Ext | Attr | Key | KeyField | Const | Row | Seq | Gen | Upstream
        | Super | Partial)
Value = frozenset[Atom]
NOTHING: Value = frozenset()


def tables_in(value: Value, *, through_seq: bool = True) -> list[Tab]:
    """The table operands of a value (looking inside list/tuple literals: restriction lists)."""
    found: list[Tab] = []
    stack = list(value)
    while stack:
        atom = stack.pop()
        if isinstance(atom, Tab):
            found.append(atom)
        elif through_seq and isinstance(atom, Seq):
            stack.extend(atom.items)
    return found


def unknowns_in(value: Value) -> list[Unk]:
    found: list[Unk] = []
    stack = list(value)
    while stack:
        atom = stack.pop()
        if isinstance(atom, Unk):
            found.append(atom)
        elif isinstance(atom, Seq):
            stack.extend(atom.items)
    return found


def gens_in(value: Value) -> list[Gen]:
    return [atom for atom in value if isinstance(atom, Gen)]


def _choice_name(atom: Tab | Mod) -> str:
    return atom.table if isinstance(atom, Tab) else atom.name


def choose(arms: list[Value]) -> Value:
    """The value of a run-time choice among ``arms`` (``a if c else b``, ``a or b``, the states of an
    if/else merged): their union, where a table or module that only some arms hold is marked with the
    ones the other arms hold instead (``alt``), so a read of it can be judged on every alternative.
    Only a choice between distinct tables (or modules) is marked: arms that share one (``q`` vs
    ``q * B``) extend each other rather than replace, and arms holding none (``None``) read nothing."""
    union = frozenset().union(*arms)
    if len(arms) < 2 or not any(isinstance(a, (Tab, Mod)) for a in union):
        return union
    for kind in (Tab, Mod):
        held = [frozenset(_choice_name(a) for a in arm if isinstance(a, (Tab, Mod)) and isinstance(a, kind))
                for arm in arms]
        held = [names for names in held if names]
        if len(held) < 2 or sum(map(len, held)) != len(frozenset().union(*held)):
            continue   # one arm holds them all, or the arms overlap: not a choice between distinct ones
        everyone = frozenset().union(*held)
        union = frozenset(
            replace(a, alt=a.alt | everyone) if isinstance(a, kind) else a for a in union)
    return union


def carry_choice(chosen: dict[str, frozenset[str]], derived: dict[str, Value]) -> dict[str, Value]:
    """``mod.Clustering`` / ``table.Part`` where ``mod`` or ``table`` is a run-time choice: the tables
    derived from each alternative (``derived``: name -> value of its attribute) are alternatives of
    one another. ``chosen``: name -> the alternatives it was chosen among."""
    out: dict[str, Value] = {}
    for name, value in derived.items():
        siblings = frozenset(t.table for other in chosen[name] for t in derived.get(other, ())
                             if isinstance(t, Tab))
        if len(siblings) < 2:
            out[name] = value
        else:
            out[name] = frozenset(replace(a, alt=a.alt | siblings) if isinstance(a, Tab) else a for a in value)
    return out
