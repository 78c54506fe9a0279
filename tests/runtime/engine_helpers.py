"""What the engine's tests share: the Subject × Param → Result pipeline, and ways to act as another
worker (a table on another connection; waiting until a closed connection has left the server).
Fixtures are in conftest.py."""

from __future__ import annotations

import time
from types import SimpleNamespace

import datajoint as dj


def pipeline(schema, *, subjects=4, params=(1, 2), fail_on=(), interrupt_on=(), on_make=None):
    """Subject × Param -> Result (with a Part), declared fresh in ``schema``; make() sends 3 statements.

    ``calls`` records every make() key in order; ``fail_on``/``interrupt_on`` hold subject_ids whose make()
    raises ValueError / KeyboardInterrupt after inserting the master row.
    """
    calls: list[dict] = []

    class Subject(dj.Manual):
        definition = """
        subject_id : int32
        ---
        weight : float64
        """

    class Param(dj.Lookup):
        definition = """
        param_id : int32
        """
        contents = [(p,) for p in params]

    class Result(dj.Computed):
        definition = """
        -> Subject
        -> Param
        ---
        value : float64
        """

        class Item(dj.Part):
            definition = """
            -> master
            ---
            note : varchar(32)
            """

        def make(self, key):
            calls.append(dict(key))
            weight = (Subject & key).fetch1("weight")
            self.insert1({**key, "value": weight * key["param_id"]})
            if on_make is not None:
                on_make(self, key)
            if key["subject_id"] in fail_on:
                raise ValueError(f"boom {key['subject_id']}")
            if key["subject_id"] in interrupt_on:
                raise KeyboardInterrupt
            self.Item.insert1({**key, "note": "ok"})

    namespace = {"Subject": Subject, "Param": Param, "Result": Result}
    for cls in (Subject, Param, Result):
        schema(cls, context=namespace)
    Subject.insert([(s, 10.0 + s) for s in range(subjects)])
    return SimpleNamespace(Subject=Subject, Param=Param, Result=Result, calls=calls)


def keys_of(rows) -> set:
    return {(r["subject_id"], r["param_id"]) for r in rows}


def on(connection, table_class):
    """An instance of ``table_class`` whose statements go through ``connection`` (another worker, which
    has activated the schema on its own connection)."""
    instance = table_class()
    if instance.database not in connection.schemas:
        connection.register(SimpleNamespace(database=instance.database))
    instance._connection = connection
    return instance


def wait_until_gone(observer, connection_id: int, backend: str, timeout: float = 10.0) -> None:
    """A closed connection leaves the server asynchronously: wait until it has."""
    sql = (
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s"
        if backend == "mysql"
        else "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s"
    )
    deadline = time.monotonic() + timeout
    while observer.query(sql, args=(connection_id,)).fetchone()[0]:
        assert time.monotonic() < deadline, "the closed connection is still on the server"
        time.sleep(0.05)
