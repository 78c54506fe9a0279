"""Which server session a worker runs on: its worker lock and identity, and the sessions it abandoned.

Every djruntime worker connection holds a per-connection advisory lock for its lifetime (MySQL
``GET_LOCK('djruntime.<connection_id>')``, PostgreSQL ``pg_advisory_lock(K, pg_backend_pid())``) and
marks its reservations with ``host = '<node> (djruntime)'`` (``marked_host``): a marked reservation
whose lock is free belongs to a dead worker (see ``JobQueue.rescue``).
A session that was lost, or that an interrupt broke mid-query, is abandoned: a fresh one is opened and
the old id remembered, so the worker can still return or record the jobs it held there.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from .. import context
from . import queue_sql

HOST_MARK = " (djruntime)"
"""Suffix of ``host`` on reservations made by djruntime: such a reservation is rescued as soon as its
worker's lock is free."""
_WORKER_ATTRIBUTE = "_djruntime_worker"
_ABANDONED_ATTRIBUTE = "_djruntime_abandoned"


def marked_host() -> str:
    """The ``host`` column djruntime writes: this machine's name, marked as a djruntime reservation."""
    return platform.node()[: 255 - len(HOST_MARK)] + HOST_MARK


@dataclass
class Worker:
    """This connection's identity as a queue worker (read once per server connection)."""

    raw_connection: Any
    connection_id: int
    user: str
    read_committed: bool  # PostgreSQL: the session already runs at READ COMMITTED


def worker_identity(connection: Any) -> Worker:
    """Take this connection's worker lock (once per server connection) and return its identity.

    The lock is held until the connection closes; a reservation marked with ``HOST_MARK`` whose
    lock is free therefore belongs to a connection that is gone.
    """
    worker = getattr(connection, _WORKER_ATTRIBUTE, None)
    if worker is not None and worker.raw_connection is connection._conn:
        return worker
    mysql = connection.adapter.backend == "mysql"
    with context.bookkeeping():
        row = connection.query(queue_sql.worker_lock(mysql)).fetchone()
    worker = Worker(connection._conn, int(row[1]), row[2], not mysql and row[3] == "read committed")
    setattr(connection, _WORKER_ATTRIBUTE, worker)
    return worker


def abandoned_sessions(connection: Any) -> list[int]:
    """The server ids of this connection's sessions abandoned so far, sorted."""
    return sorted(getattr(connection, _ABANDONED_ATTRIBUTE, ()))


def abandon_session(connection: Any) -> None:
    """Replace a session that was lost or that an interrupt broke mid-query (pymysql closes its socket;
    datajoint may already have reconnected): make sure a fresh session is open, end the old one on the
    server if it is still running a query (MySQL; one's own sessions need no privilege), and remember
    the old id so this worker can still release the jobs it held there. The server rolls the old
    session's transaction back."""
    worker = getattr(connection, _WORKER_ATTRIBUTE, None)
    if worker is None or worker.raw_connection is connection._conn:  # not a session datajoint reopened
        try:
            connection.close()
        except Exception:
            pass
    if not connection.is_connected:
        connection.connect()
    connection._in_transaction = False
    if worker is None:
        return
    if not hasattr(connection, _ABANDONED_ATTRIBUTE):
        setattr(connection, _ABANDONED_ATTRIBUTE, set())
    getattr(connection, _ABANDONED_ATTRIBUTE).add(worker.connection_id)
    if connection.adapter.backend == "mysql":  # ids are never reused; PostgreSQL pids are: leave them
        with context.bookkeeping():
            try:
                connection.query(queue_sql.kill_connection(worker.connection_id))
            except Exception:  # already gone
                pass
