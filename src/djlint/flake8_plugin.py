"""flake8 plugin (code prefix ``DJ``): ``flake8 --select DJ`` reports what ``djlint`` reports.

flake8 hands a plugin one file at a time, but a make() can only be judged against the whole repository's
tables. So the first file checked in a process analyses the repository holding it (found like the CLI
does: the nearest ``pyproject.toml`` or ``.git``) through the on-disk result cache, and every file then
takes its own diagnostics from that one result. Under ``flake8 -j N`` the workers share the cache: one
analyses, the others wait on the cache lock and read its entry.

An editor that lints an unsaved buffer (``flake8 --stdin-display-name lab/analysis.py -``) hands the plugin
the buffer's lines under the file's name: when they differ from the file on disk, the repository is
analysed with the buffer's text in place of the file (not cached as a result: the buffer is not on disk).

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


def _config(root: Path) -> Any:
    from flake8.exceptions import ExecutionError

    from djlint.cli import load_repository_config
    from djlint.config import ConfigError

    try:
        return load_repository_config(root)
    except ConfigError as error:  # flake8 prints it as a critical error, without a traceback
        raise ExecutionError(f"djlint: {error}") from None


def _by_file(diagnostics: Any) -> dict[str, list[tuple[int, int, str]]]:
    by_file: dict[str, list[tuple[int, int, str]]] = {}
    for d in diagnostics:
        by_file.setdefault(d.path, []).append((d.line, d.column, f"{d.code} {d.message}"))
    return by_file


def _repository_result(root: Path) -> dict[str, list[tuple[int, int, str]]]:
    if root not in _RESULTS:
        from djlint.cache import analyze_cached

        _RESULTS[root] = _by_file(analyze_cached([root], _config(root), cwd=root))
    return _RESULTS[root]


def _buffer_result(root: Path, path: Path, text: str) -> dict[str, list[tuple[int, int, str]]]:
    """The repository's findings with ``text`` in place of the file ``path`` (root-relative paths)."""
    from djlint.analysis import analyze

    result = analyze([root], _config(root), cwd=root, sources={path: _encoded(text)})
    return _by_file(result.diagnostics)


def _encoded(text: str) -> bytes:
    """``text`` as the bytes of a file: in the encoding its coding cookie declares (else UTF-8)."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(text.encode("utf-8")).readline)
        return text.encode(encoding.removesuffix("-sig"))
    except (SyntaxError, LookupError, UnicodeEncodeError):
        return text.encode("utf-8", errors="surrogateescape")


def _normalised(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _differs_from_disk(path: Path, lines: list[str]) -> bool:
    """Is flake8's text for ``path`` (standard input under ``--stdin-display-name``) not the saved file?
    Compared as flake8 reads a file: decoded as its coding cookie says (latin-1 when that fails),
    universal newlines, no BOM."""
    import tokenize

    try:
        with tokenize.open(path) as handle:
            saved = handle.read()
    except (SyntaxError, UnicodeError):
        saved = path.read_text(encoding="latin-1", errors="replace")
    except OSError:
        return True
    return _normalised("".join(lines)) != _normalised(saved)


class DjlintChecker:
    name = "djlint"
    version = __version__
    _enabled = True

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

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
        if not path.is_file():  # a buffer never saved: not part of the repository's model
            return
        root = find_root(path)
        relative = os.path.relpath(path.resolve(), root.resolve()).replace(os.sep, "/")
        if _differs_from_disk(path, self.lines):
            result = _buffer_result(root.resolve(), path.resolve(), "".join(self.lines))
        else:
            result = _repository_result(root.resolve())
        for line, column, text in result.get(relative, ()):
            yield line, max(column - 1, 0), text, type(self)
