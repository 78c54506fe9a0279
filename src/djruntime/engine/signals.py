"""SIGTERM and Ctrl-C for a worker loop: interrupt make(), never the engine's bookkeeping.

While a make() runs, SIGINT raises ``KeyboardInterrupt`` and SIGTERM raises ``Terminated`` at once, so
the engine rolls the job back and returns it to pending. Between jobs (claiming, committing, recording
an error) the signal is only noted, and the loop stops at the next safe point by raising the same
exception; a second signal raises at once. Handlers are installed only from the main thread, and the
previous ones are restored on exit.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class Terminated(SystemExit):
    """SIGTERM received by a populate worker (a ``SystemExit``, as datajoint raises)."""

    def __init__(self) -> None:
        super().__init__("SIGTERM received")


def _exception_for(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


class StopSignals:
    """Context manager around a worker loop (see module docstring)."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._in_make = False
        self._previous: dict[int, Any] = {}  # signal.signal()'s previous handlers

    def _handler(self, signum: int, frame: Any) -> None:
        if self._in_make or self.requested is not None:
            self.requested = signum
            raise _exception_for(signum)
        self.requested = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self._handler)
            # Ctrl-C: only take over Python's default handler, never a user's own.
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @contextlib.contextmanager
    def make_running(self) -> Iterator[None]:
        """Mark the stretch where a signal may interrupt make() immediately."""
        if self.requested is not None:
            raise _exception_for(self.requested)
        self._in_make = True
        try:
            yield
        finally:
            self._in_make = False

    def check(self) -> None:
        """Raise the pending signal's exception, if any (call between jobs)."""
        if self.requested is not None:
            raise _exception_for(self.requested)

    def forget(self, signum: int) -> None:
        """Drop a noted ``signum`` (a Ctrl-C that make() reported and the caller chose to swallow)."""
        if self.requested == signum:
            self.requested = None
