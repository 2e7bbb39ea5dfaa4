"""Vendor feeds read from the emulator over HTTP: every kind of dirt quarantined with its
reason, stale feeds publishing zero with the reason, conditional fetches reusing the last
good parse, failures falling back to it, credentials from the environment only."""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta

import polars as pl
import pytest

from inventory_pipelines.ledger import feeds as ledger_feeds
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.supply.feeds import PARSES_KEY, read_feed
from inventory_pipelines.supply.schemas import SupplyQuarantineSchema, VendorStockSchema
from inventory_pipelines.supply.vendors import vendor_stock
from inventory_pipelines_tests.supply.conftest import (
    CATALOG,
    ROWS,
    now,
    supplierinfo_frame,
    vendor_rule,
)

DATED = {"updated_at": "updated_at"}


def no_sleep(_: float) -> None:
    """Retries without waiting."""


def run(vendors, engine, store, supplierinfo, *, format="csv", at=None, environ=None, **settings):
    """Read `acme` from the emulator and compute its stock: (read, stock, quarantine)."""
    feed = {"kind": "http", "url": vendors.feed_url("acme", format), "format": format}
    feed.update(settings.pop("feed", {}))
    vendor = vendor_rule(feed, **settings)
    at = at or now()
    read = read_feed(
        "vendor:acme",
        vendor.feed,
        engine=engine,
        store=store,
        now=at,
        environ=environ or {},
        sleep=no_sleep,
    )
    stock, quarantine = vendor_stock(read, supplierinfo, vendor, now=at)
    VendorStockSchema.validate(stock)
    SupplyQuarantineSchema.validate(quarantine)
    return read, stock, quarantine


def reasons(quarantine: pl.DataFrame) -> dict[str, int]:
    return dict(Counter(quarantine["reason"].to_list()))


def test_a_clean_feed_maps_every_code_to_its_sku_with_buffer_and_lead_time(
    vendors, engine, store, supplierinfo
):
    read, stock, quarantine = run(
        vendors,
        engine,
        store,
        supplierinfo,
        buffer={"units": 2},
        lead_time_days=5,
        feed={"columns": DATED},
    )
    assert read.status == 200 and quarantine.height == 0
    expected = {sku: max(0.0, n * 3.0 - 2) for _, sku, n in CATALOG}
    assert dict(stock.select("sku", "quantity").iter_rows()) == expected
    assert stock["fresh"].all() and stock["reason"].null_count() == stock.height
    assert set(stock["lead_time_days"]) == {5}  # the rules' 5 days over the supplierinfo's 2
    assert set(stock["source"]) == {vendors.feed_url("acme")}


@pytest.mark.parametrize(
    ("format", "dirt", "expected", "skus_hit"),
    [
        ("csv", {"missing_codes": 2}, {"unknown_code": 2, "missing_code": 1}, 0),
        ("csv", {"negative": 3}, {"negative_quantity": 3}, 3),
        ("csv", {"unparsable": 2}, {"unparsable_quantity": 2}, 2),
        ("csv", {"duplicates": 2}, {"duplicate_code": 4}, 2),
        ("csv", {"truncated": True}, {"truncated_line": 1}, 1),
        (
            "json",
            {"negative": 1, "unparsable": 1},
            {"negative_quantity": 1, "unparsable_quantity": 1},
            2,
        ),
        (
            "json",
            {"missing_codes": 1, "duplicates": 1},
            {"unknown_code": 1, "missing_code": 1, "duplicate_code": 2},
            1,
        ),
    ],
    ids=[
        "missing-codes",
        "negative",
        "unparsable",
        "duplicates",
        "truncated-csv",
        "json-numbers",
        "json-codes",
    ],
)
def test_each_kind_of_dirt_is_quarantined_with_its_reason_and_the_row(
    vendors, engine, store, supplierinfo, format, dirt, expected, skus_hit
):
    vendors.state.set_dirt("acme", **dirt)
    _, stock, quarantine = run(vendors, engine, store, supplierinfo, format=format)
    assert reasons(quarantine) == expected
    assert quarantine["raw"].str.len_chars().min() > 0
    assert quarantine["detail"].null_count() == 0 and quarantine["feed"].unique().to_list() == [
        "vendor:acme"
    ]
    # the SKUs behind quarantined codes count 0 and say why; the others keep the feed's figure
    hit = stock.filter(pl.col("reason").str.starts_with("quarantined"))
    assert hit.height == skus_hit and (hit["quantity"] == 0).all()
    kept = stock.filter(pl.col("reason").is_null())
    assert kept.height + hit.height == len(CATALOG)
    assert (kept["quantity"] == kept["feed_quantity"]).all()


def test_a_duplicated_code_keeps_none_of_its_rows(vendors, engine, store, supplierinfo):
    vendors.state.set_rows("acme", [*ROWS, ("AC-004", 99.0)])
    _, stock, quarantine = run(vendors, engine, store, supplierinfo)
    assert sorted(quarantine["quantity"].to_list()) == [12.0, 99.0]
    assert set(quarantine["detail"]) == {
        "code AC-004 appears 2 times in the feed: none of its rows is used"
    }
    row = stock.filter(pl.col("sku") == "SKU-004").row(0, named=True)
    assert row["quantity"] == 0 and row["reason"] == "quarantined (duplicate_code)"


def test_a_feed_in_another_encoding_than_declared_loses_only_the_rows_it_cannot_decode(
    vendors, engine, store
):
    catalog = [*CATALOG, ("ÉCROU-M8", "SKU-NUT", 99)]
    vendors.state.set_rows("acme", [*ROWS, ("ÉCROU-M8", 40)])
    vendors.state.set_dirt("acme", encoding="cp1252")
    _, stock, quarantine = run(vendors, engine, store, supplierinfo_frame(catalog))
    assert reasons(quarantine) == {"undecodable": 1}
    assert "declare the feed's encoding" in quarantine["detail"][0]
    assert stock.filter(pl.col("sku") == "SKU-NUT")["quantity"].to_list() == [0.0]


def test_a_feed_in_its_declared_encoding_is_decoded_and_mapped(vendors, engine, store):
    catalog = [*CATALOG, ("ÉCROU-M8", "SKU-NUT", 99)]
    vendors.state.set_rows("acme", [*ROWS, ("ÉCROU-M8", 40)])
    vendors.state.set_dirt("acme", encoding="cp1252")
    _, stock, quarantine = run(
        vendors, engine, store, supplierinfo_frame(catalog), feed={"encoding": "cp1252"}
    )
    assert quarantine.height == 0
    assert stock.filter(pl.col("sku") == "SKU-NUT")["quantity"].to_list() == [40.0]


@pytest.mark.parametrize("dated", [False, True], ids=["by-last-modified", "by-updated-at"])
def test_a_stale_feed_publishes_zero_for_every_sku_and_says_so(
    vendors, engine, store, supplierinfo, dated
):
    vendors.state.set_dirt("acme", stale_hours=30)
    feed = {"columns": DATED} if dated else {}
    read, stock, quarantine = run(
        vendors, engine, store, supplierinfo, freshness_hours=24, feed=feed
    )
    assert read.status == 200 and quarantine.height == 0
    assert stock.height == len(CATALOG)
    assert (stock["quantity"] == 0).all() and not stock["fresh"].any()
    assert (stock["feed_quantity"] > 0).any()  # what the vendor said is kept beside the zero
    assert stock["reason"].str.contains(r"^stale: true as of .*older than 24 h").all()


def test_a_feed_the_server_keeps_confirming_still_goes_stale_by_its_own_date(
    vendors, engine, store, supplierinfo
):
    first, stock, _ = run(vendors, engine, store, supplierinfo)
    assert first.status == 200 and stock["fresh"].all()
    later, stock, _ = run(vendors, engine, store, supplierinfo, at=now() + timedelta(hours=30))
    assert later.status == 304
    assert (stock["quantity"] == 0).all() and stock["reason"].str.starts_with("stale").all()


def test_a_row_older_than_the_limit_counts_zero_while_the_others_count(
    engine, store, supplierinfo, tmp_path
):
    at = now()
    fresh = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (at - timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")  # no offset: UTC
    rows = [f"{code},{q:g},{old if code == 'AC-002' else fresh}" for code, q in ROWS]
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "acme.csv").write_text("code,quantity,updated_at\n" + "\n".join(rows) + "\n")
    vendor = vendor_rule({"kind": "folder", "path": str(drop), "columns": DATED})
    read = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at)
    stock, _ = vendor_stock(read, supplierinfo, vendor, now=at)
    stale = stock.filter(~pl.col("fresh"))
    assert stale["vendor_code"].to_list() == ["AC-002"] and stale["quantity"].to_list() == [0.0]
    assert stale["reason"][0].startswith("stale: true as of")
    assert (stock.filter(pl.col("fresh"))["quantity"] > 0).all()


def test_a_304_reuses_the_last_good_parse_from_the_data_plane(vendors, engine, store, supplierinfo):
    first, stock_1, _ = run(vendors, engine, store, supplierinfo)
    second, stock_2, _ = run(vendors, engine, store, supplierinfo)
    assert (first.status, second.status) == (200, 304)
    assert second.from_cache and vendors.served_counts() == {200: 1, 304: 1}
    assert second.parsed.equals(first.parsed)
    assert stock_2.drop("as_of").equals(stock_1.drop("as_of"))
    assert len(store.partitions(PARSES_KEY)) == 1
    with engine.connect() as conn:
        record = ledger_feeds.get(conn, "vendor:acme")
    assert record.last_status == 304 and record.good.etag
    assert record.good.rows == len(ROWS) and record.good.fetched_at == first.fetched_at


def test_a_changed_feed_is_read_again_and_only_two_parses_are_kept(
    vendors, engine, store, supplierinfo
):
    run(vendors, engine, store, supplierinfo)
    for quantity in (50, 60, 70):
        vendors.state.set_quantity("acme", "AC-001", quantity)
        read, stock, _ = run(vendors, engine, store, supplierinfo)
        assert read.status == 200 and not read.from_cache
        assert stock.filter(pl.col("sku") == "SKU-001")["quantity"].to_list() == [quantity]
    assert len(store.partitions(PARSES_KEY)) == 2


def test_a_parse_lost_from_the_data_plane_is_fetched_whole_again(
    vendors, engine, store, supplierinfo
):
    run(vendors, engine, store, supplierinfo)
    for key in store.partitions(PARSES_KEY):
        store.path(PARSES_KEY, key).unlink()
    read, stock, _ = run(vendors, engine, store, supplierinfo)
    assert read.status == 200 and stock["quantity"].sum() > 0
    assert vendors.served_counts() == {200: 2}


def test_an_outage_keeps_the_last_good_parse_and_records_the_failure(
    vendors, engine, store, supplierinfo
):
    _, before, _ = run(vendors, engine, store, supplierinfo)
    vendors.faults.set_outage("503")
    read, stock, _ = run(vendors, engine, store, supplierinfo)
    assert read.status == 503 and read.from_cache
    assert read.problem.reason == "http_error"
    assert stock.drop("as_of").equals(before.drop("as_of"))
    with engine.connect() as conn:
        record = ledger_feeds.get(conn, "vendor:acme")
    assert record.last_status == 503 and "HTTP 503" in record.last_error


def test_a_truncated_json_feed_is_quarantined_whole_and_the_last_good_parse_kept(
    vendors, engine, store, supplierinfo
):
    _, before, _ = run(vendors, engine, store, supplierinfo, format="json")
    vendors.state.set_dirt("acme", truncated=True)
    read, stock, quarantine = run(vendors, engine, store, supplierinfo, format="json")
    assert read.status == 200 and read.from_cache
    assert reasons(quarantine) == {"truncated_feed": 1}
    assert quarantine["raw"][0] and "cut off" in quarantine["detail"][0]
    assert stock["quantity"].sum() == before["quantity"].sum()


def test_with_no_feed_ever_read_every_sku_counts_zero_with_the_reason(
    vendors, engine, store, supplierinfo
):
    vendors.state.set_dirt("acme", truncated=True)
    read, stock, quarantine = run(vendors, engine, store, supplierinfo, format="json")
    assert read.parsed is None
    assert stock.height == len(CATALOG) and (stock["quantity"] == 0).all()
    assert stock["reason"].str.starts_with("no usable feed: truncated_feed").all()
    assert reasons(quarantine) == {"truncated_feed": 1}


def test_an_unreachable_feed_counts_zero_and_names_the_feed_without_its_query(
    engine, store, supplierinfo
):
    vendor = vendor_rule({"kind": "http", "url": "http://127.0.0.1:9/acme.csv?batch=abc123"})
    at = now()
    read = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at, sleep=no_sleep)
    stock, _ = vendor_stock(read, supplierinfo, vendor, now=at)
    assert read.status == 0 and read.problem.reason == "unreachable"
    assert "http://127.0.0.1:9/acme.csv" in read.problem.detail
    assert "abc123" not in read.problem.detail and "abc123" not in read.source
    assert (stock["quantity"] == 0).all()


def test_the_credential_comes_from_the_named_variable_and_is_stored_nowhere(
    vendors, engine, store, supplierinfo
):
    vendors.state.add_feed("acme", ROWS, token="tok-42")
    secret = {"INVENTORY_TEST_ACME_AUTH": "Bearer tok-42"}
    feed = {"auth_header_env": "INVENTORY_TEST_ACME_AUTH"}
    missing, _, _ = run(vendors, engine, store, supplierinfo, feed=feed)
    assert missing.status == 0 and missing.problem.reason == "not_configured"
    assert "INVENTORY_TEST_ACME_AUTH" in missing.problem.detail
    wrong, _, _ = run(
        vendors,
        engine,
        store,
        supplierinfo,
        feed=feed,
        environ={"INVENTORY_TEST_ACME_AUTH": "Bearer nope"},
    )
    assert wrong.status == 401
    read, stock, _ = run(vendors, engine, store, supplierinfo, feed=feed, environ=secret)
    assert read.status == 200 and stock["quantity"].sum() > 0
    with engine.connect() as conn:
        stored = repr(ledger_feeds.all_feeds(conn))
    assert "tok-42" not in stored and "tok-42" not in repr(read)


def test_the_local_environment_refuses_a_feed_off_this_machine(
    engine, store, supplierinfo, monkeypatch
):
    monkeypatch.setenv("INVENTORY_ENV", "local")
    vendor = vendor_rule({"kind": "http", "url": "https://feeds.example.com/acme.csv"})
    read = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=now())
    assert read.status == 0 and read.problem.reason == "not_configured"
    assert "feeds.example.com" in read.problem.detail


def test_a_folder_feed_takes_the_newest_file_and_skips_files_being_written(
    vendors, engine, store, supplierinfo, tmp_path
):
    folder = tmp_path / "drop"
    vendors.state.write_folder("acme", folder, file="stock-1.csv")
    vendor = vendor_rule({"kind": "folder", "path": str(folder), "pattern": "stock-*.csv"})

    def read():
        at = now()
        got = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at)
        return got, vendor_stock(got, supplierinfo, vendor, now=at)[0]

    first, stock = read()
    assert (first.status, first.object_name) == (200, "stock-1.csv")
    assert stock["quantity"].sum() == sum(q for _, q in ROWS)
    again, _ = read()
    assert again.status == 304 and again.from_cache
    vendors.state.set_quantity("acme", "AC-001", 500)
    newer = vendors.state.write_folder("acme", folder, file="stock-2.csv")
    (folder / ".stock-3.csv").write_text("code,quantity\nAC-001,1")  # a write in progress
    later = newer.stat().st_mtime + 60
    os.utime(newer, (later, later))
    third, stock = read()
    assert (third.status, third.object_name) == (200, "stock-2.csv")
    assert stock.filter(pl.col("sku") == "SKU-001")["quantity"].to_list() == [500.0]


def test_a_folder_feed_is_stale_by_its_files_modification_time(
    vendors, engine, store, supplierinfo, tmp_path
):
    vendors.state.set_dirt("acme", stale_hours=48)
    vendors.state.write_folder("acme", tmp_path / "drop")
    vendor = vendor_rule({"kind": "folder", "path": str(tmp_path / "drop")}, freshness_hours=24)
    at = now()
    read = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at)
    stock, _ = vendor_stock(read, supplierinfo, vendor, now=at)
    assert (stock["quantity"] == 0).all() and stock["reason"].str.starts_with("stale").all()


def test_an_empty_folder_counts_zero_as_not_found(engine, store, supplierinfo, tmp_path):
    (tmp_path / "drop").mkdir()
    vendor = vendor_rule({"kind": "folder", "path": str(tmp_path / "drop"), "pattern": "*.csv"})
    at = now()
    read = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at)
    stock, _ = vendor_stock(read, supplierinfo, vendor, now=at)
    assert read.status == 404 and read.problem.reason == "not_found"
    assert stock["reason"].str.contains("no file matches").all()


def test_an_s3_prefix_feed_with_the_data_plane_on_s3(vendors, engine, supplierinfo, s3_data_uri):
    import obstore

    from inventory_pipelines.dataplane import TableStore
    from inventory_pipelines.dataplane.objects import s3_store

    bucket = s3_data_uri.removeprefix("s3://").split("/")[0]
    drop = f"s3://{bucket}/vendors/acme"
    obstore.put(s3_store(drop), "stock.csv", vendors.state.render("acme", "csv").body)
    store = TableStore(s3_data_uri)
    vendor = vendor_rule({"kind": "folder", "path": drop, "pattern": "*.csv"})

    def read():
        at = now()
        got = read_feed("vendor:acme", vendor.feed, engine=engine, store=store, now=at)
        return got, vendor_stock(got, supplierinfo, vendor, now=at)[0]

    first, stock = read()
    assert (first.status, first.object_name) == (200, "stock.csv")
    assert stock["quantity"].sum() == sum(q for _, q in ROWS)
    second, again = read()
    assert second.status == 304 and again["quantity"].sum() == stock["quantity"].sum()
    assert len(store.partitions(PARSES_KEY)) == 1  # the parse lives in the bucket too


def test_a_vendor_on_the_generic_channel_api_reports_its_listings_as_stock(
    engine, store, monkeypatch
):
    with GenericChannelSandbox(listings=12, seed=3) as portal:
        listings = [p for p in portal.state.listings.values() if p.sku]
        catalog = [(p.sku, f"OUR-{i}", i) for i, p in enumerate(listings, start=1)]
        vendor = vendor_rule(
            {"kind": "channel_api", "url": portal.url, "secret_env": "INVENTORY_TEST_PORTAL"}
        )
        at = now()
        read = read_feed(
            "vendor:acme",
            vendor.feed,
            engine=engine,
            store=store,
            now=at,
            environ={"INVENTORY_TEST_PORTAL": portal.secret},
        )
    stock, quarantine = vendor_stock(read, supplierinfo_frame(catalog), vendor, now=at)
    assert read.status == 200
    # a listing without a SKU on the portal is a row without a code
    assert set(quarantine["reason"]) <= {"missing_code"}
    expected = {f"OUR-{i}": float(p.quantity) for i, p in enumerate(listings, start=1)}
    assert dict(stock.select("sku", "feed_quantity").iter_rows()) == expected


@pytest.mark.parametrize(
    "body", [b"<html>maintenance</html>", b'{"items": [{"sku": "A"}]}', b'{"items": "x"}']
)
def test_a_channel_api_answer_of_another_shape_is_a_malformed_feed_not_a_crash(body) -> None:
    """Not JSON, a listing without its id, a list that is not one: the vendor's run records a
    malformed feed (and keeps its last good parse) instead of failing."""
    import httpx

    from inventory_pipelines.rules.feeds import ChannelApiFeed
    from inventory_pipelines.supply.sources import fetch_channel_api

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    feed = ChannelApiFeed(kind="channel_api", url="http://127.0.0.1:9/", secret_env="PORTAL_KEY")
    fetched = fetch_channel_api(feed, transport=transport, environ={"PORTAL_KEY": "k" * 16})
    assert fetched.problem is not None and fetched.problem.reason == "malformed_feed"
    assert "could not be read" in fetched.problem.detail and "k" * 16 not in fetched.problem.detail
