"""pytest plugin of the compatibility harness: records what each test did, for the comparison.

Loaded with ``-p djcompat_outcomes --djcompat-out FILE`` in both passes (plain datajoint and djruntime).
It writes one JSON file at the end of the session:

- ``outcomes``: test id -> ``{"outcome", "message"}``; the outcome is ``passed``, ``failed``, ``error``
  (setup or teardown failed), ``skipped``, ``xfailed`` or ``xpassed``, the message the first lines of
  the failure's exception (or the skip reason);
- ``engine``: which populate() was in place (``djruntime.engine.populate`` or ``datajoint.autopopulate``) and
  djruntime's ``on_interrupt`` setting, so the harness can check that the pass ran what it claims;
- ``schemas``: every schema a ``dj.Schema`` was activated on, so the harness can drop the ones the
  suite leaves behind (datajoint's own teardown misses some on PostgreSQL) and only those.

It sends no statement of its own: datajoint's tests count statements.
"""

from __future__ import annotations

import json

import pytest

MESSAGE_LINES = 3
_RANK = {"passed": 0, "xpassed": 0, "xfailed": 0, "skipped": 1, "failed": 2, "error": 3}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--djcompat-out", help="where the compatibility harness wants the outcomes (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--djcompat-out")
    if path:
        config.pluginmanager.register(Recorder(path), "djcompat-recorder")


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (file, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr or "")
    # The exception's own lines (an assert's message, then pytest's explanation), not the traceback
    return "\n".join(text.strip().splitlines()[:MESSAGE_LINES])


def _outcome(report: pytest.TestReport) -> str | None:
    """The outcome this phase's report decides, or None when it decides nothing."""
    expected_failure = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            return "xpassed" if expected_failure else "passed"
        if report.skipped:
            return "xfailed" if expected_failure else "skipped"
        return "failed"
    if report.failed:  # setup or teardown
        return "error"
    if report.when == "setup" and report.skipped:
        return "xfailed" if expected_failure else "skipped"
    return None


class Recorder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, str]] = {}
        self.schemas: list[dict[str, object]] = []
        self._record_schemas()

    def _record_schemas(self) -> None:
        import datajoint as dj

        activate = dj.Schema.activate
        schemas = self.schemas

        def recording_activate(schema, *args, **kwargs):
            try:
                return activate(schema, *args, **kwargs)
            finally:
                if schema.database and schema.connection is not None:
                    info = schema.connection.conn_info
                    schemas.append(
                        {
                            "backend": schema.connection.adapter.backend,
                            "name": schema.database,
                            "database_name": info.get("database_name"),
                        }
                    )

        dj.Schema.activate = recording_activate

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = _outcome(report)
        if outcome is None:
            return
        previous = self.outcomes.get(report.nodeid)
        # A teardown error after a pass makes the test an error; never the other way round
        if previous is None or _RANK[outcome] >= _RANK[previous["outcome"]]:
            self.outcomes[report.nodeid] = {"outcome": outcome, "message": _message(report)}

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from datajoint.autopopulate import AutoPopulate

        engine = {"populate": AutoPopulate.populate.__module__, "on_interrupt": None}
        try:
            from djruntime import engine as djruntime_engine

            engine["on_interrupt"] = djruntime_engine.settings.on_interrupt
        except ImportError:
            pass
        with open(self.path, "w", encoding="utf-8") as stream:
            json.dump(
                {
                    "outcomes": self.outcomes,
                    "engine": engine,
                    "schemas": self.schemas,
                    "exitstatus": int(exitstatus),
                },
                stream,
                indent=1,
            )
