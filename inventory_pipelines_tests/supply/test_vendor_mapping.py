"""Mapping a vendor's codes to our SKUs through supplierinfo, as Odoo ranks it (pure)."""

from __future__ import annotations

import polars as pl

from inventory_pipelines.supply.model import FeedRead
from inventory_pipelines.supply.parse import PARSED_SCHEMA
from inventory_pipelines.supply.vendors import vendor_stock
from inventory_pipelines_tests.supply.conftest import PARTNER, now, vendor_rule

FEED = {"kind": "http", "url": "http://127.0.0.1/acme.csv"}


def feed(*rows: tuple[str, str]) -> FeedRead:
    """A feed read just now with (code, quantity) rows."""
    parsed = pl.DataFrame(
        [
            {"line": i, "code": c, "quantity": q, "updated_at": None, "raw": f"{c},{q}"}
            for i, (c, q) in enumerate(rows, start=2)
        ],
        schema={k: v for k, v in PARSED_SCHEMA.items() if k != "defect"},
    ).with_columns(defect=pl.lit(None, pl.Utf8))
    return FeedRead("vendor:acme", "http://127.0.0.1/acme.csv", parsed, 200, now(), now())


def supplierinfo(*rows: tuple) -> pl.DataFrame:
    """(vendor, code, sku, product_id, delay_days, sequence) rows."""
    return pl.DataFrame(
        [
            {
                "vendor_id": 1,
                "vendor": v,
                "vendor_code": c,
                "sku": s,
                "product_id": p,
                "min_qty": 0.0,
                "delay_days": d,
                "sequence": q,
            }
            for v, c, s, p, d, q in rows
        ],
        schema={
            "vendor_id": pl.Int64,
            "vendor": pl.Utf8,
            "vendor_code": pl.Utf8,
            "sku": pl.Utf8,
            "product_id": pl.Int64,
            "min_qty": pl.Float64,
            "delay_days": pl.Int64,
            "sequence": pl.Int64,
        },
    )


def test_price_breaks_of_one_product_are_one_code_with_the_first_ranked_delay():
    info = supplierinfo(
        (PARTNER, "A-1", "SKU-1", 1, 9, 2),
        (PARTNER, "A-1", "SKU-1", 1, 4, 1),
    )
    stock, quarantine = vendor_stock(feed(("A-1", "7")), info, vendor_rule(FEED), now=now())
    assert quarantine.height == 0
    assert stock.select("sku", "quantity", "lead_time_days").rows() == [("SKU-1", 7.0, 4)]


def test_a_code_on_a_template_of_several_variants_is_ambiguous():
    info = supplierinfo((PARTNER, "T-1", None, None, 3, 1), (PARTNER, "A-2", "SKU-2", 2, 3, 1))
    _, quarantine = vendor_stock(
        feed(("T-1", "5"), ("A-2", "1")), info, vendor_rule(FEED), now=now()
    )
    (row,) = quarantine.to_dicts()
    assert row["reason"] == "ambiguous_code" and "a template of several variants" in row["detail"]


def test_another_vendors_codes_do_not_map_this_vendors_feed():
    info = supplierinfo(("Someone Else", "A-1", "SKU-1", 1, 3, 1))
    stock, quarantine = vendor_stock(feed(("A-1", "5")), info, vendor_rule(FEED), now=now())
    assert stock.height == 0
    (row,) = quarantine.to_dicts()
    assert row["reason"] == "unknown_code"
    assert "Odoo has no product.supplierinfo with a product code for the partner" in row["detail"]


def test_a_product_with_two_codes_maps_whichever_one_the_feed_lists():
    info = supplierinfo((PARTNER, "OLD-1", "SKU-1", 1, 3, 1), (PARTNER, "NEW-1", "SKU-1", 1, 3, 2))
    stock, quarantine = vendor_stock(feed(("NEW-1", "6")), info, vendor_rule(FEED), now=now())
    assert quarantine.height == 0
    assert stock.select("sku", "vendor_code", "quantity").rows() == [("SKU-1", "NEW-1", 6.0)]


def test_a_percentage_buffer_is_held_back_from_what_the_vendor_reports():
    info = supplierinfo((PARTNER, "A-1", "SKU-1", 1, 0, 1))
    vendor = vendor_rule(FEED, buffer={"percent": 25})
    stock, _ = vendor_stock(feed(("A-1", "8")), info, vendor, now=now())
    assert stock.select("feed_quantity", "quantity").rows() == [(8.0, 6.0)]


def test_a_sku_the_feed_does_not_list_counts_zero_and_says_so():
    info = supplierinfo((PARTNER, "A-1", "SKU-1", 1, 0, 1), (PARTNER, "A-2", "SKU-2", 2, 0, 1))
    stock, _ = vendor_stock(feed(("A-1", "8")), info, vendor_rule(FEED), now=now())
    absent = stock.filter(pl.col("sku") == "SKU-2").row(0, named=True)
    assert (absent["quantity"], absent["reason"]) == (0.0, "not in the feed")


def test_codes_are_compared_without_surrounding_spaces():
    info = supplierinfo((PARTNER, " A-1 ", "SKU-1", 1, 0, 1))
    stock, quarantine = vendor_stock(feed(("A-1  ", " 3 ")), info, vendor_rule(FEED), now=now())
    assert quarantine.height == 0 and stock["quantity"].to_list() == [3.0]
