"""Benchmark of djlint against flake8 (pyflakes only) on a synthetic 500-module pipeline, in one run.

Measured, each in a fresh child process (median wall time of --repeat runs; peak RSS of the child and
its children from ``os.wait4``):

  reference    flake8 --select F (default --jobs), with the DJ plugin removed from flake8's plugin list
  djlint cold  first run, empty cache directory (writes the caches)
  djlint --no-cache   no cache read or written
  djlint warm  unchanged repository (whole-result cache)
  djlint edit  warm, after editing one make() body in one module, in place (the incremental path)
  djlint edit, lines moved   the same, adding 1-3 lines (everything below moves: the usual edit)
  djlint edit, new import    warm, after adding an import to one module (its structure changed:
               the model is rebuilt, make() facts of other modules are reused)
  flake8 DJ    flake8 --select DJ with a warm cache (every worker reads the shared result)
  and, for information: flake8 --select F -j1, and pyflakes alone.

Targets (issues 2 and 8): cold <= 2x reference and < 3 s; edit <= 0.5 s; peak memory <= 500 MB.
Other processes disturb timings: run it on a quiet machine. Writes bench/out/lint.json.

djlint's own modules are byte-compiled first (``compileall``), as ``pip install`` does for an installed
package and as flake8's and pyflakes' are in site-packages: an editable checkout run with
PYTHONDONTWRITEBYTECODE=1 would otherwise compile djlint's sources on every run (~0.06 s).

Usage: ``python bench/lint_bench.py [--modules 500] [--repeat 3] [--profile]``
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic_repo import generate  # noqa: E402

PYTHON = sys.executable
BIN = Path(sys.executable).parent
WORK = HERE / "_work"
OUT = HERE / "out"

# flake8 loads every installed plugin and runs every tree plugin whatever --select says, so the
# reference must drop ours from the plugin list; then it is flake8 with pyflakes (and pycodestyle,
# which flake8 always runs, its codes being filtered out by --select F).
FLAKE8_WITHOUT_DJLINT = """
import sys
from flake8.plugins import finder
_find = finder.find_plugins
finder.find_plugins = lambda cfg, opts: [p for p in _find(cfg, opts) if p.package != "datajoint-provenance"]
from flake8.main.cli import main
sys.exit(main())
"""


def run_child(argv: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS in MB of the child and its waited-for descendants, exit status, stdout)."""
    out_path = WORK / "child.out"
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    rss_mb = usage.ru_maxrss / 1024 if platform.system() == "Linux" else usage.ru_maxrss / 2**20
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}):\n{stderr}")
    return elapsed, rss_mb, process.returncode, out_path.read_text()


class Edit:
    """Alternating one-line edits of one make() body, so every timed run sees a changed file."""

    def __init__(self, repo: Path) -> None:
        modules = sorted((repo / "synth").rglob("m*.py"))
        middle = modules[len(modules) // 2 :]  # a module in the middle of the pipeline: it has dependents
        self.path = next(p for p in middle if "        value = _summarize" in p.read_text())
        self.original = self.path.read_text()
        self.count = 0

    def apply(self) -> None:
        self.count += 1
        factor = f" * {1 + self.count % 7}.0"
        self.path.write_text(self.original.replace("        value = _summarize(values)", f"        value = _summarize(values){factor}", 1))

    def apply_moving_lines(self) -> None:
        self.count += 1
        added = "".join(f"        # note {i}\n" for i in range(1 + self.count % 3))
        self.path.write_text(self.original.replace("        value = _summarize(values)", f"{added}        value = _summarize(values)", 1))

    def apply_new_import(self) -> None:
        self.count += 1
        self.path.write_text(f"import math as _math{self.count}\n" + self.original)

    def restore(self) -> None:
        self.path.write_text(self.original)


def measure(name: str, argv: list[str], cwd: Path, repeat: int, before=None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    times, peaks = [], []
    output = ""
    for _ in range(repeat):
        if before is not None:
            before()
        elapsed, rss, status, output = run_child(argv, cwd)
        times.append(elapsed)
        peaks.append(rss)
    record = {
        "name": name,
        "command": " ".join(Path(a).name if a.startswith(str(BIN)) else a for a in argv),
        "seconds": statistics.median(times),
        "runs": times,
        "peak_rss_mb": max(peaks),
        "exit_status": status,
    }
    print(f"  {name:<34} {record['seconds']:7.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
    record["_output"] = output
    return record


def clear_cache(repo: Path) -> None:
    shutil.rmtree(repo / ".djlint_cache", ignore_errors=True)


def check_reference_excludes_djlint(repo: Path) -> None:
    plain = subprocess.run([str(BIN / "flake8"), "--version"], capture_output=True, text=True).stdout
    stripped = subprocess.run([PYTHON, "-c", FLAKE8_WITHOUT_DJLINT, "--version"], capture_output=True, text=True).stdout
    if "datajoint-provenance" not in plain or "datajoint-provenance" in stripped:
        raise SystemExit(f"cannot build a flake8 reference without the DJ plugin:\n{plain}\n{stripped}")


def seeded_recall(repo: Path, report: str) -> dict[str, int]:
    manifest = json.loads((repo / "manifest.json").read_text())
    seeded = {(e["path"], e["line"], e["code"]) for e in manifest["seeded"]}
    found = {(d["path"], d["line"], d["code"]) for d in json.loads(report)}
    return {"seeded": len(seeded), "found": len(found), "seeded_found": len(seeded & found),
            "unexpected": len(found - seeded)}


def profile(repo: Path) -> list[str]:
    """Where a cold --no-cache run spends its time (cumulative, top functions)."""
    target = OUT / "djlint_cold.prof"
    subprocess.run([PYTHON, "-m", "cProfile", "-o", str(target), "-m", "djlint", "--no-cache", "--exit-zero",
                    "-o", os.devnull], cwd=repo, check=True)
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

    stats = pstats.Stats(str(target), stream=Sink())  # type: ignore[arg-type]
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return "".join(lines).splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--autos", type=int, default=4, help="auto-populated tables (make bodies) per module")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="also profile a cold run (bench/out/djlint_cold.prof)")
    options = parser.parse_args()

    WORK.mkdir(exist_ok=True)
    OUT.mkdir(exist_ok=True)
    import djlint

    compileall.compile_dir(str(Path(djlint.__file__).parent), quiet=1)
    repo = WORK / "synthetic"
    manifest = generate(repo, options.modules, options.autos)
    shape = {k: v for k, v in manifest.items() if k != "seeded"}
    print(f"synthetic repository: {json.dumps(shape)}; {len(manifest['seeded'])} seeded violations")  # type: ignore[arg-type]
    check_reference_excludes_djlint(repo)

    djlint = [str(BIN / "djlint"), "--format", "json", "--exit-zero"]
    edit = Edit(repo)
    results = []
    print("timings (median):")
    results.append(measure("reference: flake8 --select F", [PYTHON, "-c", FLAKE8_WITHOUT_DJLINT, "--isolated",
                                                             "--select", "F", "synth"], repo, options.repeat))
    results.append(measure("flake8 --select F -j1", [PYTHON, "-c", FLAKE8_WITHOUT_DJLINT, "--isolated", "-j1",
                                                      "--select", "F", "synth"], repo, options.repeat))
    results.append(measure("pyflakes alone", [PYTHON, "-m", "pyflakes", "synth"], repo, options.repeat))
    results.append(measure("djlint --no-cache", [*djlint, "--no-cache"], repo, options.repeat))
    results.append(measure("djlint cold (empty cache)", djlint, repo, options.repeat, before=lambda: clear_cache(repo)))
    results.append(measure("djlint warm (unchanged)", djlint, repo, options.repeat))
    results.append(measure("djlint warm after one-file edit", djlint, repo, options.repeat, before=edit.apply))
    results.append(measure("djlint edit, lines moved", djlint, repo, options.repeat, before=edit.apply_moving_lines))
    results.append(measure("djlint edit, new import", djlint, repo, options.repeat, before=edit.apply_new_import))
    edit.restore()
    measure("(re-warm)", djlint, repo, 1)
    results.append(measure("flake8 --select DJ, warm cache", [str(BIN / "flake8"), "--isolated", "--select", "DJ",
                                                              "synth"], repo, options.repeat))

    by_name = {r["name"]: r for r in results}
    reference = by_name["reference: flake8 --select F"]["seconds"]
    recall = seeded_recall(repo, by_name["djlint --no-cache"]["_output"])  # type: ignore[arg-type]
    dj_flake8 = len(by_name["flake8 --select DJ, warm cache"]["_output"].splitlines())  # type: ignore[union-attr]
    for record in results:
        record["ratio_vs_reference"] = record["seconds"] / reference  # type: ignore[operator]
        record.pop("_output")

    cold = by_name["djlint cold (empty cache)"]
    edit_run = by_name["djlint warm after one-file edit"]
    moved_run = by_name["djlint edit, lines moved"]
    peak = max(r["peak_rss_mb"] for r in results if str(r["name"]).startswith("djlint"))  # type: ignore[type-var]
    targets = {
        "cold <= 2x reference": cold["ratio_vs_reference"] <= 2,  # type: ignore[operator]
        "cold < 3 s": cold["seconds"] < 3,  # type: ignore[operator]
        "edit <= 0.5 s": edit_run["seconds"] <= 0.5,  # type: ignore[operator]
        "edit moving lines <= 0.5 s": moved_run["seconds"] <= 0.5,  # type: ignore[operator]
        "djlint memory <= 500 MB": peak <= 500,
    }

    print()
    print(f"{'measurement':<36} {'seconds':>8} {'x flake8':>9} {'peak MB':>8}")
    for record in results:
        print(f"{record['name']:<36} {record['seconds']:8.2f} {record['ratio_vs_reference']:9.2f} "
              f"{record['peak_rss_mb']:8.0f}")
    print()
    print(f"seeded violations found by djlint: {recall['seeded_found']}/{recall['seeded']} "
          f"({recall['unexpected']} other findings); flake8 --select DJ reported {dj_flake8} lines")
    for target, met in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {target}")

    document = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()},
        "repository": shape,
        "repeat": options.repeat,
        "results": results,
        "seeded_recall": recall,
        "flake8_dj_lines": dj_flake8,
        "targets": targets,
    }
    if options.profile:
        document["profile_top"] = profile(repo)
        print("\n".join(document["profile_top"][:60]))  # type: ignore[index]
    (OUT / "lint.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {OUT / 'lint.json'}")


if __name__ == "__main__":
    main()
