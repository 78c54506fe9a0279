"""The summaries as the model's indexes: each module's global bindings and star imports, its classes
(with their methods and nested classes) and functions; then what other modules change about them at
run time: ``schema.activate("name")`` and method aliases (``make = helper``); the linking modules of
``element.activate(linking_module=...)`` are ``djlint.linking``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djlint.repo.records import Binding, ClassInfo, FunctionInfo

if TYPE_CHECKING:
    from djlint.model import Model


def index_modules(model: Model) -> None:
    """Every module's bindings and star imports, classes (``model.classes``, nested ones listed under
    their parent) and functions and methods (``model.functions``); the first class of a name is kept."""
    for name, info in model.modules.items():
        model._bindings[name], model._stars[name] = binding_index(info.summary)
        for record in info.summary.get("classes", []):
            class_id = f"{name}.{record['qualname']}"
            parent = f"{name}.{record['parent']}" if record.get("parent") else None
            methods = {
                method: FunctionInfo(
                    id=f"{class_id}.{method}",
                    module=name,
                    qualname=f"{record['qualname']}.{method}",
                    name=method,
                    line=line,
                    column=column,
                    class_id=class_id,
                )
                for method, (line, column) in record.get("methods", {}).items()
            }
            cls = ClassInfo(
                id=class_id,
                module=name,
                qualname=record["qualname"],
                name=record["name"],
                line=record["line"],
                column=record["column"],
                base_texts=record.get("bases", []),
                decorators=record.get("decorators", []),
                methods=methods,
                attributes=record.get("attributes", []),
                parent=parent,
                definition_record=record.get("definition"),
                aliases=dict(record.get("aliases", {})),
                inline_schema=record.get("inline_schema"),
            )
            model.classes.setdefault(class_id, cls)
            if parent and parent in model.classes:
                model.classes[parent].nested.append(class_id)
            for function in methods.values():
                model.functions[function.id] = function
        for binding in model.global_bindings(name):
            if binding.kind != "def":
                continue
            function_id = f"{name}.{binding.name}"
            model.functions.setdefault(
                function_id,
                FunctionInfo(
                    id=function_id,
                    module=name,
                    qualname=binding.name,
                    name=binding.name,
                    line=binding.line,
                    column=binding.column,
                    class_id=None,
                ),
            )


def binding_index(summary: dict[str, Any]) -> tuple[dict[str, list[Binding]], list[Binding]]:
    """A module's global bindings by name, and its star imports."""
    bindings: dict[str, list[Binding]] = {}
    stars: list[Binding] = []
    for record in summary.get("bindings", []):
        binding = Binding.of(record)
        if binding.kind == "star":
            stars.append(binding)
        else:
            bindings.setdefault(binding.name, []).append(binding)
    return bindings, stars


def bind_method_aliases(model: Model) -> None:
    """``make = _make_summary`` / ``_make_tuples = make`` in a class body: the function becomes a
    method of the class under that name (make() code written outside the class)."""
    for cls in model.classes.values():
        for name, (target, _line) in cls.aliases.items():
            if name in cls.methods:
                continue
            if target in cls.methods:  # an earlier method of the same class body
                cls.methods[name] = cls.methods[target]
                continue
            symbol = model.resolve(cls.module, target)
            if symbol is not None and symbol.kind == "function" and symbol.target in model.functions:
                cls.methods[name] = model.functions[symbol.target]


def activate_schemas(model: Model) -> None:
    """``schema = dj.schema()`` named later: ``schema.activate("lab_ephys")`` in the module or elsewhere,
    or the Element's ``ephys.activate("lab_ephys", linking_module=...)`` (its main schema)."""
    for name, info in model.modules.items():
        for receiver, schema_name, _line in info.summary.get("schema_activations", []):
            symbol = model.resolve(name, receiver)
            if symbol is None:
                continue
            if symbol.kind == "schema" and not symbol.target and symbol.module in model.modules:
                owner, preferred = symbol.module, receiver.rpartition(".")[2]
            elif symbol.kind == "module" and symbol.target in model.modules:
                owner, preferred = symbol.target, "schema"
            else:
                continue
            unnamed = [b.name for b in model._bindings[owner].get(preferred, []) if b.kind == "schema" and not b.schema]
            if not unnamed:
                unnamed = [n for n, group in model._bindings[owner].items()
                           if any(b.kind == "schema" and not b.schema for b in group)]
                if len(unnamed) != 1:
                    continue  # which schema of the module is meant is not clear
            model._activated_schemas.setdefault((owner, unnamed[0]), schema_name)
