"""Reading files the linted repository controls: regular files only, and never more than a bound.

A repository can hold a ``.py`` that is a FIFO (opening it for reading would wait for a writer forever),
a symlink to ``/dev/zero`` or ``/dev/urandom`` (reading it never ends), or a huge file. Every read of
a source, of ``pyproject.toml`` or of a cache file goes through :func:`read_regular`: it opens without
blocking, checks with ``fstat`` that the opened file is a regular file, and reads at most ``limit``
bytes. Anything else raises :class:`NotAnalysable` (an ``OSError``) saying why.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_SOURCE_BYTES = 16 * 1024 * 1024  # far above any hand-written module
MAX_CACHE_BYTES = 512 * 1024 * 1024

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once instead of waiting for a writer
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class NotAnalysable(OSError):
    """Not a regular file, or larger than the bound; ``str()`` is the reason, e.g. 'a FIFO'."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EINVAL, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def kind_of(mode: int) -> str:
    """'a FIFO', 'a character device', ... for a file mode that is not a regular file's."""
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str | os.PathLike[str], limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes; else NotAnalysable
    (or another OSError: missing, unreadable, a symlink when ``follow_symlinks`` is false)."""
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY | (0 if follow_symlinks else _NOFOLLOW)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotAnalysable(f"{kind_of(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise NotAnalysable(f"larger than {_size(limit)}")
        first = os.read(descriptor, info.st_size + 1)
        if len(first) <= info.st_size:  # a short read of a regular file is its end: the usual case
            return first
        chunks = [first]  # the file grew, or reports no size (procfs): read on, bounded
        remaining = limit + 1 - len(first)
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise NotAnalysable(f"larger than {_size(limit)}")
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def read_source(path: str | os.PathLike[str]) -> bytes:
    """A file of the analysed repository (symlinks to regular files are followed)."""
    return read_regular(path, MAX_SOURCE_BYTES)


def source_or_reason(path: Path) -> bytes | str:
    """A source's bytes, or why it is not analysed (the text of its DJ000)."""
    try:
        return read_source(path)
    except NotAnalysable as error:
        return f"not analysed: {error}"
    except OSError as error:
        return f"cannot read the file: {error.strerror or error}"


def resolved(path: Path) -> Path:
    """``path`` made absolute with symlinks resolved, unless it resolves to something that is neither
    a regular file nor a directory (a ``x.py`` symlink to ``/dev/zero`` keeps its own name, so that it is
    still seen as a Python file and reported as not analysable)."""
    target = path.resolve()
    if target.is_file() or target.is_dir():
        return target
    return Path(os.path.abspath(path))
