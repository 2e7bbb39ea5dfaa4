"""`inventory-sync explain` names what stands behind drop-ship and incoming units: the vendor
and its feed's age (or staleness), the purchase order with its planned date and units."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest
from click.testing import CliRunner

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines.cli import main
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.allocation.policies import NOW

SKU = "SKU-000001"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The shipped rules (amazon sells drop-ship, b2b 50% of what arrives within 14 days) on
    a stock of 20 in MAIN, two vendors (one feed stale) and two purchase orders."""
    allocation = allocate(
        pl.DataFrame({"sku": [SKU], "warehouse": ["MAIN"], "available": [20.0]}),
        load_policy(now=NOW),
        NOW,
        pending=pl.DataFrame({"sku": [SKU], "pending": [0.0], "pending_dropship": [4.0]}),
        vendor_stock=pl.DataFrame(
            {
                "vendor": ["bright-dropship", "slow-vendor"],
                "sku": [SKU, SKU],
                "feed_quantity": [31.0, 50.0],
                "quantity": [30.0, 0.0],
                "fresh": [True, False],
                "as_of": [NOW - timedelta(hours=5), NOW - timedelta(days=2, hours=8)],
            }
        ),
        incoming=pl.DataFrame(
            {
                "purchase_order": ["P00012", "P00031"],
                "line_id": [7, 9],
                "vendor": ["Main Supplier Inc", "Nordwind Industrial GmbH"],
                "sku": [SKU, SKU],
                "warehouse": ["MAIN", "MAIN"],
                "quantity": [24.0, 12.0],
                "date_planned": [NOW + timedelta(days=4), NOW + timedelta(days=11)],
                "receipt_state": ["assigned", "assigned"],
            }
        ),
    )
    store = TableStore(tmp_path)
    for channel in ("amazon", "b2b"):
        store.write(
            ("inventory", "channel_allocation"),
            allocation.filter(pl.col("channel") == channel).with_columns(
                pl.col("channel").cast(pl.Utf8)
            ),
            channel,
        )
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    return tmp_path


def explain(channel: str, *flags: str) -> str:
    result = CliRunner().invoke(main, ["explain", "--channel", channel, "--sku", SKU, *flags])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_trace_names_the_vendor_behind_drop_ship_units_and_its_feeds_age(data_dir):
    trace = json.loads(explain("amazon", "--json"))
    assert {s: trace[s]["value"] for s in ("own", "dropship", "incoming", "pool")} == {
        "own": 20.0,
        "dropship": 30.0,
        "incoming": 0.0,
        "pool": 50.0,
    }
    assert trace["dropship"]["vendors"] == (
        "bright-dropship 30 (31 in the feed less the vendor's buffer, feed of 2026-11-27 "
        "07:00 UTC, 5.0 h old); slow-vendor 0 (feed stale, feed of 2026-11-25 04:00 UTC, "
        "2.3 d old)"
    )
    # 4 units already ordered on the drop-ship route count against the vendors only
    assert trace["pending"] == {
        "value": 4.0,
        "rule": trace["pending"]["rule"],
        "dropship": 4.0,
    }
    assert trace["net"]["value"] == 46.0

    text = explain("amazon")
    assert "vendor bright-dropship 30 (31 in the feed less the vendor's buffer" in text
    assert "vendor slow-vendor 0 (feed stale, feed of 2026-11-25 04:00 UTC, 2.3 d old)" in text
    assert "of which 4 ordered on the drop-ship route" in text


def test_the_trace_names_the_purchase_orders_behind_incoming_units(data_dir):
    trace = json.loads(explain("b2b", "--json"))
    assert (trace["own"]["value"], trace["incoming"]["value"]) == (20.0, 18.0)  # 50% of 36
    assert trace["incoming"]["purchase_orders"] == (
        "50% of 36 units: "
        "P00012 (Main Supplier Inc) 24 into MAIN planned 2026-12-01 12:00 UTC; "
        "P00031 (Nordwind Industrial GmbH) 12 into MAIN planned 2026-12-08 12:00 UTC"
    )
    assert trace["dropship"]["vendors"] is None  # b2b sells no drop-ship
    lines = explain("b2b").splitlines()
    start = next(n for n, line in enumerate(lines) if line.split()[0] == "incoming")
    assert [line.strip() for line in lines[start + 1 : start + 4]] == [
        "50% of 36 units:",
        "purchase order P00012 (Main Supplier Inc) 24 into MAIN planned 2026-12-01 12:00 UTC",
        "purchase order P00031 (Nordwind Industrial GmbH) 12 into MAIN planned "
        "2026-12-08 12:00 UTC",
    ]
    assert lines[start + 4].split()[0] == "pool"


def test_a_row_written_before_the_pool_had_sources_is_still_explained(data_dir):
    store = TableStore(data_dir)
    key = ("inventory", "channel_allocation")
    old = store.read(key, "b2b").drop(
        "own", "dropship", "incoming", "own_rule", "dropship_rule", "incoming_rule",
        "dropship_sources", "incoming_sources", "pending_dropship", "allocated_own",
    )  # fmt: skip
    store.write(key, old, "b2b")
    trace = json.loads(explain("b2b", "--json"))
    assert list(trace)[:2] == ["pool", "pending"]
