"""When a supplier feed was true, from what its source says and what it does not: a feed
without Last-Modified is current while its source vouches for it (and stale once it stops),
and was written after the last confirmation of the body it replaced (which is when drop-ship
units reserved before it may show in it); a server sending only an ETag keeps the feed fresh
with its 304s; times without an offset are read in the feed's time zone and a time ahead of
the feed is cut to it; two runs of one feed at once leave the newer feed in use."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import httpx
import polars as pl
import pytest

from inventory_pipelines.allocation.supply import dropship_pending
from inventory_pipelines.ledger import feeds as ledger_feeds
from inventory_pipelines.rules.feeds import FeedColumns
from inventory_pipelines.supply import feeds as supply_feeds
from inventory_pipelines.supply.feeds import PARSES_KEY, read_feed
from inventory_pipelines.supply.schemas import VendorStockSchema
from inventory_pipelines.supply.vendors import vendor_stock
from inventory_pipelines_tests.supply.conftest import CATALOG, vendor_rule

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def no_sleep(_: float) -> None:
    """Retries without waiting."""


def read(vendors, engine, store, supplierinfo, at: datetime, **feed):
    """Read `acme` over HTTP at `at` (the emulator's own clock stamps Last-Modified)."""
    vendor = vendor_rule({"kind": "http", "url": vendors.feed_url("acme"), **feed})
    got = read_feed(
        "vendor:acme", vendor.feed, engine=engine, store=store, now=at, environ={}, sleep=no_sleep
    )
    stock, _ = vendor_stock(got, supplierinfo, vendor, now=at)
    VendorStockSchema.validate(stock)
    return got, stock


def test_a_feed_without_last_modified_is_current_while_served_and_stale_once_it_stops(
    vendors, engine, store, supplierinfo
):
    vendors.state.set_validators("acme", "none")
    first, stock = read(vendors, engine, store, supplierinfo, T0)
    assert (first.status, first.feed_as_of, first.written_after) == (200, T0, None)
    # the same body served again 20 h later: confirmed, not a new body
    again, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=20))
    assert again.status == 200 and again.from_cache
    assert again.feed_as_of == T0 + timedelta(hours=20) and again.fetched_at == T0
    assert vendors.served_counts() == {200: 2} and len(store.partitions(PARSES_KEY)) == 1
    # the source stops answering: current as of its last confirmation, then stale
    vendors.faults.set_outage("503")
    down, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=40))
    assert down.from_cache and stock["fresh"].all() and (stock["quantity"] > 0).any()
    down, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=45))
    assert down.feed_as_of == T0 + timedelta(hours=20)
    assert not stock["fresh"].any() and (stock["quantity"] == 0).all()


def test_a_server_sending_only_an_etag_keeps_an_unchanged_feed_fresh_with_its_304s(
    vendors, engine, store, supplierinfo
):
    vendors.state.set_validators("acme", "etag")
    read(vendors, engine, store, supplierinfo, T0)
    later, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=30))
    assert later.status == 304 and later.feed_as_of == T0 + timedelta(hours=30)
    assert stock["fresh"].all() and (stock["quantity"] > 0).any()
    with engine.connect() as conn:
        good = ledger_feeds.get(conn, "vendor:acme").good
    assert good.confirmed_at == T0 + timedelta(hours=30) and good.fetched_at == T0


def test_a_changed_body_without_last_modified_holds_drop_ship_units_reserved_before_it(
    vendors, engine, store, supplierinfo
):
    """The new body was written after the old one was last confirmed (09:00), no sooner: a
    drop-ship unit reserved at 09:30 may not be in it although it was read at 10:00."""
    vendors.state.set_validators("acme", "none")
    _, first = read(vendors, engine, store, supplierinfo, T0)
    read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=1))  # confirmed at 09:00
    vendors.state.set_quantity("acme", "AC-001", 99)
    new, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=2))
    assert new.status == 200 and not new.from_cache
    assert new.written_after == T0 + timedelta(hours=1) and new.feed_as_of == T0 + timedelta(
        hours=2
    )
    assert (stock["written_at"] == T0 + timedelta(hours=1)).all()
    pending = pl.DataFrame(
        {
            "sku": ["SKU-001", "SKU-001"],
            "units": [2.0, 5.0],
            "reserved_at": [T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)],
        }
    )
    # 08:30 is in the new body's figure; 09:30 may not be: it still counts
    assert dropship_pending(pending, stock).rows() == [("SKU-001", 5.0)]
    # the first body (written when, unknown): both count
    assert first["written_at"].is_null().all()
    assert dropship_pending(pending, first).rows() == [("SKU-001", 7.0)]


def test_times_without_an_offset_are_read_in_the_feeds_time_zone(
    engine, store, supplierinfo, tmp_path
):
    """A row stamped 24.5 h ago in Berlin's wall clock is stale; read as UTC it would not be.
    A row stamped ahead of the file is true as of the file at the latest."""
    at = datetime.now(UTC).replace(microsecond=0)
    berlin = pytest.importorskip("zoneinfo").ZoneInfo("Europe/Berlin")
    old = (at - timedelta(hours=24, minutes=30)).astimezone(berlin).strftime("%Y-%m-%d %H:%M:%S")
    ahead = (at + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = (at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    drop = tmp_path / "drop"
    drop.mkdir()
    lines = [
        "code,quantity,updated_at",
        f"AC-001,5,{old}",
        f"AC-002,6,{ahead}",
        f"AC-003,7,{fresh}",
    ]
    (drop / "acme.csv").write_text("\n".join(lines) + "\n")
    written = at - timedelta(minutes=10)
    os.utime(drop / "acme.csv", (written.timestamp(), written.timestamp()))
    columns = FeedColumns(updated_at="updated_at", timezone="Europe/Berlin").model_dump()
    vendor = vendor_rule({"kind": "folder", "path": str(drop), "columns": columns})
    got = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at)
    stock, _ = vendor_stock(got, supplierinfo, vendor, now=at)
    rows = {r["vendor_code"]: r for r in stock.iter_rows(named=True)}
    assert rows["AC-001"]["fresh"] is False and rows["AC-001"]["quantity"] == 0
    assert rows["AC-001"]["as_of"] == at - timedelta(hours=24, minutes=30)
    assert rows["AC-002"]["as_of"] == written and rows["AC-002"]["fresh"]
    assert rows["AC-003"]["quantity"] == 7


def test_an_unknown_time_zone_is_refused_by_the_rules():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        FeedColumns(timezone="Mars/Olympus")


def test_an_older_run_finishing_after_a_newer_one_leaves_the_newer_feed_in_use(
    vendors, engine, store, supplierinfo, monkeypatch
):
    """Run A reads the ledger, then run B (started later) fetches and records a new body
    while A is still fetching; A's body arrives last but A started first: the ledger keeps
    B's, A returns B's, and B's parse is never pruned."""
    read(vendors, engine, store, supplierinfo, T0)
    fetch = supply_feeds.fetch
    done = []

    def b_runs_while_a_fetches(*args, **kwargs):
        if not done:
            done.append(True)
            vendors.state.set_quantity("acme", "AC-001", 50)
            b, _ = read(vendors, engine, store, supplierinfo, T0 + timedelta(minutes=10))
            done.append(b)
            vendors.state.set_quantity("acme", "AC-001", 70)
        return fetch(*args, **kwargs)

    monkeypatch.setattr(supply_feeds, "fetch", b_runs_while_a_fetches)
    a, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(minutes=5))
    b = done[1]
    assert a.parsed.equals(b.parsed) and a.fetched_at == b.fetched_at
    assert stock.filter(pl.col("sku") == "SKU-001")["feed_quantity"].to_list() == [50.0]
    with engine.connect() as conn:
        good = ledger_feeds.get(conn, "vendor:acme").good
    assert good.fetched_at == T0 + timedelta(minutes=10)
    assert store.read(PARSES_KEY, good.cache_key).equals(b.parsed)


def test_a_last_modified_ahead_of_our_clock_is_cut_to_the_read(
    vendors, engine, store, supplierinfo
):
    """The emulator stamps Last-Modified with its clock (today); read as of T0 (yesterday),
    the feed is no fresher than the moment it was read."""
    got, _ = read(vendors, engine, store, supplierinfo, T0)
    assert got.feed_as_of == T0 and got.written_after == T0


def test_a_cached_copy_is_vouched_for_as_of_its_age(engine, store, supplierinfo):
    """A CDN answering from its cache says how old its copy is (Age): the vendor vouched for
    the body that long before, not now; and we ask it to revalidate (no-cache)."""
    body = "code,quantity\n" + "".join(f"{code},5\n" for code, _, _ in CATALOG)
    asked = []

    def cdn(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("cache-control"))
        return httpx.Response(200, content=body.encode(), headers={"Age": "7200"})

    vendor = vendor_rule({"kind": "http", "url": "http://127.0.0.1:1/feeds/acme.csv"})
    got = read_feed(
        "vendor:acme",
        vendor.feed,
        engine=engine,
        store=store,
        now=T0,
        transport=httpx.MockTransport(cdn),
        environ={},
    )
    assert asked == ["no-cache"]
    assert got.feed_as_of == T0 - timedelta(hours=2)


def test_a_parse_lost_and_the_same_body_fetched_again_keeps_when_it_was_written(
    vendors, engine, store, supplierinfo
):
    vendors.state.set_validators("acme", "none")
    read(vendors, engine, store, supplierinfo, T0)
    vendors.state.set_quantity("acme", "AC-001", 42)
    changed, _ = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=1))
    assert changed.written_after == T0
    for key in store.partitions(PARSES_KEY):
        store.path(PARSES_KEY, key).unlink()
    again, stock = read(vendors, engine, store, supplierinfo, T0 + timedelta(hours=2))
    assert again.written_after == T0 and again.fetched_at == T0 + timedelta(hours=1)
    assert again.feed_as_of == T0 + timedelta(hours=2)
    assert stock.filter(pl.col("sku") == "SKU-001")["feed_quantity"].to_list() == [42.0]
    assert len(store.partitions(PARSES_KEY)) == 1


def test_a_sku_two_vendors_supply_counts_while_either_feed_may_not_show_the_unit():
    """One vendor's feed was written after the reservation, the other's writing time is
    unknown: the unit may be missing from the second, so it counts on."""
    stock = pl.DataFrame(
        {
            "vendor": ["a", "b"],
            "sku": ["S", "S"],
            "quantity": [5.0, 5.0],
            "fresh": [True, True],
            "as_of": [T0 + timedelta(hours=2)] * 2,
            "written_at": [T0 + timedelta(hours=2), None],
        },
        schema_overrides={"written_at": pl.Datetime("us", "UTC")},
    )
    pending = pl.DataFrame(
        {"sku": ["S"], "units": [3.0], "reserved_at": [T0]},
        schema_overrides={"reserved_at": pl.Datetime("us", "UTC")},
    )
    assert dropship_pending(pending, stock).rows() == [("S", 3.0)]
    assert dropship_pending(pending, stock.filter(pl.col("vendor") == "a")).rows() == []
