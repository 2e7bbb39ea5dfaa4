"""Run every ledger test on SQLite and on a real PostgreSQL.

PostgreSQL comes from `$INVENTORY_TEST_PG_URL` (a server URL whose user may CREATE
DATABASE), or else from a throwaway cluster started for the session with the binaries under
`/usr/lib/postgresql/*/bin`: `initdb -A trust` into a temp dir, `pg_ctl start` on 127.0.0.1
at a free port with its unix socket in the temp dir, fsync off; stopped and deleted at the
end. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user
(`runuser`). Without binaries the PostgreSQL half is skipped, or fails when `$CI` is set.
Each test gets a fresh database (`CREATE DATABASE`), dropped afterwards.
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
    options += " -c full_page_writes=off -c max_connections=50"
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


def _fresh_pg_database(admin: Engine) -> Iterator[str]:
    name = f"ledger_test_{os.getpid()}_{next(_database_numbers)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty ledger database: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    yield from _fresh_pg_database(request.getfixturevalue("pg_admin"))


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    """An engine on a ledger migrated to head."""
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    yield engine
    engine.dispose()


@pytest.fixture
def conn(engine: Engine) -> Iterator[sa.Connection]:
    """A connection on the migrated ledger (not in a transaction)."""
    with engine.connect() as connection:
        yield connection
