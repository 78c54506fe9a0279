"""Writing djlint's cache files: atomically, in a cache directory git ignores.

The summary pack, the make() facts pack and the whole-result entries are all written this way, so
parallel processes (flake8 -j, pre-commit, CI) only ever see complete files.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

_IGNORE_ALL = "# created by djlint\n*\n"


def prepare(cache_root: Path, directory: Path | None = None) -> None:
    """Create ``directory`` (default: ``cache_root``) and a ``.gitignore`` in ``cache_root`` so that
    nothing of the cache is ever committed."""
    (directory or cache_root).mkdir(parents=True, exist_ok=True)
    ignore = cache_root / ".gitignore"
    if not ignore.exists():
        with contextlib.suppress(OSError):
            ignore.write_text(_IGNORE_ALL, encoding="utf-8")


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
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
            return path.stat().st_mtime
        except OSError:
            return 0.0

    for stale in sorted(paths, key=written, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            stale.unlink()
