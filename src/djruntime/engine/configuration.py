"""The engine's process-wide settings (``dj.config`` rejects unknown keys, so they live here)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class Settings:
    """djruntime's engine settings.

    ``on_interrupt``: what becomes of the job running when SIGTERM/Ctrl-C arrives — ``"pending"``
    (default: rolled back and queued again) or ``"error"`` (rolled back and recorded as an error).
    ``claim_seconds``: a worker claims as many jobs at once as it expects to finish in this time.
    ``max_batch``: upper bound of jobs claimed in one round trip.
    ``hold_seconds``: claimed jobs not started this long after their claim (a make() ran long, the
    worker was stalled) go back to pending before the worker goes on.
    ``max_retries``: times a job goes back to pending after a lost session or lock contention before
    the next such fault is recorded as its error.
    Environment: ``DJRUNTIME_ON_INTERRUPT``, ``DJRUNTIME_CLAIM_SECONDS``, ``DJRUNTIME_MAX_BATCH``,
    ``DJRUNTIME_HOLD_SECONDS``, ``DJRUNTIME_MAX_RETRIES``.
    """

    on_interrupt: str = field(default_factory=lambda: os.environ.get("DJRUNTIME_ON_INTERRUPT", "pending"))
    claim_seconds: float = field(default_factory=lambda: float(os.environ.get("DJRUNTIME_CLAIM_SECONDS", "0.5")))
    max_batch: int = field(default_factory=lambda: int(os.environ.get("DJRUNTIME_MAX_BATCH", "32")))
    hold_seconds: float = field(default_factory=lambda: float(os.environ.get("DJRUNTIME_HOLD_SECONDS", "5")))
    max_retries: int = field(default_factory=lambda: int(os.environ.get("DJRUNTIME_MAX_RETRIES", "3")))


settings = Settings()


def configure(
    *,
    on_interrupt: str | None = None,
    claim_seconds: float | None = None,
    max_batch: int | None = None,
    hold_seconds: float | None = None,
    max_retries: int | None = None,
) -> None:
    """Change the engine settings (see ``Settings``)."""
    if hold_seconds is not None:
        settings.hold_seconds = float(hold_seconds)
    if max_retries is not None:
        settings.max_retries = max(0, int(max_retries))
    if on_interrupt is not None:
        if on_interrupt not in ("pending", "error"):
            raise ValueError("on_interrupt must be 'pending' or 'error'")
        settings.on_interrupt = on_interrupt
    if claim_seconds is not None:
        settings.claim_seconds = float(claim_seconds)
    if max_batch is not None:
        settings.max_batch = max(1, int(max_batch))
