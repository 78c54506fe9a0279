"""The files of the analysed repository: which ``.py`` files djlint reads (one walker, one list of
skipped directories) and how they are named (root-relative paths, module names).

The analysis (``djlint.build``, through :func:`discover`), the search for files it left out
(``djlint.model``) and the whole-result cache's listing of its inputs (``djlint.cache``) all walk with
:func:`python_files`, so the three can never disagree on which directories are skipped. Exclusions (``exclude`` globs) are
decided by :func:`djlint.config.path_matches` alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from djlint.config import Config, path_matches
from djlint.fileio import resolved

# Directories that never hold the pipeline's own code: version control, environments, build output,
# caches (``*.egg-info`` too).
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "env",
        ".env",
        "build",
        "dist",
        "__pycache__",
        "node_modules",
        ".tox",
        ".nox",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".djlint_cache",
        ".eggs",
        ".ipynb_checkpoints",
    }
)


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root``, with ``/`` separators (``..`` when outside)."""
    text, prefix = str(path), str(root)
    if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] == os.sep:  # the usual case, fast
        return text[len(prefix) + 1 :].replace(os.sep, "/")
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return os.path.relpath(path, root).replace(os.sep, "/")


def python_files(paths: Sequence[Path], root: Path, exclude: Sequence[str] = ()) -> list[Path]:
    """Every ``.py`` under ``paths`` (resolved; files given explicitly are kept) whose root-relative
    path no ``exclude`` glob matches, in analysis order: directories and files sorted by name."""
    found: dict[Path, None] = {}
    for given in paths:
        given = resolved(given)
        if not given.is_dir():  # a file, or a FIFO or device that is reported as not analysable
            if given.suffix == ".py" and not path_matches(relative_path(given, root), exclude):
                found[given] = None
            continue
        for directory, subdirs, files in os.walk(given):
            subdirs[:] = sorted(
                d
                for d in subdirs
                if d not in SKIPPED_DIRS
                and not d.endswith(".egg-info")
                and not (exclude and path_matches(relative_path(Path(directory, d), root), exclude))
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    file = Path(directory, name)
                    if not (exclude and path_matches(relative_path(file, root), exclude)):
                        found[file] = None
    return list(found)


def discover(paths: Sequence[Path], config: Config) -> list[Path]:
    """The files the analysis reads: every ``.py`` under ``paths``, minus the configured exclusions."""
    return python_files(paths, config.root.resolve(), config.exclude)


def module_name(path: Path, root: Path, _inits: dict[Path, bool] | None = None) -> tuple[str, bool]:
    """(dotted module name, is the file a package ``__init__``)."""
    inits = {} if _inits is None else _inits

    def has_init(directory: Path) -> bool:
        found = inits.get(directory)
        if found is None:
            found = inits[directory] = os.path.isfile(os.path.join(directory, "__init__.py"))
        return found

    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    directory = path.parent
    if has_init(directory):
        while has_init(directory) and directory.parent != directory:
            parts.insert(0, directory.name)
            directory = directory.parent
        return ".".join(parts), is_package
    relative = relative_path(path.with_suffix(""), root).split("/")
    if relative and relative[0] == "src" and len(relative) > 1:
        relative = relative[1:]
    if relative and relative[0] == "..":  # outside the root: keep only the stem
        relative = [path.stem]
    if is_package:
        relative = relative[:-1] or [path.parent.name]
    return ".".join(relative), is_package
