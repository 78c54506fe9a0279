"""A statement's driver arguments: only plain values, interpolated by the driver's own escaping.

The gate checks the text the server will receive, so it interpolates the arguments itself with the
driver's ``mogrify`` (:func:`interpolate`) and refuses arguments the driver could render as SQL text
the gate never read (:func:`odd_arguments`).
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import numpy


def interpolate(connection: Any, query: str, args: Any) -> str:
    """The statement the driver would send for ``query`` % ``args``: the driver's own escaping
    (pymysql's / psycopg2's ``mogrify``), so the gate reads the very text the server receives."""
    if args is None or (not args and "%" not in query):
        return query
    raw = connection._conn
    cached = getattr(connection, "_djruntime_mogrifier", None)
    if cached is None or cached[0] is not raw:  # one cursor per driver connection, used only to mogrify
        cached = (raw, raw.cursor())
        connection._djruntime_mogrifier = cached
    text = cached[1].mogrify(query, args)
    if isinstance(text, bytes):  # psycopg2
        import psycopg2.extensions

        text = text.decode(psycopg2.extensions.encodings.get(raw.encoding, "utf-8"))
    return text


# Arguments the drivers turn into quoted literals. Anything else may render as SQL text the gate never
# read (psycopg2's AsIs, an object with getquoted/__conform__) or change between check and send.
_PLAIN_TYPES = frozenset({int, float, bool, type(None), str, bytes, bytearray, memoryview, Decimal, datetime.date,
                          datetime.datetime, datetime.time, datetime.timedelta, uuid.UUID})
_PLAIN_TYPES |= {t for t in set(numpy.sctypeDict.values()) if t not in (numpy.object_, numpy.void)}
_CONTAINERS = (list, tuple, dict)


def _odd_argument(value: Any, depth: int = 0) -> Any:
    """The first argument that is not a plain value (lists, tuples and dicts of plain values are plain)."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return None
    if kind in _CONTAINERS and depth < 3:
        for item in (value.values() if kind is dict else value):
            odd = _odd_argument(item, depth + 1)
            if odd is not None:
                return odd
        return None
    if kind.__module__.startswith("pandas") and isinstance(value, (datetime.datetime, datetime.timedelta)):
        return None  # pandas Timestamp/Timedelta from a DataFrame insert: the drivers format them as datetimes
    return value


def odd_arguments(args: Any) -> Any:
    """The first of a statement's driver arguments that is not a plain value (None: all plain)."""
    kind = type(args)
    if kind is tuple or kind is list:
        if _PLAIN_TYPES.issuperset(map(type, args)):
            return None
    elif kind is not dict:
        return args  # the drivers take a sequence or a mapping; anything else is not read twice alike
    return _odd_argument(args)
