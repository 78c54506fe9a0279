"""One-shot iterables in the make() interpreter (the facts DJ401 reads): generators, ``map``/``zip``/``iter``
/``filter``/``enumerate``/``reversed`` and ``itertools`` results are ``Gen`` values; each consumer (a loop,
``list()``, ``insert()``, ``*`` unpacking...) is counted along the path, and a second consumption records a
``OneShotReuse``. ``next()``, ``islice`` and loops that may ``break`` read a prefix by design: such an
iterable is consumed manually and never reported.
"""

from __future__ import annotations

import ast

from djlint.makeflow import names as N
from djlint.makeflow.facts import OneShotReuse
from djlint.makeflow.frames import (
    Consumed, ExternalCall, ExternalFamily, ExternalHandler, Frame, generator_ids,
)
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import short_text
from djlint.makeflow.values import NOTHING, Atom, Fn, Gen, LocalFn, Partial, Seq, Value, gens_in


class OneShotIterables(RunState):
    """One-shot iterables: where they are made and consumed; a second consumption is a fact."""

    def consume(self, value: Value, node: ast.AST, frame: Frame, how: str) -> None:
        """A one-shot iterable in ``value`` is iterated to the end here."""
        for gen in gens_in(value):
            if gen.ident in self.manual:
                continue
            here = self.loc(frame, node)
            self.names.setdefault(gen.ident, node)
            self.consumers[gen.ident] = how
            seen = self.consumed.get(gen.ident)
            if seen is None:
                self.consumed[gen.ident] = (1, here, here)
            else:
                count, first, _ = seen
                self.consumed[gen.ident] = (count + 1, first, here)
                if count == 1:
                    self.facts.add(OneShotReuse(self.owner, here, how, short_text(node), first))

    def consumed_again_by_loop(self, before: Consumed, first_new: int) -> None:
        """After one run of a loop body: a one-shot iterable created before the loop (ident below
        ``first_new``) and consumed once on the body's straight path is consumed again by the next
        iteration."""
        for ident, (count, first, last) in list(self.consumed.items()):
            earlier = before.get(ident, (0, first, first))[0]
            if ident < first_new and earlier == 0 and count == 1 and ident not in self.manual:
                self.consumed[ident] = (2, first, last)
                named = self.names.get(ident)
                self.facts.add(OneShotReuse(self.owner, last, self.consumers.get(ident, "loop"),
                                            short_text(named) if named is not None else "the iterable", first))

    # ------------------------------------------------------------------ outside callables that iterate
    def _read_prefix(self, call: ExternalCall) -> Value:
        """``islice``/``takewhile``/``dropwhile``: batches or prefixes of one iterator, by design: its later
        consumers see the rest."""
        for value, arg in call.positional[:1]:
            self.manual.update(g.ident for g in gens_in(value))
            self.read(value, arg, call.frame, "iteration", through_seq=False)
        return frozenset({Gen(next(generator_ids), self.loc(call.frame, call.node))})

    def _itertools(self, call: ExternalCall) -> Value:
        """Any other ``itertools`` function: consumes its arguments, returns a one-shot iterator."""
        frame = call.frame
        for value, arg in call.positional:
            self.read(value, arg, frame, "iteration", through_seq=False)
            self.consume(value, arg, frame, call.name)
        for value, arg in call.starred:    # ``chain(*groups)``: the call's * unpacking consumed them once
            self.read(value, arg, frame, "iteration", through_seq=False)
        return frozenset({Gen(next(generator_ids), self.loc(frame, call.node))})

    def _next(self, call: ExternalCall) -> Value:
        """``next(it)`` takes one item (a header): what follows reads the rest."""
        for value, _ in call.positional[:1]:
            self.manual.update(g.ident for g in gens_in(value))
        return NOTHING

    def _one_shot_builtin(self, call: ExternalCall) -> Value:
        """``map``/``filter``/``zip``/``iter``/``reversed``/``enumerate``: consume their iterables, return a
        one-shot iterator (the mapped function is followed on the elements)."""
        builtin = call.name[len("builtins."):]
        positional, frame = call.positional, call.frame
        items: set[Atom] = set()
        for index, (value, arg) in enumerate(positional):
            if builtin in ("map", "filter") and index == 0:
                continue
            self.read(value, arg, frame, f"{builtin}()", through_seq=False)
            self.consume(value, arg, frame, f"{builtin}()")
            if builtin in ("iter", "reversed", "filter"):
                items |= self.element(value)
        if builtin in ("map", "filter") and len(positional) > 1:
            # the mapped function runs on the elements: follow it for what it reads
            element = frozenset().union(*(self.element(v) for v, _ in positional[1:]))
            for atom in positional[0][0]:
                if isinstance(atom, (Fn, LocalFn, Partial)):
                    self.call(atom, call.node, [(element, positional[1][1])], {}, [], frame)
        return frozenset({Gen(next(generator_ids), self.loc(frame, call.node), frozenset(items))})

    def _consuming_builtin(self, call: ExternalCall) -> Value:
        """``list``/``sorted``/``sum``/``len``... consume their iterable (``bool`` only tests it)."""
        builtin = call.name[len("builtins."):]
        items: set[Atom] = set()
        for value, arg in call.positional[:1]:
            how = f"{builtin}()"
            self.read(value, arg, call.frame, how, through_seq=False)
            if builtin != "bool":
                self.consume(value, arg, call.frame, how)
            items |= self.element(value)
        if builtin in ("list", "tuple", "set", "frozenset", "sorted"):
            return frozenset({Seq(frozenset(items))})
        return NOTHING


def iteration_calls() -> dict[str, ExternalHandler]:
    """The outside callables that make or consume one-shot iterables, by name."""
    consuming = (N.CONSUMING_BUILTINS | N.TRUTH_BUILTINS) - {"dict"}   # dict(): a row, see calls.py
    return {
        **dict.fromkeys(N.PARTIAL_ITERTOOLS, OneShotIterables._read_prefix),
        "builtins.next": OneShotIterables._next,
        **dict.fromkeys((f"builtins.{name}" for name in N.ONE_SHOT_BUILTINS),
                        OneShotIterables._one_shot_builtin),
        **dict.fromkeys((f"builtins.{name}" for name in consuming), OneShotIterables._consuming_builtin),
    }


def iteration_families() -> list[ExternalFamily]:
    return [(lambda name: name.startswith("itertools."), OneShotIterables._itertools)]
