"""The last built repository model, kept on disk, so that a run after an edit that changes no file's
structure (a make() body or a helper edited, lines added or removed, comments) skips the model build.

Building the model (resolving every name, tier, Part and foreign key of the repository) is the
largest cost of a run after a one-file edit. It depends only on the files' summaries, the
configuration and the analyzer itself; so after each build the model is stored with a table of
every file's content hash, summary hash and shape hash (the summary without lines and columns). The
next run hashes the files; a file whose content changed is summarised again (one parse). If every
summary has its old shape, the stored model is used: the changed modules' text is swapped in and,
where only lines moved, the model's positions from that module are moved too
(``djlint.model.reposition``). Anything else (a file added, removed or renamed; a class, import,
method, attribute or foreign key added, removed or changed) rebuilds.

The model is stored with ``pickle``, which can run code when loading; a snapshot lives in the
analysed repository's cache directory, which a repository could ship. So each snapshot is signed
with the key every cache file is signed with, kept in the user's own cache directory
(``$XDG_CACHE_HOME/djlint/cache.key`` or ``~/.cache/djlint/cache.key``, readable by the user only; see
``djlint.cachefiles``), and one whose signature does not verify is never unpickled. Without such a
directory there is no snapshot, and every run builds the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import marshal
import pickle
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djlint import cachefiles
from djlint.fileio import read_source
from djlint.summaries import digest, parse_and_summarize, shape

if TYPE_CHECKING:
    from djlint.config import Config
    from djlint.model import Model

FORMAT = 1
KEEP = 4  # snapshots per cache directory (one per scope: configuration, paths, working directory)
_MAGIC = b"DJLS"
_LENGTH = struct.Struct("<I")
_MAC_SIZE = cachefiles.TAG_SIZE
_KIND = "snapshot"


def summary_digests(summary: dict[str, Any]) -> tuple[str, str]:
    """(hash of the summary, hash of its shape)."""
    return digest(marshal.dumps(summary)), digest(marshal.dumps(shape(summary)))


def _secret() -> bytes | None:
    """The user's signing key (shared by every cache file: ``djlint.cachefiles``)."""
    return cachefiles.user_key()


class ModelSnapshot:
    """One snapshot file per analysis scope (configuration, analysed paths, working directory)."""

    def __init__(self, directory: Path, key_material: object, root: Path | None = None) -> None:
        self.key = hashlib.blake2b(
            repr((FORMAT, sys.version_info[:2], key_material)).encode(), digest_size=16
        ).hexdigest()
        self.base = directory
        self.root = root  # the repository: no directory between it and the cache may be a symlink
        self.path = directory / f"model-{self.key[:16]}.snapshot"
        # the stored file table, once restore() has read it: a rebuild reuses the hashes of unchanged files
        self.previous: dict[str, tuple[str, str, str]] = {}

    def restore(self, files: Sequence[tuple[str, Path]], config: Config) -> Model | None:
        """The stored model if every file of ``files`` ((display path, path) in analysis order) has the
        summary it had when the model was built; else None (the caller builds)."""
        blob = cachefiles.read_raw(self.path)  # regular file, no symlink, bounded
        if blob is None:
            return None
        try:
            header, body = self._open(blob)
        except (ValueError, EOFError, TypeError, struct.error):
            return None
        if header.get("key") != self.key:
            return None
        table: dict[str, tuple[str, str, str]] = header["files"]
        self.previous = table
        if [display for display, _ in files] != list(table):
            return None
        changed: dict[str, tuple[str, dict[str, Any], Any, str, bool]] = {}
        for display, path in files:
            try:
                data = read_source(path)
            except OSError:
                return None
            content = digest(data)
            stored_content, stored_summary, stored_shape = table[display]
            if content == stored_content:
                continue
            summary, tree, text = parse_and_summarize(data)
            if "error" in summary or text is None:
                return None
            new_summary, new_shape = summary_digests(summary)
            if new_shape != stored_shape:
                return None
            changed[display] = (content, summary, tree, text, new_summary != stored_summary)
        secret = _secret()
        if secret is None or not hmac.compare_digest(blob[-_MAC_SIZE:], _mac(secret, blob[:-_MAC_SIZE])):
            return None
        from djlint.model import Model, reposition  # here: djlint.model uses this module

        try:
            model = pickle.loads(body)
        except Exception:  # noqa: BLE001 - a snapshot of another analyzer version: rebuild
            return None
        if not isinstance(model, Model):
            return None
        model.config = config
        for display, (content, summary, tree, text, moved) in changed.items():
            info = model.by_path[display]
            info.replace_source(content, summary, tree, text)
            if moved:
                reposition(model, info.name, summary)
        model.restored = True
        return model

    def store(self, model: Model, table: dict[str, tuple[str, str, str]]) -> None:
        """Keep ``model`` with ``table`` (display path -> (content, summary and shape hashes), analysis
        order)."""
        secret = _secret()
        if secret is None:
            return
        try:
            header = marshal.dumps({"key": self.key, "files": table})
            body = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        except (ValueError, TypeError, pickle.PicklingError, AttributeError, RecursionError):
            return  # not storable: every run builds
        blob = _MAGIC + _LENGTH.pack(len(header)) + header + body
        with contextlib.suppress(OSError):
            cachefiles.prepare(self.base, root=self.root)
            cachefiles.replace_atomically(self.path, blob + _mac(secret, blob))
            cachefiles.keep_newest(self.base.glob("model-*.snapshot"), KEEP)  # each holds a whole model

    @staticmethod
    def _open(blob: bytes) -> tuple[dict[str, Any], bytes]:
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + _LENGTH.size + _MAC_SIZE:
            raise ValueError("not a snapshot")
        (length,) = _LENGTH.unpack_from(blob, len(_MAGIC))
        start = len(_MAGIC) + _LENGTH.size
        header = marshal.loads(blob[start : start + length])
        if not isinstance(header, dict) or not isinstance(header.get("files"), dict):
            raise ValueError("not a snapshot header")
        return header, blob[start + length : -_MAC_SIZE]


def _mac(secret: bytes, data: bytes) -> bytes:
    mark = cachefiles.tag(_KIND, data, secret)
    assert mark is not None  # a key was given
    return mark
