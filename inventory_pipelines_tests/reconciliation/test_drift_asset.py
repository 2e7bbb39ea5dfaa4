"""`reconciliation/drift` as Dagster runs it, from stored tables and a real ledger (no sandbox):
one channel partition, a SKU subset, a channel that could not be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.io_manager import ParquetIOManager, SkuScope
from inventory_pipelines.defs.reconciliation.assets import (
    FIGURES,
    THRESHOLD_CHECK,
    drift_asset,
    history_spec,
)
from inventory_pipelines.defs.resources import LedgerResource, RulesResource
from inventory_pipelines.defs.shared import (
    CHANNEL_ALLOCATION,
    CHANNEL_STOCK,
    DRIFT,
    DRIFT_HISTORY,
    PRODUCT_IDENTITY,
    channel_partitions,
    channel_range_tags,
)
from inventory_pipelines.ledger import audit, create_engine, migrate, state
from inventory_pipelines.ledger import reconciliation as drift_audit
from inventory_pipelines.reconciliation.history import HISTORY_KEY
from inventory_pipelines.rules import default_rules_dir

pytestmark = pytest.mark.slow  # a few Dagster runs

#: the tables the drift reads, as stored by earlier runs
UPSTREAM = [
    dg.AssetSpec(key, partitions_def=channel_partitions)
    for key in (CHANNEL_ALLOCATION, PRODUCT_IDENTITY, CHANNEL_STOCK)
]
READ_AT = datetime.now(UTC) - timedelta(minutes=5)
ACKED_AT = READ_AT - timedelta(hours=1)


def stock_rows(channel: str, rows, error: str | None = None) -> pl.DataFrame:
    """(listing, sku, quantity) read back from `channel` (or its marker row, with `error`)."""
    schema = {
        "channel": pl.Utf8,
        "listing_id": pl.Utf8,
        "sku": pl.Utf8,
        "barcode": pl.Utf8,
        "quantity": pl.Int64,
        "read_at": pl.Datetime("us", "UTC"),
        "read_error": pl.Utf8,
    }
    if error is not None:
        return pl.DataFrame(
            [(channel, None, None, None, None, READ_AT, error)], schema, orient="row"
        )
    return pl.DataFrame(
        [(channel, x, s, None, q, READ_AT, None) for x, s, q in rows], schema, orient="row"
    )


@pytest.fixture
def plane(tmp_path: Path):
    """Stored tables for shopify (one edit, one SKU without listing, one unmatched listing,
    one listing in sync) and woocommerce (in sync), and a ledger that acknowledged them."""
    store = TableStore(tmp_path / "tables")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    allocations = {
        "shopify": [("A", 10), ("B", 4), ("C", 6)],
        "woocommerce": [("A", 3)],
    }
    listings = {
        "shopify": [("L-A", "A", 17), ("L-C", "C", 6), ("L-X", "X", 5)],
        "woocommerce": [("W-A", "A", 3)],
    }
    for channel, rows in allocations.items():
        store.write(
            CHANNEL_ALLOCATION,
            pl.DataFrame(
                [(channel, s, q) for s, q in rows],
                schema={"channel": pl.Utf8, "sku": pl.Utf8, "publishable": pl.Int64},
                orient="row",
            ),
            channel,
        )
        mapped = [(channel, s, x, "sku", None) for x, s, _ in listings[channel] if s != "X"]
        store.write(
            PRODUCT_IDENTITY,
            pl.DataFrame(
                mapped,
                schema={
                    "channel": pl.Utf8,
                    "sku": pl.Utf8,
                    "listing_id": pl.Utf8,
                    "matched_by": pl.Utf8,
                    "pack_size": pl.Int64,
                },
                orient="row",
            ),
            channel,
        )
        store.write(CHANNEL_STOCK, stock_rows(channel, listings[channel]), channel)
    engine = create_engine(url)
    with engine.connect() as conn:
        state.upsert_many(
            conn,
            [
                {
                    "channel": channel,
                    "listing_id": x,
                    "sku": s,
                    "quantity": q if x != "L-A" else 10,
                    "acknowledged_at": ACKED_AT,
                    "request_id": "r",
                }
                for channel, rows in listings.items()
                for x, s, q in rows
                if s != "X"
            ],
        )
    engine.dispose()
    return tmp_path, url


def run(folder: Path, url: str, skus: list[str] | None = None, **kwargs):
    scope = SkuScope.configure_at_launch()
    resources = {
        "ledger": LedgerResource(url=url),
        "rules": RulesResource(directory=str(default_rules_dir())),
        "sku_scope": scope,
        "io_manager": ParquetIOManager(
            base_dir=str(folder / "tables"),
            catalog_path=str(folder / "warehouse.duckdb"),
            sku_scope=scope,
        ),
    }
    run_config = {"resources": {"sku_scope": {"config": {"skus": skus}}}} if skus else None
    return dg.materialize(
        [drift_asset, history_spec, *UPSTREAM],
        selection=[dg.AssetKey(DRIFT)],
        resources=resources,
        run_config=run_config,
        raise_on_error=False,
        **kwargs,
    )


def test_one_channel_partition_gets_its_drift_figures_checks_history_and_audit(plane):
    folder, url = plane
    result = run(folder, url, partition_key="shopify")
    assert result.success
    drift = TableStore(folder / "tables").read(DRIFT, "shopify")
    assert {(r["sku"], r["listing_id"]): r["cause"] for r in drift.to_dicts()} == {
        ("A", "L-A"): "channel_edit",
        ("B", None): "unmapped_listing",
        ("X", "L-X"): "unmapped_listing",
    }
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(DRIFT)
    ]
    figures = {k: v.value for k, v in event.materialization.metadata.items() if k in FIGURES}
    assert event.partition == "shopify"
    assert figures == {
        "listings_compared": 3,
        "drift_skus": 3,
        "drift_units": 7 + 4 + 5,
        "drift_unmapped_listing": 2,
        "drift_channel_edit": 1,
        "drift_dead_letter": 0,
        "drift_stale_compare": 0,
        "drift_pending_order": 0,
        "drift_missed_update": 0,
    }
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["schema"].passed
    threshold = checks[THRESHOLD_CHECK]
    assert not threshold.passed and threshold.severity is dg.AssetCheckSeverity.ERROR
    assert threshold.metadata["levels"].value == {"shopify": "error"}  # 3 of 3 listings > 2%

    today = datetime.now(UTC).date().isoformat()
    history = TableStore(folder / "tables").read(HISTORY_KEY, today)
    assert history.height == 3 and set(history["run_id"]) == {result.run_id}
    [day] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(DRIFT_HISTORY)
    ]
    assert day.partition == today

    engine = create_engine(url)
    with engine.connect() as conn:
        observed = audit.history(conn, correlation_id=result.run_id, action=drift_audit.OBSERVED)
    engine.dispose()
    assert [(e.entity, e.before, e.after) for e in observed] == [
        (
            "published_state/shopify/L-A",
            {"quantity": 17},
            {"expected": 10, "cause": "channel_edit", "sku": "A"},
        )
    ]


def test_a_run_over_a_sku_subset_replaces_only_its_skus_and_keeps_no_history(plane):
    folder, url = plane
    assert run(folder, url, partition_key="shopify").success
    store = TableStore(folder / "tables")
    store.write(
        CHANNEL_STOCK, stock_rows("shopify", [("L-A", "A", 10), ("L-C", "C", 6)]), "shopify"
    )
    result = run(folder, url, skus=["A", "B"], partition_key="shopify")
    assert result.success
    drift = store.read(DRIFT, "shopify")
    # A is corrected, B still has no listing; the listing no SKU matches is the full run's row
    assert {(r["sku"], r["listing_id"]) for r in drift.to_dicts()} == {("B", None), ("X", "L-X")}
    history = store.read(HISTORY_KEY, datetime.now(UTC).date().isoformat())
    assert result.run_id not in set(history["run_id"])


def test_a_channel_that_could_not_be_read_is_not_compared_and_the_check_says_so(plane):
    folder, url = plane
    TableStore(folder / "tables").write(
        CHANNEL_STOCK, stock_rows("woocommerce", [], error="ChannelError: down"), "woocommerce"
    )
    result = run(folder, url, tags=channel_range_tags(["shopify", "woocommerce"]))
    assert result.success
    assert TableStore(folder / "tables").read(DRIFT, "woocommerce").is_empty()
    [check] = [c for c in result.get_asset_check_evaluations() if c.check_name == THRESHOLD_CHECK]
    assert check.metadata["levels"].value == {"shopify": "error", "woocommerce": "warn"}
    assert "woocommerce: WARN, not compared: its catalog could not be read" in check.description
