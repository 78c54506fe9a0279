"""What the make() interpreter carries while it runs: a ``Frame`` per function body being interpreted,
the ``Shared`` caches of one model (sources, resolved names, facts about function nodes) every run reuses,
and the few types and limits all parts of the interpreter use."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from djlint.linking import linked_modules
from djlint.makeflow.facts import Location
from djlint.makeflow.source import Sources, is_generator
from djlint.makeflow.syntax import FunctionCode, none_default_params, rebound_names
from djlint.makeflow.values import Value
from djlint.repo.records import Symbol

if TYPE_CHECKING:
    from djlint.makeflow.interpreter import MakeRun
    from djlint.model import Model, ModuleInfo

MAX_DEPTH = 12       # calls followed below make()
MAX_CALLS = 2000     # function bodies interpreted per make(): bounds pathological call graphs
generator_ids = itertools.count(1)   # identity of each one-shot iterable (Gen), in creation order
UNPLACED = Location("", 0, 0)   # origin of a table imported inside a function: placed where used

Args = list[tuple[Value, ast.AST]]
Kwargs = dict[str, tuple[Value, ast.AST]]
# consumption of one-shot iterables: ident -> (times consumed, first place, last place)
Consumed = dict[int, tuple[int, Location, Location]]
State = tuple[dict[str, Value], Consumed]
# a nested def or lambda met while interpreting: (its node, module, the names it closes over, class)
LocalFunction = tuple[FunctionCode, "ModuleInfo", dict[str, Value], str | None]


class Frame:
    """One activation: a function body being interpreted."""

    def __init__(self, module: ModuleInfo, function: str, class_id: str | None, env: dict[str, Value],
                 entry: bool, chain: tuple[str, ...] = (), call: Location | None = None) -> None:
        self.module = module
        self.function = function        # "module.qualname", for messages
        self.class_id = class_id        # class defining the function (for super())
        self.env = env
        self.entry = entry              # True for the make() body itself
        self.chain = chain              # the functions called from make() down to this one
        self.call = call                # the call in make()'s own body that leads here
        self.returns: list[Value] = []
        self.yields: list[Value] = []
        self.exits: list[Consumed] = []   # consumption at each return
        self.node: FunctionCode | None = None   # the function node (for the parameters it never rebinds)
        self.constants: frozenset[str] | None = None    # those parameters, computed when first asked
        # parameters holding their ``None`` default (defaults of None are no value, see ``MakeRun.defaults``)
        self.none_defaults: frozenset[str] = frozenset()

    def inner(self) -> Frame:
        """A comprehension's scope: the names of this one, plus its targets."""
        frame = Frame(self.module, self.function, self.class_id, dict(self.env), self.entry, self.chain, self.call)
        frame.node, frame.constants, frame.none_defaults = self.node, self.constants, self.none_defaults
        return frame


class Shared:
    """Per-model caches shared by every run: sources, resolved symbols, generator-ness."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.sources = Sources(model)
        self._symbols: dict[tuple[str, str | None, str], Symbol | None] = {}
        self._generator: dict[int, bool] = {}
        self._rebound: dict[int, frozenset[str]] = {}
        self._none: dict[int, frozenset[str]] = {}
        self._linking: dict[str, str] | None = None

    @staticmethod
    def location(module: ModuleInfo, node: ast.AST) -> Location:
        return Location(module.display_path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)

    def resolve(self, module: str, dotted: str, schema: str | None = None) -> Symbol | None:
        """``dotted`` in ``module``'s global scope, or (``schema`` given) an attribute of the virtual
        module of that schema (``dj.create_virtual_module``)."""
        key = (module, schema, dotted)
        if key not in self._symbols:
            try:
                if schema is not None:
                    self._symbols[key] = self.model.attribute(Symbol("module", module, schema=schema), dotted)
                else:
                    self._symbols[key] = self.model.resolve(module, dotted)
            except Exception:  # noqa: BLE001 - a resolution bug must not stop the analysis
                self._symbols[key] = None
        return self._symbols[key]

    def linked_module(self, module: str, name: str) -> str | None:
        """DataJoint Elements: ``element.activate(..., linking_module=__name__)`` stores the workflow
        module in the element's ``_linking_module`` global; ``_linking_module.helper(key)`` calls into it."""
        if "linking_module" not in name:
            return None
        return self.linking_map().get(module)

    def linking_map(self) -> dict[str, str]:
        """Element module -> its linking module (``djlint.linking``, the analysis the model uses too)."""
        if self._linking is None:
            self._linking = linked_modules(self.model)
        return self._linking

    def none_defaults(self, function: FunctionCode) -> frozenset[str]:
        """Parameters whose default is the literal ``None``."""
        cached = self._none.get(id(function))
        if cached is None:
            cached = none_default_params(function)
            self._none[id(function)] = cached
        return cached

    def rebound(self, function: FunctionCode) -> frozenset[str]:
        """Names the function body (nested scopes included) assigns, deletes or declares global."""
        cached = self._rebound.get(id(function))
        if cached is None:
            cached = rebound_names(function)
            self._rebound[id(function)] = cached
        return cached

    def is_generator(self, function: ast.AST) -> bool:
        cached = self._generator.get(id(function))
        if cached is None:
            cached = is_generator(function)
            self._generator[id(function)] = cached
        return cached


@dataclass(frozen=True)
class ExternalCall:
    """A call of a callable from outside the repository (``name`` fully qualified: ``builtins.zip``,
    ``datajoint.conn``), its arguments evaluated."""

    name: str
    node: ast.AST
    positional: Args
    keywords: Kwargs
    starred: Args
    frame: Frame


# what the interpreter does for one outside callable: its value, after recording any facts
ExternalHandler = Callable[["MakeRun", ExternalCall], Value]
# a family of outside callables (``itertools.*``) and its handler, asked when no name matches exactly
ExternalFamily = tuple[Callable[[str], bool], ExternalHandler]
