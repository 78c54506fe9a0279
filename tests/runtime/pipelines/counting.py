"""A small pipeline whose make() leaves evidence of every call, for the multiprocess engine tests.

Subprocess workers import this module by name (``pipelines.counting``, with ``tests/runtime`` on
``PYTHONPATH``). On import it binds its tables to the schema named by ``DJRT_PIPELINE_SCHEMA``, reaching
the server through datajoint's own ``DJ_HOST``/``DJ_USER``/``DJ_PASS``/``DJ_PORT``/``DJ_BACKEND``.
The test process itself calls :func:`build` on a schema of its own connection instead.

make() is steered by environment variables, read at each call so a test can set them per worker:

- ``DJRT_CALL_LOG``: a file; each make() call appends ``"<item> <pid>\\n"`` (one ``O_APPEND`` write,
  atomic across processes) *before* doing anything else, so calls that are later rolled back count.
- ``DJRT_MAKE_SLEEP``: seconds each make() sleeps between its master row and its part rows.
- ``DJRT_HANG_ITEM``: this item's make() inserts its master row, appends ``"<item> <pid> hang\\n"``
  to the call log and sleeps ``DJRT_HANG_SECONDS`` (default 600) — a job to kill mid-transaction.
  Only the first call hangs (claimed through ``DJRT_HANG_MARKER``, created with ``O_EXCL``).
- ``DJRT_FAIL_ITEM``: this item's make() raises ``ValueError``.
- ``DJRT_SIDEWAYS_READ``: make() also reads ``Note``, a table that is not upstream of ``Made`` (a
  provenance violation for the strict gate).
- ``DJRT_SQL_SLEEP``: seconds each make() waits *on the server* (``SLEEP``/``pg_sleep``) after its master
  row, so that a signal lands in the middle of a query.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import datajoint as dj

PARTS_PER_ITEM = 3


def _log(line: str) -> None:
    path = os.environ.get("DJRT_CALL_LOG")
    if path:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)


def _first_hang() -> bool:
    marker = os.environ.get("DJRT_HANG_MARKER")
    if not marker:
        return True
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    return True


def build(schema: dj.Schema) -> SimpleNamespace:
    """Declare the pipeline's tables in ``schema`` (fresh classes on every call)."""
    context: dict = {}

    class Item(dj.Manual):
        definition = """
        item : int32
        ---
        value : int32
        """

    context["Item"] = schema(Item, context=context)

    class Note(dj.Manual):
        definition = """
        note : int32
        ---
        text : varchar(40)
        """

    context["Note"] = schema(Note, context=context)

    class Made(dj.Computed):
        definition = """
        -> Item
        ---
        doubled : int32
        """

        class Detail(dj.Part):
            definition = """
            -> master
            part : int16
            ---
            share : int32
            """

        def make(self, key):
            item = key["item"]
            _log(f"{item} {os.getpid()}\n")
            if str(item) == os.environ.get("DJRT_FAIL_ITEM"):
                raise ValueError(f"item {item} is configured to fail")
            value = (Item & key).fetch1("value")
            if os.environ.get("DJRT_SIDEWAYS_READ"):
                len(Note())  # not upstream of Made
            self.insert1({**key, "doubled": 2 * value})
            if str(item) == os.environ.get("DJRT_HANG_ITEM") and _first_hang():
                _log(f"{item} {os.getpid()} hang\n")
                time.sleep(float(os.environ.get("DJRT_HANG_SECONDS", "600")))
            server_pause = float(os.environ.get("DJRT_SQL_SLEEP", "0") or 0)
            if server_pause:
                sleep = "SLEEP" if self.connection.adapter.backend == "mysql" else "pg_sleep"
                self.connection.query(f"SELECT {sleep}({server_pause})").fetchall()
            pause = float(os.environ.get("DJRT_MAKE_SLEEP", "0") or 0)
            if pause:
                time.sleep(pause)
            self.Detail.insert({**key, "part": part, "share": value} for part in range(PARTS_PER_ITEM))

    context["Made"] = schema(Made, context=context)
    return SimpleNamespace(schema=schema, **context)


def fill(pipeline: SimpleNamespace, count: int) -> None:
    """``count`` items, values 0..count-1."""
    pipeline.Item.insert(({"item": i, "value": i} for i in range(count)), skip_duplicates=True)


def read_calls(path: str) -> list[tuple[int, int]]:
    """(item, pid) for every make() call logged in ``path`` (hang markers excluded)."""
    calls = []
    if not os.path.exists(path):
        return calls
    with open(path) as handle:
        for line in handle:
            fields = line.split()
            if len(fields) == 2:
                calls.append((int(fields[0]), int(fields[1])))
    return calls


if os.environ.get("DJRT_PIPELINE_SCHEMA"):
    globals().update(vars(build(dj.Schema(os.environ["DJRT_PIPELINE_SCHEMA"]))))
