"""Strict gate on a real server: statements that once slipped past the gate, and the idioms that must still pass.

Executable comments, check-then-write races on volatile values, SET with expressions or of lexing settings,
driver arguments that render as SQL, user tables named pg_*, transaction control, SHOW with a subquery,
COMMENT/GRANT, and the pure functions and FOR UPDATE OF that must not be blocked. Every blocked case asserts
that the statement raised ProvenanceError and that every row of every table is as before.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import datajoint as dj
import numpy as np
import pytest
import test_strict_pipeline as pipeline
from test_strict import KEY, _build, empty_policy, insert_own, run_make, strict_on  # noqa: F401 - fixtures

import djruntime
from djruntime import ProvenanceError, context


@pytest.fixture(params=["mysql", "postgres"])
def any_pipe(request, schema_factory):
    return _build(request.getfixturevalue(f"{request.param}_server"), schema_factory)


@pytest.fixture
def mysql_pipe(mysql_server, schema_factory):
    return _build(mysql_server, schema_factory)


@pytest.fixture
def postgres_pipe(postgres_server, schema_factory):
    return _build(postgres_server, schema_factory)


def snapshot(p) -> dict:
    """Every row of every table (a blocked make() must leave the values, not just the counts, unchanged)."""
    tables = [p.Subject, p.Session, p.Session.Epoch, p.Param, p.Other, p.Analysis, p.Analysis.Item,
              p.Downstream, p.Sibling, p.Origin, p.Typed, p.Typed.Row]
    return {t.__name__: sorted(repr(sorted(row.items())) for row in t().to_dicts()) for t in tables}


def blocked(p, body, *words):
    """``body`` inside Analysis.make() raises ProvenanceError whose message holds ``words``; no row changed."""
    before = snapshot(p)
    with pytest.raises(ProvenanceError) as caught:
        run_make(p.Analysis, KEY, body)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert snapshot(p) == before
    assert context.current(p.connection) is None
    return message


def passes(p, body):
    run_make(p.Analysis, KEY, body)
    assert len(p.Analysis & KEY) == 1
    (p.Analysis.Item & KEY).delete_quick()
    (p.Analysis & KEY).delete_quick()


def q(self, sql, args=()):
    cursor = self.connection.query(sql, args=args)
    return cursor.fetchall() if cursor.description else None


def names(p):
    return p.Other.full_table_name, p.Analysis.full_table_name


# ------------------------------------------------------------------------------ 1. executable comments
@pytest.mark.usefixtures("strict_on")
def test_mysql_executable_comments_are_blocked(mysql_pipe):
    p = mysql_pipe
    other, _ = names(p)
    for sql in (f"/*!DELETE FROM {other}*/", f"SELECT 1 /*!, (SELECT group_concat(note) FROM {other}) */",
                f"SELECT 1 /*M!, (SELECT group_concat(note) FROM {other}) */"):
        blocked(p, lambda self, key, sql=sql: (insert_own(self, key), q(self, sql)), "executable comment")
    passes(p, lambda self, key: (q(self, "SELECT 1 /* a plain comment */, '/*!' AS text"), insert_own(self, key)))


# ------------------------------------------------------------------------------ 2. volatile checked writes
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


# ------------------------------------------------------------------------------ 3. SET
@pytest.mark.usefixtures("strict_on")
def test_set_with_expressions_or_of_lexing_settings_is_blocked(any_pipe):
    p = any_pipe
    other, _ = names(p)
    if p.server.backend == "mysql":
        before = p.connection.query("SELECT @@innodb_lock_wait_timeout, @@sql_mode").fetchone()
        cases = [
            (f"SET SESSION innodb_lock_wait_timeout = (SELECT max(other_id) + 100 FROM {other})", "cannot classify"),
            (f"SET SESSION sql_mode = (SELECT group_concat(note) FROM {other})", "cannot classify"),
            ("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')", "cannot classify"),
            ("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'", "sql_mode"),
            ("SET @@session.sql_mode = 'ANSI_QUOTES'", "sql_mode"),
            ("SET NAMES gbk", "names"),
        ]
        legal = "SET SESSION innodb_lock_wait_timeout = 50"
        after = "SELECT @@innodb_lock_wait_timeout, @@sql_mode"
    else:
        before = p.connection.query("SHOW standard_conforming_strings").fetchone()
        cases = [
            ("SET standard_conforming_strings = off", "standard_conforming_strings"),
            ("SET backslash_quote = on", "backslash_quote"),
            (f'SET search_path TO "{p.Other.database}"', "search_path"),
            (f"SET statement_timeout = (SELECT max(other_id) FROM {other})", "cannot classify"),
        ]
        legal = "SET LOCAL statement_timeout TO 0"
        after = "SHOW standard_conforming_strings"
    for sql, word in cases:
        blocked(p, lambda self, key, sql=sql: (q(self, sql), insert_own(self, key)), word)
    assert p.connection.query(after).fetchone() == before
    passes(p, lambda self, key: (q(self, legal), insert_own(self, key)))


# ------------------------------------------------------------------------------ 4. driver arguments
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


# ------------------------------------------------------------------------------ 5. pg_* user tables
@pytest.mark.usefixtures("strict_on")
def test_a_user_table_named_pg_something_is_not_a_catalog(postgres_pipe):
    p = postgres_pipe

    @p.schema
    class PgSecret(dj.Manual):
        definition = """
        secret_id: int32
        ---
        secret = '': varchar(32)
        """

    PgSecret.insert1({"secret_id": 1, "secret": "hunter2"})
    connection = p.connection
    connection.query(f'SET search_path TO "{p.Other.database}", public')  # outside make(): not gated
    try:
        blocked(p, lambda self, key: q(self, "SELECT * FROM pg_secret"), "pg_secret")
        blocked(p, lambda self, key: q(self, f'SELECT * FROM "{p.Other.database}".pg_secret'), "PgSecret")
        # the real catalog stays a framework read
        passes(p, lambda self, key: (q(self, "SELECT relname FROM pg_class c JOIN pg_namespace n "
                                             "ON n.oid = c.relnamespace WHERE n.nspname = %s", (p.Other.database,)),
                                     insert_own(self, key)))
    finally:
        connection.query('SET search_path TO "$user", public')


# ------------------------------------------------------------------------------ 6. transaction control
@pytest.mark.usefixtures("strict_on")
def test_transaction_control_in_make_is_blocked(any_pipe):
    p = any_pipe
    own = p.Analysis.full_table_name
    mysql = p.server.backend == "mysql"
    cases = ["COMMIT", "ROLLBACK", "SAVEPOINT s1", "BEGIN",
             "START TRANSACTION" if mysql else "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
             "SET autocommit = 1" if mysql else "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
             "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED" if mysql else "END",
             f"LOCK TABLES {own} WRITE" if mysql else f"LOCK TABLE {own}",
             "UNLOCK TABLES" if mysql else "ABORT"]
    for sql in cases:
        # make()'s own row must not be committed by the statement: the engine rolls it back
        message = blocked(p, lambda self, key, sql=sql: (insert_own(self, key), q(self, sql), len(p.Other())),
                          "transaction or lock control")
        assert "only the engine commits or rolls back" in message


# ------------------------------------------------------------------------------ 7. SHOW with a subquery
@pytest.mark.usefixtures("strict_on")
def test_show_with_a_subquery_is_blocked(mysql_pipe):
    p = mysql_pipe
    other, _ = names(p)
    db = p.Other.database
    blocked(p, lambda self, key: (insert_own(self, key),
                                  q(self, f"SHOW TABLES FROM `{db}` WHERE (SELECT count(*) FROM {other}) > 1")),
            "SHOW with an expression")
    passes(p, lambda self, key: (q(self, f"SHOW TABLES FROM `{db}` LIKE 'sess%%'"),
                                 q(self, f"SHOW FULL COLUMNS FROM {other}"), insert_own(self, key)))


# ------------------------------------------------------------------------------ 8. COMMENT and GRANT
@pytest.mark.usefixtures("strict_on")
def test_comment_and_grant_on_other_tables_are_schema_changes(any_pipe):
    p = any_pipe
    subject = p.Subject.full_table_name
    if p.server.backend == "mysql":
        cases = [(f"GRANT SELECT ON {subject} TO 'root'@'localhost'", "GRANT")]  # opaque to sqlglot: blocked
    else:
        cases = [(f"COMMENT ON TABLE {subject} IS 'hacked'", "Subject"),
                 (f"GRANT SELECT ON {subject} TO postgres", "Subject")]
        comment = "SELECT obj_description(%s::regclass)"
        before = p.connection.query(comment, args=(subject,)).fetchone()
    for sql, word in cases:
        blocked(p, lambda self, key, sql=sql: (insert_own(self, key), q(self, sql)), word, "Strict provenance")
    if p.server.backend != "mysql":
        assert p.connection.query(comment, args=(subject,)).fetchone() == before


# ------------------------------------------------------------------------------ 9, 10. no false positives
@pytest.mark.usefixtures("strict_on")
def test_pure_functions_and_for_update_of_pass(any_pipe):
    p = any_pipe
    E, S = p.Session.Epoch, p.Session
    mysql = p.server.backend == "mysql"

    def body(self, key):
        if mysql:
            assert (E & key).proj(b="bin(epoch)").to_dicts()
            assert (S & key).aggr(E, j="json_arrayagg(epoch)").to_dicts()
            (E & key).proj(w="weekday(now())", m="microsecond(now())", t="to_seconds(now())").to_dicts()
        else:
            assert (E & key).proj(b="to_json(epoch)").to_dicts()
            assert (S & key).aggr(E, j="every(epoch > 0)").to_dicts()
            (E & key).proj(d="make_date(2020, 1, 1)", c="cardinality(ARRAY[epoch])").to_dicts()
            own = self.full_table_name
            q(self, f'SELECT * FROM {own} WHERE "subject_id" = 1 FOR UPDATE OF "{own.split(".")[-1].strip(chr(34))}"')
        insert_own(self, key)

    passes(p, body)


# ------------------------------------------------------------------------------ through populate()
def test_a_swallowed_refusal_still_fails_the_job(any_pipe, empty_policy):
    """The gate records each refusal on the window (context.note_blocked): the engine fails the job."""
    p = any_pipe

    def body(self, key):
        try:
            self.connection.query("COMMIT")
        except ProvenanceError:
            pass
        insert_own(self, key)

    pipeline.BODIES["Analysis"] = body
    djruntime.install(strict_provenance=True, policy=empty_policy)
    try:
        result = p.Analysis.populate(KEY, reserve_jobs=True, suppress_errors=True)
    finally:
        djruntime.uninstall()
    assert len(result["error_list"]) == 1 and "transaction or lock control" in str(result["error_list"][0][1])
    assert len(p.Analysis & KEY) == 0
