"""djruntime: the job/populate engine that runs every make() under strict provenance.

``djruntime.install()`` routes ``populate()``, ``progress()`` and ``jobs`` of every Computed/Imported
table through djruntime's engine; ``djruntime.install(strict_provenance=True)`` also gates every
statement a make() sends (see README, "Strict provenance").
"""

from __future__ import annotations

from pathlib import Path

from . import engine, strict
from .engine import populate
from .errors import ProvenanceError

__all__ = ["ProvenanceError", "install", "populate", "uninstall"]


def install(*, strict_provenance: bool | str | None = None, policy: str | Path | None = None) -> None:
    """Route populate()/progress()/jobs through djruntime (idempotent).

    ``strict_provenance``: ``True``/``"raise"``, ``"warn"`` or ``False``; ``None`` reads the environment
    variable ``DJ_STRICT_PROVENANCE`` (``1``/``raise``, ``warn``, ``0``; off when unset).
    ``policy``: the ``pyproject.toml`` holding ``[tool.djlint.allow]``; default: the nearest one above
    the working directory.
    """
    engine.install_engine()
    strict.configure(strict_provenance=strict_provenance, policy=policy)


def uninstall() -> None:
    """Restore datajoint's own populate()/progress()/jobs and turn the strict gate off."""
    strict.configure(strict_provenance=False)
    engine.uninstall_engine()
