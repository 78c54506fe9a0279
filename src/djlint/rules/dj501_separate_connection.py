"""DJ501: make() opens a database connection of its own."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from djlint import fixes
from djlint.diagnostics import Diagnostic
from djlint.rules._makeflow_common import finding, make_label, unique

if TYPE_CHECKING:
    from djlint.makeflow.facts import MakeFacts
    from djlint.model import Model

CODE = "DJ501"
NAME = "separate-connection"
SUMMARY = "make() opens a separate database connection (pymysql/psycopg connect, dj.Connection, dj.conn(reset=True), ...)."
WHY = """
populate() runs make() inside a transaction on datajoint's connection, and the strict-provenance gate
(djruntime) checks every statement sent through that connection. A connection make() opens itself -
pymysql.connect, psycopg.connect/psycopg2.connect, MySQLdb/mysql.connector, dj.Connection(...),
dj.conn(..., reset=True), sqlalchemy.create_engine - is outside both: its writes are not rolled back when make()
fails, its reads and writes are invisible to the gate, and it may see a different database state than the
transaction. Use the table objects (or `self.connection`) instead. `dj.conn()` without reset=True returns
the connection already open, so it is fine.
"""
FIX = """
Use the connection populate() runs make() in: `self.connection`, or `dj.conn()` without `reset`.
"""
BAD = '''
import datajoint as dj
import pymysql

schema = dj.schema("ingest")


@schema
class Upload(dj.Manual):
    definition = """
    upload_id : int
    """


@schema
class Checked(dj.Imported):
    definition = """
    -> Upload
    ---
    ok : bool
    """

    def make(self, key):
        connection = pymysql.connect(host="127.0.0.1", user="root")
        connection.close()
        self.insert1(dict(key, ok=True))
'''
GOOD = '''
import datajoint as dj

schema = dj.schema("ingest")


@schema
class Upload(dj.Manual):
    definition = """
    upload_id : int
    """


@schema
class Checked(dj.Imported):
    definition = """
    -> Upload
    ---
    ok : bool
    """

    def make(self, key):
        ok = len(Upload & key) == 1
        self.insert1(dict(key, ok=ok))
'''

HOW_FOUND = """
Reads ``MakeFacts.connections`` (``Connect`` facts of ``djlint.makeflow.facts``: a call inside make()
that opens its own database connection, such as ``dj.conn(..., reset=True)`` or ``pymysql.connect``),
recorded by the make() interpreter (``makeflow/datajoint_api.py``, which knows the connection openers of
``makeflow/names.py``). The rule only
words them.
"""


def check(model: Model, facts: MakeFacts | None) -> Iterable[Diagnostic]:
    if facts is None:
        return []
    found = []
    for connect in facts.connections:
        found.append(finding(
            model, connect, CODE,
            f"separate database connection: {make_label(model, connect.table)} calls {connect.how}, "
            f"which escapes populate()'s transaction and the provenance gate",
            fixes.connection_fix()))
    return unique(found)
