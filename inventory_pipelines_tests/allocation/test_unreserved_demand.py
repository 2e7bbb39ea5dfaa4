"""Units sold ahead of incoming stock are not offered again: Odoo's unreserved deliveries count
as pending (own stock first, then drop-ship, then incoming) once the ledger stops counting the
order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines.defs.inventory.allocation import with_unreserved_demand
from inventory_pipelines.rules import load_policy

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SKU = "SKU-000001"


def ledger_pending(units: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame({"sku": [SKU], "pending": [units], "pending_dropship": [0.0]})


def demand(*rows: tuple[str, str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"sku": pl.Utf8, "warehouse": pl.Utf8, "quantity": pl.Float64}, orient="row"
    ).with_columns(moves=pl.lit(1, pl.Int64))


def b2b_offer(pending: pl.DataFrame) -> dict[str, float]:
    """b2b (50% of what arrives within 14 days) on an empty MAIN with 36 units on their way."""
    incoming = pl.DataFrame(
        {
            "purchase_order": ["P00012"],
            "line_id": [7],
            "vendor": ["Main Supplier Inc"],
            "sku": [SKU],
            "warehouse": ["MAIN"],
            "quantity": [36.0],
            "date_planned": [NOW + timedelta(days=4)],
            "receipt_state": ["assigned"],
        }
    )
    allocation = allocate(
        pl.DataFrame({"sku": [SKU], "warehouse": ["MAIN"], "available": [0.0]}),
        load_policy(now=NOW),
        NOW,
        pending=pending,
        incoming=incoming,
        channels=["b2b"],
    )
    row = allocation.row(0, named=True)
    return {k: row[k] for k in ("incoming", "pending", "net", "allocated")}


def test_odoo_unreserved_deliveries_add_to_the_ledgers_pending_units_per_sku() -> None:
    combined = with_unreserved_demand(
        ledger_pending(2.0), demand((SKU, "MAIN", 5.0), (SKU, "EAST", 1.0), ("SKU-9", "MAIN", 3.0))
    )
    assert dict(combined.select("sku", "pending").iter_rows()) == {SKU: 8.0, "SKU-9": 3.0}
    assert combined["pending_dropship"].to_list() == [0.0, 0.0]
    assert with_unreserved_demand(ledger_pending(2.0), None).equals(ledger_pending(2.0))


def test_units_sold_ahead_of_incoming_stock_are_not_offered_again() -> None:
    before = b2b_offer(ledger_pending())
    assert before["incoming"] == 18 and before["allocated"] == 18  # 50% of 36
    # 10 units sold ahead: Odoo confirmed the order and reserved nothing (the shelf is empty)
    after = b2b_offer(with_unreserved_demand(ledger_pending(), demand((SKU, "MAIN", 10.0))))
    assert after["pending"] == 10 and after["allocated"] == before["allocated"] - 10
