"""Engines, transactions and migrations for the ledger.

SQLite (the default) runs in WAL mode with foreign keys on and a busy timeout, and every
write transaction starts with `BEGIN IMMEDIATE`: a writer takes the write lock before it
reads, so two processes queue on the busy timeout instead of both reading under a shared
lock and then failing to upgrade it ("database is locked"). PostgreSQL is reached through
psycopg 3 (`postgresql+psycopg://`); there writers update rows in one transaction and a
worker claiming batches uses `SELECT ... FOR UPDATE SKIP LOCKED`.

Every public ledger function takes a `Connection`. If the connection is not in a
transaction, the function runs in its own and commits it; if the caller began one, the
function joins it and the caller commits (or rolls back) the whole. To group several writes
in one transaction, begin it with `begin_write(engine)` or `write_transaction(conn)`, so that
SQLite takes the write lock up front (a plain `conn.begin()` there is a deferred BEGIN).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from inventory_pipelines.settings import data_dir

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10  # PostgreSQL, unless the URL sets connect_timeout
_WRITE_OPTION = "ledger_write"
# Any constant shared by every process migrating the same PostgreSQL database.
_MIGRATION_LOCK_ID = 0x1ED6E7


def default_url() -> str:
    """`$INVENTORY_LEDGER_URL`, else a SQLite file beside the data plane (`.data/ledger.sqlite`)."""
    configured = os.environ.get("INVENTORY_LEDGER_URL")
    if configured:
        return normalize_url(configured)
    return f"sqlite:///{default_sqlite_path()}"


def default_sqlite_path() -> Path:
    """The ledger's file when no URL is configured: beside the data plane, created on first use."""
    return data_dir().parent / "ledger.sqlite"


def normalize_url(url: str) -> str:
    """Route plain `postgres://` and `postgresql://` URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class LedgerConfigError(ValueError):
    """The ledger URL cannot be used; the message is one line, without the password."""


def shown_url(url: str) -> str:
    """The URL as it may be shown to a person: the password hidden."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a URL)"


def create_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for the ledger at `url` (default: `default_url()`), configured per dialect.

    Raises `LedgerConfigError` for a URL that is not one, or names a database the ledger does
    not run on (SQLite, PostgreSQL) or whose driver is not installed, or a SQLite file in a
    folder that is not there (but for the default location, created on first use).
    """
    url = normalize_url(url or default_url())
    try:
        backend = sa.make_url(url).get_backend_name()
    except sa.exc.ArgumentError:
        raise LedgerConfigError(
            "the ledger URL (INVENTORY_LEDGER_URL) is not a database URL: expected "
            "sqlite:///path/ledger.sqlite or postgresql://user@host:5432/db"
        ) from None
    if backend == "sqlite":
        return _sqlite_engine(url, **kwargs)
    if backend != "postgresql":
        raise LedgerConfigError(
            f"the ledger runs on SQLite or PostgreSQL, not {backend!r} ({shown_url(url)})"
        )
    kwargs.setdefault("pool_pre_ping", True)
    if "connect_timeout" not in sa.make_url(url).query:
        # a host that drops packets is an error in seconds, not a hang of the TCP timeout
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        kwargs["connect_args"] = connect_args
    try:
        return sa.create_engine(url, **kwargs)
    except (sa.exc.NoSuchModuleError, ModuleNotFoundError) as exc:
        raise LedgerConfigError(f"no driver for the ledger URL {shown_url(url)}: {exc}") from None


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    parsed = sa.make_url(url)
    database = parsed.database
    if database and database != ":memory:" and not parsed.query.get("uri"):
        _sqlite_folder(Path(database))
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", BUSY_TIMEOUT_MS / 1000)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, instead of pysqlite's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _sqlite_folder(database: Path) -> None:
    """Make sure the folder of a SQLite ledger file is there.

    The default location (`default_sqlite_path`, under `.data/`) is created on first use, as
    a fresh checkout needs. Any other folder must exist already: a mistyped path in
    INVENTORY_LEDGER_URL is refused, not taken for a new, empty ledger whose empty queues
    would read as all clear.
    """
    folder = database.parent
    if folder.is_dir():
        return
    default = database.resolve() == default_sqlite_path().resolve()
    if folder.exists():
        where = (
            "INVENTORY_DATA_DIR (the ledger goes beside its folder), or set INVENTORY_LEDGER_URL"
            if default
            else "the ledger URL (INVENTORY_LEDGER_URL)"
        )
        raise LedgerConfigError(
            f"the ledger's folder {folder} is a file, not a folder: correct {where}"
        )
    if not default:
        raise LedgerConfigError(
            f"the ledger's folder {folder} does not exist: correct the ledger URL "
            f"(INVENTORY_LEDGER_URL), or create the folder (mkdir -p {folder}) to start a new "
            "ledger there"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerConfigError(
            f"the ledger's folder {folder} cannot be created ({exc.strerror}): point "
            "INVENTORY_DATA_DIR, or INVENTORY_LEDGER_URL, at a place this user can write"
        ) from None


def is_postgresql(conn: Connection) -> bool:
    """Whether the connection speaks to PostgreSQL."""
    return conn.dialect.name == "postgresql"


@contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """A write transaction on `conn`: joins the caller's, or begins (IMMEDIATE on SQLite) one."""
    if conn.in_transaction():
        yield conn
        return
    previous = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.execution_options(**{_WRITE_OPTION: True})
    try:
        with conn.begin():
            yield conn
    finally:
        conn.execution_options(**{_WRITE_OPTION: previous})


@contextmanager
def read_transaction(conn: Connection) -> Iterator[Connection]:
    """A read on `conn`: joins the caller's transaction, or runs in its own short one."""
    if conn.in_transaction():
        yield conn
        return
    with conn.begin():
        yield conn


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A new connection in a write transaction, committed on exit (rolled back on error)."""
    with engine.connect() as conn, write_transaction(conn):
        yield conn


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` built in code (no alembic.ini): the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(url: str | Engine | None = None, revision: str = "head") -> None:
    """Upgrade the ledger at `url` (or on `engine`) to `revision`; running it again is a no-op.

    Two processes may migrate at once: SQLite serializes them on `BEGIN IMMEDIATE`,
    PostgreSQL on a transaction-level advisory lock.
    """
    engine = url if isinstance(url, Engine) else create_engine(url)
    try:
        with engine.connect() as conn, write_transaction(conn):
            if is_postgresql(conn):
                lock = sa.text("SELECT pg_advisory_xact_lock(:id)")
                conn.execute(lock, {"id": _MIGRATION_LOCK_ID})
            command.upgrade(alembic_config(conn), revision)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


def current_revision(conn: Connection) -> str | None:
    """The revision the ledger is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with read_transaction(conn):
        return MigrationContext.configure(conn).get_current_revision()
