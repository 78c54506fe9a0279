"""The statement classifier: tables read and written, framework statements, fail-closed cases (no DB)."""

from __future__ import annotations

import pytest

from djruntime.strict import classifier, literals
from djruntime.strict.classifier import classify
from djruntime.strict.statement import PIN_MARKER, Slot

M, P = "mysql", "postgresql"
LAB_T, LAB_O, LAB_S = ("lab", "t"), ("lab", "other"), ("lab", "s")


def reads(sql, backend=M):
    return set(classify(sql, backend).reads)


def writes(sql, backend=M):
    return set(classify(sql, backend).writes)


def kind(sql, backend=M):
    return classify(sql, backend).kind


# ------------------------------------------------------------------------------------------ reads
@pytest.mark.parametrize(
    "sql, backend, expected",
    [
        ("SELECT `a` FROM `lab`.`t` WHERE ((`a`=1))", M, {LAB_T}),
        ('SELECT "a" FROM "lab"."t" WHERE (("a"=1))', P, {LAB_T}),
        ("select * from lab.t", M, {LAB_T}),
        ("SeLeCt * FrOm lab.t", P, {LAB_T}),
        ("SELECT * FROM LAB.T", P, {LAB_T}),  # PostgreSQL folds unquoted names
        ("SELECT * FROM LAB.T", M, {("LAB", "T")}),  # MySQL on Linux does not
        ("SELECT `a` FROM `lab`.`t` WHERE (`a`) IN (SELECT `a` FROM `lab`.`other`)", M, {LAB_T, LAB_O}),
        ("SELECT `a` FROM `lab`.`t` WHERE (`a`) NOT IN (SELECT `a` FROM `lab`.`other` WHERE `b`>2)", M,
         {LAB_T, LAB_O}),
        ("SELECT `a` FROM `lab`.`t` WHERE NOT EXISTS (SELECT 1 FROM `lab`.`other` o WHERE o.a = t.a)", M,
         {LAB_T, LAB_O}),
        ("SELECT * FROM `lab`.`t` NATURAL JOIN `lab`.`other`", M, {LAB_T, LAB_O}),
        ("SELECT * FROM `lab`.`t` JOIN (SELECT `a`, count(*) AS n FROM `lab`.`other` GROUP BY `a`) AS x USING (`a`)",
         M, {LAB_T, LAB_O}),
        ("SELECT `a` FROM `lab`.`t` UNION SELECT `a` FROM `lab`.`other`", M, {LAB_T, LAB_O}),
        ("(SELECT `a` FROM `lab`.`t`) UNION (SELECT `a` FROM `lab`.`other`)", M, {LAB_T, LAB_O}),
        ("SELECT `a`, (SELECT count(*) FROM `lab`.`other`) AS `n` FROM `lab`.`t`", M, {LAB_T, LAB_O}),
        ("SELECT count(DISTINCT `a`) FROM `lab`.`t`", M, {LAB_T}),
        ("SELECT EXISTS(SELECT 1 FROM `lab`.`t` WHERE `a`=1)", M, {LAB_T}),
        ("WITH x AS (SELECT * FROM lab.other) SELECT * FROM x JOIN lab.t USING (a)", M, {LAB_T, LAB_O}),
        ("SELECT * FROM `lab`.`t` FOR UPDATE SKIP LOCKED", M, {LAB_T}),
        ("SELECT * FROM `lab`.`t` LIMIT 10 OFFSET 5", M, {LAB_T}),
        ('SELECT * FROM "lab"."t" WHERE "d" > %s AND "n" LIKE \'a%%\'', P, {LAB_T}),
        ("SELECT * FROM `lab`.`t` WHERE `note` = 'it''s `lab`.`other`'", M, {LAB_T}),  # a name in a string
        ("SELECT * FROM `lab`.`t` WHERE `note` = 'back\\' FROM lab.other'", M, {LAB_T}),
        ("SELECT * FROM `lab`.`t` /* comment */ WHERE a = 1", M, {LAB_T}),
        ("SELECT * FROM `lab`.`t` -- FROM lab.other\nWHERE a = 1", M, {LAB_T}),
        ("SELECT * FROM lab.t WHERE note = E'it\\'s' AND a IN (SELECT a FROM lab.other)", P, {LAB_T, LAB_O}),
        ("SELECT * FROM `lab`.`my table 1`", M, {("lab", "my table 1")}),
        ("SELECT * FROM `lab`.`~lineage` JOIN `lab`.`t`", M, {LAB_T}),
    ],
)
def test_reads(sql, backend, expected):
    statement = classify(sql, backend)
    assert statement.kind == "read"
    assert set(statement.reads) == expected
    assert not statement.writes


def test_unqualified_tables_keep_an_empty_schema_and_ctes_are_not_tables():
    assert reads("SELECT * FROM other") == {("", "other")}
    assert reads("WITH other AS (SELECT 1 AS a) SELECT * FROM other") == set()


# ------------------------------------------------------------------------------------------ framework
@pytest.mark.parametrize(
    "sql, backend",
    [
        ("SHOW FULL COLUMNS FROM `tbl` IN `db`", M),
        ("SHOW DATABASES LIKE 'lab%%'", M),
        ("DESCRIBE `lab`.`t`", M),
        ("SELECT user()", M),
        ("SELECT current_user", P),
        ("SELECT CURRENT_TIMESTAMP", M),
        ("SELECT @@version", M),
        ("SELECT CONNECTION_ID()", M),
        ("SELECT GET_LOCK('djruntime', 0)", M),
        ("SELECT pg_backend_pid()", P),
        ("SELECT 1", M),
        ("SET SESSION innodb_lock_wait_timeout = 5", M),
        ("SET statement_timeout TO 0", P),
        ("SHOW search_path", P),
        ("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace", P),
        ("SELECT table_name FROM information_schema.tables WHERE table_schema='lab' AND table_name = 'other'", M),
        ("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s", P),
        (("SELECT kcu.column_name FROM information_schema.key_column_usage kcu JOIN "
          "information_schema.table_constraints tc USING (constraint_name) WHERE tc.table_name LIKE '~%%'"), P),
        ("SELECT conname FROM pg_constraint WHERE conrelid = '\"lab\".\"other\"'::regclass", P),
        ("SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = '\"lab\".\"other\"'::regclass", P),
        ("SELECT * FROM `lab`.`~lineage` WHERE table_name = 'other'", M),
        ('SELECT * FROM "lab"."~lineage"', P),
        ("SELECT * FROM `lab`.`~~analysis` WHERE status='pending'", M),
    ],
)
def test_framework_statements_pass(sql, backend):
    assert kind(sql, backend) == "pass", classify(sql, backend)


# ------------------------------------------------------------------------------------------ writes
def test_datajoint_insert_with_arguments():
    statement = classify("INSERT INTO `lab`.`t`(`a`,`b`) VALUES (%s,%s),(%s,DEFAULT)")
    assert statement.kind == "write" and statement.writes == {LAB_T} and not statement.reads
    (insert,) = statement.inserts
    assert insert.columns == ("a", "b")
    assert insert.rows == ((Slot("arg", 0), Slot("arg", 1)), (Slot("arg", 2), Slot("default")))


def test_on_duplicate_key_update_and_on_conflict():
    statement = classify("INSERT INTO `lab`.`t`(`a`,`b`) VALUES (%s,%s) ON DUPLICATE KEY UPDATE `a`=`lab`.`t`.`a`")
    assert statement.writes == {LAB_T}
    assert statement.inserts[0].on_conflict == (("a", Slot("expr", "a")),)
    statement = classify('INSERT INTO "lab"."t"("a","b") VALUES (%s,%s) ON CONFLICT ("a") DO NOTHING', P)
    assert statement.writes == {LAB_T} and statement.inserts[0].rows == ((Slot("arg", 0), Slot("arg", 1)),)
    statement = classify('INSERT INTO "lab"."t"("a") VALUES (%s) ON CONFLICT ("a") DO UPDATE SET a = %s', P)
    assert statement.inserts[0].on_conflict == (("a", Slot("arg", 1)),)


def test_replace_and_literal_values():
    statement = classify("REPLACE INTO lab.t (a, b, c, d) VALUES (1, 'x', NULL, -2.5)")
    assert statement.writes == {LAB_T}
    (row,) = statement.inserts[0].rows
    assert [s.kind for s in row] == ["literal"] * 4
    assert row[1].value == "x" and row[2].value is None and float(row[3].value) == -2.5


def test_insert_without_column_list_and_named_arguments():
    statement = classify("INSERT INTO lab.t VALUES (%(a)s, %(b)s)")
    assert statement.inserts[0].columns is None
    assert statement.inserts[0].rows == ((Slot("arg", "a"), Slot("arg", "b")),)


def test_insert_from_select_reads_the_source_and_names_its_columns():
    statement = classify("INSERT INTO `lab`.`t` (`a`,`b`) SELECT `a`, `b` + 1 AS `b` FROM `lab`.`s` WHERE `x`=%s")
    assert statement.writes == {LAB_T} and statement.reads == {LAB_S}
    (insert,) = statement.inserts
    assert insert.source_sql == "SELECT `a` AS `_djr_c0`, `b` + 1 AS `_djr_c1` FROM `lab`.`s` WHERE `x` = %s"
    assert insert.source_args == (0,)
    statement = classify("INSERT INTO lab.t SELECT * FROM lab.s", P)
    assert statement.inserts[0].source_star


def test_update_and_delete_carry_their_condition():
    statement = classify("UPDATE `lab`.`t` SET `x`=%s WHERE ( (`a`=1) AND `b` IN (SELECT `b` FROM `lab`.`s`))")
    assert statement.writes == {LAB_T} and statement.reads == {LAB_S}
    (modify,) = statement.modifies
    assert modify.verb == "update" and modify.assignments == (("x", Slot("arg", 0)),)
    assert modify.target_sql == "`lab`.`t`" and "`a` = 1" in modify.where_sql
    statement = classify('DELETE FROM "lab"."t" WHERE "a" = %s AND "b" = 2', P)
    (modify,) = statement.modifies
    assert modify.verb == "delete" and modify.where_args == (0,) and modify.where_sql.count("%s") == 1
    assert classify("DELETE FROM lab.t").modifies[0].where_sql is None


def test_placeholders_keep_their_positions_around_percent_signs():
    statement = classify("UPDATE lab.t SET note = %s WHERE note LIKE 'a%%' AND a = %s")
    (modify,) = statement.modifies
    assert modify.assignments == (("note", Slot("arg", 0)),)
    assert modify.where_args == (1,) and "'a%%'" in modify.where_sql


@pytest.mark.parametrize(
    "sql, backend, written",
    [
        ("DROP TABLE `lab`.`t`", M, {LAB_T}),
        ("TRUNCATE TABLE lab.t", M, {LAB_T}),
        ("ALTER TABLE lab.t ADD COLUMN z int", M, {LAB_T}),
        ("CREATE TABLE lab.copy AS SELECT * FROM lab.t", M, {("lab", "copy"), LAB_T}),
        ("SELECT * INTO lab.copy FROM lab.t", P, {("lab", "copy"), LAB_T}),
    ],
)
def test_ddl(sql, backend, written):
    statement = classify(sql, backend)
    assert statement.kind == "ddl" and written <= set(statement.writes)


def test_several_statements_in_one_call_are_all_seen():
    statement = classify("SELECT 1; DELETE FROM lab.other", P)
    assert statement.kind == "write" and statement.writes == {LAB_O}
    assert classify("COMMIT; DELETE FROM lab.other", P).kind == "forbidden"
    assert classify("SELECT 1; SELECT * FROM lab.other", P).reads == {LAB_O}


def test_data_modifying_cte_is_a_write():
    statement = classify("WITH gone AS (DELETE FROM lab.other RETURNING *) SELECT * FROM gone", P)
    assert statement.writes == {LAB_O}


# ------------------------------------------------------------------------------------------ fail closed
@pytest.mark.parametrize(
    "sql, backend",
    [
        ("CALL lab.refresh()", M),
        ("PREPARE s FROM 'SELECT * FROM lab.other'", M),
        ("EXECUTE s", M),
        ("LOAD DATA INFILE '/tmp/x' INTO TABLE lab.t", M),
        ("SELECT lab.reader(1)", M),
        ("SELECT my_udf(a) FROM lab.t", M),
        ("SELECT query_to_xml('select * from lab.other', true, true, '')", P),
        ("DO $$ BEGIN DELETE FROM lab.other; END $$", P),
        ("SELECT * FROM", M),
        ("UPDATE lab.t JOIN lab.other USING (a) SET t.x = other.x", M),
    ],
)
def test_unclassifiable_statements(sql, backend):
    statement = classify(sql, backend)
    assert statement.kind == "unclassifiable" and statement.reason


# ------------------------------------------------------------------------------------------ cache
def test_shape_keeps_identifiers_and_reduces_literals():
    assert literals.shape_of("SELECT * FROM `lab`.`t1` WHERE `a 1` = 12 AND b = 'x''y' AND c = %s", "mysql") == (
        "SELECT * FROM `lab`.`t1` WHERE `a 1` =  AND b = ' AND c = "
    )
    assert literals.shape_of('SELECT * FROM "lab"."t 2" WHERE "x" = \'it\'\'s\' AND y = 3.5', "postgres") == (
        'SELECT * FROM "lab"."t 2" WHERE "x" = \' AND y = '
    )
    assert literals.shape_of("SELECT `#param`.a1 FROM `lab`.`#param` WHERE a$1 = 2", "mysql") == (
        "SELECT `#param`.a1 FROM `lab`.`#param` WHERE a$1 = "
    )
    for unsafe in ["SELECT 1 -- x", "SELECT 1 # x", "SELECT /* x */ 1"]:
        assert literals.shape_of(unsafe, "mysql") is None
    for unsafe in ["SELECT $$x$$", "SELECT E'x'", "SELECT 1 -- x"]:
        assert literals.shape_of(unsafe, "postgres") is None


@pytest.mark.parametrize("backend", [M, P])
def test_statements_differing_only_by_literals_share_one_parse(backend):
    classifier.cache_clear()
    q = "`" if backend == M else '"'
    for value in range(50):
        statement = classify(f"SELECT * FROM {q}lab{q}.{q}t{q} WHERE {q}a{q} = {value} AND {q}n{q} = 'v{value}'",
                             backend)
        assert statement.reads == {LAB_T}
    assert classifier.parses == 1


def test_a_comment_never_hides_a_table_behind_a_cached_shape():
    classifier.cache_clear()
    assert reads("SELECT * FROM lab.t -- 'x'") == {LAB_T}
    # same characters outside the comment, but here the "string" spans lines and hides a second table
    assert reads("SELECT * FROM lab.t -- '\n, lab.other -- '") == {LAB_T, LAB_O}


def test_writes_are_never_served_from_a_read_shape():
    classifier.cache_clear()
    assert kind("WITH x AS (SELECT 1) SELECT * FROM lab.t", P) == "read"
    statement = classify("WITH x AS (DELETE FROM lab.t RETURNING *) SELECT * FROM x", P)
    assert statement.kind == "write" and statement.writes == {LAB_T}


@pytest.mark.parametrize("backend", [M, P])
def test_fresh_subquery_aliases_do_not_make_new_shapes(backend):
    q = "`" if backend == M else '"'
    classifier.cache_clear()
    for number in range(30):
        alias = f"{q}${number:x}{q}"
        sql = (f"SELECT * FROM (SELECT {q}a{q} FROM {q}lab{q}.{q}t{q} WHERE {q}a{q} = {number}) as {alias} "
               f"NATURAL JOIN {q}lab{q}.{q}other{q}")
        assert classify(sql, backend).reads == {LAB_T, LAB_O}
    assert classifier.parses == 1
    # a schema or table whose name looks like an alias is still a name
    assert reads(f"SELECT * FROM {q}$1f{q}.{q}t{q}", backend) == {("$1f", "t")}
    assert reads(f"SELECT * FROM {q}lab{q}.{q}$1f{q}", backend) == {("lab", "$1f")}


# The shape cache's fast path (statements without string literals, as datajoint sends for numeric
# keys) must give exactly the shape of the general regex path, on any such statement.
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = ["SELECT ", "FROM ", " WHERE ", "(", ")", " AND ", " = ", " IN (", ",", ".", " ", "-", "+", "*",
           "1", "23", "4.5", "6e7", ".8", "x9", "a1", "_2", "$3", "%s", "%(key)s", "--", "/*", "#", "$$",
           "AS ", "\n", "\t", "0x1F"]
_NAMES = ["db", "tbl", "$1f", "_aggr3", "a.b", "x y", "9lives", "$", "-- not a comment", "#", "%s", "1e3"]


def _statement(quote: str):
    name = st.sampled_from(_NAMES).map(lambda n: f"{quote}{n}{quote}")
    return st.lists(st.one_of(st.sampled_from(_PIECES), name), max_size=14).map("".join)


@settings(max_examples=3000, deadline=None)
@given(st.data())
def test_fast_shape_path_equals_the_regex_path(data) -> None:
    postgres = data.draw(st.booleans())
    quote = '"' if postgres else "`"
    sql = data.draw(_statement(quote))
    pieces = sql.split(quote)
    if "'" in sql or (not postgres and '"' in sql) or quote * 2 in sql or len(pieces) % 2 == 0:
        return  # not a statement the fast path takes
    fast = literals.shape_of(sql, "postgres" if postgres else "mysql")
    assert fast == literals._regex_shape(sql, postgres), sql


# ------------------------------------------------------------------------- statements once passed wrongly
@pytest.mark.parametrize(
    "sql",
    [
        "/*!DELETE FROM `lab`.`other`*/",
        "SELECT 1 /*!, (SELECT group_concat(note) FROM `lab`.`other`) */",
        "SELECT 1 /*M!, (SELECT group_concat(note) FROM `lab`.`other`) */",
        "SELECT 1 /*!50100 , (SELECT 1 FROM `lab`.`other`) */",
        "SHOW TABLES /*! , (SELECT 1 FROM `lab`.`other`) */",
        "SELECT 1 /* ' */ /*! , (SELECT 1 FROM `lab`.`other`) */",
    ],
)
def test_mysql_executable_comments_are_unclassifiable(sql):
    statement = classify(sql, M)
    assert statement.kind == "unclassifiable" and "executable comment" in statement.reason


def test_executable_comment_markers_inside_strings_and_names_are_data():
    assert reads("SELECT '/*!' AS a, `/*!x` FROM `lab`.`t` -- /*! not run\n") == {LAB_T}
    assert reads("SELECT 1 /* plain comment */ FROM `lab`.`t`") == {LAB_T}
    assert reads("SELECT '/*!' FROM \"lab\".\"t\"", P) == {LAB_T}  # no executable comments in PostgreSQL


@pytest.mark.parametrize(
    "sql, backend, what",
    [
        ("DELETE FROM `lab`.`other` WHERE ROW_COUNT() = -1", M, "ROW_COUNT"),
        ("UPDATE `lab`.`t` SET b = 99 WHERE (@u := IFNULL(@u, 0) + 1) > 2", M, "user variable"),
        ("INSERT INTO `lab`.`t` SELECT 1, IF(@armed IS NULL, 1 + 0*(@armed := 1), 2), 1, 7.0", M, "user variable"),
        ("DELETE FROM `lab`.`t` WHERE a = @key", M, "user variable"),
        ("DELETE FROM `lab`.`t` WHERE created < NOW()", M, "NOW"),
        ("DELETE FROM `lab`.`t` WHERE RAND() < 0.5", M, "RAND"),
        ("DELETE FROM `lab`.`t` WHERE a IN (SELECT a FROM `lab`.`s` WHERE GET_LOCK('x', 0))", M, "GET_LOCK"),
        ('DELETE FROM "lab"."other" WHERE NOT pg_advisory_unlock(4242)', P, "pg_advisory_unlock"),
        ('UPDATE "lab"."t" SET b = 99 WHERE NOT pg_advisory_unlock(4243)', P, "pg_advisory_unlock"),
        ('INSERT INTO "lab"."t" SELECT 1, CASE WHEN pg_advisory_unlock(1) THEN 1 ELSE 2 END', P, "pg_advisory"),
        ('DELETE FROM "lab"."other" WHERE random() < 0.5', P, "RAND"),
        ('DELETE FROM "lab"."t" WHERE a = nextval(\'s\')', P, "nextval"),
        ('INSERT INTO "lab"."t" SELECT a, clock_timestamp() FROM "lab"."s"', P, "clock_timestamp"),
    ],
)
def test_checked_writes_that_depend_on_volatile_values_fail_closed(sql, backend, what):
    statement = classify(sql, backend)
    assert statement.kind == "unclassifiable", statement
    assert what in statement.reason and "between the gate's check" in statement.reason


def test_volatile_functions_stay_allowed_in_reads_and_in_assigned_values():
    assert kind("SELECT NOW(), RAND(), UUID(), @x, ROW_COUNT(), GET_LOCK('a', 0)") == "pass"
    assert kind("SELECT random(), now(), pg_advisory_lock(1), clock_timestamp()", P) == "pass"
    assert reads("SELECT a, NOW() FROM `lab`.`t` WHERE b < CURRENT_TIMESTAMP") == {LAB_T}
    statement = classify("UPDATE `lab`.`t` SET b = NOW() WHERE a = %s")
    assert statement.kind == "write" and statement.modifies[0].assignments[0][0] == "b"


@pytest.mark.parametrize(
    "sql, backend",
    [
        ("SET SESSION innodb_lock_wait_timeout = (SELECT max(x) FROM `lab`.`other`)", M),
        ("SET SESSION max_execution_time = CONCAT(1, 2)", M),
        ("SET @x = (SELECT note FROM `lab`.`other` LIMIT 1)", M),
        ("SET @x = @@sql_mode", M),
        ("SET SESSION wait_timeout = 5; DELETE FROM `lab`.`other`", M),
        ("SET STATEMENT max_statement_time = 1 FOR DELETE FROM `lab`.`other`", M),
        ("SET lock_timeout = current_setting('statement_timeout')", P),
        ("SET ROLE other_role", P),
    ],
)
def test_set_with_expressions_is_unclassifiable(sql, backend):
    assert kind(sql, backend) == "unclassifiable"


@pytest.mark.parametrize(
    "sql, backend, word",
    [
        ("SET SESSION sql_mode = (SELECT group_concat(note) FROM `lab`.`other`)", M, "cannot classify"),
        ("SET SESSION sql_mode = 'ANSI_QUOTES'", M, "sql_mode"),
        ("SET @@session.sql_mode = ''", M, "sql_mode"),
        ("SET sql_mode = 'NO_BACKSLASH_ESCAPES'", M, "sql_mode"),
        ("SET NAMES gbk", M, "names"),
        ("SET character_set_client = gbk", M, "character_set_client"),
        ("SET GLOBAL sql_mode = ''", M, "GLOBAL"),
        ("SET standard_conforming_strings = off", P, "standard_conforming_strings"),
        ("SET backslash_quote = on", P, "backslash_quote"),
        ("SET search_path TO lab, public", P, "search_path"),
        ("SET LOCAL search_path = lab", P, "search_path"),
        ("SET client_encoding = 'SJIS'", P, "client_encoding"),
    ],
)
def test_set_of_a_lexing_setting_is_refused(sql, backend, word):
    statement = classify(sql, backend)
    assert statement.kind in ("forbidden", "unclassifiable")
    assert word in statement.reason or (word == "cannot classify" and statement.kind == "unclassifiable")


@pytest.mark.parametrize(
    "sql, backend",
    [
        ("START TRANSACTION WITH CONSISTENT SNAPSHOT", M),
        ("BEGIN", P),
        ("begin isolation level serializable", P),
        ("COMMIT", M),
        ("commit", P),
        ("ROLLBACK", P),
        ("ROLLBACK TO SAVEPOINT s1", M),
        ("SAVEPOINT s1", P),
        ("RELEASE SAVEPOINT s1", M),
        ("END", P),
        ("ABORT", P),
        ("XA START 'x'", M),
        ("LOCK TABLES `lab`.`t` WRITE", M),
        ("UNLOCK TABLES", M),
        ("LOCK TABLE lab.t", P),
        ("SET autocommit = 1", M),
        ("SET @@autocommit = 0", M),
        ("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", M),
        ("SET TRANSACTION READ ONLY", P),
        ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", P),
        ("/* note */ COMMIT", M),
    ],
)
def test_transaction_control_is_refused(sql, backend):
    statement = classify(sql, backend)
    assert statement.kind == "forbidden" and "transaction" in statement.reason, statement


def test_show_with_an_expression_and_unknown_verbs_are_unclassifiable():
    assert kind("SHOW TABLES FROM `lab` WHERE (SELECT count(*) FROM `lab`.`other`) > 1") == "unclassifiable"
    assert kind("SHOW TABLES FROM `lab` WHERE Tables_in_lab = 'x'") == "pass"
    assert kind("FLUSH TABLES") == "unclassifiable"  # sqlglot reads an unknown verb as a column name
    assert kind("DESCRIBE `lab`.`t`") == "pass"
    assert reads("DESCRIBE SELECT * FROM `lab`.`other`") == {LAB_O}


@pytest.mark.parametrize(
    "sql, backend, table",
    [
        ("COMMENT ON TABLE \"lab\".\"other\" IS 'x'", P, LAB_O),
        ("COMMENT ON COLUMN lab.other.note IS 'x'", P, LAB_O),
        ("GRANT SELECT ON lab.other TO someone", P, LAB_O),
        ("GRANT SELECT ON `lab`.`other` TO someone", M, LAB_O),
        ("REVOKE SELECT ON lab.other FROM someone", P, LAB_O),
    ],
)
def test_comment_and_grant_are_schema_changes(sql, backend, table):
    statement = classify(sql, backend)
    assert statement.kind == "ddl" and statement.writes == {table}, statement


def test_pg_names_are_framework_only_for_the_real_catalog():
    assert reads("SELECT * FROM pg_secret", P) == {("", "pg_secret")}
    assert reads('SELECT * FROM "lab".pg_secret', P) == {("lab", "pg_secret")}
    assert kind("SELECT relname FROM pg_class JOIN pg_namespace ON true", P) == "pass"
    assert kind("SELECT * FROM pg_catalog.pg_anything", P) == "pass"


def test_for_update_of_names_a_table_already_read():
    assert reads('SELECT * FROM "lab"."t" FOR UPDATE OF t', P) == {LAB_T}
    assert reads('SELECT * FROM "lab"."t" AS x FOR UPDATE OF x', P) == {LAB_T}


@pytest.mark.parametrize(
    "sql, backend",
    [
        (("SELECT bin(epoch), oct(epoch), weekday(d), microsecond(t), timediff(a, b), adddate(d, 1), "
          "subdate(d, 1), to_seconds(d), binary(a), json_arrayagg(epoch), json_objectagg(a, b) FROM `lab`.`t`"), M),
        (("SELECT to_json(epoch), to_jsonb(epoch), every(epoch > 0), make_date(2020, 1, 1), cardinality(a), "
          "isfinite(d), num_nonnulls(a, b), bool_and(a > 0), array_length(a, 1) FROM lab.t"), P),
    ],
)
def test_common_pure_functions_are_known(sql, backend):
    assert classify(sql, backend).kind == "read", classify(sql, backend)


# ------------------------------------------------------------------------------------------ issue 13
@pytest.mark.parametrize(
    "sql, backend, word",
    [
        ("SET PASSWORD = 'x'", M, "commits"),
        ("SET PASSWORD FOR root = 'x'", M, "commits"),
        ("SET DEFAULT ROLE NONE TO root", M, "commits"),
        ("SET SESSION sql_select_limit = 0", M, "sql_select_limit"),
        ("SET sql_safe_updates = 0, foreign_key_checks = 0", M, "sql_safe_updates"),
        ("SET @x = 1", M, "@x"),
        ("SET TIME ZONE 'UTC'", P, "time zone"),
        ("SET enable_seqscan = off", P, "enable_seqscan"),
        ("USE `lab`", M, "USE"),
        ("ANALYZE TABLE `lab`.`t`", M, "commits"),
        ("RENAME TABLE `lab`.`t` TO `lab`.`u`", M, "commits"),
        ("CREATE USER 'x'@'%%'", M, "commits"),
        ("DROP DATABASE IF EXISTS x", M, "commits"),
        ("SHOW TABLE STATUS FROM `db` WHERE name='tbl'", M, "statistics"),
        ("SHOW KEYS FROM `db`.`tbl`", M, "statistics"),
        ("SHOW PROCESSLIST", M, "statistics"),
        ("SHOW STATUS", M, "statistics"),
        ("VACUUM", P, "commits"),
    ],
)
def test_statements_refused_inside_make(sql, backend, word):
    statement = classify(sql, backend)
    assert statement.kind == "forbidden" and word in statement.reason, statement


def test_names_resolve_by_scope_not_by_matching():
    # the CTE hides "other" inside its own query only; the outer "other" is the real table
    assert reads("SELECT * FROM (WITH other AS (SELECT 1 AS a) SELECT * FROM other) AS d, other") == {("", "other")}
    assert classify("INSERT INTO other WITH other AS (SELECT 1) SELECT * FROM other").writes == {("", "other")}
    assert reads("SELECT * FROM `dual`") == {("", "dual")}
    assert reads("SELECT 1 FROM DUAL") == set()
    assert reads("SELECT * FROM `lab` . `other`") == {LAB_O}
    # numbers after a spaced dot may be names: such texts are never shaped
    assert literals.shape_of("SELECT * FROM lab . 2e5", "mysql") is None
    assert literals.shape_of("SELECT * FROM `lab`.`t` WHERE a = 1.5", "mysql") is not None


@pytest.mark.parametrize(
    "sql, backend, reason",
    [
        ("SELECT table_rows FROM information_schema.tables WHERE table_schema = 'lab'", M, "statistics"),
        ("SELECT * FROM information_schema.tables", M, "statistics"),
        ("SELECT * FROM mysql.column_stats", M, "statistics"),
        ("SELECT info FROM information_schema.processlist", M, "statistics"),
        ("SELECT * FROM performance_schema.events_statements_history", M, "statistics"),
        ("SELECT reltuples FROM pg_class", P, "statistics"),
        ("SELECT * FROM pg_stats", P, "statistics"),
        ("SELECT query FROM pg_stat_activity", P, "statistics"),
    ],
)
def test_catalogue_statistics_without_one_named_table_are_refused(sql, backend, reason):
    statement = classify(sql, backend)
    assert statement.kind == "unclassifiable" and reason in statement.reason, statement


def test_catalogue_statistics_of_one_named_table_are_a_read_of_it():
    statement = classify("SELECT table_rows FROM information_schema.tables WHERE table_schema = 'lab' "
                         "AND table_name = 'other'")
    assert [(a.value, b.value) for a, b in statement.statistics] == [("lab", "other")]
    assert classify("SELECT table_name, table_comment FROM information_schema.tables WHERE table_schema = 'lab'"
                    ).kind == "pass"
    assert classify("SELECT relname FROM pg_class WHERE relname = 'other'", P).kind == "pass"


def test_the_sent_text_is_lifted_into_a_template_by_the_servers_lexing():
    text = "INSERT INTO `lab`.`t` (`a`,`b`,`c`) VALUES ('it\\'s %s',1.5e0,X'00ff')"
    template, values = literals.parameterize(text, "mysql")
    assert template == "INSERT INTO `lab`.`t` (`a`,`b`,`c`) VALUES (%s,%s,%s)"
    assert values[0] == "it's %s" and values[2] == b"\x00\xff"
    assert literals.parameterize("SELECT 1 -- '", "mysql") is None  # comments: parse the text itself
    assert literals.parameterize("SELECT _binary'x'", "mysql") is None  # an introducer
    assert literals.parameterize("SELECT E'x'", "postgres") is None
    statement, values = classifier.classify_sent(
        "SELECT * FROM `lab`.`t` WHERE a = '%s' UNION SELECT note FROM `lab`.`other` -- '", "mysql")
    assert LAB_O in statement.reads


def test_insert_select_with_limit_and_pinned_modify():
    statement = classify("INSERT INTO `lab`.`t` SELECT * FROM `lab`.`s` ORDER BY a LIMIT 1")
    assert statement.kind == "unclassifiable" and "LIMIT" in statement.reason
    statement = classify("DELETE FROM `lab`.`t` WHERE a = %s ORDER BY b LIMIT 2")
    (modify,) = statement.modifies
    assert modify.tail_sql == "ORDER BY b LIMIT 2" and PIN_MARKER in modify.pinned_sql
    assert "LIMIT" not in modify.pinned_sql
    update = classify("UPDATE `lab`.`t` SET x = %s WHERE a = %s").modifies[0]
    assert update.pinned_args == (0,)


def test_a_pin_must_name_the_statistics_relation_itself():
    statement = classify("SELECT t.table_rows FROM information_schema.tables t JOIN information_schema.columns c "
                         "ON c.table_name = t.table_name WHERE c.table_schema = 'lab' AND c.table_name = 'own'")
    assert statement.kind == "unclassifiable" and "statistics" in statement.reason
    statement = classify("SELECT t.table_rows FROM information_schema.tables t JOIN information_schema.columns c "
                         "ON c.table_name = t.table_name WHERE t.table_schema = 'lab' AND t.table_name = 'own'")
    assert [(a.value, b.value) for a, b in statement.statistics] == [("lab", "own")]
