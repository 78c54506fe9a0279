"""djlint's cache files: authenticated, written atomically, never through a symlink.

The summary pack, the make() facts pack, the whole-result entries and the model snapshot all live in
the analysed repository's cache directory, which the repository itself (or a CI cache restored from a
pull request) can fill. So none of them is trusted as found:

* **Authenticated.** Every cache file carries an HMAC-SHA256 tag made with the user's own key
  (``$XDG_CACHE_HOME/djlint/cache.key``, else ``~/.cache/djlint/cache.key``: 32 random bytes, created on
  first use, readable by the user only) over the kind of file and its bytes. A file whose tag does not
  verify is treated as absent: it can neither hide findings nor crash the analysis. Without such a
  private key (no home directory, read-only) nothing is cached, and every run analyses.
* **Never through a symlink.** The cache directory and its subdirectories must be real directories
  (checked with ``lstat``); files are created with
  ``O_EXCL``/``O_NOFOLLOW`` or as a temporary file renamed into place, and cache files are read with
  ``O_NOFOLLOW``, regular files only, bounded (:mod:`djlint.fileio`).
* **Atomic.** A temporary file beside the target, then ``os.replace``, so parallel processes
  (flake8 -j, pre-commit, CI) only ever see complete files.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from djlint.fileio import MAX_CACHE_BYTES, read_regular

_IGNORE_ALL = "# created by djlint\n*\n"
TAG_SIZE = 32
KEY_FILE = "cache.key"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_keys: dict[Path, bytes | None] = {}


class UnsafeCacheDirectory(OSError):
    """A component of the cache directory is a symlink or not a directory: nothing is written."""


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


def tag(kind: str, data: bytes, key: bytes | None = None) -> bytes | None:
    """The HMAC of ``data`` as a cache file of ``kind`` (a file of one kind never passes for another)."""
    key = key if key is not None else user_key()
    if key is None:
        return None
    mac = hmac.new(key, kind.encode("utf-8") + b"\0", hashlib.sha256)
    mac.update(data)
    return mac.digest()


def verify(kind: str, data: bytes, found: bytes) -> bool:
    expected = tag(kind, data)
    return expected is not None and hmac.compare_digest(expected, found)


def seal(kind: str, data: bytes) -> bytes | None:
    """``data`` followed by its tag; None when there is no key (then nothing is cached)."""
    mark = tag(kind, data)
    return None if mark is None else data + mark


def unseal(kind: str, blob: bytes) -> bytes | None:
    """The data of a sealed blob whose tag verifies; else None."""
    if len(blob) < TAG_SIZE:
        return None
    data = blob[:-TAG_SIZE]
    return data if verify(kind, data, blob[-TAG_SIZE:]) else None


def read_sealed(path: Path, kind: str) -> bytes | None:
    """The authenticated contents of a cache file; None when missing, not a regular file, a symlink,
    too large, or not signed with the user's key."""
    try:
        blob = read_regular(path, MAX_CACHE_BYTES, follow_symlinks=False)
    except OSError:
        return None
    return unseal(kind, blob)


def read_raw(path: Path) -> bytes | None:
    """A cache file's bytes (regular file, no symlink, bounded) for a caller that verifies them itself."""
    try:
        return read_regular(path, MAX_CACHE_BYTES, follow_symlinks=False)
    except OSError:
        return None


def write_sealed(cache_root: Path, path: Path, kind: str, data: bytes, root: Path | None = None) -> bool:
    """Seal ``data`` and write it to ``path`` (inside ``cache_root``, see ``prepare`` for ``root``);
    False when not written."""
    blob = seal(kind, data)
    if blob is None:
        return False
    try:
        prepare(cache_root, path.parent, root)
        replace_atomically(path, blob)
    except OSError:
        return False  # a read-only or full disk, or an unsafe directory, only costs speed
    return True


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
