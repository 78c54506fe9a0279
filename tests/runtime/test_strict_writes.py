"""Strict gate, writes: writes outside the table and its Parts are refused, rows written must agree with
the make key (every form of insert, update, delete, replace, insert-select, unique collisions), checked
writes run on exactly the rows checked and never on volatile values. MariaDB and PostgreSQL.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import datajoint as dj
import numpy as np
import pandas as pd
import pytest
import strict_pipeline as pipeline
from strict_helpers import (
    KEY,
    OTHER_KEY,
    assert_blocked,
    blocked,
    each_blocked,
    insert_own,
    mysql,
    names,
    passes,
    q,
    run_make,
    snapshot,
)

from djruntime import ProvenanceError
from djruntime.strict import gate


WRITE_IDIOMS = {
    "insert other": (lambda p, key: p.Other.insert1({"other_id": 9}), "Other"),
    "insert ancestor": (lambda p, key: p.Session.insert1({"subject_id": 1, "session_id": 7}), "Session"),
    "insert ancestor part": (lambda p, key: p.Session.Epoch.insert1({"subject_id": 1, "session_id": 1, "epoch": 9}),
                             "Session.Epoch"),
    "insert sibling": (lambda p, key: p.Sibling.insert1({"subject_id": 1, "session_id": 1, "x": 1.0},
                                                        allow_direct_insert=True), "Sibling"),
    "raw insert": (lambda p, key: p.connection.query(
        f"INSERT INTO {p.Other.full_table_name} (other_id) VALUES (10)"), "Other"),
    "raw update": (lambda p, key: p.connection.query(f"UPDATE {p.Other.full_table_name} SET note = 'z'"), "Other"),
    "update1 ancestor": (lambda p, key: p.Session.update1({"subject_id": 1, "session_id": 1, "session_note": "z"}),
                         "Session"),
    "delete_quick ancestor": (lambda p, key: (p.Session.Epoch & key).delete_quick(), "Session.Epoch"),
    "delete other": (lambda p, key: (p.Other & "other_id=1").delete(prompt=False, transaction=False), "Other"),
    "drop other": (lambda p, key: p.Other.drop_quick(), "~lineage"),  # datajoint's first statement
    "raw drop": (lambda p, key: p.connection.query(f"DROP TABLE {p.Other.full_table_name}"), "Other"),
    "raw truncate": (lambda p, key: p.connection.query(f"TRUNCATE TABLE {p.Other.full_table_name}"), "Other"),
}


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("idiom", sorted(WRITE_IDIOMS))
def test_write_outside_own_entity_is_blocked(pipe, idiom):
    action, name = WRITE_IDIOMS[idiom]

    def body(self, key):
        insert_own(self, key)
        action(pipe, key)

    assert_blocked(pipe, body, name)


@pytest.mark.usefixtures("strict_on")
def test_write_to_other_table_is_blocked_on_both_backends(any_pipe):
    p = any_pipe
    message = assert_blocked(p, lambda self, key: (insert_own(self, key), p.Other.insert1({"other_id": 9})),
                             "Other", "neither Analysis nor one of its Parts", "writes =")
    assert "strict_pipeline.Other" in message


def _part_rows(key, n=3, bad_at=None):
    for i in range(n):
        subject = 2 if i == bad_at else key["subject_id"]
        yield dict(key, subject_id=subject, item=i, value=float(i))


MISMATCHES = {
    "insert1": lambda self, key: self.insert1(dict(key, session_id=2, result=1.0)),
    "generator of Part rows": lambda self, key: (insert_own(self, key),
                                                 self.Item.insert(_part_rows(key, 5, bad_at=3))),
    "list of tuples": lambda self, key: (insert_own(self, key), self.Item.insert(
        [(key["subject_id"], key["session_id"], key["param_id"], 0, 1.0),
         (key["subject_id"], key["session_id"], 2, 1, 1.0)])),
    "numpy structured array": lambda self, key: (insert_own(self, key), self.Item.insert(np.array(
        [(1, 1, 1, 0, 0.5), (1, 1, 1, 1, 0.5), (1, 2, 1, 2, 0.5)],
        dtype=[("subject_id", "i8"), ("session_id", "i8"), ("param_id", "i8"), ("item", "i8"), ("value", "f8")]))),
    "numpy record": lambda self, key: (insert_own(self, key), self.Item.insert1(np.array(
        [(np.int64(2), np.int64(1), np.int64(1), np.int64(0), 0.5)],
        dtype=[("subject_id", "i8"), ("session_id", "i8"), ("param_id", "i8"), ("item", "i8"), ("value", "f8")])[0])),
    "DataFrame": lambda self, key: (insert_own(self, key), self.Item.insert(pd.DataFrame(
        {"subject_id": [1, 1], "session_id": [1, 1], "param_id": [1, 2], "item": [0, 1], "value": [0.1, 0.2]}))),
    "insert from query": lambda self, key: (insert_own(self, key), self.Item.insert(
        (self.Item & OTHER_KEY).proj("value"))),
    "update1 of another key": lambda self, key: self.update1(dict(OTHER_KEY, result=5.0)),
    "delete_quick of another key": lambda self, key: (self.Item & OTHER_KEY).delete_quick(),
    "raw update of key attribute": lambda self, key: (insert_own(self, key), self.connection.query(
        f"UPDATE {self.full_table_name} SET subject_id = 2 WHERE subject_id = 1 AND session_id = 1 AND param_id = 1")),
}


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("form", sorted(MISMATCHES))
def test_rows_inconsistent_with_the_key_are_blocked(pipe, form):
    message = assert_blocked(pipe, MISMATCHES[form], "must agree with its key")
    assert "Analysis" in message


@pytest.mark.usefixtures("strict_on")
def test_dataframe_mismatch_on_both_backends(any_pipe):
    p = any_pipe
    frame = pd.DataFrame({"subject_id": [1, 2], "session_id": [1, 1], "param_id": [1, 1], "item": [0, 1],
                          "value": [0.1, 0.2]})
    assert_blocked(p, lambda self, key: (insert_own(self, key), self.Item.insert(frame)), "subject_id")
    assert len(frame) == 2  # the caller's frame is untouched


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("form", ["generator", "map", "iterator", "chunked generator"])
def test_large_lazy_inserts_keep_every_row(pipe, form):
    def body(self, key):
        insert_own(self, key)
        rows = (dict(key, item=i, value=float(i)) for i in range(1000))
        if form == "map":
            rows = map(lambda i: dict(key, item=i, value=float(i)), range(1000))  # noqa: C417 - map is the case
        elif form == "iterator":
            rows = iter([dict(key, item=i, value=float(i)) for i in range(1000)])
        if form == "chunked generator":
            self.Item.insert(rows, chunk_size=300)
        else:
            self.Item.insert(rows)

    run_make(pipe.Analysis, KEY, body)
    assert len(pipe.Analysis.Item & KEY) == 1000


@pytest.mark.usefixtures("strict_on")
def test_insert_from_query_runs_once_and_is_checked(pipe, monkeypatch):
    sent = []
    original = gate._original_query

    def counting(self, query, args=(), **kwargs):
        sent.append(query)
        return original(self, query, args, **kwargs)

    monkeypatch.setattr(gate, "_original_query", counting)

    def body(self, key):
        insert_own(self, key)
        source = (pipe.Session.Epoch * pipe.Param & key).proj(item="epoch", value="threshold")
        self.Item.insert(source)

    run_make(pipe.Analysis, KEY, body)
    inserts = [q for q in sent if q.lstrip().upper().startswith("INSERT") and "__analysis__item" in q]
    assert len(inserts) == 1
    assert len(pipe.Analysis.Item & KEY) == 2


@pytest.mark.usefixtures("strict_on")
def test_matching_rows_in_every_form_pass(pipe):
    def body(self, key):
        self.insert1(dict(key, result=1.0))
        self.Item.insert1((key["subject_id"], key["session_id"], key["param_id"], 0, 1.0))
        self.Item.insert(np.array([(1, 1, 1, 1, 0.5)], dtype=[("subject_id", "i8"), ("session_id", "i8"),
                                                            ("param_id", "i8"), ("item", "i8"), ("value", "f8")]))
        self.Item.insert(pd.DataFrame({"subject_id": [np.int64(1)], "session_id": [1], "param_id": [1],
                                       "item": [2], "value": [0.2]}))
        self.Item.insert([{**key, "item": 3, "value": 0.3}], skip_duplicates=True)
        self.update1(dict(key, result=3.0))
        (self.Item & key & "item=3").delete_quick()

    run_make(pipe.Analysis, KEY, body)
    assert (pipe.Analysis & KEY).fetch1("result") == 3.0
    assert len(pipe.Analysis.Item & KEY) == 3


@pytest.mark.usefixtures("strict_on")
def test_typed_keys_are_compared_after_normalising(any_pipe):
    p = any_pipe
    key = pipeline.origin_key(p)

    def loose(self, k):
        # the same key values in other types: ISO text date, float/str decimal, str uuid, numpy ints
        row = dict(k, n=np.int32(1))
        row["origin_date"] = k["origin_date"].isoformat()
        row["origin_dec"] = "1.25"
        if "origin_uuid" in row:
            row["origin_uuid"] = str(k["origin_uuid"])
        self.insert1(row)
        self.Row.insert([dict(k, origin_dec=1.25, origin_date=datetime.datetime(2024, 3, 1), row_id=np.int64(i))
                         for i in range(3)])

    run_make(p.Typed, key, loose)
    assert len(p.Typed.Row()) == 3

    def wrong_date(self, k):
        self.Row.insert1(dict(k, origin_date="2024-03-02", row_id=9))

    assert_blocked(p, wrong_date, "origin_date", table=p.Typed, key=key)

    def wrong_decimal(self, k):
        self.Row.insert1(dict(k, origin_dec=Decimal("1.26"), row_id=9))

    assert_blocked(p, wrong_decimal, "origin_dec", table=p.Typed, key=key)


@pytest.mark.usefixtures("strict_on")
def test_uuid_key_mismatch_is_blocked(pipe):
    key = pipeline.origin_key(pipe)

    def wrong_uuid(self, k):
        self.insert1(dict(k, n=1))
        self.Row.insert1(dict(k, origin_uuid=uuid.uuid4(), row_id=1))

    assert_blocked(pipe, wrong_uuid, "origin_uuid", table=pipe.Typed, key=key)


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("form", ["update1 of another key", "delete_quick of another key", "insert from query",
                                  "raw update of key attribute"])
def test_update_delete_and_insert_select_checks_on_both_backends(any_pipe, form):
    body = MISMATCHES[form]
    if form == "raw update of key attribute" and any_pipe.server.backend != "mysql":
        def body(self, key):  # PostgreSQL quotes with double quotes
            insert_own(self, key)
            self.connection.query(f'UPDATE {self.full_table_name} SET "subject_id" = 2 WHERE "subject_id" = 1 '
                                  'AND "session_id" = 1 AND "param_id" = 1')
    assert_blocked(any_pipe, body, "must agree with its key")


@pytest.mark.usefixtures("strict_on")
def test_own_key_updates_deletes_replaces_and_insert_select_pass_on_both_backends(any_pipe):
    p = any_pipe

    def body(self, key):
        self.insert1(dict(key, result=1.0))
        if p.server.backend == "mysql":  # datajoint 2.3.5 sends REPLACE, which PostgreSQL lacks
            self.insert1(dict(key, result=4.0), replace=True)
        if p.server.backend == "mysql":
            self.Item.insert((p.Session.Epoch * p.Param & key).proj(item="epoch", value="threshold"))
        else:  # datajoint 2.3.5 quotes renamed attributes with backticks on PostgreSQL
            self.Item.insert([dict(key, item=1, value=0.5), dict(key, item=2, value=0.5)])
            self.Item.insert(self.Item & key, skip_duplicates=True)  # INSERT … SELECT, checked, runs once
        self.Item.insert1(dict(key, item=1, value=9.0), skip_duplicates=True)
        self.update1(dict(key, result=5.0))
        (self.Item & key & "item=2").delete_quick()

    run_make(p.Analysis, KEY, body)
    assert (p.Analysis & KEY).fetch1("result") == 5.0
    assert (p.Analysis.Item & KEY).to_arrays("value").tolist() == [0.5]

    def replace_other(self, key):
        self.insert1(dict(OTHER_KEY, result=9.0), replace=True)

    assert_blocked(p, replace_other, "param_id", key=dict(KEY, param_id=2))


@pytest.mark.usefixtures("strict_on")
def test_cascading_delete_of_own_rows_passes_unless_it_reaches_other_tables_rows(pipe):
    def redo(self, key):
        self.insert1(dict(key, result=1.0))
        self.Item.insert1(dict(key, item=1, value=1.0))
        (self & key).delete(prompt=False, transaction=False)  # visits Item and Downstream, which hold none
        self.insert1(dict(key, result=2.0))

    run_make(pipe.Analysis, KEY, redo)
    assert (pipe.Analysis & KEY).fetch1("result") == 2.0 and len(pipe.Analysis.Item & KEY) == 0

    pipe.Downstream.insert1(dict(OTHER_KEY, total=1.0), allow_direct_insert=True)

    def delete_other(self, key):
        (self & OTHER_KEY).delete(prompt=False, transaction=False)  # would delete a Downstream row

    assert_blocked(pipe, delete_other, "Downstream", key=dict(KEY, param_id=2))


@pytest.mark.usefixtures("strict_on")
def test_checked_writes_on_volatile_values_are_blocked(any_pipe):
    p = any_pipe
    other, own = names(p)
    if p.server.backend == "mysql":
        cases = [
            f"DELETE FROM {other} WHERE ROW_COUNT() = -1",  # the check reads 0 rows... then ROW_COUNT() is -1
            f"UPDATE {own} SET result = 99 WHERE ROW_COUNT() = -1",
            f"INSERT INTO {own} SELECT 1, IF(@armed IS NULL, 1 + 0*(@armed := 1), 2), 1, 7.0",
            f"UPDATE {own} SET result = 99 WHERE (@u := IFNULL(@u, 0) + 1) > 2",
            f"DELETE FROM {other} WHERE RAND() < 2",
        ]
    else:
        cases = [
            f"DELETE FROM {other} WHERE NOT pg_advisory_unlock(4242)",
            f"UPDATE {own} SET result = 99 WHERE NOT pg_advisory_unlock(4243)",
            f"INSERT INTO {own} SELECT 1, CASE WHEN pg_advisory_unlock(4244) THEN 1 ELSE 2 END, 1, 7.0",
            f"DELETE FROM {other} WHERE random() < 2",
        ]
    try:
        for sql in cases:
            def body(self, key, sql=sql):
                insert_own(self, key)
                if p.server.backend != "mysql":
                    for lock in (4242, 4242, 4243, 4243, 4244):
                        q(self, "SELECT pg_advisory_lock(%s)", (lock,))
                q(self, sql)

            blocked(p, body, "between the gate's check")
    finally:
        if p.server.backend != "mysql":
            p.connection.query("SELECT pg_advisory_unlock_all()")

    def legal(self, key):  # volatile values in reads and in assigned non-key values stay allowed
        q(self, "SELECT CURRENT_USER, CURRENT_TIMESTAMP, " + ("RAND(), ROW_COUNT()" if p.server.backend == "mysql"
                                                              else "random(), clock_timestamp()"))
        insert_own(self, key)
        q(self, f"UPDATE {own} SET result = 3 WHERE subject_id = %s AND session_id = %s AND param_id = %s",
          (1, 1, 1))

    passes(p, legal)


@pytest.mark.usefixtures("strict_on")
def test_checked_writes_run_on_exactly_the_rows_checked(any_pipe):
    p = any_pipe
    other, own = names(p)
    item = p.Analysis.Item.full_table_name
    if mysql(p):
        statements = [
            (f"DELETE FROM {other} WHERE (SELECT COUNT(*) FROM information_schema.PROCESSLIST "
             "WHERE INFO LIKE 'DELETE%%') > 0"),
            f"DELETE FROM {other} WHERE @@sql_select_limit > 0",
            (f"UPDATE {own} SET result = 9 WHERE (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
             "WHERE VARIABLE_NAME = 'Com_update') > 0"),
            "SET SESSION sql_select_limit = 0",
            "SET SESSION foreign_key_checks = 0",
            "SET @x = 1",
            (f"INSERT INTO {item} (subject_id, session_id, param_id, item, value) SELECT subject_id, session_id, "
             f"param_id, item + 10 AS subject_id, value FROM {item} ORDER BY subject_id LIMIT 1"),
        ]
    else:
        statements = [
            f"DELETE FROM {other} WHERE (SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'DELETE%%') > 0",
            "SET TIME ZONE 'UTC'",
            "SET enable_seqscan = off",
            (f"INSERT INTO {item} (subject_id, session_id, param_id, item, value) SELECT subject_id, session_id, "
             f"param_id, item + 10, value FROM {item} ORDER BY subject_id LIMIT 1"),
        ]
    each_blocked(p, statements, "Statement:")
    if mysql(p):  # a session limit set before populate() cannot blind the check queries
        p.connection.query("SET SESSION sql_select_limit = 0")
        try:
            each_blocked(p, [(f"INSERT INTO {item} (subject_id, session_id, param_id, item, value) SELECT "
                              f"subject_id, session_id, param_id, item + 10, value FROM {item}"),
                             f"DELETE FROM {item} WHERE item >= 0"], "subject_id")
        finally:
            p.connection.query("SET SESSION sql_select_limit = DEFAULT")

    def legal(self, key):
        insert_own(self, key)
        self.Item.insert([dict(key, item=i, value=float(i)) for i in range(3)])
        q(self, "SET SESSION innodb_lock_wait_timeout = 50" if mysql(p) else "SET statement_timeout TO 0")
        # a raw UPDATE/DELETE of own rows by key: runs, restricted to the rows checked
        q(self, f"UPDATE {own} SET result = 5 WHERE subject_id = %s AND session_id = %s AND param_id = %s", (1, 1, 1))
        q(self, f"DELETE FROM {item} WHERE subject_id = 1 AND session_id = 1 AND param_id = 1 AND item > 0")
        q(self, f"DELETE FROM {other} WHERE other_id = -1")  # matches no row: passes, changes nothing
        (self.Item & key & "item = 0").delete_quick()
        self.update1(dict(key, result=6.0))

    before = len(p.Other())
    passes_kept = snapshot(p)
    pipeline.BODIES["Analysis"] = legal
    run_make(p.Analysis, KEY, legal)
    assert (p.Analysis & KEY).fetch1("result") == 6.0
    assert len(p.Analysis.Item & KEY) == 0 and len(p.Other()) == before
    assert len(p.Analysis()) == 2, p.Analysis().to_dicts()
    assert passes_kept["Other"] == snapshot(p)["Other"]


def _unique_pipe(server, schema_factory):
    schema, connection = schema_factory(server)

    @schema
    class Origin(dj.Manual):
        definition = """
        origin_id: int32
        """

    @schema
    class Coded(dj.Computed):
        definition = """
        -> Origin
        ---
        code: int32
        unique index(code)
        """

        def make(self, key):
            return pipeline.BODIES["Coded"](self, key)

    Origin.insert([(1,), (2,)])
    Coded.insert1({"origin_id": 2, "code": 7}, allow_direct_insert=True)
    return Origin, Coded, connection


def _run(table_class, key):
    run_make(table_class, key, pipeline.BODIES[table_class.__name__])


@pytest.mark.usefixtures("strict_on")
def test_every_key_attribute_is_written_and_unique_collisions_are_refused(any_pipe, schema_factory):
    p = any_pipe
    _, own = names(p)
    ignore = "INSERT IGNORE INTO" if mysql(p) else "INSERT INTO"
    each_blocked(p, [f"{ignore} {own} (subject_id, session_id, result) VALUES (1, 1, 5)"], "param_id")
    passes(p, lambda self, key: q(self, f"INSERT INTO {own} (subject_id, session_id, param_id, result) "
                                        "VALUES (1, 1, 1, 5)"))

    _, coded, _ = _unique_pipe(p.server, schema_factory)
    table = coded.full_table_name
    if mysql(p):
        attempts = [f"INSERT INTO {table} (origin_id, code) VALUES (1, 7) ON DUPLICATE KEY UPDATE code = 8",
                    f"REPLACE INTO {table} (origin_id, code) VALUES (1, 7)"]
    else:
        attempts = [f'INSERT INTO {table} (origin_id, code) VALUES (1, 7) ON CONFLICT ("code") DO UPDATE SET code = 8']
    before = coded().to_dicts()
    for sql in attempts:
        pipeline.BODIES["Coded"] = lambda self, key, sql=sql: self.connection.query(sql)
        with pytest.raises(ProvenanceError, match="unique"):
            _run(coded, {"origin_id": 1})
        assert coded().to_dicts() == before
    pipeline.BODIES["Coded"] = lambda self, key: (self.insert1(dict(key, code=3), skip_duplicates=True),
                                                  self.insert1(dict(key, code=3), skip_duplicates=True))
    _run(coded, {"origin_id": 1})
    assert len(coded()) == 2
