"""Which attributes the make key of a table holds, from the definitions (for DJ302)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from djlint.model import Model, TableInfo


class KeyAttributes:
    """Primary keys computed from definitions and the resolved foreign keys (memoised).

    ``make_key(T)``: the attributes every make() key of T holds, i.e. those T's primary key inherits
    through its primary foreign keys (the default key_source is the join of the primary parents).
    ``complete`` is False when an unknown parent may add attributes we cannot name.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        self._primary: dict[str, frozenset[str]] = {}

    def primary_key(self, table_id: str, _seen: frozenset[str] = frozenset()) -> frozenset[str]:
        if table_id in self._primary:
            return self._primary[table_id]
        info = self.model.tables.get(table_id)
        if info is None or info.definition is None or table_id in _seen:
            return frozenset()
        names = {a.name for a in info.definition.attributes if a.in_key}
        names |= self._inherited(info, _seen | {table_id})
        result = frozenset(names)
        self._primary[table_id] = result
        return result

    def _inherited(self, info: TableInfo, seen: frozenset[str]) -> set[str]:
        names: set[str] = set()
        for fk in info.definition.foreign_keys if info.definition is not None else ():
            if not fk.primary or fk.target is None:
                continue
            parent = set(self.primary_key(fk.target, seen))
            renames = dict(fk.renames or {})
            for new, old in renames.items():
                if old is None and len(parent) == 1:
                    old = next(iter(parent))
                if old in parent:
                    parent.discard(old)
                    parent.add(new)
            names |= parent
        return names

    def make_key(self, table_id: str) -> frozenset[str]:
        info = self.model.tables.get(table_id)
        if info is None or info.definition is None:
            return frozenset()
        return frozenset(self._inherited(info, frozenset({table_id})))
