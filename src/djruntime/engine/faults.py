"""Which database errors are faults of the session or of lock contention, not of make().

The engine treats both kinds the same on MySQL/MariaDB (pymysql) and PostgreSQL (psycopg2), whatever
datajoint made of the client error (it translates some, and chains the original as ``__context__``):

- ``session_lost(error)``: the server session is gone (killed, terminated, network cut). The server
  rolled the transaction back; the job is not make()'s failure and goes back to pending.
- ``lock_contention(error)``: a deadlock, a lock-wait timeout or a serialization failure. The
  statement (MySQL 1205 without ``innodb_rollback_on_timeout``) or the transaction was rolled back;
  trying again later may well succeed.
"""

from __future__ import annotations

from collections.abc import Iterator

# pymysql error numbers: client lost the server / server ended the session
MYSQL_LOST = {0, 1053, 1927, 2006, 2013, 2014, 2045, 2055}
MYSQL_CONTENTION = {1205, 1213}  # lock wait timeout, deadlock
# PostgreSQL SQLSTATEs
PG_LOST_PREFIXES = ("08", "57P")  # connection exceptions; admin/crash shutdown, cannot connect now
PG_CONTENTION = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _mysql_code(error: BaseException) -> int | None:
    module = type(error).__module__
    if module.startswith("pymysql") and error.args and isinstance(error.args[0], int):
        return error.args[0]
    return None


def _pg_error(error: BaseException) -> bool:
    return type(error).__module__.startswith("psycopg2")


def session_lost(error: BaseException) -> bool:
    """True when ``error`` (or an error it was raised from) says the database session is gone."""
    from datajoint.errors import LostConnectionError

    for link in _chain(error):
        if isinstance(link, (LostConnectionError, SessionReplaced)):
            return True
        code = _mysql_code(link)
        if code is not None and code in MYSQL_LOST:
            return True
        if type(link).__name__ == "InterfaceError" and type(link).__module__.startswith("pymysql"):
            return True
        if _pg_error(link):
            pgcode = getattr(link, "pgcode", None)
            name = type(link).__name__
            # "server closed the connection unexpectedly" comes without a pgcode
            if name == "InterfaceError" or (pgcode is None and name == "OperationalError"):
                return True
            if pgcode and pgcode.startswith(PG_LOST_PREFIXES):
                return True
    return False


def lock_contention(error: BaseException) -> bool:
    """True when ``error`` is a deadlock, lock-wait timeout or serialization failure."""
    for link in _chain(error):
        code = _mysql_code(link)
        if code is not None and code in MYSQL_CONTENTION:
            return True
        if _pg_error(link) and getattr(link, "pgcode", None) in PG_CONTENTION:
            return True
    return False


def retryable(error: BaseException) -> bool:
    """A fault of the session or of lock contention: the job is retried, not recorded as make()'s error."""
    return session_lost(error) or lock_contention(error)


class SessionReplaced(Exception):
    """The connection's session is no longer the one the job was claimed (or started) on: datajoint
    reconnected after the old session was lost. Raised before make() runs on the new session."""


def session_replaced(connection, session) -> bool:
    """True when ``connection`` now talks to another server session than ``session`` (its raw
    client connection when the job was claimed or started) — no round trip."""
    return connection._conn is not session
