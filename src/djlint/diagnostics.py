"""The one record every rule produces and every front end prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A finding. ``path`` is relative to the current directory with ``/`` separators;
    ``line`` and ``column`` are 1-based (flake8's plugin API converts the column to 0-based)."""

    path: str
    line: int
    column: int
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
