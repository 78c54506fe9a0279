"""The make() window: which make() is running now, on this task and on this connection.

The engine (``djruntime.engine``) opens a window around every call of ``make()`` (and of
``make_fetch``/``make_compute``/``make_insert``) and marks its own bookkeeping statements; the strict
gate (``djruntime.strict``) reads both at every statement. This module is the only contract between
the two. The gate records each statement it refuses with ``note_blocked(window, message)``; a make()
that catches that ProvenanceError and returns normally still fails its job (the engine checks
``window.blocked``).

A window is held three times: in a ContextVar (so nested populates and asyncio tasks see their own), on
the connection object (so a query sent from *another thread* on the same connection during make() is
seen too) and on the thread (so a second connection used inside a fresh ``contextvars.Context().run()``
is seen too). ``seal(...)`` holds a window from the end of make() until the job is finished:
every statement but the engine's bookkeeping is then refused (code make() left behind — a generator's
``finally``, an exception's ``__str__`` — must not write after the check). Windows nest and are always closed, whatever make() raises (exceptions, KeyboardInterrupt,
SystemExit).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

_STACK_ATTRIBUTE = "_djruntime_make_stack"


@dataclass
class MakeContext:
    """One running make(): the table instance, its key, the connection it runs on and the phase."""

    table: Any
    key: dict
    connection: Any
    phase: str = "make"  # make | make_fetch | make_compute | make_insert
    thread_id: int = field(default_factory=threading.get_ident)
    notes: dict = field(default_factory=dict)  # per-window state for the gate (e.g. warnings seen)
    blocked: list[str] = field(default_factory=list)  # messages of statements the gate refused (note_blocked)
    sealed: bool = False  # make() returned; the job is not finished: nothing but bookkeeping may run


_threads: dict[int, list[MakeContext]] = {}  # windows open on each thread (thread id -> stack)
_current: contextvars.ContextVar[MakeContext | None] = contextvars.ContextVar("djruntime_make", default=None)
_bookkeeping: contextvars.ContextVar[int] = contextvars.ContextVar("djruntime_bookkeeping", default=0)

Listener = Callable[[MakeContext], None]
_enter_listeners: list[Listener] = []
_exit_listeners: list[Listener] = []


def on_enter(listener: Listener) -> None:
    """Call ``listener(context)`` each time a make() window opens (registered once)."""
    if listener not in _enter_listeners:
        _enter_listeners.append(listener)


def on_exit(listener: Listener) -> None:
    """Call ``listener(context)`` each time a make() window closes, also on errors."""
    if listener not in _exit_listeners:
        _exit_listeners.append(listener)


def _connection_stack(connection: Any) -> list[MakeContext]:
    stack = getattr(connection, _STACK_ATTRIBUTE, None)
    if stack is None:
        stack = []
        setattr(connection, _STACK_ATTRIBUTE, stack)
    return stack


@contextlib.contextmanager
def make_window(table: Any, key: dict, connection: Any, phase: str = "make") -> Iterator[MakeContext]:
    """Mark the duration of one make() (or one tripartite phase) of ``table`` for ``key``."""
    context = MakeContext(table=table, key=dict(key), connection=connection, phase=phase)
    with _opened(context):
        yield context


def seal(table: Any, key: dict, connection: Any) -> tuple[MakeContext, contextvars.Token]:
    """From the end of make() until its job is finished every statement but bookkeeping is refused:
    open that sealed window (no listeners are told); ``unseal(seal(...))`` closes it."""
    context = MakeContext(table=table, key=key, connection=connection, phase="make", sealed=True)
    _connection_stack(connection).append(context)
    _threads.setdefault(context.thread_id, []).append(context)
    return context, _current.set(context)


def unseal(sealing: tuple[MakeContext, contextvars.Token]) -> None:
    context, token = sealing
    stack = _connection_stack(context.connection)
    if context in stack:
        stack.remove(context)
    thread_stack = _threads.get(context.thread_id, [])
    if context in thread_stack:
        thread_stack.remove(context)
    if not thread_stack:
        _threads.pop(context.thread_id, None)
    _current.reset(token)


@contextlib.contextmanager
def _opened(context: MakeContext) -> Iterator[None]:
    connection = context.connection
    token = _current.set(context)
    stack = _connection_stack(connection)
    stack.append(context)
    thread_stack = _threads.setdefault(context.thread_id, [])
    thread_stack.append(context)
    try:
        for listener in _enter_listeners:
            listener(context)
        yield
    finally:
        try:
            for listener in _exit_listeners:
                listener(context)
        finally:
            if context in stack:
                stack.remove(context)
            if context in thread_stack:
                thread_stack.remove(context)
            if not thread_stack:
                _threads.pop(context.thread_id, None)
            _current.reset(token)


def window_on(connection: Any) -> MakeContext | None:
    """The innermost make() window open on ``connection`` (from any thread), else None. A sealed window
    (make() has returned, its job is being finished) is not a running make()."""
    stack = getattr(connection, _STACK_ATTRIBUTE, None)
    if stack:
        for context in reversed(stack):
            if not context.sealed:
                return context
    return None


def note_blocked(window: MakeContext | None, message: str) -> None:
    """Record that the gate refused a statement of ``window``'s make() (call it as the error is raised).

    Should make() catch the error and return normally, the engine still fails the job with the first
    recorded message: make() went on without data it asked for. ``window`` None is a no-op.
    """
    if window is not None:
        window.blocked.append(str(message))  # list.append: safe from another thread


def current(connection: Any = None) -> MakeContext | None:
    """The innermost make() window for this task, else the one open on ``connection`` (a statement from
    another thread during make()), else the one open on this thread (another connection, another
    context), else None."""
    context = _current.get()
    if context is not None:
        return context
    if connection is not None:
        stack = getattr(connection, _STACK_ATTRIBUTE, None)
        if stack:
            return stack[-1]
    if _threads:  # a window of this thread, reached without its context (a fresh Context().run())
        stack = _threads.get(threading.get_ident())
        if stack:
            return stack[-1]
    return None


@contextlib.contextmanager
def bookkeeping() -> Iterator[None]:
    """Mark statements sent by the engine itself (claim, job status, errors, job metadata):
    the strict gate lets them pass, even inside a make() window."""
    token = _bookkeeping.set(_bookkeeping.get() + 1)
    try:
        yield
    finally:
        _bookkeeping.reset(token)


def in_bookkeeping() -> bool:
    return _bookkeeping.get() > 0
