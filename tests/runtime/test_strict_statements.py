"""Strict gate, statements refused whatever tables they name: unclassifiable statements (fail closed),
MySQL executable comments, SET of expressions or settings, transaction control, statements that commit
by themselves, SHOW with a subquery, COMMENT/GRANT, built-in names shadowed by stored functions; and the
framework's own statements, which pass.
"""

from __future__ import annotations

import datajoint as dj
import pytest
from strict_helpers import (
    KEY,
    assert_blocked,
    blocked,
    each_blocked,
    insert_own,
    mysql,
    names,
    passes,
    q,
    run_make,
)

from djruntime import context


@pytest.mark.usefixtures("strict_on")
def test_unclassifiable_statement_fails_closed_and_shows_it(pipe):
    db = pipe.Other.database
    message = assert_blocked(pipe, lambda self, key: pipe.connection.query(f"CALL {db}.no_such_procedure()"),
                             "cannot classify", "CALL")
    assert f"CALL {db}.no_such_procedure()" in message
    message = assert_blocked(pipe, lambda self, key: pipe.connection.query(f"SELECT {db}.secret_reader(1)"),
                             "secret_reader")
    assert f"SELECT {db}.secret_reader(1)" in message


@pytest.mark.usefixtures("strict_on")
def test_framework_statements_and_bookkeeping_pass(pipe):
    seen = {}

    def body(self, key):
        conn = pipe.connection
        seen["user"] = conn.query("SELECT user()").fetchone()
        seen["now"] = conn.query("SELECT CURRENT_TIMESTAMP").fetchone()
        seen["tables"] = conn.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name = 'other'",
            args=(pipe.Other.database,),
        ).fetchall()
        seen["heading"] = dj.FreeTable(conn, pipe.Other.full_table_name).heading.names  # SHOW/catalog reads
        with context.bookkeeping():
            seen["other"] = len(pipe.Other())  # the engine's own statements pass
        insert_own(self, key)

    run_make(pipe.Analysis, KEY, body)
    assert seen["other"] == 2 and seen["tables"] and "note" in seen["heading"]


@pytest.mark.usefixtures("strict_on")
def test_mysql_executable_comments_are_blocked(pipe):
    p = pipe
    other, _ = names(p)
    for sql in (f"/*!DELETE FROM {other}*/", f"SELECT 1 /*!, (SELECT group_concat(note) FROM {other}) */",
                f"SELECT 1 /*M!, (SELECT group_concat(note) FROM {other}) */"):
        blocked(p, lambda self, key, sql=sql: (insert_own(self, key), q(self, sql)), "executable comment")
    passes(p, lambda self, key: (q(self, "SELECT 1 /* a plain comment */, '/*!' AS text"), insert_own(self, key)))


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


@pytest.mark.usefixtures("strict_on")
def test_show_with_a_subquery_is_blocked(pipe):
    p = pipe
    other, _ = names(p)
    db = p.Other.database
    blocked(p, lambda self, key: (insert_own(self, key),
                                  q(self, f"SHOW TABLES FROM `{db}` WHERE (SELECT count(*) FROM {other}) > 1")),
            "SHOW with an expression")
    passes(p, lambda self, key: (q(self, f"SHOW TABLES FROM `{db}` LIKE 'sess%%'"),
                                 q(self, f"SHOW FULL COLUMNS FROM {other}"), insert_own(self, key)))


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


@pytest.mark.usefixtures("strict_on")
def test_a_builtin_name_shadowed_by_a_stored_function_is_refused(any_pipe):
    p = any_pipe
    other, _ = names(p)
    schema = p.Other.database
    if mysql(p):  # initcap is no MariaDB built-in: an unqualified call runs the current database's function
        p.connection.query(f"CREATE FUNCTION `{schema}`.initcap(x TEXT) RETURNS TEXT READS SQL DATA "
                           f"RETURN (SELECT group_concat(note) FROM {other})")
        p.connection.query(f"USE `{schema}`")
        call = "SELECT initcap('x')"
    else:
        p.connection.query(f'CREATE FUNCTION "{schema}".initcap(x integer) RETURNS text LANGUAGE sql AS '
                           f"'SELECT string_agg(note, '','') FROM {other}'")
        p.connection.query(f'SET search_path TO "{schema}", public')
        call = "SELECT initcap(1)"
    try:
        blocked(p, lambda self, key: (insert_own(self, key), q(self, call)), "stored function")
        passes(p, lambda self, key: (q(self, "SELECT upper('x'), md5('x')"), insert_own(self, key)))
    finally:
        p.connection.query(f"DROP FUNCTION {'`' + schema + '`' if mysql(p) else chr(34) + schema + chr(34)}.initcap"
                           + ("" if mysql(p) else "(integer)"))


@pytest.mark.usefixtures("strict_on")
def test_statements_that_commit_by_themselves_are_refused_before_they_are_sent(any_pipe):
    p = any_pipe
    schema = p.Other.database
    if mysql(p):
        statements = [
            "SET PASSWORD FOR 'djtest_nobody'@'localhost' = PASSWORD('x')",
            "SET PASSWORD FOR 'djtest_nobody'@'localhost' = '*0000000000000000000000000000000000000000'",
            "DROP USER IF EXISTS 'djtest_nobody'@'localhost'",
            "CREATE USER IF NOT EXISTS 'djtest_nobody'@'localhost'",
            f"ANALYZE TABLE `{schema}`.`other`",
            f"OPTIMIZE TABLE `{schema}`.`other`",
            f"RENAME TABLE `{schema}`.`other` TO `{schema}`.`other2`",
            "CREATE DATABASE IF NOT EXISTS djtest_never",
            "FLUSH TABLES",
            f"CREATE INDEX ix ON `{schema}`.`other` (note)",
        ]
    else:
        statements = ["CHECKPOINT", "VACUUM", f'ANALYZE "{schema}"."other"', "CREATE ROLE djtest_nobody",
                      f'CREATE INDEX ix ON "{schema}"."other" (note)']
    each_blocked(p, statements, "Statement:")
