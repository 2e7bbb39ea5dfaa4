"""The `inventory/channel_allocation` asset takes the vendors' stock and the incoming purchase
lines from the data plane, against the Odoo sandbox (its confirmed purchase orders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.inventory.allocation import channel_allocation
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.odoo.assets import locations, products, stock_moves, stock_quants
from inventory_pipelines.defs.odoo.supply import incoming_purchases
from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

pytestmark = pytest.mark.slow

ALLOCATION = ("inventory", "channel_allocation")
NUMBERS = [
    "own", "dropship", "incoming", "pool", "pending", "pending_dropship", "net", "allocated",
    "allocated_own", "buffered", "thresholded", "suppressed", "publishable",
]  # fmt: skip


@pytest.fixture(scope="module")
def odoo():
    with OdooSandbox(version=17, skus=200, seed=11, port=0) as sandbox:
        yield sandbox


def run(odoo: OdooSandbox, data: Path, channel: str, skus: list[str] | None = None):
    assets = [
        products, locations, stock_quants, stock_moves, canonical_inventory,
        *build_model_assets(default_rules_dir(), TABLES), incoming_purchases, channel_allocation,
    ]  # fmt: skip
    result = dg.materialize(
        assets,
        resources=sandbox_resources(odoo, data),
        partition_key=channel,
        run_config={"resources": {"sku_scope": {"config": {"skus": skus}}}} if skus else None,
        raise_on_error=False,
    )
    assert result.success
    failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
    assert not failed, [(c.check_name, c.metadata) for c in failed]
    return result


def test_the_allocation_asset_sells_the_vendors_stock_and_incoming_purchases(odoo, tmp_path):
    store = TableStore(tmp_path / "tables")
    run(odoo, tmp_path, "b2b")  # the snapshot, the purchase lines, b2b's allocation
    sellable = store.read(ALLOCATION, "b2b")["sku"].sort().to_list()
    vendor_sku = sellable[3]
    as_of = datetime.now(UTC) - timedelta(hours=5, seconds=90)
    for vendor, quantity in (("bright-dropship", 25.0), ("not-in-vendors-yml", 900.0)):
        store.write(
            ("supply", "vendor_stock"),
            pl.DataFrame(
                {
                    "vendor": [vendor],
                    "sku": [vendor_sku],
                    "feed_quantity": [quantity + 1],
                    "quantity": [quantity],
                    "fresh": [True],
                    "as_of": [as_of],
                },
                schema_overrides={"as_of": pl.Datetime("us", "UTC")},
            ),
            vendor,
        )
    run(odoo, tmp_path, "amazon")
    amazon = store.read(ALLOCATION, "amazon")
    row = amazon.filter(pl.col("sku") == vendor_sku).row(0, named=True)
    assert row["dropship"] == 25  # the undeclared vendor's partition is not read
    assert row["pool"] == row["own"] + 25
    assert row["dropship_sources"].startswith("bright-dropship 25 (26 in the feed")
    assert (amazon.filter(pl.col("sku") != vendor_sku)["dropship"] == 0).all()

    # b2b sells half of what its warehouse (MAIN) expects within 14 days
    lines = store.read(("odoo", "incoming_purchases"))
    now = datetime.now(UTC)
    soon = lines.filter(
        (pl.col("warehouse") == "MAIN")
        & pl.col("date_planned").is_between(now - timedelta(days=13), now + timedelta(days=13))
    )
    assert not soon.is_empty(), "the demo data has purchase lines into MAIN within two weeks"
    line = soon.row(0, named=True)
    b2b = store.read(ALLOCATION, "b2b").filter(pl.col("sku") == line["sku"]).row(0, named=True)
    assert b2b["incoming"] >= (line["quantity"] * 0.5 // 1)
    assert f"{line['purchase_order']} (" in b2b["incoming_sources"]
    assert (amazon["incoming"] == 0).all()  # amazon has no incoming rule

    # a SKU refresh equals the full refresh for its SKUs
    full = amazon.filter(pl.col("sku").is_in([vendor_sku, line["sku"]])).sort("sku")
    run(odoo, tmp_path, "amazon", skus=[vendor_sku, line["sku"]])
    partial = store.read(ALLOCATION, "amazon", skus=[vendor_sku, line["sku"]]).sort("sku")
    assert partial.select(NUMBERS).equals(full.select(NUMBERS))
    assert store.read(ALLOCATION, "amazon").height == amazon.height
