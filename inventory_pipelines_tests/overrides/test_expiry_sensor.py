"""The sensor `override_expiry`: what ran out is recorded as expired and its SKUs refreshed on
every channel, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.overrides.sensors import override_expiry
from inventory_pipelines.defs.resources import LedgerResource
from inventory_pipelines.ledger import audit, create_engine, migrate, overrides
from inventory_pipelines_tests.stream.support import write_refresh_inputs

NOW = datetime.now(UTC)


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch) -> str:
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            made = overrides.request(
                conn,
                channel="shopify",
                sku="SKU-000003",
                quantity=2,
                expires_at=NOW - timedelta(seconds=10),
                reason="promo",
                actor="alice",
                now=NOW - timedelta(minutes=5),
            )
            overrides.approve(conn, made.id, actor="bob", now=NOW - timedelta(minutes=4))
            stop = overrides.stop(
                conn,
                channel="*",
                pattern="SKU-00001*",
                expires_at=NOW - timedelta(seconds=5),
                reason="recall",
                actor="alice",
                break_glass=True,
                now=NOW - timedelta(minutes=3),
            )
            overrides.request(  # never approved: it applied nowhere, nothing to refresh
                conn,
                channel="pos",
                sku="SKU-000004",
                quantity=1,
                expires_at=NOW - timedelta(seconds=5),
                reason="x",
                actor="alice",
                now=NOW - timedelta(minutes=3),
            )
            assert stop.break_glass
    finally:
        engine.dispose()
    return url


def evaluate(url: str, cursor: str | None = None) -> dg.SensorResult:
    return override_expiry(
        dg.build_sensor_context(cursor=cursor, resources={"ledger": LedgerResource(url=url)})
    )


def test_what_ran_out_is_refreshed_on_every_channel_once(ledger: str, tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    write_refresh_inputs(tables)
    skus = ["SKU-000003", "SKU-000004", "SKU-000010", "SKU-000011", "SKU-000020"]
    TableStore(tables).write(("odoo", "products"), pl.DataFrame({"sku": skus}))

    result = evaluate(ledger)
    by_override = {
        r.tags["inventory/override"]: r.run_config["resources"]["sku_scope"]["config"]["skus"]
        for r in result.run_requests
    }
    assert by_override == {"1": ["SKU-000003"], "2": ["SKU-000010", "SKU-000011"]}
    [first, _] = result.run_requests
    assert first.job_name == "refresh_changed_skus"
    assert first.tags["inventory/trigger"] == "override_expiry"
    assert first.tags["dagster/asset_partition_range_start"] == "shopify"
    assert first.tags["dagster/asset_partition_range_end"] == "b2b"
    assert evaluate(ledger, result.cursor).run_requests == []  # once


def test_each_expiry_is_audited_even_before_a_full_refresh_made_the_tables(ledger: str) -> None:
    result = evaluate(ledger)
    assert result.run_requests == []  # no SKU refresh can run yet: the first full one will
    engine = create_engine(ledger)
    try:
        with engine.connect() as conn:
            expired = audit.history(conn, action="override.expired")
            assert [o.state_at(NOW) for o in overrides.listed(conn, include_ended=True)] == [
                "expired"
            ] * 3
    finally:
        engine.dispose()
    assert [(e.entity, e.actor) for e in expired] == [
        ("override/1", "override_expiry"),
        ("override/2", "override_expiry"),
        ("override/3", "override_expiry"),
    ]
