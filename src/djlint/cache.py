"""Whole-result cache: the diagnostics of one analysis, stored on disk, keyed by every input.

The flake8 plugin is called once per file (and in several worker processes with ``-j``), but each file's
diagnostics need the model of the whole repository. So the first call analyses the repository once and
stores all its diagnostics here; every other call, in any process, reads them back. The command line uses
the same cache, so an unchanged repository is answered without analysis.

The key covers: the djlint version and the installed djlint sources, the effective configuration and the
bytes of ``pyproject.toml``, the analysed paths, and the content hash of every Python file under them.
Writes are atomic (temporary file + ``os.replace``); a file lock makes concurrent cold workers wait for the
first one instead of all analysing. Each entry is signed with the user's key (``djlint.cachefiles``): an
unreadable, corrupt or unsigned entry (e.g. one a repository ships) is treated as a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from djlint import __version__, cachefiles
from djlint.config import Config
from djlint.diagnostics import Diagnostic
from djlint.fileio import NotAnalysable, read_source, resolved

CACHE_DIR_NAME = ".djlint_cache"
ENTRY_FORMAT = 3  # 2: diagnostics as objects with their structured fields; 3: signed
_KIND = "results"
KEEP_ENTRIES = 16
# Only directories the analysis never enters (djlint.model.SKIPPED_DIRS has these and more): the listing
# below must include every file the analysis may read, so that adding one invalidates the entry.
_SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", "node_modules", "site-packages", ".djlint_cache", ".venv",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", ".ipynb_checkpoints",
})

try:  # POSIX; elsewhere concurrent cold workers simply analyse in parallel
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def cache_directory(config: Config) -> Path:
    return config.cache_dir if config.cache_dir is not None else config.root / CACHE_DIR_NAME


def python_files(paths: Sequence[Path], config: Config) -> list[Path]:
    """Every ``.py`` file the analysis may read under ``paths`` (resolved, sorted).

    A superset on purpose (exclusions are not applied): a listed file that is not analysed only costs
    a cache miss when it changes, while a missing one could leave a stale entry in use."""
    found: set[Path] = set()
    for start in paths:
        if not start.is_dir():
            found.add(start)
            continue
        for directory, subdirs, files in os.walk(start):
            subdirs[:] = [s for s in subdirs if s not in _SKIPPED_DIRS]
            found.update(Path(directory, name) for name in files if name.endswith(".py"))
    return sorted(found)


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root``, with ``/`` separators (``..`` when outside)."""
    text, prefix = str(path), str(root)
    if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] == os.sep:  # the usual case, fast
        return text[len(prefix) + 1 :].replace(os.sep, "/")
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return os.path.relpath(path, root).replace(os.sep, "/")


class Digests:
    """Content hashes of files, each file read once per run (never across runs: files change)."""

    def __init__(self, known: dict[Path, str] | None = None) -> None:
        self._known: dict[Path, str] = dict(known or {})

    def __call__(self, path: Path) -> str:
        digest = self._known.get(path)
        if digest is None:
            try:
                digest = hashlib.blake2b(read_source(path), digest_size=16).hexdigest()
            except NotAnalysable as error:  # a FIFO, a device, ...: never read, reported as DJ000
                digest = f"not analysable: {error}"
            except OSError:
                digest = "missing"
            self._known[path] = digest
        return digest


def _digest(path: Path) -> str:
    return Digests()(path)


# Front-end modules do not change what an analysis finds; leaving them out keeps entries valid across
# edits of the command line or the report formats.
_FRONT_ENDS = frozenset({"__main__.py", "cli.py", "output.py", "baseline.py", "cache.py", "flake8_plugin.py"})


def tool_fingerprint() -> list[object]:
    """The installed analyzer: its version and the size and mtime of each of its sources (an edited
    rule must not be answered from results of the old one)."""
    package = Path(__file__).resolve().parent
    stamps: list[object] = [__version__, ENTRY_FORMAT]
    for source in sorted(package.rglob("*.py")):
        relative = source.relative_to(package).as_posix()
        if relative in _FRONT_ENDS:
            continue
        with contextlib.suppress(OSError):
            stat = source.stat()
            stamps.append([relative, stat.st_size, stat.st_mtime_ns])
    return stamps


def config_material(config: Config) -> dict[str, object]:
    pyproject = config.root / "pyproject.toml"
    return {
        "select": sorted(config.select),
        "ignore": sorted(config.ignore),
        "extend-select": sorted(config.extend_select),
        "extend-ignore": sorted(config.extend_ignore),
        "per-file-ignores": [[pattern, sorted(codes)] for pattern, codes in config.per_file_ignores],
        "exclude": list(config.exclude),
        "linking": sorted(config.linking.items()),
        "policy": sorted(
            (table, sorted(entry.reads), sorted(entry.writes)) for table, entry in config.policy.allow.items()
        ),
        "pyproject": _digest(pyproject) if pyproject.is_file() else None,
    }


def result_key(
    paths: Sequence[Path], config: Config, files: Sequence[Path], digests: Digests | None = None
) -> str:
    digests = digests or Digests()
    root = config.root.resolve()
    material = {
        "format": ENTRY_FORMAT,
        "tool": tool_fingerprint(),
        "config": config_material(config),
        "paths": [relative_path(p, root) for p in paths],
        "files": [[relative_path(f, root), digests(f)] for f in files],
    }
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.blake2b(encoded, digest_size=20).hexdigest()


class ResultCache:
    """Entries ``<directory>/results/<key>.json`` holding root-relative diagnostics and the content
    hashes of the files the analysis read."""

    def __init__(self, directory: Path, root: Path, digests: Digests | None = None) -> None:
        self.directory = directory / "results"
        self.root = root
        self.digests = digests or Digests()

    def load(self, key: str) -> list[Diagnostic] | None:
        """The entry's diagnostics, or None (a miss) when it is missing, damaged, not signed with the
        user's key (see ``djlint.cachefiles``) or stale."""
        raw = cachefiles.read_raw(self.directory / f"{key}.json")
        if raw is None:
            return None
        try:
            outer = json.loads(raw)
            body = outer["body"].encode("utf-8")
            if not cachefiles.verify(_KIND, body, bytes.fromhex(outer["tag"])):
                return None
            entry = json.loads(body)
            if entry["format"] != ENTRY_FORMAT or entry["key"] != key:
                return None
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
            "format": ENTRY_FORMAT,
            "key": key,
            "files": {relative_path(f, self.root): analysed(f) for f in files},
            "diagnostics": [d.as_dict() for d in diagnostics],
        }
        body = json.dumps(entry)
        mark = cachefiles.tag(_KIND, body.encode("utf-8"))
        if mark is None:  # no private key: nothing is cached
            return
        # still one JSON document: the signed body as a string beside its tag
        document = json.dumps({"tag": mark.hex(), "body": body}).encode("utf-8")
        with contextlib.suppress(OSError):
            cachefiles.prepare(self.directory.parent, self.directory, self.root)
            cachefiles.replace_atomically(self.directory / f"{key}.json", document)
            cachefiles.keep_newest(self.directory.glob("*.json"), KEEP_ENTRIES)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive across processes; released when the handle closes, even if the holder dies."""
        try:
            cachefiles.prepare(self.directory.parent, self.directory, self.root)
            handle = cachefiles.open_lock(self.directory)
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
        diagnostics, _, _ = _run_analysis(paths, config, root, use_cache=False)
        return _relative_to(diagnostics, root, cwd)
    files = python_files(paths, config)
    digests = Digests()
    key = result_key(paths, config, files, digests)
    cache = ResultCache(cache_directory(config), root, digests)
    diagnostics = cache.load(key)
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
