"""Benchmark of djlint's repository model (the cheap per-file pass), as ratios to flake8 in the same run.

    python bench/model_bench.py [--modules 500] [--tables-per-module 4]

Generates a synthetic repository (500 modules / 2,000 tables / ~2,000 make() bodies by default) in a
temporary directory and times, in one run:
  * flake8 --select F (pyflakes only) on the tree (subprocess, the reference),
  * djlint's model built cold (no cache) and warm (summary cache) after a one-file edit (subprocess each,
    so interpreter start and imports are included, as a user sees them),
  * parsing every file with Python's ast versus libcst (in process): why the cheap pass uses ast.
Prints the figures and the ratios. Not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import ast
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL_ONLY = """
import sys
from pathlib import Path
from djlint.build import build_model
from djlint.config import load_config
root = Path(sys.argv[1])
model = build_model([root], load_config(root), root, use_cache=sys.argv[2] == "1")
assert len(model.tables) >= 1
"""


def generate(root: Path, modules: int, per_module: int) -> None:
    random.seed(1)
    package = root / "pipe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text("[project]\nname = 'synthetic'\n")
    for m in range(modules):
        deps = sorted({random.randrange(m) for _ in range(2)}) if m else []
        lines = [
            "import datajoint as dj",
            "import numpy as np",
            *(f"from . import mod{d:03d}" for d in deps),
            f"schema = dj.schema('synthetic_{m}')",
        ]
        for t in range(per_module):
            parent = (
                f"T{m}_{t - 1}" if t else (f"mod{deps[0]:03d}.T{deps[0]}_{per_module - 1}" if deps else None)
            )
            tier = "Computed" if parent else "Manual"
            lines += [
                "",
                "",
                "@schema",
                f"class T{m}_{t}(dj.{tier}):",
                '    definition = """',
                f"    -> {parent}" if parent else "    item_id : int",
                "    ---",
                "    value : float  # a value",
                "    note = '' : varchar(64)",
                '    """',
            ]
            if parent:
                lines += [
                    "",
                    "    def make(self, key):",
                    f"        rows = ({parent} & key).fetch('value')",
                    "        total = float(np.sum(rows))",
                    "        for i in range(3):",
                    "            total += i",
                    "        self.insert1(dict(key, value=total, note='x'))",
                ]
        (package / f"mod{m:03d}.py").write_text("\n".join(lines) + "\n")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--tables-per-module", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        generate(root, args.modules, args.tables_per_module)
        files = sorted((root / "pipe").glob("*.py"))
        flake8 = timed([sys.executable, "-m", "flake8", "--select", "F", str(root / "pipe")])
        cold = timed([sys.executable, "-c", MODEL_ONLY, str(root), "0"])
        timed([sys.executable, "-c", MODEL_ONLY, str(root), "1"])  # fill the summary cache
        edited = files[len(files) // 2]
        edited.write_text(edited.read_text() + "\n# edited\n")
        warm = timed([sys.executable, "-c", MODEL_ONLY, str(root), "1"])
        sources = [f.read_text() for f in files]
        start = time.perf_counter()
        for source in sources:
            ast.parse(source)
        ast_time = time.perf_counter() - start
        import libcst

        start = time.perf_counter()
        for source in sources:
            libcst.parse_module(source)
        libcst_time = time.perf_counter() - start
    print(f"synthetic repo: {args.modules} modules, {args.modules * args.tables_per_module} tables")
    print(f"flake8 --select F           {flake8:7.3f} s  (reference)")
    print(f"djlint model, cold          {cold:7.3f} s  ratio {cold / flake8:5.2f}")
    print(f"djlint model, warm (1 edit) {warm:7.3f} s  ratio {warm / flake8:5.2f}")
    print(
        f"parse all files: ast {ast_time:.3f} s, libcst {libcst_time:.3f} s "
        f"(libcst/ast {libcst_time / ast_time:.1f}x)"
    )


if __name__ == "__main__":
    main()
