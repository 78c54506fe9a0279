"""Drop-in, proven by datajoint's own tests (issue 18).

Fetches datajoint's source release of the pinned version from the package index, runs its populate/jobs
tests against the MariaDB and PostgreSQL servers the project's tests use — once on plain datajoint, once
with ``djruntime.install()`` applied by a pytest plugin before any test — and compares the outcomes per
test id. It fails on any test that passes on plain datajoint but not under djruntime, apart from the
deliberate deviations in ``deviations.py``. Tests that fail on plain datajoint too are reported, not
counted.

    python tests/compat/harness.py                   # from the repository root, with the project's venv
    python tests/compat/harness.py --report-only     # show the comparison, exit 0 on regressions

Exit status: 0 compatible; 1 a test regressed under djruntime; 2 the harness could not do its job (the
release could not be fetched, nothing ran, a pass did not run the engine it claims, a server is missing).

Isolation: datajoint's tests run in their own virtualenv (``build/compat/venv``: this project, editable,
plus the release's ``test`` extra), with ``DJ_TEST_DB_PREFIX=djtest_compat<random>`` (the suite's teardown
drops every database named ``<prefix>_%``). After each pass the harness drops what the suite created and
left behind (a schema recorded by ``djcompat_outcomes`` or named ``<prefix>_…``, a MySQL user), never
anything that existed before the pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from deviations import DEVIATIONS, Deviation  # noqa: E402

# The datajoint release proven drop-in; the project's dependency range is ">=2.3.5,<2.4".
DATAJOINT_VERSION = "2.3.5"

# datajoint's tests of populate() and the job queue, and those whose fixtures fill Computed tables with
# populate() or read progress(). A file missing from the release is an error (the selection is stale).
SELECTION = (
    "tests/integration/test_autopopulate.py",
    "tests/integration/test_jobs.py",
    "tests/integration/test_jobs_refresh.py",
    "tests/integration/test_hidden_job_metadata.py",
    "tests/integration/test_migrate_job_metadata.py",
    "tests/integration/test_entry_provenance.py",
    "tests/unit/test_provenance.py",
    "tests/integration/test_aggr_regressions.py",
    "tests/integration/test_cascading_delete.py",
    "tests/integration/test_diagram.py",
    "tests/integration/test_drop_shared_enum.py",
    "tests/integration/test_privileges.py",
    "tests/integration/test_relational_operand.py",
    "tests/integration/test_uuid.py",
)

# MySQL users datajoint's tests create (and drop at teardown) whatever the prefix
SUITE_USERS = ("datajoint", "djview", "djssl", "djsubset")
PASS_TIMEOUT_SECONDS = 1800  # a whole pass; one test is limited to TEST_TIMEOUT_SECONDS
TEST_TIMEOUT_SECONDS = 300
PASSED = "passed"


class HarnessError(Exception):
    """The harness could not produce a meaningful comparison (exit status 2)."""


# ------------------------------------------------------------------------------------------- servers
@dataclass(frozen=True)
class Server:
    backend: str  # "mysql" | "postgresql"
    host: str
    port: int
    user: str
    password: str

    def connect(self, database: str | None = None):
        if self.backend == "mysql":
            import pymysql

            return pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                connect_timeout=5,
                autocommit=True,
            )
        import psycopg2

        connection = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or "postgres",
            connect_timeout=5,
        )
        connection.autocommit = True
        return connection

    def schemas(self, database: str | None = None) -> set[str]:
        query = (
            "SELECT schema_name FROM information_schema.schemata"
            if self.backend == "mysql"
            else "SELECT nspname FROM pg_namespace"
        )
        with _closing(self.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(query)
            return {row[0] for row in cursor.fetchall()}

    def drop_schema(self, name: str, database: str | None = None) -> None:
        quoted = (
            "`" + name.replace("`", "``") + "`"
            if self.backend == "mysql"
            else '"' + name.replace('"', '""') + '"'
        )
        statement = (
            f"DROP DATABASE IF EXISTS {quoted}"
            if self.backend == "mysql"
            else f"DROP SCHEMA IF EXISTS {quoted} CASCADE"
        )
        with _closing(self.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(statement)

    def users(self) -> set[str] | None:
        """MySQL user names (None when the account may not read them)."""
        import pymysql

        try:
            with _closing(self.connect()) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT user FROM mysql.user")
                return {row[0] for row in cursor.fetchall()}
        except pymysql.MySQLError:
            return None

    def drop_user(self, name: str) -> None:
        with _closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (name,))


@contextmanager
def exclusive(server: Server, wait_seconds: int, name: str = "djruntime_compat") -> Iterator[None]:
    """Runs against one MySQL server take turns: datajoint's tests create and drop fixed users
    (``SUITE_USERS``), which a concurrent run would pull from under the other. The lock is the server's
    own and goes with the connection, also when the harness dies."""
    with _closing(server.connect()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", (name, wait_seconds))
        if cursor.fetchone()[0] != 1:
            raise HarnessError(
                f"another compatibility run holds {server.host}:{server.port} (lock {name!r}) "
                f"after {wait_seconds} s of waiting"
            )
        yield


class _closing:
    def __init__(self, connection) -> None:
        self.connection = connection

    def __enter__(self):
        return self.connection

    def __exit__(self, *exc) -> None:
        self.connection.close()


def servers_from_environment(environ: Mapping[str, str]) -> tuple[Server, Server]:
    """The servers the project's own tests use (README, "Tests"): DJ_* and DJ_PG_*, else local defaults."""
    host, _, port = environ.get("DJ_HOST", "127.0.0.1").partition(":")
    mysql = Server(
        "mysql",
        host,
        int(environ.get("DJ_PORT") or port or 3306),
        environ.get("DJ_USER", "root"),
        environ.get("DJ_PASS", ""),
    )
    postgres = Server(
        "postgresql",
        environ.get("DJ_PG_HOST", "127.0.0.1"),
        int(environ.get("DJ_PG_PORT", "5432")),
        environ.get("DJ_PG_USER", "postgres"),
        environ.get("DJ_PG_PASS", ""),
    )
    return mysql, postgres


def suite_environment(
    environ: Mapping[str, str], mysql: Server, postgres: Server, prefix: str
) -> dict[str, str]:
    """The environment datajoint's tests run in: external servers, our prefix, nothing else of DJ_*.

    Other ``DJ_*``/``DJRUNTIME_*`` variables of the caller (``DJ_BACKEND``, ``DJ_DATABASE_NAME``,
    ``DJ_JOBS_*``, ...) would change what the tests do, so they are dropped — except
    ``DJRUNTIME_ON_INTERRUPT``, which the deviation list takes into account.
    """
    env = {
        name: value
        for name, value in environ.items()
        if not name.startswith(("DJ_", "DJRUNTIME_")) or name == "DJRUNTIME_ON_INTERRUPT"
    }
    env.update(
        DJ_USE_EXTERNAL_CONTAINERS="1",
        DJ_TEST_DB_PREFIX=prefix,
        DJ_HOST=mysql.host,
        DJ_PORT=str(mysql.port),
        DJ_USER=mysql.user,
        DJ_PASS=mysql.password,
        DJ_PG_HOST=postgres.host,
        DJ_PG_PORT=str(postgres.port),
        DJ_PG_USER=postgres.user,
        DJ_PG_PASS=postgres.password,
        DJ_STRICT_PROVENANCE="0",
        PYTHONPATH=str(HERE),  # the two plugins, djcompat_outcomes and djcompat_install
    )
    env.pop("PYTEST_ADDOPTS", None)
    return env


def new_prefix() -> str:
    """A DJ_TEST_DB_PREFIX no one else uses. It starts with ``djtest`` because the suite grants its
    read-only users ``djtest%`` (test_privileges), and continues with ``_compat`` + random hex, which no
    name of this project's own tests (``djtest_`` + 10 hex digits) can start with."""
    return f"djtest_compat{secrets.token_hex(4)}"


# ----------------------------------------------------------------------------- release and virtualenv
def fetch_release(python: Path, version: str, work: Path) -> Path:
    """Download datajoint's source release with pip and extract it; the directory holding ``tests/``."""
    downloads = work / "sdist"
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir(parents=True)
    command = [
        str(python),
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        f"datajoint=={version}",
        "-d",
        str(downloads),
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    archives = sorted(downloads.glob(f"datajoint-{version}.tar.gz"))
    if result.returncode != 0 or not archives:
        raise HarnessError(
            f"cannot fetch datajoint=={version}'s source release "
            f"({' '.join(command[2:])}):\n{_tail(result.stderr or result.stdout)}"
        )
    source = work / f"datajoint-{version}"
    shutil.rmtree(source, ignore_errors=True)
    with tarfile.open(archives[0]) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(work, filter="data")
        else:  # Python < 3.11.4
            archive.extractall(work)
    missing = [
        path for path in ("tests/conftest.py", "pyproject.toml", *SELECTION) if not (source / path).is_file()
    ]
    if missing:
        raise HarnessError(
            f"datajoint {version}'s source release lacks {', '.join(missing)}: "
            "update SELECTION in tests/compat/harness.py"
        )
    return source


def test_requirements(source: Path) -> list[str]:
    """The release's own ``test`` extra (pyproject.toml), as its developers install it."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project.get("optional-dependencies", {}).get("test")
    if not requirements:
        raise HarnessError("the release declares no 'test' extra in pyproject.toml")
    return list(requirements)


def create_venv(work: Path) -> Path:
    venv = work / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return python


def install(python: Path, version: str, requirements: Iterable[str]) -> None:
    """This project (editable, with PostgreSQL support), datajoint==version and the release's test needs.

    Skipped when the virtualenv already holds exactly this (the marker records what was installed).
    """
    wanted = ["-e", f"{ROOT}[postgres]", f"datajoint=={version}", "pytest-timeout", *requirements]
    fingerprint = hashlib.sha256(
        json.dumps(wanted).encode() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    marker = python.parent.parent / ".djcompat-installed"
    if marker.exists() and marker.read_text() == fingerprint:
        return
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise HarnessError(f"cannot install datajoint's test requirements:\n{_tail(result.stderr)}")
    installed = subprocess.run(
        [str(python), "-c", "import datajoint; print(datajoint.__version__)"],
        check=False,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if installed != version:
        raise HarnessError(f"the virtualenv has datajoint {installed or '?'}, the tests are {version}'s")
    marker.write_text(fingerprint)


# -------------------------------------------------------------------------------------------- a pass
@dataclass
class PassResult:
    name: str
    outcomes: dict[str, dict[str, str]]
    engine: dict
    exitstatus: int
    seconds: float
    log: Path
    dropped: list[str] = field(default_factory=list)


def run_pass(
    name: str,
    python: Path,
    source: Path,
    env: dict[str, str],
    work: Path,
    servers: tuple[Server, Server],
    prefix: str,
    plugins: Iterable[str] = (),
) -> PassResult:
    """Run the selection once; record outcomes; drop what the suite left behind."""
    out = work / f"outcomes-{name}.json"
    log = work / f"pytest-{name}.log"
    out.unlink(missing_ok=True)
    # The release's own pytest configuration (its pyproject.toml), run from its root as its developers do
    options = (
        "-c pyproject.toml --rootdir . -p no:cacheprovider -q -rfE --tb=short --color=no -p djcompat_outcomes"
    )
    command = [str(python), "-m", "pytest", *options.split(), "--djcompat-out", str(out)]
    command.append(f"--timeout={TEST_TIMEOUT_SECONDS}")
    for plugin in plugins:
        command += ["-p", plugin]
    command += list(SELECTION)
    before = _snapshot(servers)
    print(f"--- pass '{name}': {len(SELECTION)} files of datajoint's tests (log: {log})", flush=True)
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as stream:
        try:
            completed = subprocess.run(
                command,
                check=False,
                cwd=source,
                env=env,
                stdout=stream,
                stderr=subprocess.STDOUT,
                timeout=PASS_TIMEOUT_SECONDS,
            )
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            returncode = -1
    seconds = time.monotonic() - started
    recorded = json.loads(out.read_text()) if out.exists() else None
    dropped = _drop_leftovers(servers, before, recorded["schemas"] if recorded else [], prefix)
    _print_summary_lines(log)
    if returncode == -1:
        raise HarnessError(f"pass '{name}' took longer than {PASS_TIMEOUT_SECONDS} s; see {log}")
    if recorded is None or returncode not in (0, 1):
        raise HarnessError(
            f"pass '{name}': pytest exited with status {returncode} "
            f"(0 or 1 expected: collection or usage error?); see {log}"
        )
    print(
        f"    {name}: {len(recorded['outcomes'])} tests in {seconds:.0f} s"
        + (f"; dropped what the suite left: {', '.join(dropped)}" if dropped else ""),
        flush=True,
    )
    return PassResult(
        name, recorded["outcomes"], recorded["engine"], recorded["exitstatus"], seconds, log, dropped
    )


def _snapshot(servers: tuple[Server, Server]) -> dict:
    mysql, postgres = servers
    return {"mysql": mysql.schemas(), "postgresql": postgres.schemas(), "users": mysql.users()}


def _drop_leftovers(
    servers: tuple[Server, Server], before: dict, recorded: list[dict], prefix: str
) -> list[str]:
    """Drop the schemas and users this pass created and the suite did not remove; nothing older."""
    mysql, postgres = servers
    by_backend = {"mysql": mysql, "postgresql": postgres}
    dropped = []
    for backend, server in by_backend.items():
        now = server.schemas()
        ours = {entry["name"] for entry in recorded if entry["backend"] == backend}
        ours |= {name for name in now if name.startswith(prefix + "_")}
        for name in sorted((ours & now) - before[backend]):
            server.drop_schema(name)
            dropped.append(f"{backend}:{name}")
    users_now = mysql.users()
    if before["users"] is not None and users_now is not None:
        for user in sorted((users_now - before["users"]) & set(SUITE_USERS)):
            mysql.drop_user(user)
            dropped.append(f"mysql user {user}")
    return dropped


def _print_summary_lines(log: Path, width: int = 150) -> None:
    """pytest's one line per failing test and its final count (the full report stays in the log)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if "short test summary info" in line), None)
    if start is None:  # nothing failed, or pytest stopped early: its last lines say which
        shown = lines[-5:]
    else:
        shown = [line for line in lines[start + 1 :] if line.startswith(("FAILED ", "ERROR "))] + lines[-1:]
    for line in shown:
        print("    " + _clip(line, width))


def check_pass(result: PassResult, expect_engine: str) -> None:
    """A pass that did not run what it claims proves nothing: raise instead of comparing."""
    if not result.outcomes:
        raise HarnessError(f"pass '{result.name}' ran no test; see {result.log}")
    if not result.engine.get("populate", "").startswith(expect_engine):
        raise HarnessError(
            f"pass '{result.name}' ran populate() from {result.engine.get('populate')!r}, "
            f"expected {expect_engine}"
        )
    for path in SELECTION:
        if not any(test_id.startswith(path + "::") for test_id in result.outcomes):
            raise HarnessError(f"pass '{result.name}' ran nothing from {path}; see {result.log}")
    for backend in ("mysql", "postgresql"):
        if not any(
            f"[{backend}" in test_id and entry["outcome"] == PASSED
            for test_id, entry in result.outcomes.items()
        ):
            raise HarnessError(f"pass '{result.name}': no {backend} test passed — is the server reachable?")


# ------------------------------------------------------------------------------------------ comparison
@dataclass(frozen=True)
class Row:
    test_id: str
    plain: str
    djruntime: str
    verdict: str  # one of VERDICTS
    note: str


REGRESSION = "REGRESSION"
DEVIATION = "deviation"
STALE_DEVIATION = "deviation not seen"
FAILS_PLAIN = "fails on plain datajoint"
ONLY_DJRUNTIME = "runs only under djruntime"
SAME = "same"


@dataclass(frozen=True)
class Comparison:
    rows: tuple[Row, ...]

    def of(self, verdict: str) -> list[Row]:
        return [row for row in self.rows if row.verdict == verdict]

    @property
    def regressions(self) -> list[Row]:
        return self.of(REGRESSION)


def compare(
    plain: Mapping[str, Mapping[str, str]],
    under_djruntime: Mapping[str, Mapping[str, str]],
    engine: Mapping,
    deviations: Iterable[Deviation] = DEVIATIONS,
) -> Comparison:
    """Per test id: a test that passes plain and does anything else under djruntime (fails, errors, is
    skipped or does not run) is a regression unless a deviation in force covers it."""
    in_force = {deviation.test_id: deviation for deviation in deviations if deviation.applies(dict(engine))}
    rows = []
    for test_id in sorted(set(plain) | set(under_djruntime)):
        before = plain.get(test_id, {}).get("outcome", "not run")
        after_entry = under_djruntime.get(test_id, {})
        after = after_entry.get("outcome", "not run")
        message = after_entry.get("message", "")
        deviation = in_force.get(test_id)
        if before == PASSED and after != PASSED:
            verdict, note = (DEVIATION, deviation.reason) if deviation else (REGRESSION, message)
        elif deviation is not None and before == PASSED:
            verdict, note = STALE_DEVIATION, "listed as a deviation but passes under djruntime"
        elif before in ("failed", "error"):
            verdict, note = FAILS_PLAIN, plain[test_id].get("message", "")
        elif before == "not run":
            verdict, note = ONLY_DJRUNTIME, message
        else:
            verdict, note = SAME, ""
        rows.append(Row(test_id, before, after, verdict, note))
    return Comparison(tuple(rows))


def format_table(comparison: Comparison, width: int = 110) -> str:
    shown = [row for row in comparison.rows if row.verdict != SAME]
    order = [REGRESSION, DEVIATION, STALE_DEVIATION, FAILS_PLAIN, ONLY_DJRUNTIME]
    shown.sort(key=lambda row: (order.index(row.verdict), row.test_id))
    lines = []
    if shown:
        id_width = max(len(_short(row.test_id)) for row in shown)
        header = f"{'test':<{id_width}}  {'plain':<8}  {'djruntime':<9}  verdict"
        lines += [header, "-" * len(header)]
        for row in shown:
            lines.append(
                f"{_short(row.test_id):<{id_width}}  {row.plain:<8}  {row.djruntime:<9}  {row.verdict}"
            )
            lines += [
                f"{'':<{id_width}}    {_clip(line, width)}" for line in row.note.splitlines() if line.strip()
            ]
    counts = {verdict: len(comparison.of(verdict)) for verdict in [SAME, *order]}
    lines.append(
        f"{len(comparison.rows)} tests: {counts[SAME]} same on both, {counts[REGRESSION]} regressions, "
        f"{counts[DEVIATION]} deliberate deviations, {counts[FAILS_PLAIN]} fail on plain datajoint too "
        f"(not counted), {counts[STALE_DEVIATION]} listed deviations not seen, "
        f"{counts[ONLY_DJRUNTIME]} run only under djruntime"
    )
    return "\n".join(lines)


def _short(test_id: str) -> str:
    return re.sub(r"^tests/(integration/)?", "", test_id)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ------------------------------------------------------------------------------------------------ main
def parse_args(argv: list[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datajoint-version",
        default=DATAJOINT_VERSION,
        help=f"the datajoint release whose tests to run (default {DATAJOINT_VERSION})",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=ROOT / "build" / "compat",
        help="virtualenv, extracted release, logs (default build/compat)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        default=environ.get("DJCOMPAT_REPORT_ONLY", "") not in ("", "0"),
        help="print the comparison and exit 0 on regressions (env DJCOMPAT_REPORT_ONLY=1); "
        "harness errors still exit 2",
    )
    return parser.parse_args(argv)


def conclude(comparison: Comparison, report_only: bool) -> int:
    """The verdict line and the exit status: 1 on a regression unless only reporting."""
    if comparison.regressions:
        print(
            f"compat: {len(comparison.regressions)} test(s) pass on plain datajoint and not under djruntime"
            + (" (report only: not failing)" if report_only else ""),
            file=sys.stderr,
        )
        return 0 if report_only else 1
    print(
        "compat: djruntime passes every datajoint test plain datajoint passes, "
        "apart from the listed deviations"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, os.environ)
    started = time.monotonic()
    try:
        comparison, passes = _run(args.datajoint_version, args.work_dir.resolve())
    except HarnessError as error:
        print(f"compat: ERROR: {error}", file=sys.stderr)
        return 2
    print(format_table(comparison))
    total = time.monotonic() - started
    print(
        f"datajoint {args.datajoint_version}: plain {passes[0].seconds:.0f} s, "
        f"djruntime {passes[1].seconds:.0f} s, whole job {total:.0f} s"
    )
    (args.work_dir / "report.json").write_text(
        json.dumps(
            {
                "datajoint": args.datajoint_version,
                "seconds": {"plain": passes[0].seconds, "djruntime": passes[1].seconds, "total": total},
                "rows": [row.__dict__ for row in comparison.rows],
            },
            indent=1,
        )
    )
    return conclude(comparison, args.report_only)


def _run(version: str, work: Path) -> tuple[Comparison, tuple[PassResult, PassResult]]:
    work.mkdir(parents=True, exist_ok=True)
    python = create_venv(work)
    source = fetch_release(python, version, work)
    install(python, version, test_requirements(source))
    servers = servers_from_environment(os.environ)
    for server in servers:
        try:
            server.connect().close()
        except Exception as error:  # noqa: BLE001 - any failure to connect is reported verbatim
            raise HarnessError(
                f"no {server.backend} server at {server.host}:{server.port}: {error}"
            ) from error
    prefix = new_prefix()
    env = suite_environment(os.environ, *servers, prefix)
    print(f"compat: datajoint {version}'s tests from {source}, DJ_TEST_DB_PREFIX={prefix}", flush=True)
    with exclusive(servers[0], wait_seconds=PASS_TIMEOUT_SECONDS):
        plain = run_pass("plain", python, source, env, work, servers, prefix)
        check_pass(plain, "datajoint.")
        under_djruntime = run_pass(
            "djruntime", python, source, env, work, servers, prefix, plugins=["djcompat_install"]
        )
        check_pass(under_djruntime, "djruntime.")
    return compare(plain.outcomes, under_djruntime.outcomes, under_djruntime.engine), (plain, under_djruntime)


if __name__ == "__main__":
    sys.exit(main())
