"""One analysis run: build the model, analyse make() bodies, run every rule, apply select/ignore and noqa."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djlint.build import build_model
from djlint.cachestore import cache_directory
from djlint.config import Config, find_root, load_config
from djlint.diagnostics import Diagnostic
from djlint.fileio import read_source
from djlint.model import Model
from djlint.rules import REGISTRY
from djlint.walk import relative_path

# flake8's syntax: a bare noqa comment suppresses everything on the line, "noqa: DJ201,DJ301" (after
# a hash) those codes, prefixes allowed. Inside a definition string the same text is a DataJoint
# comment, so it works there too.
_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


@dataclass
class AnalysisResult:
    diagnostics: list[Diagnostic]
    model: Model
    files: list[str] = field(default_factory=list)


def noqa_codes(line: str) -> frozenset[str] | None:
    """None: no noqa; empty set: bare noqa (everything); else the suppressed codes/prefixes."""
    match = _NOQA.search(line)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return frozenset()
    return frozenset(code.upper() for code in re.split(r"[,\s]+", codes) if code)


def suppressed(diagnostic: Diagnostic, line: str) -> bool:
    codes = noqa_codes(line)
    if codes is None:
        return False
    return not codes or any(diagnostic.code.startswith(code) for code in codes)


class _Lines:
    """Physical lines of reported files (analysed modules, or read from disk, e.g. pyproject.toml)."""

    def __init__(self, model: Model, cwd: Path) -> None:
        self.model = model
        self.cwd = cwd
        self.cache: dict[str, list[str]] = {}

    def line(self, path: str, number: int) -> str:
        lines = self.cache.get(path)
        if lines is None:
            module = self.model.module_of_path(path)
            if module is not None:
                lines = module.lines
            else:
                try:  # regular files only: a DJ000 may name a FIFO or a device
                    lines = read_source(self.cwd / path).decode("utf-8", errors="replace").splitlines()
                except OSError:
                    lines = []
            self.cache[path] = lines
        return lines[number - 1] if 0 < number <= len(lines) else ""


class _RootRelative:
    """Diagnostic paths (relative to ``cwd``) as root-relative paths, for ``per-file-ignores``."""

    def __init__(self, root: Path, cwd: Path) -> None:
        self.root, self.cwd = root.resolve(), cwd
        self.known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if path not in self.known:
            self.known[path] = relative_path(Path(os.path.normpath(self.cwd / path)), self.root)
        return self.known[path]


def _make_facts(model: Model, cache_dir: Path | None) -> Any:
    from djlint.makeflow import analyze_makes

    return analyze_makes(model, cache_dir=cache_dir)


def analyze(
    paths: Sequence[str | Path] = (".",),
    config: Config | None = None,
    *,
    cwd: Path | None = None,
    use_cache: bool = True,
    sources: Mapping[Path, bytes] | None = None,
) -> AnalysisResult:
    """Analyse the Python files under ``paths`` as one repository.

    ``config`` defaults to the ``[tool.djlint]`` of the repository holding the first path.
    Diagnostic paths are relative to ``cwd`` (default: the current directory) with ``/`` separators.
    ``sources`` maps files (absolute paths) to contents that stand in for what is on disk: an editor's
    unsaved buffer, linted in the context of the saved rest of the repository.
    """
    cwd = (cwd or Path.cwd()).resolve()
    given = [Path(p) if Path(p).is_absolute() else cwd / p for p in (paths or (".",))]
    if config is None:
        config = load_config(find_root(given[0]))
    # One analysis allocates millions of long-lived small objects; the cyclic collector's repeated
    # passes over them cost ~40% of the run, for garbage that is freed by reference counting anyway.
    collecting = gc.isenabled()
    gc.disable()
    try:
        overlay = {Path(path).resolve(): data for path, data in (sources or {}).items()}
        model = build_model(given, config, cwd, use_cache=use_cache, sources=overlay)
        cache_dir = cache_directory(config, model.root) if use_cache else None
        facts = _make_facts(model, cache_dir)
        lines = _Lines(model, cwd)
        found: set[Diagnostic] = set()
        per_file = _RootRelative(model.root, cwd) if config.per_file_ignores else None
        for code, rule in REGISTRY.items():
            if not config.enabled(code):
                continue
            for diagnostic in rule.check(model, facts):
                where = per_file(diagnostic.path) if per_file is not None else None
                if not config.enabled(diagnostic.code, where):
                    continue
                if suppressed(diagnostic, lines.line(diagnostic.path, diagnostic.line)):
                    continue
                found.add(diagnostic)
        if model.snapshot is not None:  # after the run: it keeps what the run derived from the model
            model.snapshot.store(model, model.snapshot_table)
    finally:
        if collecting:
            gc.enable()
    return AnalysisResult(diagnostics=sorted(found), model=model, files=list(model.files))
