"""The feeds' ledger on SQLite and PostgreSQL: the last good fetch, the last attempt, runs
finishing out of order, another machine reusing the parse, and the migration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.ledger import create_engine, migrate
from inventory_pipelines.ledger import feeds as ledger_feeds
from inventory_pipelines.ledger.db import alembic_config
from inventory_pipelines.sandbox.vendor_feed import VendorFeedSandbox
from inventory_pipelines.supply.feeds import read_feed
from inventory_pipelines_tests.supply.conftest import ROWS, vendor_rule

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Engine]:
    """A ledger migrated to head, once on SQLite and once on PostgreSQL."""
    migrate(ledger_url)
    engine = create_engine(ledger_url)
    yield engine
    engine.dispose()


def good(
    fetched_at: datetime, digest: str = "a" * 64, etag: str = '"v1"'
) -> ledger_feeds.GoodFetch:
    return ledger_feeds.GoodFetch(
        feed="vendor:acme",
        source="http://127.0.0.1/feeds/acme.csv",
        etag=etag,
        last_modified="Tue, 01 Dec 2026 07:00:00 GMT",
        object_name=None,
        content_digest=digest,
        cache_key=f"vendor-acme-{digest[:16]}",
        feed_as_of=fetched_at - timedelta(hours=1),
        rows=20,
        fetched_at=fetched_at,
    )


def test_a_good_fetch_is_kept_through_later_failed_attempts(ledger):
    with ledger.connect() as conn:
        assert ledger_feeds.get(conn, "vendor:acme") is None
        assert ledger_feeds.record_good(conn, good(T0))
        ledger_feeds.record_attempt(
            conn,
            "vendor:acme",
            "http://127.0.0.1/feeds/acme.csv",
            503,
            T0 + timedelta(hours=1),
            "http_error: HTTP 503",
        )
        record = ledger_feeds.get(conn, "vendor:acme")
    assert (record.last_status, record.last_error) == (503, "http_error: HTTP 503")
    assert record.checked_at == T0 + timedelta(hours=1)
    assert record.good == replace(good(T0), confirmed_at=T0)


def test_a_confirmation_moves_on_only_the_body_still_stored(ledger):
    with ledger.connect() as conn:
        ledger_feeds.record_good(conn, good(T0))
        later = T0 + timedelta(hours=2)
        assert ledger_feeds.record_confirmed(
            conn, "vendor:acme", "a" * 64, 304, later, etag='"v1b"'
        )
        # an older run's confirmation, finishing last, moves nothing back
        assert ledger_feeds.record_confirmed(
            conn,
            "vendor:acme",
            "a" * 64,
            200,
            T0,
            etag='"v0"',
            last_modified="Mon, 30 Nov 2026 07:00:00 GMT",
            feed_as_of=T0 - timedelta(days=1),
        )
        # a confirmation of a body another run replaced confirms nothing
        assert not ledger_feeds.record_confirmed(conn, "vendor:acme", "b" * 64, 304, later)
        stored = ledger_feeds.get(conn, "vendor:acme").good
    assert stored.confirmed_at == later and stored.fetched_at == T0
    assert stored.etag == '"v1b"' and stored.feed_as_of == T0 - timedelta(hours=1)
    with ledger.connect() as conn:
        assert ledger_feeds.get(conn, "vendor:acme").checked_at == later
    assert stored.as_of == stored.feed_as_of  # Last-Modified stated: it decides


def test_migration_0009_keeps_what_a_feed_stated_and_its_fetch_as_its_confirmation(
    ledger_url: str,
):
    migrate(ledger_url, "0008")
    engine = create_engine(ledger_url)
    try:
        with engine.begin() as conn:
            for feed, modified in (
                ("vendor:acme", "Tue, 01 Dec 2026 07:00:00 GMT"),
                ("vendor:api", None),
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO supply_feeds (feed, source, last_modified, content_digest, "
                        "cache_key, feed_as_of, rows, fetched_at, checked_at, last_status) "
                        "VALUES (:feed, 'x', :modified, 'd', 'k', :as_of, 1, :at, :at, 200)"
                    ),
                    {"feed": feed, "modified": modified, "as_of": T0, "at": T0},
                )
        migrate(ledger_url, "0009")
        with engine.connect() as conn:
            stated = ledger_feeds.get(conn, "vendor:acme").good
            unstated = ledger_feeds.get(conn, "vendor:api").good
            assert (stated.feed_as_of, stated.confirmed_at) == (T0, T0)
            assert (unstated.feed_as_of, unstated.confirmed_at, unstated.written_after) == (
                None,
                T0,
                None,
            )
            command.downgrade(alembic_config(conn), "0008")
            conn.commit()
        columns = {c["name"] for c in sa.inspect(engine).get_columns("supply_feeds")}
        assert "confirmed_at" not in columns and "fetched_at" in columns
    finally:
        engine.dispose()


def test_a_fetch_that_finishes_late_never_replaces_a_newer_one(ledger):
    with ledger.connect() as conn:
        assert ledger_feeds.record_good(conn, good(T0 + timedelta(minutes=5), "b" * 64, '"v2"'))
        assert not ledger_feeds.record_good(conn, good(T0, "a" * 64, '"v1"'))
        record = ledger_feeds.get(conn, "vendor:acme")
    assert record.good.etag == '"v2"' and record.good.content_digest == "b" * 64


def test_an_attempt_before_any_good_fetch_leaves_no_good_fetch(ledger):
    with ledger.connect() as conn:
        ledger_feeds.record_attempt(conn, "threepl:WEST", "s3://b/x/*", 0, T0, "unreachable")
        (record,) = ledger_feeds.all_feeds(conn)
    assert record.feed == "threepl:WEST" and record.good is None and record.last_status == 0


def test_another_machine_reuses_the_parse_through_the_ledger_and_the_data_plane(
    ledger_url: str, ledger, tmp_path: Path
):
    """Two workers share only the ledger and the data plane: the second gets a 304."""
    vendor = None
    with VendorFeedSandbox() as vendors:
        vendors.state.add_feed("acme", ROWS)
        vendor = vendor_rule({"kind": "http", "url": vendors.feed_url("acme")})
        shared_plane = tmp_path / "plane"
        first = read_feed(
            "vendor:acme", vendor.feed, engine=ledger, store=TableStore(shared_plane), now=T0
        )
        other_engine = create_engine(ledger_url)
        try:
            second = read_feed(
                "vendor:acme",
                vendor.feed,
                engine=other_engine,
                store=TableStore(str(shared_plane)),
                now=T0 + timedelta(minutes=1),
            )
        finally:
            other_engine.dispose()
        assert vendors.served_counts() == {200: 1, 304: 1}
    assert (first.status, second.status) == (200, 304)
    assert second.parsed.equals(first.parsed)


def test_migration_0007_adds_the_feeds_table_and_takes_it_back(ledger_url: str):
    migrate(ledger_url, "0006")
    engine = create_engine(ledger_url)
    try:
        assert "supply_feeds" not in sa.inspect(engine).get_table_names()
        migrate(ledger_url, "0007")
        assert "supply_feeds" in sa.inspect(engine).get_table_names()
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0006")
            conn.commit()
        assert "supply_feeds" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
