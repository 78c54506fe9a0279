"""Name and attribute lookup for the make() interpreter: what a global name means in the model (a table,
class, function, module, a module-level value), and what ``receiver.attribute`` holds - a Part, the
master, a property (run), a class-level or instance attribute, or a method left for the call. Module- and
class-level values are evaluated silently: that code runs at import time, not in make().
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from djlint.astnames import dotted_name
from djlint.makeflow import names as N
from djlint.makeflow.facts import Location, MakeFacts
from djlint.makeflow.frames import Frame
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import decorated, names_a_class, root_name
from djlint.makeflow.values import (
    NOTHING, Atom, Attr, Cls, Const, Ext, Fn, Gen, Inst, Key, Mod, Partial, Row, Seq, Super, Tab, Unk,
    Upstream, Value, carry_choice,
)

if TYPE_CHECKING:
    from djlint.model import ClassInfo, Symbol


class Lookups(RunState):
    """What a global name or ``receiver.attribute`` holds."""

    def ev_Attribute(self, node: ast.Attribute, frame: Frame) -> Value:
        root = root_name(node)
        dotted = dotted_name(node)
        if dotted is not None and root is not None and root not in frame.env:
            symbol = self.resolve(frame.module.name, dotted)
            # methods reached through a class are looked up step by step, keeping the receiver
            if symbol is not None and symbol.kind not in ("unknown", "function"):
                return self.symbol_value(symbol, self.named_at(frame, node))
        base = self.ev(node.value, frame)
        return self.attribute(base, node.attr, node, frame)

    def global_value(self, frame: Frame, dotted: str, node: ast.AST) -> Value:
        symbol = self.resolve(frame.module.name, dotted)
        if symbol is None:
            return NOTHING
        return self.symbol_value(symbol, self.placed(frame, self.loc(frame, node)) if symbol.kind == "table"
                                  else self.loc(frame, node))

    def symbol_value(self, symbol: Symbol | None, where: Location | None) -> Value:
        if symbol is None:
            return NOTHING
        kind = symbol.kind
        if kind == "table":
            return frozenset({Tab(symbol.target, where)})
        if kind == "class":
            return frozenset({Cls(symbol.target)})
        if kind == "function":
            return frozenset({Fn(symbol.target)})
        if kind == "module":
            if symbol.schema is not None:
                return frozenset({Mod(symbol.target, schema=symbol.schema)})
            return frozenset({Mod(symbol.target)})
        if kind == "external":
            return frozenset({Ext(symbol.target)})
        if kind == "unknown" and where is not None:
            return frozenset({Unk(symbol.target, where)})
        if kind == "value" and symbol.module in self.model.modules:
            return self.module_value(symbol.module, symbol.target[len(symbol.module) + 1:])
        return NOTHING

    def module_value(self, module_name: str, name: str) -> Value:
        """A module-level variable (``TABLES = {"a": A}``): its value, evaluated silently (import time)."""
        key = (module_name, name)
        if key in self.module_values:
            return self.module_values[key]
        self.module_values[key] = NOTHING      # guards self-reference
        module = self.model.modules[module_name]
        tree = self.sources.tree(module)
        value: Value = NOTHING
        if tree is not None and name:
            frame = Frame(module, f"{module_name}.{name}", None, {}, entry=False)
            value = self.assigned_value(tree.body, name, frame)
            self.touch(module)
        value = frozenset(a for a in value if isinstance(a, (Tab, Mod, Cls, Seq, Row, Const, Partial)))
        self.module_values[key] = value
        return value

    def assigned_value(self, body: list[ast.stmt], name: str, frame: Frame) -> Value:
        """The value the last top-level ``name = ...`` of a module or class body gives ``name``. Such a body
        runs at import time: what it reads is not read by make(), so its facts are discarded."""
        value: Value = NOTHING
        facts, self.facts = self.facts, MakeFacts()
        try:
            for statement in body:
                if isinstance(statement, ast.Assign):
                    if any(isinstance(t, ast.Name) and t.id == name for t in statement.targets):
                        value = self.ev(statement.value, frame)
                elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
                        and statement.target.id == name and statement.value is not None:
                    value = self.ev(statement.value, frame)
        finally:
            self.facts = facts
        return value

    def attribute(self, base: Value, name: str, node: ast.AST, frame: Frame) -> Value:
        if len(base) == 1:
            for atom in base:
                if not (isinstance(atom, (Tab, Mod)) and atom.alt):
                    return self._attribute(atom, name, node, frame)
        result: set[Atom] = set()
        chosen: dict[str, frozenset[str]] = {}
        derived: dict[str, Value] = {}
        for atom in base:
            found = self._attribute(atom, name, node, frame)
            if isinstance(atom, (Tab, Mod)) and atom.alt:
                # ``mod.Clustering`` of ``mod = acute if ... else chronic``: a choice among their tables
                label = atom.table if isinstance(atom, Tab) else atom.name
                chosen[label] = atom.alt
                derived[label] = derived.get(label, NOTHING) | found
            else:
                result |= found
        if derived:
            for value in carry_choice(chosen, derived).values():
                result |= value
        return frozenset(result)

    def _attribute(self, atom: Atom, name: str, node: ast.AST, frame: Frame) -> Value:
        """``atom.name`` for one atom of the receiver."""
        if isinstance(atom, Tab):
            info = self.model.tables.get(atom.table)
            part = f"{atom.table}.{name}"
            if name == "upstream":
                return frozenset({Upstream()})
            if name == "__class__":
                return frozenset({atom})
            if part in self.model.tables:
                return frozenset({Tab(part, self.named_at(frame, node))})
            if name == "master" and info is not None and info.master:
                return frozenset({Tab(info.master, self.named_at(frame, node))})
            if name in N.METADATA and not self.user_method(atom.table, name):
                return NOTHING
            member = self.class_member(atom.table, atom, name, node, frame)
            if member is None:
                member = self.instance_values.get((atom.table, name))
            through_class = isinstance(node, ast.Attribute) and names_a_class(node.value)
            return member if member is not None else frozenset({Attr(atom, name, through_class)})
        if isinstance(atom, Unk):
            return frozenset({Unk(f"{atom.name}.{name}", atom.location) if name[:1].isupper() else Attr(atom, name)})
        if isinstance(atom, Mod):
            return self.symbol_value(self.resolve(atom.name, name, atom.schema), self.named_at(frame, node))
        if isinstance(atom, Ext):
            return frozenset({Ext(f"{atom.name}.{name}")})
        if isinstance(atom, Cls):
            nested = f"{atom.class_id}.{name}"
            if nested in self.model.tables:
                return frozenset({Tab(nested, self.named_at(frame, node))})
            if nested in self.model.classes:
                return frozenset({Cls(nested)})
            return frozenset({Attr(atom, name)})
        if isinstance(atom, Inst):
            member = self.class_member(atom.class_id, atom, name, node, frame)
            if member is None:
                member = self.instance_values.get((atom.class_id, name))
            return member if member is not None else frozenset({Attr(atom, name)})
        if isinstance(atom, (Key, Row, Super, Const, Seq, Gen, Upstream)):
            return frozenset({Attr(atom, name)})
        return NOTHING

    def user_method(self, table: str, name: str) -> bool:
        """The table or one of its repo bases defines ``name`` (``log``, ``describe``...) as a method:
        it shadows datajoint's attribute of that name. ``key_source`` stays metadata: populate() reads it."""
        return name != "key_source" and self.model.method_info(table, name) is not None

    def class_member(self, class_id: str, receiver: Atom, name: str, node: ast.AST,
                     frame: Frame) -> Value | None:
        """``obj.name`` when the repo class defines it as a property (run it) or as a class-level
        assignment (its value, evaluated in the class's module); None for methods and the unknown."""
        found = self.sources.method(class_id, name)
        if found is not None:
            module, function, info = found
            if not decorated(function, "property", "cached_property"):
                return None
            return self.invoke(module, function, info.class_id, frozenset({receiver}), [], {}, node, frame)
        if self.model.method_info(class_id, name) is not None:
            return None
        cls = self.model.classes.get(class_id)
        if cls is None:
            return None
        for candidate in [cls.id, *cls.bases]:
            owner = self.model.classes.get(candidate)
            if owner is not None and name in owner.attributes:
                return self.class_attribute(owner, name)
        return None

    def class_attribute(self, owner: ClassInfo, name: str) -> Value:
        key = (owner.id, name)
        if key in self.class_values:
            return self.class_values[key]
        self.class_values[key] = NOTHING      # guards self-reference
        found = self.sources.klass(owner)
        value: Value = NOTHING
        if found is not None:
            module, klass = found
            self.touch(module)
            frame = Frame(module, f"{owner.id}.{name}", owner.id, {}, entry=False)
            # the class body runs at import time: what it reads is not read by make(); only the value
            # (e.g. a table the attribute names) matters when make() uses it
            value = self.assigned_value(klass.body, name, frame)
        value = frozenset(a for a in value if isinstance(a, (Tab, Mod, Cls, Seq, Const)))
        self.class_values[key] = value
        return value
