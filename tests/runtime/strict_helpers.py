"""Helpers of the strict-gate tests: the pipeline on a server, a make() run as the engine runs it, and
assertions that a refused make() left every row as it was. Fixtures are in conftest.py."""

from __future__ import annotations

import uuid

import pytest
import strict_pipeline as pipeline

from djruntime import ProvenanceError, context

KEY = {"subject_id": 1, "session_id": 1, "param_id": 1}


OTHER_KEY = {"subject_id": 2, "session_id": 2, "param_id": 2}


def build(server, schema_factory):
    """The pipeline of ``strict_pipeline`` on a throwaway schema, filled, with a finished job of OTHER_KEY."""
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


def mysql(p) -> bool:
    return p.server.backend == "mysql"


def each_blocked(p, statements, *words, args=None):
    for sql in statements:
        blocked(p, lambda self, key, sql=sql: (insert_own(self, key), q(self, sql, args or ())), *words)
