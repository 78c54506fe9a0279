"""Key consistency in the make() interpreter (the facts DJ302 reads): a row make() writes into its own
table (or a Part of it) that sets a key attribute of the make key to a constant or to another key field
records a ``KeyMismatch`` at the field.
"""

from __future__ import annotations

from djlint.makeflow.facts import KeyMismatch
from djlint.makeflow.frames import Frame
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import source_text
from djlint.makeflow.values import Const, Gen, KeyField, Row, Seq, Tab, Value


class KeyConsistency(RunState):
    """Rows inserted into the table's own entity: key attributes set to another value than the key's."""

    def check_rows(self, value: Value, tab: Tab, how: str, frame: Frame) -> None:
        seen: set[int] = set()
        stack = list(value)
        while stack:
            atom = stack.pop()
            if id(atom) in seen:
                continue
            seen.add(id(atom))
            if isinstance(atom, (Seq, Gen)):
                stack.extend(atom.items)
            elif isinstance(atom, Row):
                for field in atom.fields:
                    if field.name in self.key_attributes and self._mismatch(field.name, field.value):
                        self.facts.add(KeyMismatch(self.owner, field.location, how, tab.table, field.name,
                                                   source_text(field.source)))

    @staticmethod
    def _mismatch(name: str, value: Value) -> bool:
        """Decidably not the make key's own value: only constants and other key fields."""
        if not value:
            return False
        for atom in value:
            if isinstance(atom, Const):
                continue
            if isinstance(atom, KeyField) and atom.name != name:
                continue
            return False
        return True
