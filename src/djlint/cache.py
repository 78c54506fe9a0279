"""Whole-result cache: the diagnostics of one analysis, stored on disk, keyed by every input.

The flake8 plugin is called once per file (and in several worker processes with ``-j``), but each file's
diagnostics need the model of the whole repository. So the first call analyses the repository once and
stores all its diagnostics here; every other call, in any process, reads them back. The command line uses
the same cache, so an unchanged repository is answered without analysis.

The key covers the effective configuration and the bytes of ``pyproject.toml``, the analysed paths and
the content hash of every Python file under them (and, as every key of the cache layer
``djlint.cachestore``, djlint's own sources and the Python version). An entry is a file of that layer:
written atomically, signed with the user's key and verified before it is parsed, so an unreadable,
corrupt or unsigned entry (e.g. one a repository ships) is a miss. A file lock makes concurrent cold
workers wait for the first one instead of all analysing.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from djlint.cachestore import Store, cache_directory, config_material, file_digest
from djlint.config import Config
from djlint.diagnostics import Diagnostic
from djlint.fileio import resolved
from djlint.walk import python_files, relative_path

KEEP_ENTRIES = 16

try:  # POSIX; elsewhere concurrent cold workers simply analyse in parallel
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class Digests:
    """Content hashes of files, each file read once per run (never across runs: files change)."""

    def __init__(self, known: dict[Path, str] | None = None) -> None:
        self._known: dict[Path, str] = dict(known or {})

    def __call__(self, path: Path) -> str:
        digest = self._known.get(path)
        if digest is None:
            digest = self._known[path] = file_digest(path)
        return digest


def result_inputs(
    paths: Sequence[Path], config: Config, files: Sequence[Path], digests: Digests
) -> dict[str, object]:
    """What the entry's key is made of (with djlint's sources and the Python version, by the store)."""
    root = config.root.resolve()
    return {
        "config": config_material(config),
        "paths": [relative_path(p, root) for p in paths],
        "files": [[relative_path(f, root), digests(f)] for f in files],
    }


class ResultCache:
    """Entries ``<directory>/results/<key>.json`` holding root-relative diagnostics and the content
    hashes of the files the analysis read."""

    def __init__(self, directory: Path, root: Path, digests: Digests | None = None) -> None:
        self.cache_files = Store(directory, "results", "{}.json", keep=KEEP_ENTRIES, repository=root,
                           subdirectory="results")
        self.directory = self.cache_files.directory
        self.root = root
        self.digests = digests or Digests()

    def key(self, inputs: dict[str, object]) -> str:
        return self.cache_files.key(inputs)

    def load(self, key: str) -> list[Diagnostic] | None:
        """The entry's diagnostics, or None (a miss) when it is missing, damaged, not signed with the
        user's key (see ``djlint.cachestore``) or stale."""
        body = self.cache_files.load(key)
        if body is None:
            return None
        try:
            entry = json.loads(body)
            for relative, digest in entry["files"].items():  # files analysed but not listed by us
                if self.digests(self.root / relative) != digest:
                    return None
            return [Diagnostic.from_dict(record) for record in entry["diagnostics"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def store(
        self, key: str, diagnostics: Sequence[Diagnostic], files: Sequence[Path], analysed: Digests
    ) -> None:
        """``analysed``: the hashes of the contents the analysis read (a file edited during the run
        must not be recorded with its content from before)."""
        entry = {
            "files": {relative_path(f, self.root): analysed(f) for f in files},
            "diagnostics": [d.as_dict() for d in diagnostics],
        }
        self.cache_files.store(key, json.dumps(entry).encode("utf-8"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive across processes; released when the handle closes, even if the holder dies."""
        try:
            handle = self.cache_files.lock()
        except OSError:  # read-only checkout, or a symlink on the way: no lock (and no cache writes)
            yield
            return
        try:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)


def _run_analysis(
    paths: Sequence[Path], config: Config, root: Path, use_cache: bool = True
) -> tuple[list[Diagnostic], list[Path], Digests]:
    """(diagnostics, the files analysed, the hashes of the contents the analysis read)."""
    from djlint.analysis import analyze  # heavy imports only when an analysis really runs

    result = analyze(list(paths), config, cwd=root, use_cache=use_cache)
    analysed = [Path(os.path.normpath(root / f)) for f in result.files]  # files are relative to root
    read = {Path(os.path.normpath(root / m.display_path)): m.digest for m in result.model.modules.values()}
    return list(result.diagnostics), analysed, Digests(read)  # broken files are read again


def analyze_cached(
    paths: Sequence[Path], config: Config, *, cwd: Path, use_cache: bool = True
) -> list[Diagnostic]:
    """Diagnostics of ``analyze(paths, config)``, paths relative to ``cwd``, from the cache when the
    inputs are unchanged. ``paths`` must be absolute; the analysis itself runs relative to the root."""
    root = config.root.resolve()
    paths = [resolved(Path(p)) for p in paths]
    if not use_cache:
        uncached, _, _ = _run_analysis(paths, config, root, use_cache=False)
        return _relative_to(uncached, root, cwd)
    files = sorted(python_files(paths, root))  # a superset of what the analysis reads: no exclusions
    digests = Digests()
    cache = ResultCache(cache_directory(config, config.root), root, digests)
    key = cache.key(result_inputs(paths, config, files, digests))
    diagnostics: list[Diagnostic] | None = cache.load(key)
    if diagnostics is None:
        with cache.lock():
            diagnostics = cache.load(key)  # another process may have finished meanwhile
            if diagnostics is None:
                diagnostics, analysed, read = _run_analysis(paths, config, root)
                cache.store(key, diagnostics, analysed, read)
    return _relative_to(diagnostics, root, cwd)


def _relative_to(diagnostics: Sequence[Diagnostic], root: Path, cwd: Path) -> list[Diagnostic]:
    cwd = cwd.resolve()
    if cwd == root:
        return list(diagnostics)

    def path_of(path: str) -> str:
        return os.path.relpath(os.path.join(root, path), cwd).replace(os.sep, "/")

    return sorted(d.rebased(path_of) for d in diagnostics)
