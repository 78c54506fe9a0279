"""Deliberate deviations: datajoint tests that are expected to fail under djruntime, and why.

Every entry is a behaviour djruntime changes on purpose and documents (README, docs/engine.md). A bug
never goes here: a test that passes on plain datajoint and fails under djruntime for any other reason
fails the compatibility job until the engine is fixed.

``applies`` receives the djruntime pass's engine settings (as recorded by ``djcompat_outcomes``) and
says whether the deviation is in force: with ``DJRUNTIME_ON_INTERRUPT=error`` djruntime records an
interrupted job as an error, like datajoint, and the signal tests must pass again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    test_id: str
    reason: str
    applies: Callable[[dict], bool]


def _interrupt_returns_to_pending(engine: dict) -> bool:
    return engine.get("on_interrupt") == "pending"


DEVIATIONS: tuple[Deviation, ...] = (
    # datajoint records a job interrupted by Ctrl-C (KeyboardInterrupt in make()) as an error; djruntime
    # rolls it back and returns it to pending (on_interrupt="pending", the default), so the next worker
    # runs it: an interruption is not a property of the key.
    Deviation(
        "tests/integration/test_jobs.py::test_sigint",
        "Ctrl-C returns the job to pending (on_interrupt='pending'), datajoint records an error",
        _interrupt_returns_to_pending,
    ),
    # The same for SIGTERM (SystemExit in make()): a cluster scheduler's pre-emption must not turn
    # healthy keys into errors.
    Deviation(
        "tests/integration/test_jobs.py::test_sigterm",
        "SIGTERM returns the job to pending (on_interrupt='pending'), datajoint records an error",
        _interrupt_returns_to_pending,
    ),
)
