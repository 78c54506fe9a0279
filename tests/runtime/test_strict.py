"""Strict provenance gate on a real server: every read and write idiom of make(), blocked or allowed.

Each test opens the make() window exactly as the engine does (transaction, ``context.make_window``,
rollback on error) around the table's make(); ``test_strict_engine.py`` runs the same gate through
``Table.populate()``. Every forbidden case also asserts that the database is unchanged.
"""

from __future__ import annotations

import datetime
import logging
import threading
import uuid
from decimal import Decimal

import datajoint as dj
import numpy as np
import pandas as pd
import pytest
import test_strict_pipeline as pipeline

from djruntime import ProvenanceError, context, strict
from djruntime.strict import PolicyError, gate

KEY = {"subject_id": 1, "session_id": 1, "param_id": 1}
OTHER_KEY = {"subject_id": 2, "session_id": 2, "param_id": 2}


# ------------------------------------------------------------------------------------------ fixtures
def _build(server, schema_factory):
    # On MariaDB the schema name starts with a capital, so datajoint's string-restriction parser (which
    # takes lower-case words for attributes) accepts conditions that embed a subquery on a table of it.
    # datajoint 2.3.5 cannot declare such a schema on PostgreSQL.
    name = f"Djtest_{uuid.uuid4().hex[:10]}" if server.backend == "mysql" else None
    schema, connection = schema_factory(server, name=name)
    p = pipeline.build(schema)
    pipeline.fill(p)
    # a finished job of another key, so self and its Part have rows to read, update and delete
    p.Analysis.insert1(dict(OTHER_KEY, result=2.0), allow_direct_insert=True)
    p.Analysis.Item.insert1(dict(OTHER_KEY, item=0, value=2.0), allow_direct_insert=True)
    p.connection = connection
    p.server = server
    return p


@pytest.fixture
def pipe(mysql_server, schema_factory):
    return _build(mysql_server, schema_factory)


@pytest.fixture(params=["mysql", "postgres"])
def any_pipe(request, schema_factory):
    """The pipeline on MariaDB and on PostgreSQL."""
    return _build(request.getfixturevalue(f"{request.param}_server"), schema_factory)


@pytest.fixture
def empty_policy(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "pipeline"\n')
    return path


@pytest.fixture
def strict_on(empty_policy):
    strict.configure(strict_provenance=True, policy=empty_policy)
    yield
    strict.configure(strict_provenance=False)
    strict.reset_warnings()


@pytest.fixture
def strict_warn(empty_policy):
    strict.reset_warnings()
    strict.configure(strict_provenance="warn", policy=empty_policy)
    yield
    strict.configure(strict_provenance=False)
    strict.reset_warnings()


def run_make(table_class, key, body, phase="make"):
    """Run ``body(self, key)`` as ``table_class``'s make() the way the engine does."""
    pipeline.BODIES[table_class.__name__] = body
    table = table_class()
    connection = table.connection
    connection.start_transaction()
    table_class._allow_insert = True
    try:
        with context.make_window(table, key, connection, phase):
            table.make(dict(key))
    except BaseException:
        connection.cancel_transaction()
        raise
    else:
        connection.commit_transaction()
    finally:
        table_class._allow_insert = False


def assert_blocked(p, body, *names, table=None, key=KEY):
    """``body`` inside make() raises ProvenanceError naming ``names``, and the database is unchanged."""
    table = table or p.Analysis
    before = pipeline.counts(p)
    with pytest.raises(ProvenanceError) as caught:
        run_make(table, key, body)
    message = str(caught.value)
    for name in names:
        assert name in message, message
    assert repr(dict(key)) in message or str(dict(key)) in message, message
    assert pipeline.counts(p) == before
    assert context.current(p.connection) is None
    return message


def insert_own(self, key):
    self.insert1(dict(key, result=1.0))


# ------------------------------------------------------------------------------------------ reads
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


# ------------------------------------------------------------------------------------------ writes
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
    assert "test_strict_pipeline.Other" in message


# ------------------------------------------------------------------------------------------ row check
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


# ------------------------------------------------------------------------------------------ errors, modes
@pytest.mark.usefixtures("strict_on")
def test_make_raising_its_own_error_reaches_the_caller_unchanged(pipe):
    mine = ValueError("my own failure")

    def body(self, key):
        insert_own(self, key)
        raise mine

    before = pipeline.counts(pipe)
    with pytest.raises(ValueError) as caught:
        run_make(pipe.Analysis, KEY, body)
    assert caught.value is mine
    assert pipeline.counts(pipe) == before


def test_strict_off_installs_no_gate_and_gives_the_same_results(pipe, empty_policy):
    strict.configure(strict_provenance=False)
    assert dj.Connection.query is gate._original_query
    seen = []
    run_make(pipe.Analysis, KEY, lambda self, key: (seen.append(len(pipe.Other())), insert_own(self, key)))
    assert seen == [2] and len(pipe.Analysis & KEY) == 1
    strict.configure(strict_provenance=True, policy=empty_policy)
    try:
        assert dj.Connection.query is not gate._original_query
        with pytest.raises(ProvenanceError):
            run_make(pipe.Analysis, OTHER_KEY | {"param_id": 1}, lambda self, key: len(pipe.Other()))
    finally:
        strict.configure(strict_provenance=False)
    assert dj.Connection.query is gate._original_query


def test_modes_from_arguments_and_environment(monkeypatch):
    monkeypatch.delenv(strict.ENV_VARIABLE, raising=False)
    assert strict.parse_mode(None) == "off"
    for value, expected in [("1", "raise"), ("raise", "raise"), ("warn", "warn"), ("0", "off")]:
        monkeypatch.setenv(strict.ENV_VARIABLE, value)
        assert strict.parse_mode(None) == expected
    assert strict.parse_mode(True) == "raise" and strict.parse_mode(False) == "off"
    with pytest.raises(ValueError):
        strict.parse_mode("sometimes")


def test_environment_variable_turns_the_gate_on(pipe, empty_policy, monkeypatch):
    monkeypatch.setenv(strict.ENV_VARIABLE, "1")
    strict.configure(policy=empty_policy)
    try:
        assert strict.mode() == "raise"
        assert_blocked(pipe, lambda self, key: len(pipe.Other()), "Other")
    finally:
        strict.configure(strict_provenance=False)


@pytest.mark.usefixtures("strict_warn")
def test_warn_mode_runs_the_statement_and_reports_each_violation_once(pipe, caplog):
    seen = []

    def body(self, key):
        seen.append(len(pipe.Other()))
        seen.append(len(pipe.Other()))
        insert_own(self, key)

    with caplog.at_level(logging.WARNING, logger="djruntime.strict"):
        run_make(pipe.Analysis, KEY, body)
        run_make(pipe.Analysis, dict(KEY, param_id=2), body)
    assert seen == [2, 2, 2, 2]
    assert len(pipe.Analysis & KEY) == 1
    logged = [r for r in caplog.records if "Other" in r.getMessage()]
    assert len(logged) == 1
    warnings = strict.collect_warnings(pipe.Analysis)
    assert len(warnings) == 1 and "Other" in warnings[0]
    assert strict.collect_warnings(pipe.Analysis) == []


# ------------------------------------------------------------------------------------------ policy
def _policy_file(tmp_path, reads=(), writes=(), table="test_strict_pipeline.Analysis"):
    path = tmp_path / "policy" / "pyproject.toml"
    path.parent.mkdir(exist_ok=True)
    quoted = lambda names: "[" + ", ".join(f'"{n}"' for n in names) + "]"
    path.write_text(f'[tool.djlint.allow."{table}"]\nreads = {quoted(reads)}\nwrites = {quoted(writes)}\n')
    return path


def test_policy_reads_and_writes_are_honoured(pipe, tmp_path):
    strict.configure(strict_provenance=True, policy=_policy_file(
        tmp_path, reads=["test_strict_pipeline.Other"],
        writes=["test_strict_pipeline.Other", "test_strict_pipeline.Sibling"]))
    try:
        seen = []

        def body(self, key):
            seen.append(len(pipe.Other()))
            pipe.Other.insert1({"other_id": 9})
            pipe.Sibling.insert1({"subject_id": 1, "session_id": 1, "x": 1.0}, allow_direct_insert=True)
            insert_own(self, key)

        run_make(pipe.Analysis, KEY, body)
        assert seen == [2] and len(pipe.Other & {"other_id": 9}) == 1 and len(pipe.Sibling()) == 1
        # the policy's writes are still row-checked against the key
        assert_blocked(pipe, lambda self, key: pipe.Sibling.insert1({"subject_id": 2, "session_id": 1, "x": 1.0},
                                                                    allow_direct_insert=True),
                       "subject_id", key=dict(KEY, param_id=2))
        # and it sanctions nothing else
        assert_blocked(pipe, lambda self, key: len(pipe.Downstream()), "Downstream", key=dict(KEY, param_id=2))
        assert_blocked(pipe, lambda self, key: pipe.Subject.insert1({"subject_id": 1}), "Subject",
                       key=dict(KEY, param_id=2))
    finally:
        strict.configure(strict_provenance=False)


@pytest.mark.parametrize("bad", ["test_strict_pipeline.NoSuchTable", "no_such_module.Table"])
def test_policy_name_matching_no_table_is_an_error(pipe, tmp_path, empty_policy, bad):
    strict.configure(strict_provenance="warn", policy=empty_policy)
    try:
        with pytest.raises(PolicyError) as caught:
            strict.configure(strict_provenance=True, policy=_policy_file(tmp_path, reads=[bad]))
        assert bad in str(caught.value) and "matches no table" in str(caught.value)
        assert strict.mode() == "warn"  # the previous setting stays
        with pytest.raises(PolicyError):
            strict.configure(strict_provenance=True, policy=_policy_file(tmp_path, table=bad))
    finally:
        strict.configure(strict_provenance=False)


# ------------------------------------------------------------------------------------------ windows
@pytest.mark.usefixtures("strict_on")
@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)])
def test_window_is_cleared_after_exceptions_interrupts_and_exit(pipe, error):
    def body(self, key):
        insert_own(self, key)
        raise error

    with pytest.raises(type(error)):
        run_make(pipe.Analysis, KEY, body)
    assert context.current(pipe.connection) is None
    assert getattr(pipe.connection, "_djruntime_make_stack", []) == []
    assert len(pipe.Other()) == 2  # outside make() nothing is gated
    assert len(pipe.Analysis & KEY) == 0


@pytest.mark.usefixtures("strict_on")
def test_nested_windows_restore_the_outer_make(pipe):
    seen = []

    def body(self, key):
        insert_own(self, key)
        sibling = pipe.Sibling()
        sibling_key = {"subject_id": key["subject_id"], "session_id": key["session_id"]}
        with context.make_window(sibling, sibling_key, pipe.connection):
            pipe.Sibling._allow_insert = True
            sibling.insert1(dict(sibling_key, x=1.0))  # Sibling's own make may write Sibling
            seen.append(context.current(pipe.connection).table is sibling)
            with pytest.raises(ProvenanceError):
                len(pipe.Analysis())  # ... but not read Analysis, which is not its ancestor
        seen.append(context.current(pipe.connection).table is self)
        with pytest.raises(ProvenanceError):
            len(pipe.Sibling())  # back in Analysis's make: Sibling is not upstream

    run_make(pipe.Analysis, KEY, body)
    assert seen == [True, True]
    assert len(pipe.Sibling()) == 1 and len(pipe.Analysis & KEY) == 1


@pytest.mark.usefixtures("strict_on")
def test_query_from_another_thread_during_make_is_gated(any_pipe):
    p = any_pipe
    outcome = {}

    def worker():
        try:
            outcome["allowed"] = len(p.Session())
            outcome["forbidden"] = len(p.Other())
        except ProvenanceError as error:
            outcome["error"] = error

    def body(self, key):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        insert_own(self, key)

    run_make(p.Analysis, KEY, body)
    assert outcome["allowed"] == 4
    assert "forbidden" not in outcome and "Other" in str(outcome["error"])
    assert len(p.Other()) == 2  # after make(), the same thread's query passes


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


def test_policy_names_resolve_to_tables_parts_included(pipe):
    from djruntime.strict import policy

    assert policy.table_of("test_strict_pipeline.Analysis.Item") == policy.parse_full_name(
        pipe.Analysis.Item.full_table_name)
    assert policy.table_of("test_strict_pipeline.Other") == (pipe.Other.database, "other")
    for bad in ["test_strict_pipeline.build", "test_strict_pipeline.Analysis.Nothing", "nomodule.X", "Other"]:
        with pytest.raises(PolicyError):
            policy.table_of(bad)
