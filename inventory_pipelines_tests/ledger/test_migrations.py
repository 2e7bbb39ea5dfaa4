"""Migrations take an empty database to head, idempotently, and match the schema module."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import create_engine, migrate
from inventory_pipelines.ledger.db import MIGRATIONS_DIR, alembic_config, current_revision
from inventory_pipelines.ledger.schema import metadata

TABLES = {"outbox", "published_state", "dead_letters", "audit_log"}
#: the newest migration shipped: one line of history, so exactly one head
(HEAD,) = ScriptDirectory.from_config(alembic_config()).get_heads()
ORDER_TABLES = {"order_inbox", "order_map", "pending_units", "poll_cursors"}


def test_migrate_upgrades_an_empty_database_to_head(ledger_url: str) -> None:
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    try:
        assert set(sa.inspect(engine).get_table_names()) >= TABLES | ORDER_TABLES
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD
    finally:
        engine.dispose()


def test_migrate_twice_is_a_no_op(ledger_url: str) -> None:
    migrate(ledger_url)
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD
    finally:
        engine.dispose()


def test_migrated_database_matches_the_schema_module(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_ledger_at_0001_upgrades_to_the_order_tables_and_back(ledger_url: str) -> None:
    migrate(ledger_url, "0001")
    engine = create_engine(ledger_url)
    try:
        assert not set(sa.inspect(engine).get_table_names()) & ORDER_TABLES
        migrate(ledger_url)
        assert set(sa.inspect(engine).get_table_names()) >= ORDER_TABLES
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0001")
            conn.commit()
        assert not set(sa.inspect(engine).get_table_names()) & ORDER_TABLES
    finally:
        engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))


def test_a_ledger_at_0004_upgrades_to_the_overrides_and_back(ledger_url: str) -> None:
    migrate(ledger_url, "0004")
    engine = create_engine(ledger_url)
    try:
        assert "overrides" not in sa.inspect(engine).get_table_names()
        migrate(ledger_url)
        assert "overrides" in sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0004")
            conn.commit()
        assert "overrides" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
