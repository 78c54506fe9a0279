"""Call following for the make() interpreter: a call of a repository function, method, class (its
``__init__``), nested function, lambda or ``functools.partial`` binds the arguments to the parameters
(defaults evaluated where Python evaluates them) and interprets the body, below ``MAX_DEPTH`` and within
``MAX_CALLS``; a call with the same arguments reuses its result. Methods of rows and of the make key
(``get``, ``copy``, ``update``), ``super()``. A callable from outside the repository goes to the handler
the ``EXTERNAL_CALLS`` table names for it (``interpreter.py`` assembles that table from the parts).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from djlint.makeflow import names as N
from djlint.makeflow.facts import MakeFacts
from djlint.makeflow.frames import (
    MAX_DEPTH, Args, ExternalCall, ExternalHandler, Frame, Kwargs, generator_ids,
)
from djlint.makeflow.source import FunctionNode
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import (
    NOT_IN_DEFAULTS, FunctionCode, binds_receiver, constant_of, positional_params,
)
from djlint.makeflow.values import (
    NOTHING, Atom, Attr, Cls, Const, Ext, Field, Fn, Gen, Inst, Key, KeyField, LocalFn, Mod, Partial, Row,
    Seq, Super, Tab, Unk, Value, gens_in,
)

if TYPE_CHECKING:
    from djlint.model import ModuleInfo


class Calls(RunState):
    """Calls: into the repository's code (followed), and to callables from outside it (dispatched)."""

    def call(self, atom: Atom, node: ast.AST, positional: Args, keywords: Kwargs, starred: Args,
             frame: Frame) -> Value:
        if isinstance(atom, (Tab, Unk)):
            return frozenset({atom})          # Table() -> an instance of the same table
        if isinstance(atom, Cls):
            instance = frozenset({Inst(atom.class_id)})
            found = self.sources.method(atom.class_id, "__init__")
            if found is not None:
                module, function, info = found
                self.invoke(module, function, info.class_id, instance, positional, keywords, node, frame)
            return instance
        if isinstance(atom, Fn):
            function_info = self.model.functions.get(atom.function_id)
            definition = self.sources.function(function_info)
            if definition is None or function_info is None:
                return NOTHING
            module, function = definition
            self_value: Value | None = None
            if function_info.class_id is not None and binds_receiver(function, through_class=True):
                # Class.method(obj, ...) called through the class: first argument is self
                if positional:
                    self_value, positional = positional[0][0], positional[1:]
                else:
                    self_value = NOTHING
            return self.invoke(module, function, function_info.class_id, self_value, positional, keywords, node,
                               frame)
        if isinstance(atom, LocalFn):
            local, module, closure, class_id = self.local_functions[atom.index]
            return self.invoke(module, local, class_id, None, positional, keywords, node, frame, closure=closure)
        if isinstance(atom, Ext):
            return self.call_external(ExternalCall(atom.name, node, positional, keywords, starred, frame))
        if isinstance(atom, Attr):
            return self.call_method(atom.receiver, atom.name, node, positional, keywords, frame,
                                    through_class=atom.through_class)
        if isinstance(atom, Partial):
            result: set[Atom] = set()
            bound = [*atom.args, *positional]
            named = {**dict(atom.keywords), **keywords}
            for inner in atom.func:
                result |= self.call(inner, node, bound, named, starred, frame)
            return frozenset(result)
        return NOTHING

    def call_method(self, receiver: Atom, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                    frame: Frame, *, through_class: bool = False) -> Value:
        if isinstance(receiver, Tab):
            return self.table_method(receiver, name, node, positional, keywords, frame, through_class)
        if isinstance(receiver, Unk):
            if name in N.READ_METHODS or name in N.WRITE_METHODS or name in N.QUERY_METHODS:
                self.note_unknowns(frozenset({receiver}))
            return frozenset({receiver}) if name in N.QUERY_METHODS else NOTHING
        if isinstance(receiver, Key):
            if name == "get" and positional:
                literal = constant_of(positional[0][1])
                if literal is not None and isinstance(literal.value, str):
                    return frozenset({KeyField(literal.value)})   # may be absent: not a key attribute
            if name == "copy":
                return frozenset({Key()})
            if name == "update":
                self._row_update(receiver, node, positional, keywords, frame)
            return NOTHING
        if isinstance(receiver, Row):
            if name == "copy":
                return frozenset({receiver})
            if name == "update":
                self._row_update(receiver, node, positional, keywords, frame)
            if name == "get" and positional:
                literal = constant_of(positional[0][1])
                for field in receiver.fields:
                    if literal is not None and field.name == literal.value:
                        return field.value
            return NOTHING
        if isinstance(receiver, (Inst, Cls)):
            found = self.sources.method(receiver.class_id, name)
            if found is None:
                return NOTHING
            module, function, info = found
            binds = binds_receiver(function, isinstance(receiver, Cls), len(positional))
            self_value = frozenset({receiver}) if binds else None
            return self.invoke(module, function, info.class_id, self_value, positional, keywords, node, frame)
        if isinstance(receiver, Super):
            return self.call_super(receiver, name, node, positional, keywords, frame)
        if isinstance(receiver, Const) and name == "join" and positional:
            self.consume(positional[0][0], positional[0][1], frame, "str.join()")
        return NOTHING

    def _row_update(self, row: Row | Key, node: ast.AST, positional: Args, keywords: Kwargs,
                    frame: Frame) -> None:
        func = getattr(node, "func", None)
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        name = func.value.id
        updated = row if isinstance(row, Row) else Row((), True, False)   # key.update(...) changes the key
        for keyword, (value, arg) in keywords.items():
            updated = updated.with_field(Field(keyword, value, arg, self.loc(frame, arg)))
        for value, _ in positional:
            for atom in value:
                if isinstance(atom, Row):
                    for field in atom.fields:
                        updated = updated.with_field(field)
        current = frame.env.get(name, NOTHING)
        frame.env[name] = frozenset(updated if a == row else a for a in current)

    def call_super(self, receiver: Super, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                   frame: Frame) -> Value:
        owners = [a.table if isinstance(a, Tab) else a.class_id for a in receiver.self_value
                  if isinstance(a, (Tab, Inst))]
        for owner in owners:
            cls = self.model.classes.get(owner)
            if cls is None:
                continue
            order = [cls.id, *cls.bases]
            if receiver.class_id in order:
                order = order[order.index(receiver.class_id) + 1:]
            for candidate in order:
                info = self.model.classes.get(candidate)
                if info is not None and name in info.methods:
                    found = self.sources.function(info.methods[name])
                    if found is not None:
                        bound = receiver.self_value if binds_receiver(found[1], False, len(positional)) else None
                        return self.invoke(found[0], found[1], candidate, bound, positional,
                                           keywords, node, frame)
        return NOTHING

    def invoke(self, module: ModuleInfo, function: FunctionCode, class_id: str | None, self_value: Value | None,
               positional: Args, keywords: Kwargs, call_node: ast.AST, caller: Frame,
               closure: dict[str, Value] | None = None) -> Value:
        if module is None or function is None or self.depth >= MAX_DEPTH or self.budget <= 0:
            return NOTHING
        self.budget -= 1
        env: dict[str, Value] = dict(closure) if closure is not None else {}
        arguments = function.args
        params = positional_params(function)
        if self_value is not None and params:
            env[params[0].arg] = self_value
            params = params[1:]
        for param, (value, _) in zip(params, positional):
            env[param.arg] = value
        if arguments.vararg is not None:
            rest = positional[len(params):]
            env[arguments.vararg.arg] = frozenset({Seq(frozenset().union(*(v for v, _ in rest)) if rest else NOTHING)})
        if arguments.kwarg is not None:
            env[arguments.kwarg.arg] = NOTHING
        named = {p.arg for p in [*params, *arguments.kwonlyargs]}
        for keyword, (value, _) in keywords.items():
            if keyword in named:
                env[keyword] = value
        none_defaults: frozenset[str] = frozenset()
        if any(p.arg not in env for p in [*params, *arguments.kwonlyargs]):
            none_defaults = frozenset(n for n in self.shared.none_defaults(function) if n not in env)
            defaults = self.defaults(module, function, class_id, closure)
            for param in [*params, *arguments.kwonlyargs]:
                env.setdefault(param.arg, defaults.get(param.arg, NOTHING))
        bound = tuple(sorted(env.items(), key=lambda item: item[0]))
        signature = (id(function), bound, none_defaults)
        generator = isinstance(function, FunctionNode) and self.shared.is_generator(function)
        if signature in self.active:
            return NOTHING
        if signature in self.done and not any(gens_in(v) for _, v in bound):
            result = self.done[signature]
            if generator:
                return frozenset({Gen(next(generator_ids), self.loc(caller, call_node), self.element(result))})
            return result
        qualname = self._qualname(module, function, class_id)
        frame = Frame(module, qualname, class_id, env, entry=False, chain=(*caller.chain, qualname),
                      call=caller.call if caller.call is not None else self.loc(caller, call_node))
        frame.node, frame.none_defaults = function, none_defaults
        self.touch(module)
        self.active.add(signature)
        self.depth += 1
        try:
            if isinstance(function, ast.Lambda):
                frame.returns.append(self.ev(function.body, frame))
            else:
                self.exec_block(function.body, frame)
        finally:
            self.depth -= 1
            self.active.discard(signature)
        for counts in frame.exits:   # what a returning path consumed is consumed for the caller too
            for ident, entry in counts.items():
                if ident not in self.consumed or self.consumed[ident][0] < entry[0]:
                    self.consumed[ident] = entry
        returned = frozenset().union(*frame.returns) if frame.returns else NOTHING
        if generator:
            yielded = frozenset().union(*frame.yields) if frame.yields else NOTHING
            self.done[signature] = frozenset({Seq(yielded)})
            return frozenset({Gen(next(generator_ids), self.loc(caller, call_node), yielded)})
        self.done[signature] = returned
        return returned

    # what a default may hold: a table, module, class or function named in it (a callback), a literal
    _DEFAULT_ATOMS = (Tab, Mod, Cls, Fn, Partial, Seq, Row, Const)

    def defaults(self, module: ModuleInfo, function: FunctionCode, class_id: str | None,
                 closure: dict[str, Value] | None) -> dict[str, Value]:
        """Parameter -> value of its default, evaluated where Python does at def time (the defining
        module, or the enclosing function's names for a nested def or lambda). That evaluation is not
        make() reading anything: its facts are discarded; a table it names is reported where it is used.
        ``None`` defaults are dropped: a ``param=None`` guarded by ``if param is not None`` is not a value."""
        key = id(function)
        cached = self.default_values.get(key) if closure is None else None
        if cached is not None:
            return cached
        arguments = function.args
        positional = [*arguments.posonlyargs, *arguments.args]
        pairs = list(zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults))
        pairs += [(p, d) for p, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is not None]
        # only names, attributes, literals and operators: a call in a default is not followed (its
        # result would be cached as a call whose facts were discarded)
        pairs = [(p, d) for p, d in pairs if not any(isinstance(n, NOT_IN_DEFAULTS) for n in ast.walk(d))]
        found: dict[str, Value] = {}
        if pairs:
            frame = Frame(module, self._qualname(module, function, class_id), class_id,
                          dict(closure) if closure is not None else {}, entry=False)
            facts, self.facts = self.facts, MakeFacts()
            consumed, done = dict(self.consumed), dict(self.done)
            try:
                for param, node in pairs:
                    value = frozenset(a for a in self.ev(node, frame) if isinstance(a, self._DEFAULT_ATOMS)
                                      and not (isinstance(a, Const) and a.value is None))
                    if value:
                        found[param.arg] = value
            finally:
                self.facts, self.consumed, self.done = facts, consumed, done
        if closure is None:
            self.default_values[key] = found
        return found

    @staticmethod
    def _qualname(module: ModuleInfo, function: FunctionCode, class_id: str | None) -> str:
        if isinstance(function, ast.Lambda):
            return f"{module.name}.<lambda>"
        if class_id is not None:
            return f"{class_id}.{function.name}"
        return f"{module.name}.{function.name}"

    # ------------------------------------------------------------------ outside callables of Python itself
    def _partial(self, call: ExternalCall) -> Value:
        """``functools.partial(f, ...)``: the arguments are bound now and passed when it is called (reads
        happen then)."""
        if not call.positional:
            return NOTHING
        callables = frozenset(a for a in call.positional[0][0]
                              if isinstance(a, (Fn, LocalFn, Attr, Partial, Cls)))
        if not callables:
            return NOTHING
        return frozenset({Partial(callables, tuple(call.positional[1:]),
                                  tuple(sorted(call.keywords.items(), key=lambda kv: kv[0])))})

    def _super(self, call: ExternalCall) -> Value:
        frame = call.frame
        if frame.class_id is None:
            return NOTHING
        return frozenset({Super(frame.class_id, frame.env.get("self", NOTHING))})

    def _type(self, call: ExternalCall) -> Value:
        if len(call.positional) != 1:
            return NOTHING
        return frozenset(a for a in call.positional[0][0] if isinstance(a, (Tab, Inst)))   # type(self).Part

    def _dict(self, call: ExternalCall) -> Value:
        return self.dict_call(call.positional, call.keywords, call.starred, call.frame)

    def dict_call(self, positional: Args, keywords: Kwargs, starred: Args, frame: Frame) -> Value:
        spread, open_ = False, False
        fields: list[Field] = []
        for value, arg in positional[:1]:
            self.consume(value, arg, frame, "dict()")
        sources = [value for value, _ in positional[:1]] + [value for value, _ in starred]
        for value in sources:
            if any(isinstance(a, Key) for a in value):
                spread = True
            rows = [a for a in value if isinstance(a, Row)]
            if rows:
                fields.extend(rows[0].fields)
                spread = spread or rows[0].spread_key
                open_ = open_ or rows[0].open
            elif not any(isinstance(a, Key) for a in value):
                open_ = True
        row = Row(tuple(fields), spread, open_)
        for keyword, (value, arg) in keywords.items():
            row = row.with_field(Field(keyword, value, arg, self.loc(frame, arg)))
        return frozenset({row})


def python_calls() -> dict[str, ExternalHandler]:
    """The callables of Python's builtins and standard library the interpreter follows itself."""
    return {
        **dict.fromkeys(N.FUNCTOOLS_PARTIAL, Calls._partial),
        "builtins.super": Calls._super,
        "builtins.type": Calls._type,
        "builtins.dict": Calls._dict,
    }
