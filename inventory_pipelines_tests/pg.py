"""A real PostgreSQL for any test package (a pytest plugin, loaded by the top conftest.py).

PostgreSQL comes from `$INVENTORY_TEST_PG_URL` (a server URL whose user may CREATE
DATABASE), or else from a throwaway cluster started once per test session (so once per xdist
worker) with the binaries under `/usr/lib/postgresql/*/bin`: `initdb -A trust` into a temp
dir, `pg_ctl start` on 127.0.0.1 at a free port with its unix socket in the temp dir, fsync
off; stopped and deleted at the end. PostgreSQL refuses to run as root, so as root the
cluster runs as the `postgres` user (`runuser`). Without binaries the PostgreSQL half is
skipped, or fails when `$CI` is set (`.ci/run` sets it): CI never passes without it.

Fixtures:
- `ledger_url`: an empty ledger database, once on SQLite and once on PostgreSQL (test ids
  `[sqlite]` and `[postgresql]`, so `-k postgresql` selects the PostgreSQL half);
- `migrated_ledger_url`: the same, migrated to head (on PostgreSQL a copy of a template
  migrated once per session, which is faster than migrating each database);
- `pg_database_url`: a fresh, empty PostgreSQL database (a Dagster instance's storage...);
- `pg_server_url`, `pg_admin`: the server, and an autocommit engine on it.

A fixture that picks its backends itself (a module-scoped backend, or SQLite unless a test
asks for both) builds its ledger with `migrated_ledger(request, backend, tmp_path)`; `url_of`
gives an engine's URL with its password, for another engine or process.

Each test gets its own database (`CREATE DATABASE`), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import create_engine, migrate

LEDGER_BACKENDS = ("sqlite", "postgresql")
_database_numbers = itertools.count(1)


def _pg_bin_dir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    found = candidates[-1] if candidates else shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextlib.contextmanager
def _throwaway_cluster(bin_dir: Path) -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    data, port = root / "data", _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 60}
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"
    # a Dagster daemon, its run workers and a test's threads hold many connections at once
    options += " -c full_page_writes=off -c max_connections=200"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w"]
    try:
        subprocess.run(_as_postgres([*initdb, "--no-sync", "-E", "UTF8", "--locale=C"]), **run)
        subprocess.run(_as_postgres([*start, "-o", options, "start"]), **run)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as error:
        log = root / "log"
        detail = log.read_text() if log.exists() else ""
        raise RuntimeError(f"{error.cmd}: {error.stderr}\n{detail}") from error
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (database `postgres`) whose user may create databases."""
    configured = os.environ.get("INVENTORY_TEST_PG_URL")
    if configured:
        yield configured
        return
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        reason = "no PostgreSQL binaries (initdb, pg_ctl) and INVENTORY_TEST_PG_URL is unset"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with _throwaway_cluster(bin_dir) as url:
        yield url


@pytest.fixture(scope="session")
def pg_admin(pg_server_url: str) -> Iterator[Engine]:
    """An autocommit engine on the server, to create and drop test databases."""
    engine = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def url_of(engine: Engine) -> str:
    """The engine's URL as a string another engine or process can connect with (password kept)."""
    return engine.url.render_as_string(hide_password=False)


def _create_database(admin: Engine, prefix: str, template: str | None = None) -> str:
    name = f"{prefix}_{os.getpid()}_{next(_database_numbers)}"
    statement = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    with admin.connect() as conn:
        conn.execute(sa.text(statement))
    return name


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_pg_database(
    admin: Engine, prefix: str = "test", template: str | None = None
) -> Iterator[str]:
    """A new database on the server (a copy of `template`, else empty), dropped on exit."""
    name = _create_database(admin, prefix, template)
    try:
        yield _url_for(admin, name)
    finally:
        _drop_database(admin, name)


def _url_for(admin: Engine, database: str) -> str:
    return admin.url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _pg_ledger_template(pg_admin: Engine) -> Iterator[str]:
    """A database migrated to head once per session, copied for each test that wants one."""
    name = _create_database(pg_admin, "ledger_template")
    migrate(_url_for(pg_admin, name))
    yield name
    _drop_database(pg_admin, name)


@pytest.fixture
def pg_database_url(pg_admin: Engine) -> Iterator[str]:
    """A fresh, empty PostgreSQL database of its own for the test."""
    with fresh_pg_database(pg_admin) as url:
        yield url


@pytest.fixture(params=LEDGER_BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty ledger database: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    with fresh_pg_database(request.getfixturevalue("pg_admin"), "ledger_test") as url:
        yield url


@contextlib.contextmanager
def migrated_ledger(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A ledger migrated to head on `backend`, for a fixture of a test that picks its backends:
    a SQLite file in tmp_path, or a fresh PostgreSQL database (a copy of the session template)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        migrate(url)
        yield url
        return
    admin = request.getfixturevalue("pg_admin")
    template = request.getfixturevalue("_pg_ledger_template")
    with fresh_pg_database(admin, "ledger_test", template) as url:
        yield url


@pytest.fixture(params=LEDGER_BACKENDS)
def migrated_ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A ledger migrated to head: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    with migrated_ledger(request, request.param, tmp_path) as url:
        yield url


def restartable() -> bool:
    """Whether the tests' PostgreSQL is the throwaway cluster this module starts (not a server
    `$INVENTORY_TEST_PG_URL` names), so that a test may restart it."""
    return not os.environ.get("INVENTORY_TEST_PG_URL")


def restart_server(admin: Engine) -> None:
    """Restart the throwaway cluster behind `admin` at once (`pg_ctl restart -m immediate`):
    every connection is cut, as when the ledger's database crashes or fails over. Only for the
    cluster this module started (see `restartable`)."""
    if not restartable():
        raise RuntimeError("INVENTORY_TEST_PG_URL names a server the tests do not own")
    bin_dir = _pg_bin_dir()
    assert bin_dir is not None
    with admin.connect() as conn:
        data = Path(conn.execute(sa.text("SHOW data_directory")).scalar_one())
    # the log file keeps the server's output off pg_ctl's pipe (it would never close)
    restart = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "log")]
    subprocess.run(
        _as_postgres([*restart, "-m", "immediate", "-w", "restart"]),
        check=True,
        capture_output=True,
        timeout=60,
    )
