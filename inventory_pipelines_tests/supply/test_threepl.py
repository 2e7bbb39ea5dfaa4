"""3PL warehouses: their feed read by our SKUs, what `stock_source` does to the canonical
stock, and the drift between Odoo's books and the 3PL's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from inventory_pipelines.inventory.canonical import CANONICAL_SCHEMA
from inventory_pipelines.inventory.schemas import CanonicalInventorySchema
from inventory_pipelines.reconciliation.threepl import ThreeplDriftSchema, threepl_drift
from inventory_pipelines.rules.warehouses import Warehouse, WarehouseRules
from inventory_pipelines.supply.feeds import read_feed, threepl_feed
from inventory_pipelines.supply.model import FeedRead
from inventory_pipelines.supply.parse import PARSED_SCHEMA
from inventory_pipelines.supply.schemas import SupplyQuarantineSchema, ThreeplStockSchema
from inventory_pipelines.supply.threepl import (
    SHIPMENTS_SCHEMA,
    apply_threepl_stock,
    shipments,
    threepl_stock,
)
from inventory_pipelines_tests.supply.conftest import now

AS_OF = datetime(2026, 12, 1, 6, tzinfo=UTC)


def parsed_row(code: str, quantity: str) -> pl.DataFrame:
    """A parsed feed of one CSV row, `code,quantity` (`PARSED_SCHEMA`)."""
    return pl.DataFrame(
        [{"line": 2, "code": code, "quantity": quantity, "raw": f"{code},{quantity}"}],
        schema=PARSED_SCHEMA,
    )


def products(*skus: str) -> pl.DataFrame:
    """`odoo/products` rows for `skus` (a SKU given twice is two products)."""
    return pl.DataFrame(
        {
            "product_id": list(range(1, len(skus) + 1)),
            "sku": list(skus),
            "base_uom": ["Units"] * len(skus),
        }
    )


def warehouse(code: str = "WEST", source: str = "odoo", url: str = "http://127.0.0.1/x.csv"):
    return Warehouse.model_validate(
        {
            "code": code,
            "stock_source": source,
            "feed": {"kind": "http", "url": url, "columns": {"updated_at": "updated_at"}},
        }
    )


def canonical(*rows: tuple[str, str, float, float]) -> pl.DataFrame:
    """Canonical rows (sku, warehouse, on_hand, reserved)."""
    return pl.DataFrame(
        [
            {
                "sku": sku,
                "warehouse": wh,
                "product_id": int(sku.split("-")[1]),
                "on_hand": on_hand,
                "reserved": reserved,
                "quality_hold": 0.0,
                "in_transit": 0.0,
                "available": max(0.0, on_hand - reserved),
                "uom": "Units",
                "as_of": AS_OF,
            }
            for sku, wh, on_hand, reserved in rows
        ],
        schema=CANONICAL_SCHEMA,
    )


def threepl(code: str, *rows: tuple[str, float], fresh: bool = True) -> pl.DataFrame:
    """`supply/threepl_stock` rows of warehouse `code`: (sku, what the 3PL says)."""
    return pl.DataFrame(
        [
            {
                "warehouse": code,
                "sku": sku,
                "product_id": int(sku.split("-")[1]),
                "feed_quantity": q,
                "quantity": q if fresh else 0.0,
                "fresh": fresh,
                "as_of": AS_OF,
                "written_at": AS_OF,
                "uom": "Units",
            }
            for sku, q in rows
        ]
    )


def test_a_3pl_feed_is_matched_by_our_skus_and_what_odoo_lacks_is_quarantined(
    vendors, engine, store
):
    vendors.state.add_feed("west", [("SKU-1", 10), ("SKU-2", 4), ("NOPE-9", 3), ("SKU-3", 1)])
    vendors.state.set_dirt("west", negative=1)
    wh = warehouse(url=vendors.feed_url("west"))
    at = now()
    read = read_feed(threepl_feed("WEST"), wh.feed, engine=engine, store=store, now=at)
    stock, quarantine = threepl_stock(read, products("SKU-1", "SKU-2", "SKU-3"), wh, now=at)
    ThreeplStockSchema.validate(stock)
    SupplyQuarantineSchema.validate(quarantine)
    assert sorted(quarantine["reason"]) == ["negative_quantity", "unknown_sku"]
    unknown = quarantine.filter(pl.col("reason") == "unknown_sku").row(0, named=True)
    assert unknown["code"] == "NOPE-9" and unknown["warehouse"] == "WEST"
    assert "3PL feeds use our SKUs" in unknown["detail"]
    assert stock["warehouse"].unique().to_list() == ["WEST"]
    assert stock.height == 2 and (stock["quantity"] == stock["feed_quantity"]).all()


def test_a_sku_odoo_holds_twice_is_not_guessed():
    parsed = parsed_row("SKU-1", "5")
    read = FeedRead("threepl:WEST", "x", parsed, 200, now(), now())
    stock, quarantine = threepl_stock(read, products("SKU-1", "SKU-1"), warehouse(), now=now())
    assert stock.height == 0 and quarantine["reason"].to_list() == ["ambiguous_code"]


def test_a_stale_3pl_feed_counts_zero_and_says_so(vendors, engine, store):
    vendors.state.add_feed("west", [("SKU-1", 10)])
    vendors.state.set_dirt("west", stale_hours=30)
    wh = warehouse(url=vendors.feed_url("west"))
    at = now()
    read = read_feed(threepl_feed("WEST"), wh.feed, engine=engine, store=store, now=at)
    stock, _ = threepl_stock(read, products("SKU-1"), wh, now=at)
    row = stock.row(0, named=True)
    assert (row["feed_quantity"], row["quantity"], row["fresh"]) == (10.0, 0.0, False)
    assert "warehouses.yml freshness_hours of WEST" in row["reason"]


RULES = WarehouseRules(
    warehouses=(
        Warehouse(code="MAIN"),
        warehouse("WEST", "feed"),
        warehouse("EAST", "both", "http://127.0.0.1/east.csv"),
    )
)


def applied(canon: pl.DataFrame, feeds: pl.DataFrame) -> dict[tuple[str, str], dict]:
    result = apply_threepl_stock(canon, feeds, RULES)
    CanonicalInventorySchema.validate(result)
    return {(r["sku"], r["warehouse"]): r for r in result.iter_rows(named=True)}


def test_stock_source_odoo_leaves_the_warehouse_as_odoo_sees_it():
    rows = applied(canonical(("SKU-1", "MAIN", 8, 2)), threepl("MAIN", ("SKU-1", 50)))
    assert rows[("SKU-1", "MAIN")]["on_hand"] == 8 and rows[("SKU-1", "MAIN")]["available"] == 6


def test_stock_source_feed_takes_the_3pls_count_less_odoos_reservations():
    rows = applied(
        canonical(("SKU-1", "WEST", 8, 2), ("SKU-2", "WEST", 5, 0)),
        threepl("WEST", ("SKU-1", 20), ("SKU-3", 7)),
    )
    assert (rows[("SKU-1", "WEST")]["on_hand"], rows[("SKU-1", "WEST")]["available"]) == (20, 18)
    assert rows[("SKU-1", "WEST")]["odoo_on_hand"] == 8
    # Odoo holds it, the 3PL lists nothing: nothing to sell
    assert rows[("SKU-2", "WEST")]["available"] == 0
    # only the 3PL holds it: it gets a row, with the product and unit from the feed
    assert rows[("SKU-3", "WEST")]["available"] == 7 and rows[("SKU-3", "WEST")]["product_id"] == 3


def test_stock_source_feed_counts_zero_while_the_3pls_feed_is_stale():
    rows = applied(canonical(("SKU-1", "WEST", 8, 0)), threepl("WEST", ("SKU-1", 20), fresh=False))
    assert rows[("SKU-1", "WEST")]["available"] == 0


def test_stock_source_both_sells_only_what_both_books_see():
    rows = applied(
        canonical(("SKU-1", "EAST", 8, 1), ("SKU-2", "EAST", 3, 0)),
        threepl("EAST", ("SKU-1", 5), ("SKU-2", 9), ("SKU-4", 6)),
    )
    assert (rows[("SKU-1", "EAST")]["on_hand"], rows[("SKU-1", "EAST")]["available"]) == (5, 4)
    assert rows[("SKU-2", "EAST")]["on_hand"] == 3
    assert ("SKU-4", "EAST") not in rows  # Odoo has none: the lower of the two is 0


def test_applying_twice_gives_the_same_stock():
    canon = canonical(("SKU-1", "WEST", 8, 2), ("SKU-1", "MAIN", 1, 0))
    feeds = threepl("WEST", ("SKU-1", 20))
    once = apply_threepl_stock(canon, feeds, RULES)
    assert apply_threepl_stock(once, feeds, RULES).equals(once)


def test_the_3pl_drift_names_each_gap_with_its_cause():
    drift = threepl_drift(
        canonical(("SKU-1", "WEST", 8, 0), ("SKU-2", "WEST", 5, 0), ("SKU-5", "WEST", 4, 0)),
        threepl("WEST", ("SKU-1", 11), ("SKU-3", 2), ("SKU-5", 4)),
        ["WEST"],
        now=now(),
    )
    ThreeplDriftSchema.validate(drift)
    got = {
        r["sku"]: (r["odoo_on_hand"], r["threepl_quantity"], r["difference"])
        for r in drift.iter_rows(named=True)
    }
    assert got == {"SKU-1": (8, 11, 3), "SKU-2": (5, 0, -5), "SKU-3": (0, 2, 2)}
    assert set(drift["cause"]) == {"threepl_mismatch"}
    assert "not list it" in drift.filter(pl.col("sku") == "SKU-2")["detail"][0]


def test_the_3pl_drift_reads_odoos_own_figure_after_the_feed_replaced_it():
    canon = canonical(("SKU-1", "WEST", 8, 0))
    feeds = threepl("WEST", ("SKU-1", 11))
    drift = threepl_drift(apply_threepl_stock(canon, feeds, RULES), feeds, ["WEST"], now=now())
    assert drift["difference"].to_list() == [3]


def test_a_warehouse_not_compared_has_no_drift():
    drift = threepl_drift(
        canonical(("SKU-1", "WEST", 8, 0)), threepl("WEST", ("SKU-1", 1)), [], now=now()
    )
    assert drift.height == 0


def test_the_drift_schema_refuses_a_difference_that_is_not_the_gap():
    drift = threepl_drift(
        canonical(("SKU-1", "WEST", 8, 0)), threepl("WEST", ("SKU-1", 11)), ["WEST"], now=now()
    ).with_columns(difference=pl.lit(1.0))
    with pytest.raises(Exception, match="difference must be threepl_quantity - odoo_on_hand"):
        ThreeplDriftSchema.validate(drift)


def test_the_canonical_build_counts_a_3pl_feed_older_than_its_limit_as_zero(
    tmp_path, monkeypatch
) -> None:
    """A 3PL partition its schedule stopped reading: the canonical asset judges its age when it
    builds, so `stock_source: feed` does not keep selling the last figures for ever."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.defs.inventory import assets as canonical_assets
    from inventory_pipelines.defs.shared import THREEPL_STOCK
    from inventory_pipelines.rules.warehouses import StockSource
    from inventory_pipelines.supply.threepl import THREEPL_STOCK_SCHEMA

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    policy = canonical_assets.POLICY
    west = policy.warehouses.get("WEST").model_copy(update={"stock_source": StockSource.FEED})
    warehouses = policy.warehouses.model_copy(
        update={
            "warehouses": [west if w.code == "WEST" else w for w in policy.warehouses.warehouses]
        }
    )
    monkeypatch.setattr(canonical_assets, "POLICY", replace(policy, warehouses=warehouses))
    store = TableStore(tmp_path)
    rows = [
        ("WEST", "SKU-1", 1, 9.0, 9.0, True, now - timedelta(hours=west.freshness_hours + 1)),
        ("WEST", "SKU-2", 2, 4.0, 4.0, True, now - timedelta(hours=1)),
    ]
    frame = pl.DataFrame(
        [(*r, r[-1], "Units", "feed", None) for r in rows],
        schema=THREEPL_STOCK_SCHEMA,
        orient="row",
    )
    store.write(THREEPL_STOCK, frame, "WEST")
    products = pl.DataFrame({"sku": ["SKU-1", "SKU-2"]})
    read = canonical_assets._threepl_stock(store, products, now)
    assert west.freshness_hours == 24
    assert read.select("sku", "quantity", "fresh").sort("sku").rows() == [
        ("SKU-1", 0.0, False),
        ("SKU-2", 4.0, True),
    ]


def shipped(*rows: tuple[str, str, float, datetime]) -> pl.DataFrame:
    """What left the warehouses: (sku, warehouse, quantity, when)."""
    return pl.DataFrame(
        [{"warehouse": wh, "sku": sku, "quantity": q, "date": at} for sku, wh, q, at in rows],
        schema=SHIPMENTS_SCHEMA,
    )


def test_what_the_3pl_shipped_after_its_feed_was_written_is_not_sold_again():
    """The feed (written at AS_OF) still counts a unit shipped after it, and Odoo no longer
    reserves it: taken off. One shipped before the feed is in its figure already."""
    canon = canonical(("SKU-1", "WEST", 8, 0), ("SKU-2", "WEST", 5, 0), ("SKU-1", "EAST", 9, 0))
    feeds = pl.concat([threepl("WEST", ("SKU-1", 20), ("SKU-2", 1)), threepl("EAST", ("SKU-1", 6))])
    gone = shipped(
        ("SKU-1", "WEST", 3.0, AS_OF + timedelta(minutes=20)),
        ("SKU-1", "WEST", 4.0, AS_OF - timedelta(minutes=20)),  # in the feed's figure
        ("SKU-2", "WEST", 2.0, AS_OF + timedelta(minutes=5)),  # more than the feed: 0
        ("SKU-1", "EAST", 2.0, AS_OF + timedelta(minutes=5)),
    )
    result = apply_threepl_stock(canon, feeds, RULES, gone)
    rows = {(r["sku"], r["warehouse"]): r for r in result.iter_rows(named=True)}
    assert rows[("SKU-1", "WEST")]["available"] == 17
    assert rows[("SKU-2", "WEST")]["available"] == 0
    # both: the lower of Odoo's 9 and the 3PL's 6 less the 2 shipped since its feed
    assert rows[("SKU-1", "EAST")]["available"] == 4
    # without the shipments, the old figures
    before = applied(canon, feeds)
    assert before[("SKU-1", "WEST")]["available"] == 20


def test_shipments_are_the_done_moves_out_of_a_feed_warehouse():
    locations = pl.DataFrame(
        {
            "location_id": [1, 2, 3, 4],
            "warehouse_code": ["WEST", "WEST", "MAIN", None],
            "usage": ["internal", "internal", "internal", "customer"],
        }
    )
    at = AS_OF + timedelta(hours=1)
    moves = pl.DataFrame(
        {
            "move_id": [1, 2, 3, 4, 5],
            "sku": ["SKU-1"] * 5,
            "quantity": [2.0, 5.0, 7.0, 1.0, 9.0],
            "location_id": [1, 1, 1, 3, 4],
            "location_dest_id": [4, 2, 3, 4, 1],
            "state": ["done"] * 5,
            "date": [at] * 5,
            "source_usage": ["internal", "internal", "internal", "internal", "customer"],
        }
    )
    # to a customer (2) and to another warehouse (7) left WEST; a shelf move inside WEST (5),
    # MAIN's delivery (1) and a return into WEST (9) did not
    out = shipments(moves, locations, ["WEST"])
    assert sorted(out["quantity"].to_list()) == [2.0, 7.0]
    assert set(out["warehouse"]) == {"WEST"}


def test_the_canonical_build_reads_the_shipments_of_its_feed_warehouses(tmp_path, monkeypatch):
    """`odoo/stock_moves` as last read, for this run's SKUs, out of the feed warehouses."""
    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.defs.inventory import assets as canonical_assets
    from inventory_pipelines.defs.shared import STOCK_MOVES

    store = TableStore(tmp_path)
    monkeypatch.setattr(canonical_assets, "FEED_WAREHOUSES", ["WEST"])
    locations = pl.DataFrame(
        {"location_id": [1, 9], "warehouse_code": ["WEST", None], "usage": ["internal", "customer"]}
    )
    assert canonical_assets._shipped(store, products("SKU-1"), locations) is None  # never read
    moves = pl.DataFrame(
        {
            "move_id": [1, 2],
            "product_id": [1, 2],
            "sku": ["SKU-1", "SKU-2"],
            "quantity": [3.0, 4.0],
            "location_id": [1, 1],
            "location_dest_id": [9, 9],
            "state": ["done", "done"],
            "date": [AS_OF, AS_OF],
            "source_usage": ["internal", "internal"],
            "destination_usage": ["customer", "customer"],
        }
    )
    store.write(STOCK_MOVES, moves)
    out = canonical_assets._shipped(store, products("SKU-1"), locations)
    assert out.select("warehouse", "sku", "quantity").rows() == [("WEST", "SKU-1", 3.0)]


def test_a_partition_from_before_written_at_takes_off_one_freshness_window_of_shipments():
    """A 3PL partition written before the column existed: its figure may be as old as one
    freshness window (24 h) before its as_of, no older; what shipped since then is taken off,
    not the 90 days of moves Odoo keeps."""
    feeds = threepl("WEST", ("SKU-1", 20)).drop("written_at")
    gone = shipped(
        ("SKU-1", "WEST", 15.0, AS_OF - timedelta(days=40)),
        ("SKU-1", "WEST", 2.0, AS_OF - timedelta(hours=3)),
    )
    result = apply_threepl_stock(canonical(("SKU-1", "WEST", 8, 0)), feeds, RULES, gone)
    assert result.filter(pl.col("warehouse") == "WEST")["available"].to_list() == [18.0]


def test_a_3pl_feed_whose_writing_time_is_unknown_counts_from_a_window_before_its_first_fetch():
    """No Last-Modified and a first body: the 3PL wrote it some time before we read it. What it
    shipped in that time is in neither the file nor Odoo's reservations: taken off."""
    first = AS_OF
    parsed = parsed_row("SKU-1", "20")
    read = FeedRead(
        feed="threepl:WEST",
        source="http://127.0.0.1/x.csv",
        parsed=parsed,
        status=200,
        feed_as_of=first,
        fetched_at=first,
        written_by=first,
        written_after=None,
    )
    stock, _ = threepl_stock(read, products("SKU-1"), warehouse("WEST", "feed"), now=first)
    assert stock["written_at"].to_list() == [first - timedelta(hours=24)]
    gone = shipped(("SKU-1", "WEST", 5.0, first - timedelta(hours=1)))
    result = apply_threepl_stock(canonical(("SKU-1", "WEST", 0, 0)), stock, RULES, gone)
    assert result["available"].to_list() == [15.0]
