"""The supply assets as Dagster runs them: a vendor partition against the Odoo sandbox and the
feed emulator, a 3PL partition and the 3PL drift from stored tables."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.io_manager import ParquetIOManager, SkuScope
from inventory_pipelines.defs.odoo.supply import supplierinfo as supplierinfo_asset
from inventory_pipelines.defs.resources import LedgerResource, OdooResource, RulesResource
from inventory_pipelines.defs.shared import (
    CANONICAL,
    PRODUCTS,
    SUPPLY_QUARANTINE,
    THREEPL_DRIFT,
    THREEPL_QUARANTINE,
    THREEPL_STOCK,
    VENDOR_STOCK,
)
from inventory_pipelines.defs.supply.assets import (
    SUPPLIERINFO,
    threepl_drift_asset,
    threepl_stock_asset,
    vendor_stock_asset,
)
from inventory_pipelines.inventory.canonical import CANONICAL_SCHEMA
from inventory_pipelines.odoo.supply import read_supplierinfo
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.vendor_feed import VendorFeedSandbox

pytestmark = pytest.mark.slow  # a sandbox and several Dagster runs

VENDOR = "bright-dropship"
PARTNER = "Bright Drop-Ship Co"


@pytest.fixture
def vendors() -> Iterator[VendorFeedSandbox]:
    with VendorFeedSandbox() as sandbox:
        yield sandbox


def rules_pointing_at(vendors: VendorFeedSandbox, folder: Path) -> Path:
    """The shipped rules with the vendor's and WEST's feeds on the running emulator."""
    target = folder / "rules"
    shutil.copytree(default_rules_dir(), target)
    for name, feed in (("vendors.yml", VENDOR), ("warehouses.yml", "west-3pl")):
        path = target / name
        path.write_text(
            path.read_text().replace(
                f"http://127.0.0.1:8095/feeds/{feed}.csv", vendors.feed_url(feed)
            )
        )
    return target


def resources(folder: Path, rules: Path, odoo: OdooSandbox | None = None) -> dict[str, object]:
    scope = SkuScope.configure_at_launch()
    found: dict[str, object] = {
        "rules": RulesResource(directory=str(rules)),
        "ledger": LedgerResource(url=f"sqlite:///{folder / 'ledger.sqlite'}"),
        "sku_scope": scope,
        "io_manager": ParquetIOManager(
            base_dir=str(folder / "tables"),
            catalog_path=str(folder / "warehouse.duckdb"),
            sku_scope=scope,
        ),
    }
    if odoo is not None:
        found["odoo"] = OdooResource(
            url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key
        )
    return found


def materialization(result: dg.ExecuteInProcessResult, key) -> dict:
    events = [
        e.event_specific_data.materialization
        for e in result.all_events
        if e.is_step_materialization
        and e.event_specific_data.materialization.asset_key == dg.AssetKey(key)
    ]
    assert len(events) == 1
    return {k: v.value for k, v in events[0].metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }


def test_a_vendor_partition_maps_its_feed_through_odoos_supplierinfo(vendors, tmp_path):
    with OdooSandbox(version=17, skus=120, seed=7) as odoo:
        with OdooResource(
            url=odoo.url, db=odoo.db, login=odoo.login, api_key=odoo.api_key
        ).client() as client:
            supplierinfo = read_supplierinfo(client)
        mine = supplierinfo.filter(
            (pl.col("vendor") == PARTNER)
            & pl.col("vendor_code").is_not_null()
            & pl.col("sku").is_not_null()
        )
        codes = sorted(set(mine["vendor_code"]))
        assert codes, "the sandbox's drop-ship vendor has product codes"
        vendors.state.add_feed(VENDOR, [(code, 10 + i) for i, code in enumerate(codes)])
        vendors.state.set_dirt(VENDOR, negative=1, missing_codes=1)
        rules = rules_pointing_at(vendors, tmp_path)
        run = resources(tmp_path, rules, odoo)

        snapshot = dg.materialize([supplierinfo_asset], resources=run)
        upstream = dg.AssetSpec(list(SUPPLIERINFO))
        first = dg.materialize([upstream, vendor_stock_asset], resources=run, partition_key=VENDOR)
        second = dg.materialize([upstream, vendor_stock_asset], resources=run, partition_key=VENDOR)
        # the vendor runs out of its first code: that SKU is dirty for the next batch, at once
        vendors.state.add_feed(VENDOR, [(code, 0 if i == 0 else 10 + i)
                                         for i, code in enumerate(codes)])  # fmt: skip
        vendors.state.set_dirt(VENDOR, negative=1, missing_codes=1)
        from inventory_pipelines.ledger import create_engine, dirty

        engine = create_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
        with engine.connect() as conn:  # the first read marked every SKU it brought
            before = {r.sku: r.marks for r in dirty.rows(conn)}
        third = dg.materialize([upstream, vendor_stock_asset], resources=run, partition_key=VENDOR)
        with engine.connect() as conn:
            marked = {r.sku: (r.reason, r.marks) for r in dirty.rows(conn)}
        engine.dispose()

    assert snapshot.success and first.success and second.success and third.success
    assert materialization(second, VENDOR_STOCK)["skus_changed"] == 0  # a 304 changes nothing
    emptied = set(mine.filter(pl.col("vendor_code") == codes[0])["sku"])
    # a new vendor's stock reaches the channels too (SKUs it sells none of change nothing)
    assert before and set(before) <= set(mine["sku"])
    assert {sku for sku, (_, n) in marked.items() if n > before.get(sku, 0)} == emptied
    assert {marked[sku][0] for sku in emptied} == {f"vendor {VENDOR} feed changed"}
    assert materialization(third, VENDOR_STOCK)["skus_changed"] == len(emptied)
    stock_figures = materialization(first, VENDOR_STOCK)
    assert stock_figures["fetch_status"] == 200 and stock_figures["stale"] == 0
    assert stock_figures["quarantined"] == 3  # one negative, one unknown code, one without
    assert materialization(second, VENDOR_STOCK)["fetch_status"] == 304
    assert all(checks(first).values()), checks(first)

    store = TableStore(tmp_path / "tables")
    stock = store.read(VENDOR_STOCK, VENDOR)
    quarantine = store.read(SUPPLY_QUARANTINE, VENDOR)
    assert set(stock["vendor"]) == {VENDOR}
    assert set(stock["sku"]) == set(mine["sku"])
    assert materialization(third, VENDOR_STOCK)["units"] == pytest.approx(stock["quantity"].sum())
    # the buffer of vendors.yml (1 unit) is held back from what the vendor said
    sold = stock.filter(pl.col("reason").is_null() & (pl.col("feed_quantity") > 0))
    assert ((sold["feed_quantity"] - sold["quantity"]) == 1).all()
    assert sorted(quarantine["reason"]) == ["missing_code", "negative_quantity", "unknown_code"]


def test_a_3pl_partition_and_the_drift_against_odoos_books(vendors, tmp_path):
    vendors.state.add_feed("west-3pl", [("SKU-000001", 12), ("SKU-000002", 3), ("SKU-XYZ", 9)])
    rules = rules_pointing_at(vendors, tmp_path)
    store = TableStore(tmp_path / "tables")
    store.write(
        PRODUCTS,
        pl.DataFrame(
            {
                "product_id": [1, 2],
                "sku": ["SKU-000001", "SKU-000002"],
                "base_uom": ["Units", "Units"],
                "active": [True, True],
            }
        ),
    )
    now = datetime.now(UTC)
    store.write(
        CANONICAL,
        pl.DataFrame(
            [
                ("SKU-000001", "WEST", 1, 10.0, 0.0, 0.0, 0.0, 10.0, "Units", now),
                ("SKU-000002", "WEST", 2, 3.0, 0.0, 0.0, 0.0, 3.0, "Units", now),
                ("SKU-000001", "MAIN", 1, 4.0, 0.0, 0.0, 0.0, 4.0, "Units", now),
            ],
            schema=CANONICAL_SCHEMA,
            orient="row",
        ),
    )
    upstream = [dg.AssetSpec(PRODUCTS), dg.AssetSpec(CANONICAL)]
    run = resources(tmp_path, rules)

    read = dg.materialize([*upstream, threepl_stock_asset], resources=run, partition_key="WEST")
    drift = dg.materialize([*upstream, threepl_drift_asset], resources=run)

    assert read.success and drift.success
    stock_figures = materialization(read, THREEPL_STOCK)
    assert (stock_figures["rows"], stock_figures["quarantined"]) == (2, 1)
    assert store.read(THREEPL_QUARANTINE, "WEST")["reason"].to_list() == ["unknown_sku"]
    frame = store.read(THREEPL_DRIFT)
    assert frame.select("warehouse", "sku", "difference").rows() == [("WEST", "SKU-000001", 2.0)]
    drift_figures = materialization(drift, THREEPL_DRIFT)
    assert drift_figures["warehouses_compared"] == 1 and drift_figures["drift_skus"] == 1
    assert all(checks(drift).values())


@pytest.mark.parametrize("source", ["feed", "both"])
def test_a_3pl_warehouse_whose_stock_comes_from_its_feed_sells_what_its_stock_source_says(
    vendors, tmp_path, monkeypatch, source
):
    """WEST with `stock_source: feed` (or `both`): the canonical asset takes WEST's on-hand
    from the 3PL's last feed (or the lower of the two books), keeps Odoo's in `odoo_on_hand`,
    and leaves the other warehouses as Odoo has them."""
    from inventory_pipelines.defs.inventory import assets as canonical_assets
    from inventory_pipelines.defs.inventory.assets import canonical_inventory
    from inventory_pipelines.defs.odoo.assets import locations, products, stock_quants
    from inventory_pipelines.rules import load_policy
    from inventory_pipelines.sandbox.odoo import OdooSandbox

    rules = rules_pointing_at(vendors, tmp_path)
    path = rules / "warehouses.yml"
    path.write_text(path.read_text().replace("stock_source: odoo", f"stock_source: {source}"))
    policy = load_policy(rules)
    monkeypatch.setattr(canonical_assets, "POLICY", policy)
    store = TableStore(tmp_path / "tables")
    with OdooSandbox(version=17, skus=20, seed=5, port=0) as odoo:
        run = resources(tmp_path, rules, odoo)
        snapshot = [products, locations, stock_quants]
        before = dg.materialize([*snapshot, canonical_inventory], resources=run)
        assert before.success
        # no feed read yet: WEST counts 0 under either source, Odoo's books stay beside it
        odoo_books = store.read(CANONICAL).filter(pl.col("warehouse") == "WEST")
        assert (odoo_books["on_hand"] == 0).all() and (odoo_books["odoo_on_hand"] > 0).any()
        odoo_books = odoo_books.filter(pl.col("odoo_on_hand") > 0)
        listed, unlisted = odoo_books["sku"][0], odoo_books["sku"][1]
        odoo_on_hand = dict(odoo_books.select("sku", "odoo_on_hand").iter_rows())
        vendors.state.add_feed("west-3pl", [(listed, odoo_on_hand[listed] + 7)])

        assert dg.materialize(
            [dg.AssetSpec(PRODUCTS), threepl_stock_asset], resources=run, partition_key="WEST"
        ).success
        after = dg.materialize(
            [*(dg.AssetSpec(a.key) for a in snapshot), canonical_inventory], resources=run
        )
    assert after.success and all(checks(after).values())
    canonical = store.read(CANONICAL)
    west = {r["sku"]: r for r in canonical.filter(pl.col("warehouse") == "WEST").to_dicts()}
    expected = odoo_on_hand[listed] + 7 if source == "feed" else odoo_on_hand[listed]
    assert west[listed]["on_hand"] == expected
    assert west[listed]["odoo_on_hand"] == odoo_on_hand[listed]
    if source == "feed":
        assert unlisted not in west or west[unlisted]["on_hand"] == 0  # the 3PL does not hold it
    else:
        assert west[unlisted]["on_hand"] == 0  # both books must see it
    others = canonical.filter(pl.col("warehouse") != "WEST")
    assert (others["on_hand"] == others["odoo_on_hand"]).all()


def test_a_vendor_partition_before_the_first_snapshot_fails_saying_what_to_run(vendors, tmp_path):
    rules = rules_pointing_at(vendors, tmp_path)
    result = dg.materialize(
        [dg.AssetSpec(list(SUPPLIERINFO)), vendor_stock_asset],
        resources=resources(tmp_path, rules),
        partition_key=VENDOR,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.to_string()
    assert "odoo/supplierinfo has not been read yet" in message and "refresh_inventory" in message
