"""flake8 plugin (code prefix ``DJ``): ``flake8 --select DJ`` reports what ``djlint`` reports.

flake8 hands a plugin one file at a time, but a make() can only be judged against the whole repository's
tables. So the first file checked in a process analyses the repository holding it (found like the CLI
does: the nearest ``pyproject.toml`` or ``.git``) through the on-disk result cache, and every file then
takes its own diagnostics from that one result. Under ``flake8 -j N`` the workers share the cache: one
analyses, the others wait on the cache lock and read its entry.

This module is imported by flake8 at start-up even when no DJ code is selected, so it imports nothing
heavy until a check really runs.
"""

from __future__ import annotations

import argparse
import ast
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from djlint import __version__

# root -> {root-relative path: [(line, column, text)]}; one analysis per repository per process
_RESULTS: dict[Path, dict[str, list[tuple[int, int, str]]]] = {}


def _repository_result(root: Path) -> dict[str, list[tuple[int, int, str]]]:
    if root not in _RESULTS:
        from flake8.exceptions import ExecutionError

        from djlint.cache import analyze_cached
        from djlint.cli import load_repository_config
        from djlint.config import ConfigError

        try:
            config = load_repository_config(root)
        except ConfigError as error:  # flake8 prints it as a critical error, without a traceback
            raise ExecutionError(f"djlint: {error}") from None
        by_file: dict[str, list[tuple[int, int, str]]] = {}
        for d in analyze_cached([root], config, cwd=root):
            by_file.setdefault(d.path, []).append((d.line, d.column, f"{d.code} {d.message}"))
        _RESULTS[root] = by_file
    return _RESULTS[root]


class DjlintChecker:
    name = "djlint"
    version = __version__
    _enabled = True

    def __init__(self, tree: ast.AST, filename: str) -> None:
        self.filename = filename

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        """Skip the repository analysis entirely when flake8 would discard every DJ code anyway
        (e.g. ``flake8 --select F``). Called once per flake8 run, so an editor or tool that runs flake8
        repeatedly in one process never sees the previous run's result."""
        _RESULTS.clear()
        try:
            from flake8.style_guide import Decision, DecisionEngine

            engine = DecisionEngine(options)
            cls._enabled = any(
                engine.decision_for(f"DJ{number:03d}") is Decision.Selected for number in range(1000)
            )
        except Exception:  # noqa: BLE001 - an unknown flake8 internals change: stay enabled
            cls._enabled = True

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        if not self._enabled or self.filename in ("-", "stdin"):
            return
        from djlint.config import find_root

        path = Path(os.path.abspath(self.filename))
        root = find_root(path)
        relative = os.path.relpath(path.resolve(), root.resolve()).replace(os.sep, "/")
        for line, column, text in _repository_result(root.resolve()).get(relative, ()):
            yield line, max(column - 1, 0), text, type(self)
