"""djruntime: the job/populate engine that runs every make() under strict provenance.

``djruntime.install()`` routes ``populate()``, ``progress()`` and ``jobs`` of every Computed/Imported
table through djruntime's engine; ``djruntime.install(strict_provenance=True)`` also gates every
statement a make() sends (see README, "Strict provenance").
"""

from __future__ import annotations

from pathlib import Path

INSTALL_HINT = "pip install 'datajoint-provenance[runtime]' (PostgreSQL: 'datajoint-provenance[postgres]')"


def missing_runtime() -> ModuleNotFoundError | None:
    """The distribution's base install is the linter; the runtime's dependencies are an extra. None when
    they are installed, else the error that says what to install."""
    import importlib.util

    for name in ("datajoint", "pymysql", "tqdm", "networkx"):
        if importlib.util.find_spec(name) is None:
            return ModuleNotFoundError(
                f"djruntime needs {name!r}, which is not installed: the runtime is an extra of "
                f"datajoint-provenance. Install it with: {INSTALL_HINT}", name=name
            )
    return None


_MISSING = missing_runtime()
if _MISSING is None:
    from . import strict
    from .engine.populate import install_engine, populate, uninstall_engine
    from .errors import ProvenanceError
else:  # importable (the console script can say what to install), unusable until the extra is installed
    _NOT_INSTALLED: ModuleNotFoundError = _MISSING

    def __getattr__(name: str) -> object:
        if name in ("engine", "strict", "populate", "ProvenanceError"):
            raise _NOT_INSTALLED
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ProvenanceError", "install", "populate", "uninstall"]


def install(*, strict_provenance: bool | str | None = None, policy: str | Path | None = None) -> None:
    """Route populate()/progress()/jobs through djruntime (idempotent).

    ``strict_provenance``: ``True``/``"raise"``, ``"warn"`` or ``False``; ``None`` reads the environment
    variable ``DJ_STRICT_PROVENANCE`` (``1``/``raise``, ``warn``, ``0``; off when unset).
    ``policy``: the ``pyproject.toml`` holding ``[tool.djlint.allow]``; default: the nearest one above
    the working directory.
    """
    if _MISSING is not None:
        raise _MISSING
    install_engine()
    strict.configure(strict_provenance=strict_provenance, policy=policy)


def uninstall() -> None:
    """Restore datajoint's own populate()/progress()/jobs and turn the strict gate off."""
    if _MISSING is not None:
        return
    strict.configure(strict_provenance=False)
    uninstall_engine()
