"""Strict gate, reads: every read idiom of make() on a table outside its allowed set is refused, reads
of ancestors, self and Parts pass; names are resolved by scope; catalogue statistics are reads of the
tables they describe; catalogues and pure functions are no reads. MariaDB and PostgreSQL.

Each test opens the make() window exactly as the engine does (``strict_helpers.run_make``); every
refused case also asserts that the database is unchanged.
"""

from __future__ import annotations

import datajoint as dj
import pytest
import strict_pipeline as pipeline
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


def _quoted(table):
    return table.full_table_name


READ_IDIOMS = {
    "fetch": lambda p, X: X().fetch(),
    "fetch1": lambda p, X: (X & X().keys(limit=1)).fetch1(),
    "to_dicts": lambda p, X: X().to_dicts(),
    "to_arrays": lambda p, X: X().to_arrays(),
    "to_pandas": lambda p, X: X().to_pandas(),
    "keys": lambda p, X: X().keys(),
    "len": lambda p, X: len(X()),
    "bool": lambda p, X: bool(X()),
    "in": lambda p, X: {"subject_id": 1} in X(),
    "semijoin": lambda p, X: (p.Subject & X).to_dicts(),
    "antijoin": lambda p, X: len(p.Subject - X),
    "join": lambda p, X: (p.Subject * X).to_dicts(),
    "aggr": lambda p, X: p.Subject.aggr(X, n="count(*)").to_dicts(),
    "union": lambda p, X: ((X & "subject_id=1").proj() + (X & "subject_id=2").proj()).to_dicts(),
    "dj.U": lambda p, X: (dj.U("subject_id") & X).to_dicts(),
    "dj.Not": lambda p, X: (p.Subject & dj.Not(X)).to_dicts(),
    "or-list": lambda p, X: (p.Subject & [X, {"subject_id": 99}]).to_dicts(),
    "string-subquery": lambda p, X: (
        p.Session & f"subject_id IN (SELECT subject_id FROM {_quoted(X)})"
    ).to_dicts(),
    "projection-subquery": lambda p, X: p.Session.proj(n=f"(SELECT count(*) FROM {_quoted(X)})").to_dicts(),
    "raw": lambda p, X: p.connection.query(f"SELECT * FROM {_quoted(X)}").fetchall(),
    "raw-any-case": lambda p, X: p.connection.query(
        f"sElEcT * fRoM {X.database}.{X.table_name}".replace("#", "")
    ).fetchall(),
}


PG_READ_IDIOMS = ["fetch", "len", "in", "semijoin", "antijoin", "join", "aggr", "dj.U", "dj.Not", "or-list", "raw"]


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("idiom", sorted(READ_IDIOMS))
@pytest.mark.parametrize("forbidden", ["Sibling", "Downstream"])
def test_read_of_non_ancestor_is_blocked(pipe, idiom, forbidden):
    X = getattr(pipe, forbidden)

    def body(self, key):
        insert_own(self, key)
        READ_IDIOMS[idiom](pipe, X)

    message = assert_blocked(pipe, body, forbidden, "Analysis", "not upstream", "self.upstream",
                             "tool.djlint.allow")
    assert "Statement:" in message


# datajoint takes a Manual table's lower-case name in a string restriction for an attribute, so the
# string-subquery idiom only applies to the (underscore-prefixed) Computed tables.
ALLOWED_READS = [(idiom, allowed) for idiom in sorted(READ_IDIOMS)
                 for allowed in ["Session", "Session.Epoch", "Analysis", "Analysis.Item"]
                 if not (idiom == "string-subquery" and allowed.startswith("Session"))]


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize(("idiom", "allowed"), ALLOWED_READS)
def test_read_of_ancestors_self_and_parts_is_allowed(pipe, idiom, allowed):
    X = pipe.Session.Epoch if allowed == "Session.Epoch" else pipe.Analysis.Item if allowed == "Analysis.Item" \
        else getattr(pipe, allowed)
    results = []

    def body(self, key):
        results.append(READ_IDIOMS[idiom](pipe, X))
        insert_own(self, key)

    run_make(pipe.Analysis, KEY, body)
    assert len(pipe.Analysis & KEY) == 1
    assert results and results[0] is not None


@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("idiom", PG_READ_IDIOMS)
def test_read_idioms_on_both_backends(any_pipe, idiom):
    p = any_pipe

    def blocked(self, key):
        insert_own(self, key)
        READ_IDIOMS[idiom](p, p.Sibling)

    assert_blocked(p, blocked, "Sibling")

    def allowed(self, key):
        READ_IDIOMS[idiom](p, p.Session.Epoch)
        READ_IDIOMS[idiom](p, p.Analysis.Item)
        insert_own(self, key)

    run_make(p.Analysis, KEY, allowed)
    assert len(p.Analysis & KEY) == 1


@pytest.mark.usefixtures("strict_on")
def test_unrelated_table_and_upper_case_raw_sql_are_blocked(pipe):
    db = pipe.Other.database
    assert_blocked(pipe, lambda self, key: pipe.Other.to_dicts(), "Other")
    assert_blocked(pipe, lambda self, key: pipe.connection.query(f"SELECT * FROM {db.upper()}.OTHER"), "OTHER")
    assert_blocked(pipe, lambda self, key: pipe.connection.query(f'select note from `{db}`.`other` where note="x"'),
                   "Other")


@pytest.mark.usefixtures("strict_on")
def test_table_names_are_resolved_by_scope(any_pipe):
    p = any_pipe
    other, _ = names(p)
    schema = p.Other.database
    qn = "`" if mysql(p) else '"'
    statements = [
        # a CTE named like a table hides it only where it is in scope
        ("WITH other AS (SELECT 1 AS a) SELECT * FROM (SELECT * FROM other) AS d, "
         f"(WITH x AS (SELECT 1 AS b) SELECT * FROM x) AS e, {other}"),
        "SELECT * FROM (WITH other AS (SELECT 1 AS a) SELECT * FROM other) AS d, other",
        f"SELECT * FROM {qn}{schema}{qn} . {qn}other{qn}",
    ]
    if mysql(p):
        statements += ["SELECT * FROM `dual`", "USE `" + schema + "`",
                       "WITH other AS (SELECT 1 AS a) INSERT INTO other SELECT * FROM other"]
    else:
        statements += ['SELECT * FROM "dual"',
                       "WITH other AS (SELECT 1 AS a) INSERT INTO other (other_id) SELECT a FROM other"]
    each_blocked(p, statements, "Statement:")

    def legal(self, key):
        q(self, "SELECT 1 FROM DUAL" if mysql(p) else "SELECT 1")
        q(self, f"WITH sessions AS (SELECT * FROM {p.Session.full_table_name}) SELECT count(*) FROM sessions")
        insert_own(self, key)

    passes(p, legal)


@pytest.mark.usefixtures("strict_on")
def test_catalogue_statistics_are_reads_of_the_tables_they_describe(any_pipe):
    p = any_pipe
    schema = p.Other.database
    own_name = p.Analysis.table_name
    if mysql(p):
        statements = [
            f"SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = 'other'",
            f"SELECT table_name, table_rows FROM information_schema.tables WHERE table_schema = '{schema}'",
            f"SELECT * FROM information_schema.tables WHERE table_schema = '{schema}'",
            f"SELECT cardinality FROM information_schema.statistics WHERE table_schema = '{schema}'",
            "SELECT * FROM mysql.column_stats",
            "SELECT * FROM mysql.innodb_table_stats",
            "SELECT INFO FROM information_schema.PROCESSLIST",
            f"SHOW TABLE STATUS FROM `{schema}`",
            f"SHOW INDEX FROM `{schema}`.`other`",
            "SHOW SESSION STATUS",
        ]
        metadata = [
            (f"SELECT column_name, column_key, column_comment FROM information_schema.columns "
             f"WHERE table_schema = '{schema}' AND table_name = 'other'"),
            f"SELECT table_name, table_comment FROM information_schema.tables WHERE table_schema = '{schema}'",
            (f"SELECT table_rows FROM information_schema.tables WHERE table_schema = '{schema}' "
             f"AND table_name = '{own_name}'"),
            f"SHOW FULL COLUMNS FROM `other` IN `{schema}`",
        ]
    else:
        statements = [
            "SELECT reltuples FROM pg_class WHERE relname = 'other'",
            "SELECT relname, relpages FROM pg_catalog.pg_class",
            "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'other'",
            "SELECT * FROM pg_stats WHERE tablename = 'other'",
            "SELECT query FROM pg_stat_activity",
        ]
        metadata = [
            "SELECT relname, relkind FROM pg_class WHERE relname = 'other'",
            f"SELECT column_name FROM information_schema.columns WHERE table_schema = '{schema}'",
            f"SELECT n_live_tup FROM pg_stat_user_tables WHERE schemaname = '{schema}' AND relname = '{own_name}'",
        ]
    each_blocked(p, statements, "Statement:")
    heading = []

    def legal(self, key):
        for sql in metadata:
            q(self, sql)
        heading.append(dj.FreeTable(p.connection, p.Other.full_table_name).heading.names)
        insert_own(self, key)

    passes(p, legal)
    assert "note" in heading[0]


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


@pytest.mark.usefixtures("strict_on")
def test_ancestors_in_schemas_this_process_never_activated_are_readable(mysql_server, schema_factory):
    upper_schema, _ = schema_factory(mysql_server)

    @upper_schema
    class Grand(dj.Manual):
        definition = """
        grand_id: int32
        """

    @upper_schema
    class Parent(dj.Manual):
        definition = """
        -> Grand
        parent_id: int32
        """

    Grand.insert1({"grand_id": 1})
    Parent.insert1({"grand_id": 1, "parent_id": 1})
    lower_schema, lower_connection = schema_factory(mysql_server)  # a connection that knows only this schema

    @lower_schema
    class Child(dj.Computed):
        definition = """
        -> Parent
        """

        def make(self, key):
            pipeline.BODIES["Child"](self, key)

    seen = []
    run_make(Child, {"grand_id": 1, "parent_id": 1},
             lambda self, key: (seen.append(len(dj.FreeTable(lower_connection, Grand.full_table_name))),
                                self.insert1(key)))
    assert seen == [1] and len(Child()) == 1
