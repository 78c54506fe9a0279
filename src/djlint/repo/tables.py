"""Which classes are tables: each class's bases (its MRO within the repository) and DataJoint tier, then
a table record per master and Part class (its definition, schema, Parts; Parts a template base class
declares become Parts of every table inheriting them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from djlint.definition import definition_from_record
from djlint.repo.records import ClassInfo, Symbol, TableInfo

if TYPE_CHECKING:
    from djlint.model import Model

TIERS = ("Manual", "Lookup", "Imported", "Computed", "Part")


def _datajoint_tier(symbol: Symbol | None) -> str | None:
    if symbol is None or symbol.kind != "external":
        return None
    parts = symbol.target.split(".")
    if parts[0] == "datajoint" and parts[-1] in TIERS:
        return parts[-1]
    return None


def classify_classes(model: Model) -> None:
    """Resolve bases, compute each class's repo MRO and its DataJoint tier (through user bases)."""
    for cls in model.classes.values():
        symbols: list[Symbol] = []
        for text in cls.base_texts:
            symbol = model.resolve(cls.module, text) if text else None
            symbols.append(symbol or Symbol("unknown", text or "?", text or "?"))
        cls.direct_bases = symbols

    state: dict[str, int] = {}

    for class_id in list(model.classes):
        _classify_class(model, state, class_id)



def _classify_class(model: Model, state: dict[str, int], class_id: str) -> None:
    """The repo MRO and tier of one class, its bases first (a function, not a recursive closure: that
    would be a reference cycle keeping the model alive until a full collection)."""
    if state.get(class_id) == 2:
        return
    if state.get(class_id) == 1:  # inheritance cycle: stop
        return
    state[class_id] = 1
    cls = model.classes[class_id]
    order: list[str] = []
    tier: str | None = None
    for symbol in cls.direct_bases:
        direct_tier = _datajoint_tier(symbol)
        if direct_tier and tier is None:
            tier = direct_tier
        if (
            symbol.kind in ("table", "class")
            and symbol.target in model.classes
            and symbol.target != class_id
        ):
            _classify_class(model, state, symbol.target)
            base = model.classes[symbol.target]
            for candidate in [base.id, *base.bases]:
                if candidate not in order and candidate != class_id:
                    order.append(candidate)
            if tier is None and base.tier:
                tier = base.tier
    cls.bases = order
    cls.tier = tier
    state[class_id] = 2


def build_tables(model: Model) -> None:
    used_as_base = {base for cls in model.classes.values() for base in cls.bases}

    def is_master_table(cls: ClassInfo) -> bool:
        # an undecorated class used as a base class is a template, not a table itself
        return (
            cls.tier is not None and cls.tier != "Part" and bool(cls.decorators or cls.id not in used_as_base)
        )

    def add(cls: ClassInfo, master: str | None, record_owner: ClassInfo | None = None) -> None:
        record = cls.definition_record
        owner = record_owner or cls
        if record is None:
            for base in cls.bases:
                if model.classes[base].definition_record is not None:
                    record = model.classes[base].definition_record
                    owner = model.classes[base]
                    break
        schema: str | None = cls.inline_schema
        for decorator in cls.decorators:
            symbol = model.resolve(cls.module, decorator) if decorator else None
            if symbol is not None and symbol.kind == "schema":
                schema = symbol.target or None
        model.tables[cls.id] = TableInfo(
            id=cls.id,
            module=cls.module,
            qualname=cls.qualname,
            path=model.modules[cls.module].display_path,
            line=cls.line,
            column=cls.column,
            tier=cls.tier or "Part",
            master=master,
            parts=[],
            definition=definition_from_record(record),
            bases=list(cls.bases),
            schema=schema,
            definition_path=model.modules[owner.module].display_path,
            definition_owner=owner.id if record is not None else None,
        )

    masters = [cls for cls in model.classes.values() if is_master_table(cls)]
    for cls in masters:
        add(cls, None)
    for cls in list(model.classes.values()):
        if cls.tier != "Part":
            continue
        parent = model.classes.get(cls.parent) if cls.parent else None
        if parent is not None and is_master_table(parent):
            add(cls, parent.id)
        elif parent is None and cls.decorators:
            add(cls, None)  # a decorated stand-alone Part class (unusual): keep it, without a master
    # Parts nested in a template base class belong to every table inheriting them (datajoint
    # declares ``T.Unit`` with T as master); each gets its own id under T.
    for cls in masters:
        for base_id in cls.bases:
            for nested_id in list(model.classes[base_id].nested):
                nested = model.classes[nested_id]
                part_id = f"{cls.id}.{nested.name}"
                if nested.tier != "Part" or part_id in model.classes:
                    continue
                inherited = ClassInfo(
                    id=part_id,
                    module=cls.module,
                    qualname=f"{cls.qualname}.{nested.name}",
                    name=nested.name,
                    line=nested.line,
                    column=nested.column,
                    base_texts=[],
                    decorators=[],
                    methods={},
                    attributes=[],
                    parent=cls.id,
                    bases=[nested.id, *nested.bases],
                    tier="Part",
                    definition_record=None,
                    inherited_from=nested.id,
                )
                model.classes[part_id] = inherited
                cls.nested.append(part_id)
                add(inherited, cls.id)
                model.tables[part_id].path = model.modules[nested.module].display_path
    for table in model.tables.values():
        if table.master:
            model.tables[table.master].parts.append(table.id)
    for table in model.tables.values():
        if table.master and table.schema is None:
            table.schema = model.tables[table.master].schema
    for table in model.tables.values():
        if table.schema:
            model._schema_tables.setdefault(table.schema, {}).setdefault(table.qualname, table.id)
            modules = model._schema_modules.setdefault(table.schema, [])
            if table.module not in modules:
                modules.append(table.module)
    # schemas declared in a module even when no table is decorated yet
    for name in model.modules:
        for binding in model.global_bindings(name):
            schema_name = model.schema_name(name, binding) if binding.kind == "schema" else ""
            if schema_name:
                modules = model._schema_modules.setdefault(schema_name, [])
                if name not in modules:
                    modules.append(name)
