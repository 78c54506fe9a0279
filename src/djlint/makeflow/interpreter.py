"""The make() interpreter: one ``MakeRun`` analyses one make() entry point (``make``, ``make_fetch``/
``make_compute``/``make_insert``, ``_make_tuples``) of one table, with ``self`` bound to that table, and adds
what it finds to a ``MakeFacts``.

It is abstract interpretation over Python ``ast`` (see ``source.py`` for why not libcst): each name holds a
set of abstract values (``values.py``); a name we know nothing about holds the empty value, which never
raises an alarm. ``MakeRun`` is assembled from its parts, each a mixin over the shared ``RunState``:

* ``statements``      - statement execution, branches and loops, assignment
* ``expressions``     - expression evaluation
* ``lookups``         - what global names and attributes hold
* ``calls``           - following calls into the repository; the dispatch of outside callables
* ``datajoint_api``   - datajoint's table methods, operators, connections and raw SQL
* ``consumption``     - one-shot iterables (OneShotReuse, DJ401)
* ``key_consistency`` - rows written with another key (KeyMismatch, DJ302)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from djlint.makeflow.calls import Calls, python_calls
from djlint.makeflow.consumption import OneShotIterables, iteration_calls, iteration_families
from djlint.makeflow.datajoint_api import DataJointApi, datajoint_calls, datajoint_families
from djlint.makeflow.expressions import Expressions
from djlint.makeflow.frames import ExternalCall, ExternalFamily, ExternalHandler, Frame
from djlint.makeflow.key_consistency import KeyConsistency
from djlint.makeflow.lookups import Lookups
from djlint.makeflow.source import FunctionDefinition
from djlint.makeflow.state import RunState
from djlint.makeflow.statements import Statements
from djlint.makeflow.syntax import positional_params
from djlint.makeflow.values import NOTHING, Key, Tab, Value

if TYPE_CHECKING:
    from djlint.model import ModuleInfo


class MakeRun(Statements, Expressions, Lookups, Calls, DataJointApi, OneShotIterables, KeyConsistency,
              RunState):
    """Analyse one make() entry point of ``owner``, adding facts to ``facts``."""

    # what a callable from outside the repository does, by its fully qualified name; then by family
    EXTERNAL_CALLS: ClassVar[dict[str, ExternalHandler]] = {
        **datajoint_calls(), **iteration_calls(), **python_calls()}
    EXTERNAL_FAMILIES: ClassVar[list[ExternalFamily]] = [*datajoint_families(), *iteration_families()]

    def run_entry(self, module: ModuleInfo, function: FunctionDefinition, class_id: str,
                  qualname: str) -> None:
        self_value: Value = frozenset({Tab(self.owner, None)})
        params = positional_params(function)
        env: dict[str, Value] = {}
        if params:
            env[params[0].arg] = self_value
        if len(params) > 1:
            env[params[1].arg] = frozenset({Key()})
        frame = Frame(module, qualname, class_id, env, entry=True)
        frame.node = function
        self.touch(module)
        self.exec_block(function.body, frame)

    def call_external(self, call: ExternalCall) -> Value:
        """What an outside callable does, by the handler its name (or its family) is given."""
        handler = self.EXTERNAL_CALLS.get(call.name)
        if handler is None:
            handler = next((h for matches, h in self.EXTERNAL_FAMILIES if matches(call.name)), None)
        return NOTHING if handler is None else handler(self, call)
