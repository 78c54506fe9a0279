"""Baselines: adopt djlint on an existing pipeline so that only new violations fail.

An entry records a finding by what it is, not where it is: the file, the code, the message and the
text of the offending line (stripped, whitespace collapsed), with a count. So edits that move a finding
to another line keep it matched, while a second copy of the same offending line is new (the count).
Paths in the baseline file are relative to the baseline file's directory, with ``/`` separators, so a
baseline written at the repository root keeps working from any current directory.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from djlint.diagnostics import Diagnostic
from djlint.fileio import read_source

FORMAT_VERSION = 1
_NEWLINE = re.compile(r"\r\n|\r|\n")  # line breaks as Python's tokenizer counts them


class BaselineError(ValueError):
    """The baseline file is missing or malformed."""


class LineReader:
    """Source lines of the reported files, read once each (paths relative to ``cwd``)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._lines: dict[str, list[str]] = {}

    def lines(self, path: str) -> list[str]:
        if path not in self._lines:
            try:  # regular files only: a DJ000 may name a FIFO or a device
                data = read_source(self.cwd / path)
            except OSError:
                data = b""
            self._lines[path] = _NEWLINE.split(data.decode("utf-8", errors="replace"))
        return self._lines[path]

    def text(self, diagnostic: Diagnostic) -> str:
        """The stripped line a finding points at, inner whitespace collapsed ('' when out of range)."""
        lines = self.lines(diagnostic.path)
        if 1 <= diagnostic.line <= len(lines):
            return " ".join(lines[diagnostic.line - 1].split())
        return ""


@dataclass(frozen=True, order=True)
class Entry:
    path: str
    code: str
    message: str
    text: str


def _relative(path: str, cwd: Path, base: Path) -> str:
    absolute = os.path.normpath(os.path.join(cwd, path))
    return os.path.relpath(absolute, base).replace(os.sep, "/")


def entries_of(diagnostics: Iterable[Diagnostic], reader: LineReader, base: Path) -> Counter[Entry]:
    return Counter(
        Entry(_relative(d.path, reader.cwd, base), d.code, d.message, reader.text(d)) for d in diagnostics
    )


def write_baseline(file: Path, diagnostics: Sequence[Diagnostic], cwd: Path) -> int:
    """Record every current finding; returns the number of findings written."""
    base = file.resolve().parent
    counts = entries_of(diagnostics, LineReader(cwd), base)
    records = [
        {"path": e.path, "code": e.code, "message": e.message, "text": e.text, "count": n}
        for e, n in sorted(counts.items())
    ]
    document = {"tool": "djlint", "version": FORMAT_VERSION, "entries": records}
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, file)
    return sum(counts.values())


def load_baseline(file: Path) -> Counter[Entry]:
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BaselineError(f"baseline file not found: {file}") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"cannot read baseline {file}: {error}") from error
    if not isinstance(document, dict) or document.get("tool") != "djlint":
        raise BaselineError(f"{file} is not a djlint baseline (write one with --write-baseline)")
    if document.get("version") != FORMAT_VERSION:
        raise BaselineError(f"{file}: unsupported baseline version {document.get('version')!r}")
    counts: Counter[Entry] = Counter()
    try:
        for record in document["entries"]:
            fields = [record[key] for key in ("path", "code", "message", "text")]
            count = record.get("count", 1)
            if not all(isinstance(value, str) for value in fields) or not isinstance(count, int):
                raise TypeError(record)
            counts[Entry(*fields)] += count
    except (KeyError, TypeError) as error:
        raise BaselineError(f"{file}: malformed baseline entry {error}") from error
    return counts


def filter_new(
    diagnostics: Sequence[Diagnostic], file: Path, cwd: Path
) -> tuple[list[Diagnostic], int]:
    """The findings not covered by the baseline, and how many were covered.

    Each entry covers at most ``count`` findings; findings are matched in report order."""
    remaining = load_baseline(file)
    base = file.resolve().parent
    reader = LineReader(cwd)
    new: list[Diagnostic] = []
    known = 0
    for d in diagnostics:
        entry = Entry(_relative(d.path, cwd, base), d.code, d.message, reader.text(d))
        if remaining[entry] > 0:
            remaining[entry] -= 1
            known += 1
        else:
            new.append(d)
    return new, known
