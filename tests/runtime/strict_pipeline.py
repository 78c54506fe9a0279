"""The pipeline the strict-provenance tests run (no tests here).

``build(schema)`` declares fresh classes on a throwaway schema and publishes them as attributes of this
module, so the policy can name them (``strict_pipeline.Other``). Each Computed make() runs the body
a test puts in ``BODIES[<class name>]``.

    Subject ─► Session(+Epoch) ─► Analysis(+Item) ─► Downstream
    Param ──────────────────────┘      Session ─► Sibling
    Other (unrelated)           Origin ─► Typed(+Row)   (key of uuid, date, varchar, decimal)
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from types import SimpleNamespace

import datajoint as dj

BODIES: dict = {}

ORIGIN_KEY = {
    "origin_uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "origin_date": datetime.date(2024, 3, 1),
    "origin_name": "alpha",
    "origin_dec": Decimal("1.25"),
}


def _body(name):
    def make(self, key):
        return BODIES[name](self, key)

    return make


def build(schema: dj.Schema) -> SimpleNamespace:
    @schema
    class Subject(dj.Manual):
        definition = """
        subject_id: int32
        ---
        subject_name = '': varchar(32)
        """

    @schema
    class Session(dj.Manual):
        definition = """
        -> Subject
        session_id: int32
        ---
        session_note = '': varchar(32)
        """

        class Epoch(dj.Part):
            definition = """
            -> master
            epoch: int32
            """

    @schema
    class Param(dj.Lookup):
        definition = """
        param_id: int32
        ---
        threshold: float64
        """
        contents = [(1, 0.5), (2, 1.5)]  # noqa: RUF012 - datajoint's idiom

    @schema
    class Other(dj.Manual):
        definition = """
        other_id: int32
        ---
        note = '': varchar(32)
        """

    @schema
    class Analysis(dj.Computed):
        definition = """
        -> Session
        -> Param
        ---
        result: float64
        """

        class Item(dj.Part):
            definition = """
            -> master
            item: int32
            ---
            value: float64
            """

        make = _body("Analysis")

    @schema
    class Downstream(dj.Computed):
        definition = """
        -> Analysis
        ---
        total: float64
        """
        make = _body("Downstream")

    @schema
    class Sibling(dj.Computed):
        definition = """
        -> Session
        ---
        x: float64
        """
        make = _body("Sibling")

    # datajoint 2.3.5 cannot insert a uuid on PostgreSQL (it sends bytes to a uuid column)
    uuid_line = "origin_uuid: uuid" if schema.connection.adapter.backend == "mysql" else ""

    @schema
    class Origin(dj.Manual):
        definition = f"""
        {uuid_line}
        origin_date: date
        origin_name: varchar(16)
        origin_dec: decimal(6,2)
        """

    @schema
    class Typed(dj.Computed):
        definition = """
        -> Origin
        ---
        n: int32
        """

        class Row(dj.Part):
            definition = """
            -> master
            row_id: int32
            """

        make = _body("Typed")

    classes = {"Subject": Subject, "Session": Session, "Param": Param, "Other": Other, "Analysis": Analysis,
               "Downstream": Downstream, "Sibling": Sibling, "Origin": Origin, "Typed": Typed}
    globals().update(classes)
    return SimpleNamespace(schema=schema, **classes)


def origin_key(p: SimpleNamespace) -> dict:
    """The typed key Origin holds on this backend."""
    return {k: v for k, v in ORIGIN_KEY.items() if k in p.Origin.heading.names}


def fill(p: SimpleNamespace) -> None:
    """Two subjects with two sessions each, epochs, an unrelated table and one typed origin."""
    p.Subject.insert([{"subject_id": 1, "subject_name": "one"}, {"subject_id": 2, "subject_name": "two"}])
    p.Session.insert([{"subject_id": s, "session_id": n} for s in (1, 2) for n in (1, 2)])
    p.Session.Epoch.insert([{"subject_id": s, "session_id": n, "epoch": e} for s in (1, 2) for n in (1, 2)
                            for e in (1, 2)])
    p.Other.insert([{"other_id": 1, "note": "x"}, {"other_id": 2, "note": "y"}])
    p.Origin.insert1(origin_key(p))


def counts(p: SimpleNamespace) -> dict[str, int]:
    """Rows per table (the database state a forbidden make() must leave unchanged)."""
    tables = [p.Subject, p.Session, p.Session.Epoch, p.Param, p.Other, p.Analysis, p.Analysis.Item,
              p.Downstream, p.Sibling, p.Origin, p.Typed, p.Typed.Row]
    return {t.__name__: len(t()) for t in tables}
