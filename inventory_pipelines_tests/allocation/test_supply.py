"""Supply beyond the shelf in the allocation: drop-ship vendors' stock and incoming purchases.

The trace gains `own`, `dropship` and `incoming` before `pool` (own first); drop-ship stock is
seen only by channels with `dropship: true`, incoming stock only by channels with an
`incoming` rule, within its window; neither is fenced.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory_pipelines.allocation.engine import allocate, fence_sales_frame
from inventory_pipelines.allocation.supply import SupplyFrameError, dropship_pending
from inventory_pipelines.inventory.schemas import ring_fence_breaches
from inventory_pipelines_tests.allocation.policies import NOW, channel_configs, make_policy

SKU = "SKU-1"


def channel(name: str, warehouses=("MAIN",), allocation=None, **extra) -> dict:
    return {
        "name": name,
        "kind": "generic",
        "warehouses": [{"code": w} for w in warehouses],
        "allocation": allocation or {"mode": "shared"},
        **extra,
    }


def stock(**by_warehouse: float) -> pl.DataFrame:
    """Canonical inventory of SKU-1 (and SKU-2 with 5 in MAIN, a bystander)."""
    return pl.DataFrame(
        {
            "sku": [SKU] * len(by_warehouse) + ["SKU-2"],
            "warehouse": [*by_warehouse, "MAIN"],
            "available": [float(v) for v in by_warehouse.values()] + [5.0],
        }
    )


def vendor_stock(*rows: tuple[str, str, float, bool, timedelta]) -> pl.DataFrame:
    """(vendor, sku, quantity, fresh, age) rows of supply/vendor_stock."""
    return pl.DataFrame(
        {
            "vendor": [r[0] for r in rows],
            "sku": [r[1] for r in rows],
            "quantity": [r[2] for r in rows],
            "fresh": [r[3] for r in rows],
            "as_of": [NOW - r[4] for r in rows],
            "feed_quantity": [r[2] + 1 if r[3] else 40.0 for r in rows],
            "lead_time_days": [2] * len(rows),
            "source": ["http://feeds/x.csv"] * len(rows),
        }
    )


def purchases(*rows: tuple[str, str, str, float, timedelta], state: str = "assigned"):
    """(purchase order, sku, warehouse, units, planned after NOW) rows of incoming_purchases."""
    return pl.DataFrame(
        {
            "purchase_order": [r[0] for r in rows],
            "line_id": list(range(1, len(rows) + 1)),
            "vendor": ["Main Supplier Inc"] * len(rows),
            "sku": [r[1] for r in rows],
            "warehouse": [r[2] for r in rows],
            "quantity": [r[3] for r in rows],
            "date_planned": [NOW + r[4] for r in rows],
            "receipt_state": [state] * len(rows),
        }
    )


def row(frame: pl.DataFrame, name: str, sku: str = SKU) -> dict:
    return frame.filter((pl.col("channel") == name) & (pl.col("sku") == sku)).row(0, named=True)


DROPSHIP_POLICY = make_policy(
    [channel("web", dropship=True), channel("pos")],
)


def test_vendor_stock_is_a_step_after_own_for_drop_ship_channels_only():
    frame = allocate(
        stock(MAIN=10),
        DROPSHIP_POLICY,
        NOW,
        vendor_stock=vendor_stock(("acme", SKU, 25.0, True, timedelta(hours=3))),
    )
    web, pos = row(frame, "web"), row(frame, "pos")
    assert (web["own"], web["dropship"], web["incoming"], web["pool"]) == (10, 25, 0, 35)
    assert (web["net"], web["allocated"], web["publishable"]) == (35, 35, 35)
    assert (pos["own"], pos["dropship"], pos["pool"], pos["publishable"]) == (10, 0, 10, 10)
    assert web["pool_rule"] == "own then drop-ship, in this order of priority"
    assert web["dropship_rule"].startswith("channels.yml: web.dropship true")
    assert pos["dropship_rule"] == "channels.yml: pos.dropship false: no drop-ship stock"
    assert web["dropship_sources"] == (
        "acme 25 (26 in the feed less the vendor's buffer, feed of 2026-11-27 09:00 UTC, 3.0 h old)"
    )
    assert pos["dropship_sources"] is None


def test_a_stale_vendor_feed_contributes_zero_and_says_so():
    frame = allocate(
        stock(MAIN=4),
        DROPSHIP_POLICY,
        NOW,
        vendor_stock=vendor_stock(
            ("acme", SKU, 25.0, False, timedelta(days=3)),
            ("bolt", SKU, 6.0, True, timedelta(minutes=20)),
        ),
    )
    web = row(frame, "web")
    assert (web["dropship"], web["pool"], web["publishable"]) == (6, 10, 10)
    assert web["dropship_sources"] == (
        "acme 0 (feed stale, feed of 2026-11-24 12:00 UTC, 3.0 d old); "
        "bolt 6 (7 in the feed less the vendor's buffer, feed of 2026-11-27 11:40 UTC, "
        "20 min old)"
    )


def test_a_stale_feed_counts_zero_even_if_its_quantity_was_not_zeroed():
    stale = vendor_stock(("acme", SKU, 25.0, False, timedelta(days=3)))
    frame = allocate(stock(MAIN=0), DROPSHIP_POLICY, NOW, vendor_stock=stale)
    assert row(frame, "web")["dropship"] == 0


INCOMING_POLICY = make_policy(
    [
        channel("b2b", incoming={"within_days": 14, "percent": 50}),
        channel("web"),
        channel("east", warehouses=("EAST",), incoming={"within_days": 14, "percent": 100}),
    ]
)


def incoming_on(day: int, lines: pl.DataFrame) -> dict[str, float]:
    """The incoming units each channel sees `day` days after NOW, the lines unchanged."""
    now = NOW + timedelta(days=day)
    frame = allocate(stock(MAIN=3), INCOMING_POLICY, now, incoming=lines)
    return {c: row(frame, c)["incoming"] for c in ("b2b", "web", "east")}


def test_an_incoming_window_opens_and_closes_over_simulated_days():
    """P00012 plans 41 units into MAIN for day 20: b2b (within 14 days, 50%) sees 20 of them
    from day 6 to day 34, and nothing before or after; web (no rule) never does."""
    lines = purchases(("P00012", SKU, "MAIN", 41.0, timedelta(days=20)))
    seen = {day: incoming_on(day, lines) for day in (0, 5, 6, 20, 34, 35, 40)}
    assert {day: s["b2b"] for day, s in seen.items()} == {
        0: 0, 5: 0, 6: 20, 20: 20, 34: 20, 35: 0, 40: 0
    }  # fmt: skip
    assert all(s["web"] == 0 for s in seen.values())
    assert all(s["east"] == 0 for s in seen.values())  # bound for MAIN, not EAST


def test_received_or_cancelled_lines_bring_nothing():
    for state in ("done", "cancel"):
        lines = purchases(("P00012", SKU, "MAIN", 40.0, timedelta(days=2)), state=state)
        assert incoming_on(0, lines)["b2b"] == 0


def test_incoming_units_are_a_step_after_own_and_name_their_purchase_orders():
    lines = purchases(
        ("P00013", SKU, "MAIN", 12.0, timedelta(days=9)),
        ("P00012", SKU, "MAIN", 30.0, timedelta(days=3)),
        ("P00014", SKU, "MAIN", 99.0, timedelta(days=30)),  # outside the window
        ("P00015", SKU, "EAST", 10.0, timedelta(days=1)),  # not b2b's warehouse
    )
    frame = allocate(stock(MAIN=3), INCOMING_POLICY, NOW, incoming=lines)
    b2b = row(frame, "b2b")
    assert (b2b["own"], b2b["incoming"], b2b["pool"], b2b["publishable"]) == (3, 21, 24, 24)
    assert b2b["incoming_sources"] == (
        "50% of 42 units: "
        "P00012 (Main Supplier Inc) 30 into MAIN planned 2026-11-30 12:00 UTC; "
        "P00013 (Main Supplier Inc) 12 into MAIN planned 2026-12-06 12:00 UTC"
    )
    assert b2b["incoming_rule"].startswith("channels.yml: b2b.incoming 50% of the units")
    assert row(frame, "web")["incoming_rule"] == (
        "channels.yml: web.incoming not set: no incoming stock"
    )
    assert row(frame, "east")["incoming"] == 10


def test_pending_units_own_stock_does_not_cover_come_out_of_drop_ship_then_incoming():
    policy = make_policy(
        [channel("all", dropship=True, incoming={"within_days": 10, "percent": 100})]
    )
    supply = {
        "vendor_stock": vendor_stock(("acme", SKU, 5.0, True, timedelta(hours=1))),
        "incoming": purchases(("P00001", SKU, "MAIN", 8.0, timedelta(days=2))),
    }
    nets = {}
    for waiting in (0, 3, 6, 12, 20):
        pending = pl.DataFrame({"sku": [SKU], "pending": [float(waiting)]})
        got = row(allocate(stock(MAIN=4), policy, NOW, pending=pending, **supply), "all")
        nets[waiting] = got["net"]
        assert got["pool"] == 17
        assert got["net"] == max(0, 17 - waiting)  # max(0, pool - pending) while it can
    assert nets == {0: 17, 3: 14, 6: 11, 12: 5, 20: 0}


def test_units_ordered_on_the_drop_ship_route_count_against_the_vendor_not_the_shelf():
    pending = pl.DataFrame({"sku": [SKU], "pending": [0.0], "pending_dropship": [30.0]})
    frame = allocate(
        stock(MAIN=10),
        DROPSHIP_POLICY,
        NOW,
        pending=pending,
        vendor_stock=vendor_stock(("acme", SKU, 25.0, True, timedelta(hours=3))),
    )
    web, pos = row(frame, "web"), row(frame, "pos")
    # more drop-ship pending than the vendor shows: drop-ship is 0, own stock untouched
    assert (web["pending"], web["pending_dropship"], web["net"]) == (30, 30, 10)
    assert (pos["pending"], pos["net"]) == (0, 10)


FENCED = make_policy(
    [
        channel("amazon", allocation={"mode": "percent", "percent": 50}, dropship=True),
        channel(
            "b2b",
            allocation={"mode": "percent", "percent": 30},
            incoming={"within_days": 7, "percent": 100},
        ),
        channel("pos", allocation={"mode": "cap", "cap": 10}),
        channel("web"),
    ]
)
FENCED_SUPPLY = {
    "vendor_stock": vendor_stock(("acme", SKU, 40.0, True, timedelta(hours=1))),
    "incoming": purchases(("P00002", SKU, "MAIN", 30.0, timedelta(days=1))),
}


def test_drop_ship_and_incoming_units_come_on_top_of_a_fence_and_no_fence_holds_them():
    frame = allocate(stock(MAIN=100), FENCED, NOW, **FENCED_SUPPLY)
    amazon, b2b, pos = row(frame, "amazon"), row(frame, "b2b"), row(frame, "pos")
    assert (amazon["allocated_own"], amazon["dropship"], amazon["allocated"]) == (50, 40, 90)
    assert (b2b["allocated_own"], b2b["incoming"], b2b["allocated"]) == (30, 30, 60)
    assert (pos["allocated_own"], pos["allocated"]) == (10, 10)
    assert row(frame, "web")["allocated"] == 100 + 0  # shared: no drop-ship, no incoming rule
    fenced = frame.filter(pl.col("ring_fenced"))
    # together they publish more than the shelf holds (the vendor's and the incoming units),
    # never more of the shelf than it holds: the ring-fence check passes
    assert fenced["publishable_units"].sum() > fenced["fence_pool"].max()
    assert fenced["allocated_own"].sum() <= 100
    assert ring_fence_breaches(frame).is_empty()


def test_a_fenced_channel_offered_more_than_its_fence_and_its_unfenced_units_is_a_breach():
    frame = allocate(stock(MAIN=100), FENCED, NOW, **FENCED_SUPPLY)
    # b2b may publish its fence (30) and the incoming units (30), not 20 more
    inflated = frame.with_columns(
        publishable_units=pl.when((pl.col("channel") == "b2b") & (pl.col("sku") == SKU))
        .then(pl.col("allocated") + 20)
        .otherwise(pl.col("publishable_units"))
    )
    assert ring_fence_breaches(inflated)["sku"].to_list() == [SKU]


def own_allocations(frame: pl.DataFrame) -> dict[str, float]:
    mine = frame.filter(pl.col("sku") == SKU)
    return {str(c): v for c, v in mine.select("channel", "allocated_own").iter_rows()}


def test_a_drop_ship_sale_moves_no_fence():
    def fences(pending_dropship: float) -> dict[str, float]:
        pending = pl.DataFrame(
            {"sku": [SKU], "pending": [0.0], "pending_dropship": [pending_dropship]}
        )
        return own_allocations(
            allocate(stock(MAIN=100), FENCED, NOW, pending=pending, **FENCED_SUPPLY)
        )

    assert fences(0) == fences(15) == {"amazon": 50, "b2b": 30, "pos": 10, "web": 100}
    # the same units sold from the shelf consume amazon's fence and only amazon's
    pending = pl.DataFrame({"sku": [SKU], "pending": [15.0]})
    sold = fence_sales_frame({("amazon", SKU): 15})
    frame = allocate(stock(MAIN=100), FENCED, NOW, pending=pending, sales=sold, **FENCED_SUPPLY)
    assert own_allocations(frame) == {
        "amazon": 35, "b2b": 30, "pos": 10, "web": 85
    }  # fmt: skip


def test_a_sku_refresh_equals_a_full_refresh_for_its_skus_with_supply():
    canonical = pl.DataFrame(
        {
            "sku": [f"SKU-{n}" for n in range(8)],
            "warehouse": ["MAIN"] * 8,
            "available": [float(n * 7 % 11) for n in range(8)],
        }
    )
    vendors = vendor_stock(
        *[("acme", f"SKU-{n}", float(n), n % 3 != 0, timedelta(hours=n)) for n in range(8)]
    )
    lines = purchases(
        *[(f"P{n:05d}", f"SKU-{n % 8}", "MAIN", 9.0, timedelta(days=n)) for n in range(12)]
    )
    pending = pl.DataFrame(
        {"sku": ["SKU-1", "SKU-4"], "pending": [2.0, 30.0], "pending_dropship": [1.0, 2.0]}
    )
    sales = fence_sales_frame({("amazon", "SKU-4"): 3})
    args = {"vendor_stock": vendors, "incoming": lines, "pending": pending, "sales": sales}
    full = allocate(canonical, FENCED, NOW, **args)
    subset = pl.DataFrame({"sku": ["SKU-1", "SKU-4", "SKU-6"]})
    part = allocate(canonical, FENCED, NOW, skus=subset, **args)
    expected = full.filter(pl.col("sku").is_in(subset["sku"].to_list())).sort("channel", "sku")
    assert part.sort("channel", "sku").equals(expected)


def test_a_drop_ship_warehouse_of_warehouses_yml_still_counts_as_drop_ship():
    policy = make_policy(
        [
            channel("web", dropship=True),
            channel("pos", allocation={"mode": "percent", "percent": 50}),
        ],
        dropship_warehouses=("VENDOR1",),
    )
    frame = allocate(stock(MAIN=10, VENDOR1=7), policy, NOW)
    web, pos = row(frame, "web"), row(frame, "pos")
    assert (web["own"], web["dropship"], web["pool"], web["publishable"]) == (10, 7, 17, 17)
    assert web["dropship_sources"] == "drop-ship warehouse VENDOR1 7"
    assert "drop-ship warehouses VENDOR1" in web["dropship_rule"]
    assert (pos["dropship"], pos["pool"], pos["fence_pool"]) == (0, 10, 10)


def test_without_supply_frames_the_supply_steps_are_zero_and_say_why():
    frame = allocate(stock(MAIN=10), FENCED, NOW)
    for name in ("amazon", "b2b", "pos", "web"):
        got = row(frame, name)
        assert (got["dropship"], got["incoming"], got["pool"]) == (0, 0, 10)
        assert got["allocated"] == got["allocated_own"]


def test_a_supply_table_without_a_needed_column_is_a_clear_error():
    broken = vendor_stock(("acme", SKU, 5.0, True, timedelta(hours=1))).drop("fresh")
    with pytest.raises(SupplyFrameError, match=r"supply/vendor_stock lacks column\(s\) fresh;"):
        allocate(stock(MAIN=1), DROPSHIP_POLICY, NOW, vendor_stock=broken)


def test_drop_ship_units_stay_pending_until_every_fresh_feed_of_their_sku_is_newer():
    feeds = vendor_stock(
        ("acme", "A", 5.0, True, timedelta(hours=1)),  # feed of 11:00
        ("bolt", "A", 5.0, True, timedelta(hours=4)),  # feed of 08:00
        ("acme", "B", 5.0, True, timedelta(hours=1)),
        ("bolt", "B", 5.0, False, timedelta(days=4)),  # stale: not waited for
    )
    rows = pl.DataFrame(
        {
            "sku": ["A", "A", "B", "B", "C"],
            "units": [2.0, 3.0, 4.0, 1.0, 6.0],
            "reserved_at": [
                NOW - timedelta(hours=6),  # before both of A's feeds: shown there
                NOW - timedelta(hours=2),  # after bolt's feed of 08:00: still pending
                NOW - timedelta(hours=2),  # before acme's feed of 11:00 (bolt is stale)
                None,  # not in Odoo yet
                NOW - timedelta(days=9),  # no feed for C at all
            ],
        }
    )
    got = dict(dropship_pending(rows, feeds).iter_rows())
    assert got == {"A": 3.0, "B": 1.0, "C": 6.0}


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channel_configs(),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.lists(st.sampled_from([None, 25, 50, 100]), min_size=5, max_size=5),
    st.lists(st.integers(0, 200).map(float), min_size=3, max_size=3),
    st.integers(0, 80).map(float),
    st.integers(0, 120).map(float),
    st.integers(0, 300).map(float),
    st.integers(0, 60).map(float),
)
def test_with_any_supply_no_channel_is_offered_more_than_its_pool_nor_the_shelf_twice(
    channels, dropship, incoming, shelves, vendor, arriving, waiting, waiting_dropship
):
    for config, ds, share in zip(channels, dropship, incoming, strict=False):
        config["dropship"] = ds
        if share is not None:
            config["incoming"] = {"within_days": 7, "percent": share}
    canonical = pl.DataFrame(
        {"sku": [SKU] * 3, "warehouse": ["MAIN", "EAST", "WEST"], "available": shelves}
    )
    frame = allocate(
        canonical,
        make_policy(channels),
        NOW,
        pending=pl.DataFrame(
            {"sku": [SKU], "pending": [waiting], "pending_dropship": [waiting_dropship]}
        ),
        vendor_stock=vendor_stock(("acme", SKU, vendor, True, timedelta(hours=1))),
        incoming=purchases(("P00001", SKU, "MAIN", arriving, timedelta(days=2))),
    )
    assert (frame["pool"] == frame["own"] + frame["dropship"] + frame["incoming"]).all()
    assert (frame["net"] <= frame["pool"] + 1e-6).all()
    assert (frame["allocated"] <= frame["net"] + 1e-6).all()
    assert (frame["allocated_own"] <= frame["own"] + 1e-6).all()
    assert (frame["publishable_units"] <= frame["pool"] + 1e-6).all()
    assert ring_fence_breaches(frame).is_empty()
