"""Real database servers for the runtime tests.

MySQL-compatible: ``DJ_HOST``/``DJ_USER``/``DJ_PASS`` (and ``DJ_PORT``) when set; otherwise the local
MariaDB at 127.0.0.1:3306 as root, started here if it is installed but not running.
PostgreSQL: ``DJ_PG_HOST``/``DJ_PG_USER``/``DJ_PG_PASS``/``DJ_PG_PORT``, default 127.0.0.1:5432 as
postgres, started here with pg_ctlcluster when it is installed but not running.

When no server can be reached the tests fail under CI (``CI`` set) and skip, with the reason,
elsewhere. Each test gets its own throwaway schema, dropped afterwards. At the end: the fixtures of the
strict gate's tests (their pipeline, the gate on).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass

import pytest
from strict_helpers import build

import djruntime
from djruntime import strict

IN_CI = bool(os.environ.get("CI"))


@dataclass(frozen=True)
class Server:
    backend: str  # "mysql" | "postgresql"
    host: str
    port: int
    user: str
    password: str

    def connect(self):
        """A fresh datajoint connection (never the process-wide ``dj.conn()`` singleton)."""
        import datajoint as dj

        return dj.Connection(
            self.host, self.user, self.password, port=self.port, use_tls=False, backend=self.backend
        )

    def configure_datajoint(self) -> None:
        """Point ``dj.config`` (and so ``dj.conn()`` in worker processes) at this server."""
        import datajoint as dj

        dj.config["database.backend"] = self.backend
        dj.config["database.host"] = self.host
        dj.config["database.port"] = self.port
        dj.config["database.user"] = self.user
        dj.config["database.password"] = self.password
        dj.config["database.use_tls"] = False

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should reach the same server."""
        return {
            "DJ_BACKEND": self.backend,
            "DJ_HOST": self.host,
            "DJ_PORT": str(self.port),
            "DJ_USER": self.user,
            "DJ_PASS": self.password,
        }


def _reachable(server: Server) -> str | None:
    """None when the server answers, else the error text."""
    try:
        if server.backend == "mysql":
            import pymysql

            pymysql.connect(
                host=server.host, port=server.port, user=server.user, password=server.password,
                connect_timeout=3,
            ).close()
        else:
            import psycopg2

            psycopg2.connect(
                host=server.host, port=server.port, user=server.user, password=server.password,
                dbname="postgres", connect_timeout=3,
            ).close()
    except Exception as error:  # any failure to connect is reported verbatim
        return str(error)
    return None


def _start_local(backend: str) -> None:
    if backend == "mysql" and shutil.which("start-stop-daemon") and os.path.exists("/usr/sbin/mariadbd"):
        os.makedirs("/run/mysqld", exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql") if _has_user("mysql") else None
        subprocess.run(
            ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
            check=False, capture_output=True,
        )
    elif backend == "postgresql" and shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql"):
        for version in os.listdir("/etc/postgresql"):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False, capture_output=True,
            )


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _server_or_fail(backend: str) -> Server:
    if backend == "mysql":
        configured = "DJ_HOST" in os.environ
        server = Server(
            "mysql",
            os.environ.get("DJ_HOST", "127.0.0.1").split(":")[0],
            int(os.environ.get("DJ_PORT", "3306")),
            os.environ.get("DJ_USER", "root"),
            os.environ.get("DJ_PASS", ""),
        )
    else:
        configured = "DJ_PG_HOST" in os.environ
        server = Server(
            "postgresql",
            os.environ.get("DJ_PG_HOST", "127.0.0.1"),
            int(os.environ.get("DJ_PG_PORT", "5432")),
            os.environ.get("DJ_PG_USER", "postgres"),
            os.environ.get("DJ_PG_PASS", ""),
        )
    error = _reachable(server)
    if error and not configured:
        _start_local(backend)
        for _ in range(30):
            error = _reachable(server)
            if error is None:
                break
            time.sleep(1)
    if error:
        message = f"no {backend} server at {server.host}:{server.port} ({error})"
        if IN_CI:
            pytest.fail(message + " — CI requires the database tests to run", pytrace=False)
        pytest.skip(message)
    return server


@pytest.fixture(scope="session")
def mysql_server() -> Server:
    return _server_or_fail("mysql")


@pytest.fixture(scope="session")
def postgres_server() -> Server:
    return _server_or_fail("postgresql")


@pytest.fixture(params=["mysql", "postgresql"])
def server(request) -> Server:
    """Parametrises a test over both backends."""
    fixture = {"mysql": "mysql_server", "postgresql": "postgres_server"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture
def jobs_config():
    """Restore dj.config.jobs after a test changes it."""
    import datajoint as dj

    saved = dict(dj.config.jobs.model_dump())
    yield dj.config.jobs
    for name, value in saved.items():
        setattr(dj.config.jobs, name, value)


def _throwaway_schema_name() -> str:
    return f"djtest_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def schema_factory():
    """``make(server, context=None)`` -> (dj.Schema, connection); every schema made is dropped after."""
    import datajoint as dj

    made = []

    def make(server: Server, context: dict | None = None, name: str | None = None):
        connection = server.connect()
        schema = dj.Schema(name or _throwaway_schema_name(), context or {}, connection=connection)
        made.append((schema, connection))
        return schema, connection

    yield make
    for schema, connection in reversed(made):
        try:
            schema.drop(prompt=False)
        except Exception:
            pass
        try:
            connection.close()
        except Exception:
            pass


@pytest.fixture
def mysql_schema(mysql_server, schema_factory):
    """A throwaway schema on the MySQL-compatible server."""
    return schema_factory(mysql_server)[0]


# ------------------------------------------------------------------------------ the strict gate's tests
# The pipeline of strict_pipeline.py on a throwaway schema (strict_helpers.build), and the gate turned on
# with an empty policy for one test.
@pytest.fixture
def pipe(mysql_server, schema_factory):
    """The strict tests' pipeline (strict_pipeline) on MariaDB."""
    return build(mysql_server, schema_factory)


@pytest.fixture(params=["mysql", "postgres"])
def any_pipe(request, schema_factory):
    """The pipeline on MariaDB and on PostgreSQL."""
    return build(request.getfixturevalue(f"{request.param}_server"), schema_factory)


@pytest.fixture
def postgres_pipe(postgres_server, schema_factory):
    return build(postgres_server, schema_factory)


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


@pytest.fixture
def installed(empty_policy):
    """``installed(mode)`` installs the engine with the strict gate in ``mode``; uninstalled after the test."""

    def install(mode):
        djruntime.install(strict_provenance=mode, policy=empty_policy)

    strict.reset_warnings()
    yield install
    djruntime.uninstall()
    strict.reset_warnings()
