"""Markers by what a test needs, so `pytest -m "not db"` runs everything that needs no server.

A test is marked ``db`` when it (or a fixture it uses) asks for a database server fixture, and
``postgres`` when that server is PostgreSQL; tests that reach a server by other means carry the
marker themselves.
"""

from __future__ import annotations

import pytest

# fixtures that reach a server (conftest.py of tests/runtime); parametrised fixtures that pick one by
# name (``request.getfixturevalue(f"{request.param}_server")``) use schema_factory or are marked
_SERVER_FIXTURES = {"mysql_server", "postgres_server", "server", "schema_factory", "mysql_schema", "postgres_schema"}
_POSTGRES_PARAMS = {"postgres", "postgresql"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        markers = {"db"} if fixtures & _SERVER_FIXTURES else set()
        if "postgres_server" in fixtures:
            markers.add("postgres")
        callspec = getattr(item, "callspec", None)
        if (markers or item.get_closest_marker("db")) and callspec is not None:
            if _POSTGRES_PARAMS & {value for value in callspec.params.values() if isinstance(value, str)}:
                markers.add("postgres")
        for marker in sorted(markers):
            if item.get_closest_marker(marker) is None:
                item.add_marker(marker)
