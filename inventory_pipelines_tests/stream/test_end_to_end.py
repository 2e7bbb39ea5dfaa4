"""A stock change in Odoo reaches every channel through the change sensor's fast run, and the
result is what a full refresh gives.

Odoo and one emulator per channel of `channels.yml`, the real assets, a real ledger and data
plane. What the channels show is read back through their connectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.channels.factory import connector_from_env
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.inventory.allocation import channel_allocation
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.odoo.assets import locations, products, stock_moves, stock_quants
from inventory_pipelines.defs.odoo.supply import incoming_purchases, unreserved_demand
from inventory_pipelines.defs.orders.assets import channel_orders, odoo_order_sync
from inventory_pipelines.defs.publish.assets import (
    channel_stock,
    product_identity,
    published_channel_state,
)
from inventory_pipelines.defs.resources import LedgerResource, OdooResource
from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets
from inventory_pipelines.defs.shared import CANONICAL, CHANNEL_ALLOCATION, POLICY, PUBLISHED
from inventory_pipelines.defs.shared import channel_range_tags as range_tags
from inventory_pipelines.defs.stream.jobs import CHANGED_SKUS_SELECTION
from inventory_pipelines.defs.stream.sensors import odoo_change_sensor
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources
from inventory_pipelines_tests.emulators import running_sandbox

pytestmark = pytest.mark.slow

CHANNELS = POLICY.channels.names()
ASSETS = [
    products,
    locations,
    stock_quants,
    stock_moves,
    incoming_purchases,
    unreserved_demand,
    canonical_inventory,
    *build_model_assets(default_rules_dir(), TABLES),
    channel_allocation,
    channel_stock,
    channel_orders,
    odoo_order_sync,
    product_identity,
    published_channel_state,
]
SKU = "SKU-000012"


@pytest.fixture
def sandbox(monkeypatch, tmp_path) -> Iterator[tuple[OdooSandbox, dict]]:
    with running_sandbox(monkeypatch, skus=50, listings=60) as (odoo, emulators):
        monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
        yield odoo, emulators


def materialize(resources: dict, **kwargs) -> dg.ExecuteInProcessResult:
    result = dg.materialize(ASSETS, resources=resources, raise_on_error=False, **kwargs)
    assert result.success, [
        e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure
    ]
    return result


def shown(sku: str, listings: dict[str, str]) -> dict[str, int | None]:
    """What each channel shows for the SKU's listing, read through its connector."""
    out = {}
    for name in CHANNELS:
        kind = POLICY.channels.get(name).kind.value
        with connector_from_env(name, kind) as connector:
            quantities = {
                x.listing_id: x.quantity for page in connector.read_listings() for x in page
            }
        out[name] = quantities.get(listings[name])
    return out


def sku_rows(store: TableStore) -> tuple[pl.DataFrame, pl.DataFrame]:
    canonical = store.read(CANONICAL).filter(pl.col("sku") == SKU).drop("as_of").sort("warehouse")
    allocation = pl.concat(
        [store.read(CHANNEL_ALLOCATION, name).filter(pl.col("sku") == SKU) for name in CHANNELS]
    ).sort("channel")
    return canonical, allocation


def leave_only(odoo: OdooSandbox, sku: str, units: float) -> None:
    """Empty the SKU's internal locations but for `units` in MAIN/Stock."""
    state = odoo.state
    quants, product = state.tables["stock.quant"], state.product_id(sku)
    pos = quants.pos
    for row in list(quants.records.values()):
        location = row[pos["location_id"]]
        if row[pos["product_id"]] != product:
            continue
        if state.get("stock.location", location, "usage") != "internal":
            continue
        assert not row[pos["lot_id"]] and not row[pos["reserved_quantity"]]
        if row[pos["quantity"]]:
            state.move_stock(sku, location, -row[pos["quantity"]])
    state.move_stock(sku, "MAIN/Stock", units)


def test_a_stock_change_reaches_every_channel_through_the_fast_run_as_a_full_refresh_would(
    sandbox, tmp_path: Path
) -> None:
    odoo, _ = sandbox
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    resources = sandbox_resources(odoo, tmp_path, ledger_url)
    store = TableStore(tmp_path / "tables")
    start = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    odoo.state.set_clock(start)
    leave_only(odoo, SKU, 2)  # low stock: what the channels show is 0
    materialize(resources, tags=range_tags(CHANNELS))
    identity = {n: store.read(("inventory", "product_identity"), n) for n in CHANNELS}
    listings = {n: identity[n].filter(pl.col("sku") == SKU)["listing_id"].item() for n in CHANNELS}
    before = shown(SKU, listings)

    sensor_resources = {
        "odoo": OdooResource(url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key),
        "ledger": LedgerResource(url=ledger_url),
    }
    instance = dg.DagsterInstance.ephemeral()
    started = odoo_change_sensor(
        dg.build_sensor_context(instance=instance, resources=sensor_resources)
    )
    # Odoo's clock at the wall clock's (after the first publish): the change's write_date
    changed_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
    odoo.state.set_clock(max(start + timedelta(seconds=10), changed_at))
    odoo.state.move_stock(SKU, "MAIN/Stock", 60)  # a receipt: back in stock
    result = odoo_change_sensor(
        dg.build_sensor_context(
            instance=instance, cursor=started.cursor, resources=sensor_resources
        )
    )
    [request] = result.run_requests  # low stock before the change: the fast path
    assert request.run_config["resources"]["sku_scope"]["config"]["skus"] == [SKU]

    fast = materialize(
        resources,
        selection=CHANGED_SKUS_SELECTION,
        run_config=request.run_config,
        tags=request.tags,
    )
    assert fast.success
    canonical, allocation = sku_rows(store)
    main = canonical.filter(pl.col("warehouse") == "MAIN")
    assert main["on_hand"].item() == main["available"].item() == 62
    after = shown(SKU, listings)
    targets = dict(allocation.select("channel", "publishable").iter_rows())
    assert after == targets  # every channel shows what the allocation says now
    assert after != before and any(q for q in after.values())
    # the change-to-acknowledgement latency of the updates that carried the change
    [fast_published] = [
        m for m in fast.get_asset_materialization_events() if m.asset_key == dg.AssetKey(PUBLISHED)
    ][:1]
    latency = {k: v.value for k, v in fast_published.materialization.metadata.items()}
    changed_listings = sum(1 for name in CHANNELS if after[name] != before[name])
    assert latency["change_to_ack_count"] >= changed_listings >= 1
    assert 0 <= latency["change_to_ack_p50_s"] <= latency["change_to_ack_p95_s"] < 120

    # a full refresh gives the same rows for the SKU and has nothing left to send anywhere
    full = materialize(resources, tags=range_tags(CHANNELS))
    full_canonical, full_allocation = sku_rows(store)
    assert full_canonical.equals(canonical)
    # (each run stamps when it read the ledger)
    assert full_allocation.drop("ledger_read_at").equals(allocation.drop("ledger_read_at"))
    assert full_allocation["ledger_read_at"].min() > allocation["ledger_read_at"].min()
    published = next(
        m for m in full.get_asset_materialization_events() if m.asset_key == dg.AssetKey(PUBLISHED)
    )  # one per channel partition, each with every channel's figures
    figures = published.materialization.metadata["channels"].value
    assert {name: figures[name]["sent"] for name in CHANNELS} == dict.fromkeys(CHANNELS, 0)
    assert published.materialization.metadata["change_to_ack_count"].value == 0  # nothing sent
    assert shown(SKU, listings) == after
