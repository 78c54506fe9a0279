"""Strict gate, what reaches the server: exactly the text checked (the driver's interpolation, plain
arguments only), nothing of a refused statement, and no way around the gate (a second connection,
datajoint's original query()).
"""

from __future__ import annotations

import contextvars
import datetime
import inspect
import uuid
from decimal import Decimal

import datajoint as dj
import numpy as np
import pytest
from strict_helpers import assert_blocked, blocked, insert_own, mysql, names, passes, q

from djruntime import context
from djruntime.strict import gate


class _Sly(str):
    """A query whose own % produces another statement."""

    other = ""

    def __mod__(self, args):
        return f"SELECT note FROM {self.other}"


@pytest.mark.usefixtures("strict_on")
def test_the_text_checked_is_the_text_the_driver_sends(any_pipe):
    p = any_pipe
    other, _ = names(p)
    session = p.Session.full_table_name
    payload = f" UNION SELECT note FROM {other} -- "
    # %s inside a quoted literal: the driver's quotes end the literal, the payload becomes SQL
    blocked(p, lambda self, key: (insert_own(self, key), q(self, f"SELECT session_note FROM {session} WHERE "
                                                                 "session_note = '%s'", (payload,))), "Other")
    # %-format specs the old reading did not take for placeholders (psycopg2 itself rejects them)
    if mysql(p):
        blocked(p, lambda self, key: q(self, f"SELECT %1s FROM {other}", ("1",)), "Other")
        blocked(p, lambda self, key: q(self, f"SELECT %.9s FROM {other}", ("note",)), "Other")
    # a str subclass with its own __mod__
    _Sly.other = other
    blocked(p, lambda self, key: q(self, _Sly(f"SELECT session_note FROM {session} WHERE session_id = %s"), (1,)),
            "str")
    # look-alikes: % in literals with and without arguments, %% escapes, quotes in values
    seen = []

    def legal(self, key):
        seen.append(q(self, f"SELECT session_note FROM {session} WHERE session_note LIKE '%%' AND session_id = %s",
                      (1,)))
        seen.append(q(self, "SELECT %s, %s", ("50% it's", "a\\b")))
        insert_own(self, key)

    passes(p, legal)
    assert seen[1] == ((("50% it's", "a\\b")),) or list(seen[1][0]) == ["50% it's", "a\\b"]


class _Rendered:
    """An argument that is not a plain value (pymysql formats it with str())."""

    def __str__(self) -> str:
        return "1"


@pytest.mark.usefixtures("strict_on")
def test_arguments_that_are_not_plain_values_are_blocked(any_pipe):
    p = any_pipe
    other, own = names(p)
    if p.server.backend == "mysql":
        odd = [_Rendered()]
    else:
        from psycopg2.extensions import AsIs

        odd = [AsIs(f"(SELECT string_agg(note, ',') FROM {other})"), AsIs(f"1; DELETE FROM {other}"), _Rendered()]
    for value in odd:
        blocked(p, lambda self, key, value=value: (q(self, "SELECT %s", (value,)), insert_own(self, key)),
                "argument of type")
        blocked(p, lambda self, key, value=value: (q(self, "SELECT %s", ([1, (2, value)],)), insert_own(self, key)),
                "argument of type")

    def legal(self, key):
        values = (1, 2.5, True, None, "x", b"y", Decimal("1.5"), datetime.date(2024, 1, 1),
                  datetime.datetime(2024, 1, 1, 2, 3), np.int64(3), np.float32(1.5), np.bool_(True))
        q(self, "SELECT " + ", ".join(["%s"] * len(values)), values)
        q(self, f"SELECT subject_id FROM {own} WHERE subject_id IN %s", ((1, 2),))
        if p.server.backend == "mysql":
            q(self, "SELECT %s", (uuid.uuid4(),))
        insert_own(self, key)

    passes(p, legal)


@pytest.mark.usefixtures("strict_on")
def test_a_violation_never_reaches_the_server(pipe, monkeypatch):
    sent = []
    original = gate._original_query

    def recording(self, query, args=(), **kwargs):
        if context.current(self) is not None:  # statements sent during make()
            sent.append(query)
        return original(self, query, args, **kwargs)

    monkeypatch.setattr(gate, "_original_query", recording)
    table = pipe.Other.full_table_name
    assert_blocked(pipe, lambda self, key: (insert_own(self, key), pipe.Other.insert1({"other_id": 7})), "Other")
    assert_blocked(pipe, lambda self, key: len(pipe.Other()), "Other")
    assert sent and not [q for q in sent if table in q]


@pytest.mark.usefixtures("strict_on")
def test_a_second_datajoint_connection_in_make_is_gated_too(pipe):
    second = pipe.server.connect()
    try:
        name = pipe.Other.full_table_name
        assert_blocked(pipe, lambda self, key: second.query(f"SELECT * FROM {name}").fetchall(), "Other")
    finally:
        second.close()


@pytest.mark.usefixtures("strict_on")
def test_the_ungated_original_is_out_of_reach(any_pipe):
    p = any_pipe
    other, own = names(p)
    assert inspect.unwrap(dj.Connection.query) is not gate._original_query
    assert not hasattr(dj.Connection.query, "__wrapped__")
    second = p.server.connect()
    try:
        blocked(p, lambda self, key: contextvars.Context().run(
            lambda: second.query(f"SELECT note FROM {other}").fetchall()), "Other")
        blocked(p, lambda self, key: contextvars.Context().run(
            lambda: inspect.unwrap(dj.Connection.query)(self.connection, f"SELECT note FROM {other}")), "Other")
        blocked(p, lambda self, key: gate._original_query(self.connection, f"SELECT note FROM {other}"), "Other")
        blocked(p, lambda self, key: contextvars.Context().run(
            lambda: gate._original_query(second, f"DELETE FROM {other}")), "outside the job's transaction")
        blocked(p, lambda self, key: second.query(f"INSERT INTO {own} (subject_id, session_id, param_id, result) "
                                                  "VALUES (1, 1, 1, 1.0)"), "outside the job's transaction")
        assert second.query(f"SELECT note FROM {other}").fetchall()  # outside make(): not gated
        assert context.current(second) is None
    finally:
        second.close()
