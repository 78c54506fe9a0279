"""Generate a synthetic DataJoint pipeline repository for the lint benchmark.

Default shape: 500 modules in 10 packages, 2,000 auto-populated tables (Imported/Computed) each with its
own make() body, plus 200 Manual/Lookup roots and about 500 Part tables. Tables depend on tables of the
same module and of up to 20 earlier modules, imported under the usual spellings (``from ..p01 import m012
as m012``, ``from .m015 import Features015``, ``from ..p00 import m003``). make() bodies read their
parents with ``fetch1``/``fetch``/``self.upstream[...]``/helper functions, fill Parts, and a few use the
tripartite make. About 5% carry a seeded contract break (sideways read, cross-table write, one-shot
iterable consumed twice, non-FK primary key); their exact locations go to ``manifest.json``.

Usage: ``python bench/synthetic_repo.py OUT_DIR [--modules 500] [--autos 4] [--seed 7]``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "synth"
MODULES_PER_PACKAGE = 50
WORDS = ("Recording", "Filtered", "Spikes", "Features", "Aligned", "Curated", "Model", "Summary",
         "Events", "Traces", "Motion", "Segments", "Scores", "Fits", "Trials", "Quality")


@dataclass
class Table:
    name: str
    module: int
    tier: str
    part: str | None = None  # name of its Part class, if any


@dataclass
class ModulePlan:
    index: int
    tables: list[Table] = field(default_factory=list)
    root: Table | None = None  # Manual
    params: Table | None = None  # Lookup


def package_of(index: int) -> str:
    return f"p{index // MODULES_PER_PACKAGE:02d}"


def module_name(index: int) -> str:
    return f"m{index:03d}"


class Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> int:
        """Append lines; returns the 1-based number of the first one."""
        first = len(self.lines) + 1
        self.lines.extend(lines)
        return first

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Generator:
    def __init__(self, modules: int, autos: int, seed: int) -> None:
        self.random = random.Random(seed)
        self.count = modules
        self.autos = autos
        self.plans = [self._plan(i) for i in range(modules)]
        self.seeded: list[dict[str, object]] = []

    def _plan(self, index: int) -> ModulePlan:
        plan = ModulePlan(index)
        if index % 5 == 0:
            plan.root = Table(f"Subject{index:03d}", index, "Manual")
            plan.params = Table(f"Params{index:03d}", index, "Lookup")
        for k in range(self.autos):
            word = WORDS[(index * self.autos + k) % len(WORDS)]
            tier = "Imported" if k == 0 else "Computed"
            table = Table(f"{word}{index:03d}x{k}", index, tier)
            if self.random.random() < 0.25:
                table.part = "Item"
            plan.tables.append(table)
        return plan

    def nearest_root(self, index: int) -> ModulePlan:
        return self.plans[index - index % 5]

    # ---------------------------------------------------------------------------------------------
    def module_source(self, index: int) -> tuple[str, list[dict[str, object]]]:
        rng = self.random
        plan = self.plans[index]
        imports: dict[int, str] = {}  # upstream module index -> alias used in this module
        direct: dict[str, int] = {}  # table name imported directly -> module

        def reference(table: Table, direct_ok: bool = True) -> str:
            """How this module spells ``table`` (adding the import)."""
            if table.module == index:
                return table.name
            if direct_ok and (table.name in direct or rng.random() < 0.3):
                direct[table.name] = table.module
                return table.name
            alias = imports.setdefault(table.module, module_name(table.module))
            return f"{alias}.{table.name}"

        body = Writer()
        seeded: list[dict[str, object]] = []
        root_plan = self.nearest_root(index)
        params = root_plan.params
        assert params is not None and root_plan.root is not None

        body.add("", "", "def _summarize(values):", "    arr = np.asarray(values, dtype=float)",
                 "    return float(arr.mean()) if arr.size else 0.0", "", "",
                 "def _score(row, threshold=0.5):", "    value = row.get(\"value\", 0.0) if isinstance(row, dict) else 0.0",
                 "    return float(value > threshold)", "")
        if plan.root is not None:
            body.add("", "@schema", f"class {plan.root.name}(dj.Manual):", '    definition = """',
                     "    subject_id : int", "    ---", "    species = \"mouse\" : varchar(32)",
                     "    date_of_birth = null : date", '    """', "", "",
                     "@schema", f"class {plan.params.name}(dj.Lookup):", '    definition = """',  # type: ignore[union-attr]
                     "    param_id : smallint", "    ---", "    threshold : float", '    """',
                     "    contents = [(1, 0.5), (2, 1.0), (3, 2.0)]", "")

        for k, table in enumerate(plan.tables):
            # the parent: the previous table of this module, or a table of an earlier module
            if k > 0 and rng.random() < 0.6:
                parent = plan.tables[k - 1]
            elif index > 0 and rng.random() < 0.85:
                upstream = self.plans[rng.randint(max(0, index - 20), index - 1)]
                parent = rng.choice(upstream.tables)
            else:
                parent = root_plan.root
            parent_ref = reference(parent)
            use_params = rng.random() < 0.3
            params_ref = reference(params) if use_params else None
            secondary = None
            if index > 0 and rng.random() < 0.2:
                secondary = rng.choice(self.plans[rng.randint(max(0, index - 20), index - 1)].tables)
            secondary_ref = reference(secondary) if secondary is not None else None

            body.add("", "@schema", f"class {table.name}(dj.{table.tier}):",
                     f'    """{table.tier} step {k} of module {module_name(index)}."""', "",
                     '    definition = """', f"    -> {parent_ref}")
            if params_ref:
                body.add(f"    -> {params_ref}")
            if rng.random() < 0.005:
                line = body.add("    run_id : int          # not from a foreign key")
                seeded.append({"line": line, "code": "DJ101"})
            body.add("    ---")
            if secondary_ref:
                body.add(f"    -> [nullable] {secondary_ref}")
            body.add("    value : float", "    n_items : int", "    computed_at = CURRENT_TIMESTAMP : timestamp",
                     '    """')
            if table.part:
                body.add("", f"    class {table.part}(dj.Part):", '        definition = """', "        -> master",
                         "        item : smallint", "        ---", "        weight : float", '        """')
            body.add("")
            self._make(body, table, k, parent, parent_ref, params_ref, plan, index, reference, seeded)
            body.add("")

        header = Writer()
        header.add(f'"""Synthetic pipeline module {package_of(index)}.{module_name(index)}: '
                   f'{len(plan.tables)} auto-populated tables."""', "", "import datajoint as dj",
                   "import numpy as np", "")
        for module in sorted(imports):
            if package_of(module) == package_of(index):
                header.add(f"from . import {module_name(module)}")
            else:
                header.add(f"from ..{package_of(module)} import {module_name(module)}")
        by_module: dict[int, list[str]] = {}
        for name, module in direct.items():
            by_module.setdefault(module, []).append(name)
        for module, names in sorted(by_module.items()):
            where = f".{module_name(module)}" if package_of(module) == package_of(index) else \
                f"..{package_of(module)}.{module_name(module)}"
            header.add(f"from {where} import {', '.join(sorted(names))}")
        header.add("", f'schema = dj.Schema("synth_{package_of(index)}_{module_name(index)}")')
        offset = len(header.lines)
        for entry in seeded:
            entry["line"] = int(entry["line"]) + offset  # type: ignore[call-overload]
        return header.text() + body.text(), seeded

    def _make(self, body: Writer, table: Table, k: int, parent: Table, parent_ref: str,
              params_ref: str | None, plan: ModulePlan, index: int, reference, seeded) -> None:  # type: ignore[no-untyped-def]
        rng = self.random
        style = rng.random()
        parent_is_root = parent.tier == "Manual"
        fetch_values = f"({parent_ref} & key).fetch1()" if parent_is_root else f'({parent_ref} & key).fetch("value")'
        if style < 0.05:  # tripartite make
            body.add("    def make_fetch(self, key):", f"        return ({fetch_values},)", "",
                     "    def make_compute(self, key, values):", "        return (_summarize(values), 1)", "",
                     "    def make_insert(self, key, value, n_items):",
                     "        self.insert1(dict(key, value=value, n_items=n_items))")
            return
        helper = style < 0.25
        body.add("    def make(self, key):")
        if helper:
            body.add("        values = self._collect(key)")
        elif style < 0.4 and not parent_is_root:
            body.add(f'        values = self.upstream[{parent_ref}].fetch("value")')
        else:
            body.add(f"        values = {fetch_values}")
        if params_ref:
            body.add(f'        threshold = ({params_ref} & key).fetch1("threshold")')
        else:
            body.add("        threshold = 0.5")
        roll = rng.random()
        if roll < 0.03:  # sideways read: a table that cannot be upstream (defined later)
            later = [t for t in plan.tables[k + 1:]]
            if later and rng.random() < 0.5:
                side_ref = later[0].name
            else:
                other = rng.randint(index + 1, self.count - 1) if index + 1 < self.count else index
                side_ref = reference(self.plans[other].tables[-1], direct_ok=False) if other != index \
                    else plan.tables[-1].name
            if side_ref != table.name:
                line = body.add(f'        n_related = len({side_ref} & {{"value": 0}})')
                seeded.append({"line": line, "code": "DJ201"})
        elif roll < 0.04:  # cross-table write into a Manual table
            root = self.nearest_root(index).root
            assert root is not None
            line = body.add(f"        {reference(root)}.insert1(dict(subject_id=len(values)), skip_duplicates=True)")
            seeded.append({"line": line, "code": "DJ301"})
        if table.part and rng.random() < 0.12:  # one-shot generator handed to two consumers
            body.add("        items = (dict(key, item=i, weight=float(v)) for i, v in enumerate(np.atleast_1d(values)))",
                     f"        self.{table.part}.insert(items)")
            line = body.add("        self.insert1(dict(key, value=threshold, n_items=len(list(items))))")
            seeded.append({"line": line, "code": "DJ401"})
            return
        body.add("        value = _summarize(values) * float(threshold)",
                 "        self.insert1(dict(key, value=value, n_items=int(np.size(values))))")
        if table.part:
            body.add(f"        self.{table.part}.insert(",
                     "            [dict(key, item=i, weight=float(v)) for i, v in enumerate(np.atleast_1d(values))]",
                     "        )")
        if helper:
            body.add("", "    def _collect(self, key):", f"        return {fetch_values}")


def generate(out: Path, modules: int = 500, autos: int = 4, seed: int = 7) -> dict[str, object]:
    """Write the repository under ``out`` (replacing it); returns the manifest."""
    if out.exists():
        shutil.rmtree(out)
    package = out / PACKAGE
    package.mkdir(parents=True)
    (out / "pyproject.toml").write_text(
        '[project]\nname = "synthetic-pipeline"\nversion = "0.0.0"\n\n[tool.djlint]\nselect = ["DJ"]\n'
    )
    (package / "__init__.py").write_text('"""Synthetic pipeline for the djlint benchmark."""\n')
    generator = Generator(modules, autos, seed)
    seeded: list[dict[str, object]] = []
    lines = 0
    for index in range(modules):
        directory = package / package_of(index)
        if not directory.exists():
            directory.mkdir()
            (directory / "__init__.py").write_text("")
        text, found = generator.module_source(index)
        path = directory / f"{module_name(index)}.py"
        path.write_text(text)
        lines += text.count("\n")
        relative = path.relative_to(out).as_posix()
        seeded += [{"path": relative, **entry} for entry in found]
    plans = generator.plans
    manifest: dict[str, object] = {
        "modules": modules,
        "auto_tables": sum(len(p.tables) for p in plans),
        "make_bodies": sum(len(p.tables) for p in plans),
        "root_tables": sum(2 for p in plans if p.root is not None),
        "part_tables": sum(1 for p in plans for t in p.tables if t.part),
        "lines": lines,
        "seeded": seeded,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--autos", type=int, default=4, help="auto-populated tables per module")
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    manifest = generate(options.out, options.modules, options.autos, options.seed)
    summary = {k: v for k, v in manifest.items() if k != "seeded"}
    print(json.dumps({**summary, "seeded": len(manifest["seeded"])}, indent=1))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
