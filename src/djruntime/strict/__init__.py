"""Strict provenance: what a make() may read and write, enforced on every statement it sends.

``djruntime.install(strict_provenance=True)`` calls :func:`configure`, which wraps datajoint's
``Connection.query`` with the gate (``gate``). Inside a make() window each statement is classified
(``classifier``, with ``special_statements``, ``literals``, ``catalog``, ``writes``; table names from
``djlint.sqltables``), compared with the table's allowed sets (``allowed``, policy in ``policy``), its
rows checked against the make key (``rowcheck``, ``pinning``), and refused with a message that says the
way out (``messages``).
"""

from __future__ import annotations

from .gate import (
    ENV_VARIABLE,
    allowed_for,
    collect_warnings,
    configure,
    current_policy,
    is_installed,
    mode,
    parse_mode,
    reset_warnings,
)
from .policy import PolicyError

__all__ = [
    "ENV_VARIABLE",
    "PolicyError",
    "allowed_for",
    "collect_warnings",
    "configure",
    "current_policy",
    "is_installed",
    "mode",
    "parse_mode",
    "reset_warnings",
]
