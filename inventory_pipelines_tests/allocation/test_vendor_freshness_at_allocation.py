"""A vendor partition nobody refreshed goes stale at allocation time: the allocation judges
each vendor's feed age against its `freshness_hours` when it allocates, not only when the
feed was last read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.inventory.allocation import VENDOR_STOCK, supply_inputs
from inventory_pipelines.rules import load_policy

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def rows(as_of: datetime, fresh: bool = True) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "vendor": ["bright-dropship"] * 2,
            "sku": ["SKU-000001", "SKU-000002"],
            "vendor_code": ["BDS 000001", "BDS 000002"],
            "feed_quantity": [11.0, 6.0],
            "quantity": [10.0, 5.0],
            "fresh": [fresh, fresh],
            "as_of": [as_of, as_of],
            "lead_time_days": [2, 2],
            "source": ["http://127.0.0.1:8095/feeds/bright-dropship.csv"] * 2,
            "reason": [None, None],
        },
        schema_overrides={"as_of": pl.Datetime("us", "UTC"), "reason": pl.Utf8},
    )


def test_a_feed_read_long_ago_counts_zero_when_allocated(tmp_path) -> None:
    policy = load_policy()
    hours = policy.vendors.get("bright-dropship").freshness_hours
    store = TableStore(tmp_path)
    store.write(VENDOR_STOCK, rows(NOW - timedelta(hours=hours + 1)), "bright-dropship")
    stock, _ = supply_inputs(store, policy, None, NOW)
    assert stock["fresh"].to_list() == [False, False]
    assert stock["quantity"].to_list() == [0.0, 0.0]
    assert all(f"older than {hours:g} h when allocated" in r for r in stock["reason"])


def test_a_feed_within_its_limit_is_left_as_read(tmp_path) -> None:
    policy = load_policy()
    store = TableStore(tmp_path)
    store.write(VENDOR_STOCK, rows(NOW - timedelta(hours=1)), "bright-dropship")
    stock, _ = supply_inputs(store, policy, ["SKU-000002"], NOW)
    assert stock.select("sku", "quantity", "fresh").rows() == [("SKU-000002", 5.0, True)]
