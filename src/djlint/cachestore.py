"""The one cache layer: every cache djlint keeps on disk is a ``Store`` of files signed with the user's key.

Four caches use it: the summary pack (``djlint.summaries``), the make() facts pack
(``djlint.makeflow.cache``), the model snapshot (``djlint.snapshot``) and the whole-result entries
(``djlint.cache``). Each decides what its inputs are and how it encodes its data; this module decides
everything else, the same way for all four:

* **One invalidation rule.** A file's key is the hash of its inputs (contents, configuration, paths),
  of djlint's own sources (:func:`sources_digest`: the bytes of every ``.py`` of the installed package,
  read once per process) and of the Python version (:func:`python_version`). Editing djlint, or
  running another Python, looks for other files: no format number or code tag is kept by hand.
* **Authenticated before decoded.** The cache directory lies in the analysed repository, which (or a
  CI cache restored from a pull request) can fill it, so nothing found there is trusted. Every file is
  its data followed by an HMAC-SHA256 tag made with the user's own key
  (``$XDG_CACHE_HOME/djlint/cache.key``, else ``~/.cache/djlint/cache.key``: 32 random bytes, created on
  first use, readable by the user only) over the kind, the tool stamp, the file's name and the data.
  :meth:`Store.load` checks the tag before it returns a byte, so no caller unmarshals or unpickles
  what the user's djlint did not write under that very name. A file that does not verify is absent.
  Without such a private key (no home directory, read-only) nothing is cached and every run analyses.
* **Never through a symlink.** The cache directory and its subdirectories must be real directories
  (checked with ``lstat``); files are created with ``O_EXCL``/``O_NOFOLLOW`` or as a temporary file
  renamed into place, and read with ``O_NOFOLLOW``, regular files only, bounded (:mod:`djlint.fileio`).
* **Atomic.** A temporary file beside the target, then ``os.replace``, so parallel processes
  (flake8 -j, pre-commit, CI) only ever see complete files.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from djlint.fileio import MAX_CACHE_BYTES, NotAnalysable, read_regular, read_source

if TYPE_CHECKING:
    from djlint.config import Config

CACHE_DIR_NAME = ".djlint_cache"
_IGNORE_ALL = "# created by djlint\n*\n"
TAG_SIZE = 32
KEY_FILE = "cache.key"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_keys: dict[Path, bytes | None] = {}
_PACKAGE = Path(__file__).resolve().parent
_sources_digest: list[str] = []  # computed once per process


class UnsafeCacheDirectory(OSError):
    """A component of the cache directory is a symlink or not a directory: nothing is written."""


# ---------------------------------------------------------------------------------------------
# Keys: the inputs, djlint's sources and the Python version
# ---------------------------------------------------------------------------------------------
def digest_of_sources(package: Path) -> str:
    """The hash of the name and bytes of every ``.py`` under ``package``."""
    h = hashlib.blake2b(digest_size=16)
    for source in sorted(package.rglob("*.py")):
        with contextlib.suppress(OSError):
            data = source.read_bytes()
            h.update(f"{source.relative_to(package).as_posix()}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


def sources_digest() -> str:
    """The hash of the installed djlint's sources, computed once per process (some 50 files, 0.45 MB:
    2-5 ms): an edited rule or interpreter must not answer from results of the old one."""
    if not _sources_digest:
        _sources_digest.append(digest_of_sources(_PACKAGE))
    return _sources_digest[0]


def python_version() -> str:
    """The interpreter (``marshal`` and ``pickle`` data are only read by the Python that wrote them)."""
    return f"{sys.implementation.cache_tag}-{sys.version}"


def tool_stamp() -> str:
    """djlint's sources and the Python version: part of every key and every signature."""
    return f"{sources_digest()}-{python_version()}"


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_digest(path: Path) -> str:
    """The content hash of a file of the repository, or why it has none."""
    try:
        return content_digest(read_source(path))
    except NotAnalysable as error:  # a FIFO, a device, ...: never read, reported as DJ000
        return f"not analysable: {error}"
    except OSError:
        return "missing"


def config_material(config: Config) -> dict[str, object]:
    """The configuration as key material: everything of it that can change what an analysis finds."""
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
        "pyproject": file_digest(pyproject) if pyproject.is_file() else None,
    }


def cache_directory(config: Config, root: Path) -> Path:
    """Where the caches of the repository at ``root`` live: ``cache-dir`` if configured."""
    return config.cache_dir if config.cache_dir is not None else root / CACHE_DIR_NAME


# ---------------------------------------------------------------------------------------------
# A kind of cache file
# ---------------------------------------------------------------------------------------------
class Store:
    """The files of one kind (``"summaries"``, ``"snapshot"``, ...) in a cache directory:
    ``<cache_root>/<subdirectory>/<name_format.format(key)>``, at most ``keep`` of them (the most
    recently written). ``repository``: the analysed repository, when the cache lies inside it (no
    directory between the two may be a symlink, see :func:`prepare`)."""

    def __init__(
        self, cache_root: Path, kind: str, name_format: str, *, keep: int,
        repository: Path | None = None, subdirectory: str | None = None,
    ) -> None:
        self.cache_root = cache_root
        self.directory = cache_root / subdirectory if subdirectory else cache_root
        self.kind = kind
        self.name_format = name_format
        self.keep = keep
        self.repository = repository

    def key(self, *inputs: object) -> str:
        """The key of the file for ``inputs`` (JSON-able), under this djlint and this Python."""
        material = json.dumps([self.kind, tool_stamp(), inputs], sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(material.encode("utf-8"), digest_size=16).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / self.name_format.format(key)

    def seal(self, key: str, data: bytes, user: bytes | None = None) -> bytes | None:
        """``data`` followed by its tag, as the file of ``key`` (``user``: a key other than the user's
        own, for tests); None when there is no key."""
        domain = f"{self.kind}\0{tool_stamp()}\0{self.path(key).name}".encode()
        mark = sign(domain, data, user)
        return None if mark is None else data + mark

    def load(self, key: str) -> bytes | None:
        """The data of the file of ``key``, only once its tag verifies; None when it is missing, not a
        regular file, a symlink, too large, or not written by this user's djlint under this name."""
        try:
            blob = read_regular(self.path(key), MAX_CACHE_BYTES, follow_symlinks=False)
        except OSError:
            return None
        if len(blob) < TAG_SIZE:
            return None
        data = blob[:-TAG_SIZE]
        expected = self.seal(key, data)
        if expected is None or not hmac.compare_digest(expected[-TAG_SIZE:], blob[-TAG_SIZE:]):
            return None
        return data

    def store(self, key: str, data: bytes) -> bool:
        """Sign and write the file of ``key``, then drop the oldest beyond ``keep``; False when not
        written (no key, a read-only or full disk, an unsafe directory: that only costs speed)."""
        blob = self.seal(key, data)
        if blob is None:
            return False
        try:
            prepare(self.cache_root, self.directory, self.repository)
            replace_atomically(self.path(key), blob)
        except OSError:
            return False
        keep_newest(self.directory.glob(self.name_format.format("*")), self.keep)
        return True

    def lock(self) -> int:
        """A lock file descriptor in this store's directory (see :func:`open_lock`)."""
        prepare(self.cache_root, self.directory, self.repository)
        return open_lock(self.directory)


# ---------------------------------------------------------------------------------------------
# The user's key and the tags
# ---------------------------------------------------------------------------------------------
def key_directory() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "djlint"


def user_key() -> bytes | None:
    """The user's signing key, created on first use; None where no private directory can hold it."""
    try:
        base = key_directory()
    except RuntimeError:  # no home directory
        return None
    if base in _keys:
        return _keys[base]
    key = _load_or_create_key(base)
    _keys[base] = key
    return key


def _load_or_create_key(base: Path) -> bytes | None:
    path = base / KEY_FILE
    try:
        key = read_regular(path, 64, follow_symlinks=False)
        return key if len(key) == 32 else None
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
    except FileExistsError:  # another process created it meanwhile
        with contextlib.suppress(OSError):
            key = read_regular(path, 64, follow_symlinks=False)
            return key if len(key) == 32 else None
        return None
    except (OSError, RuntimeError):  # read-only, not a directory, ...
        return None
    key = os.urandom(32)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(key)
    except OSError:
        return None
    return key


def sign(domain: bytes, data: bytes, key: bytes | None = None) -> bytes | None:
    """The HMAC of ``data`` under ``domain`` (kind, tool stamp and name of the file: a file never passes
    for another, nor for one of another djlint or Python); None when there is no key."""
    key = key if key is not None else user_key()
    if key is None:
        return None
    mac = hmac.new(key, domain + b"\0", hashlib.sha256)
    mac.update(data)
    return mac.digest()


# ---------------------------------------------------------------------------------------------
# Directories and files
# ---------------------------------------------------------------------------------------------
def _real_directory(directory: Path) -> None:
    """Create ``directory`` if missing; UnsafeCacheDirectory unless it is then a real directory."""
    try:
        os.mkdir(directory, 0o777)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeCacheDirectory(f"{directory} is a symlink or not a directory")


def prepare(cache_root: Path, directory: Path | None = None, root: Path | None = None) -> None:
    """Create ``directory`` (default: ``cache_root``) and a ``.gitignore`` in ``cache_root`` so that
    nothing of the cache is ever committed. Raises OSError (UnsafeCacheDirectory) when ``cache_root``,
    a directory between it and ``directory``, or - when the cache lies inside the repository ``root`` - a
    directory between ``root`` and it (``cache-dir = "build/cache"``, ``build`` a symlink) is a symlink:
    nothing is written then."""
    directory = directory or cache_root
    chain = [directory]
    while chain[-1] != cache_root and chain[-1].parent != chain[-1]:
        chain.append(chain[-1].parent)
    if root is not None and root in cache_root.parents:
        while chain[-1].parent != root:
            chain.append(chain[-1].parent)
    elif not os.path.lexists(cache_root):
        cache_root.parent.mkdir(parents=True, exist_ok=True)
    for component in reversed(chain):
        _real_directory(component)
    ignore = cache_root / ".gitignore"
    try:  # O_EXCL: an existing file, or a symlink (even a dangling one), is left alone
        handle = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644)
    except OSError:
        return
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(_IGNORE_ALL)


def open_lock(directory: Path) -> int:
    """A lock file descriptor in ``directory`` (opened without following a symlink)."""
    return os.open(directory / ".lock", os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o644)


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place (the rename
    replaces a symlink at ``path`` itself, never its target)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def keep_newest(paths: Iterable[Path], keep: int) -> None:
    """Delete all but the ``keep`` most recently written of ``paths`` (bounded caches)."""

    def written(path: Path) -> float:
        try:
            return path.lstat().st_mtime
        except OSError:
            return 0.0

    for stale in sorted(paths, key=written, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            stale.unlink()
