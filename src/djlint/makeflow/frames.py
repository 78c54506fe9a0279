"""What the make() interpreter carries while it runs: a ``Frame`` per function body being interpreted,
the ``Shared`` caches of one model (sources, resolved names, facts about function nodes) every run reuses,
and the few types and limits all parts of the interpreter use."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from djlint.makeflow.facts import Location
from djlint.makeflow.source import Sources, is_generator
from djlint.makeflow.syntax import dotted_name, none_default_params, rebound_names
from djlint.makeflow.values import Value

if TYPE_CHECKING:
    from djlint.makeflow.interpreter import MakeRun

MAX_DEPTH = 12       # calls followed below make()
MAX_CALLS = 2000     # function bodies interpreted per make(): bounds pathological call graphs
generator_ids = itertools.count(1)   # identity of each one-shot iterable (Gen), in creation order
UNPLACED = Location("", 0, 0)   # origin of a table imported inside a function: placed where used

Args = list[tuple[Value, ast.AST]]
Kwargs = dict[str, tuple[Value, ast.AST]]
# consumption of one-shot iterables: ident -> (times consumed, first place, last place)
Consumed = dict[int, tuple[int, Location, Location]]
State = tuple[dict[str, Value], Consumed]


class Frame:
    """One activation: a function body being interpreted."""

    def __init__(self, module: Any, function: str, class_id: str | None, env: dict[str, Value],
                 entry: bool, chain: tuple[str, ...] = (), call: Location | None = None) -> None:
        self.module = module            # ModuleInfo
        self.function = function        # "module.qualname", for messages
        self.class_id = class_id        # class defining the function (for super())
        self.env = env
        self.entry = entry              # True for the make() body itself
        self.chain = chain              # the functions called from make() down to this one
        self.call = call                # the call in make()'s own body that leads here
        self.returns: list[Value] = []
        self.yields: list[Value] = []
        self.exits: list[dict[int, tuple[int, Location, Location]]] = []   # consumption at each return
        self.node: Any = None               # the function node (for the parameters it never rebinds)
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

    def __init__(self, model: Any) -> None:
        self.model = model
        self.sources = Sources(model)
        self._symbols: dict[tuple[str, str], Any] = {}
        self._generator: dict[int, bool] = {}
        self._rebound: dict[int, frozenset[str]] = {}
        self._none: dict[int, frozenset[str]] = {}
        self._linking: dict[str, str] | None = None

    @staticmethod
    def location(module: Any, node: ast.AST) -> Location:
        return Location(module.display_path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)

    def resolve(self, module: str, dotted: str) -> Any:
        """``dotted`` in ``module``'s global scope; ``module`` may be "name\0schema" for an attribute
        of a virtual module (``dj.create_virtual_module``)."""
        key = (module, dotted)
        if key not in self._symbols:
            try:
                if "\0" in module:
                    from djlint.model import Symbol

                    name, _, schema = module.partition("\0")
                    self._symbols[key] = self.model.attribute(Symbol("module", name, schema=schema), dotted)
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
        if self._linking is None:
            self._linking = self._find_linking()
        return self._linking.get(module)

    def _find_linking(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for caller, info in self.model.modules.items():
            if "linking_module" not in info.source:
                continue
            tree = self.sources.tree(info)
            if tree is None:
                continue
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                argument = next((k.value for k in node.keywords if k.arg == "linking_module"), None)
                if argument is None:
                    continue
                element = self._callee_module(caller, node.func)
                linked = self._module_named_by(caller, argument)
                if element is not None and linked is not None and element != linked:
                    found.setdefault(element, linked)
        return found

    def _callee_module(self, caller: str, func: ast.AST) -> str | None:
        if isinstance(func, ast.Attribute):
            symbol = self.resolve(caller, dotted_name(func.value) or "")
            return symbol.target if symbol is not None and symbol.kind == "module" else None
        if isinstance(func, ast.Name):
            symbol = self.resolve(caller, func.id)
            return symbol.module if symbol is not None and symbol.kind == "function" else None
        return None

    def _module_named_by(self, caller: str, argument: ast.AST) -> str | None:
        if isinstance(argument, ast.Name) and argument.id == "__name__":
            return caller
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            return argument.value if argument.value in self.model.modules else None
        dotted = dotted_name(argument)
        symbol = self.resolve(caller, dotted) if dotted else None
        return symbol.target if symbol is not None and symbol.kind == "module" else None

    def linking_map(self) -> dict[str, str]:
        if self._linking is None:
            self._linking = self._find_linking()
        return self._linking

    def none_defaults(self, function: Any) -> frozenset[str]:
        """Parameters whose default is the literal ``None``."""
        cached = self._none.get(id(function))
        if cached is None:
            cached = none_default_params(function)
            self._none[id(function)] = cached
        return cached

    def rebound(self, function: Any) -> frozenset[str]:
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
