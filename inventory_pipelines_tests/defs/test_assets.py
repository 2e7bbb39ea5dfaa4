"""The Dagster assets end to end against the Odoo sandbox: full and partial refreshes."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore, query
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.odoo.assets import locations, products, stock_quants
from inventory_pipelines.defs.resources import (
    OdooResource,
)
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

ASSETS = [products, locations, stock_quants, canonical_inventory]


@pytest.fixture(scope="module")
def odoo():
    with OdooSandbox(version=17, skus=300, seed=11, port=0) as sandbox:
        yield sandbox


def resources(sandbox: OdooSandbox, data: Path, **odoo_overrides) -> dict:
    return sandbox_resources(sandbox, data, **odoo_overrides)


def materialize(sandbox, data, skus=None, **overrides) -> dg.ExecuteInProcessResult:
    run_config = {"resources": {"sku_scope": {"config": {"skus": skus}}}} if skus else None
    return dg.materialize(
        ASSETS,
        resources=resources(sandbox, data, **overrides),
        run_config=run_config,
        raise_on_error=False,
    )


def table(data: Path, *key: str) -> pl.DataFrame:
    return TableStore(data / "tables").read(key)


def test_the_whole_definitions_load():
    from inventory_pipelines.definitions import defs

    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "odoo/products",
        "odoo/locations",
        "odoo/stock_quants",
        "inventory/canonical_inventory",
        "inventory/quarantine",
        "inventory/channel_allocation",
        "rules/sku_velocity",
    } <= keys
    assert {job.name for job in loaded.jobs} >= {
        "refresh_inventory",
        "allocate_channels",
        "publish_channels",
        "ingest_orders",
        "refresh_ordered_skus",
        "refresh_changed_skus",
    }
    assert {sensor.name for sensor in loaded.sensors} >= {
        "orders_inbox_sensor",
        "odoo_change_sensor",
        "requeue_failed_refreshes",
    }
    assert {schedule.name for schedule in loaded.schedules} >= {"batch_sync"}


def test_a_full_materialization_writes_every_table_and_passes_its_checks(odoo, tmp_path):
    result = materialize(odoo, tmp_path)
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.metadata for c in checks if not c.passed]
    canonical = table(tmp_path, "inventory", "canonical_inventory")
    assert set(canonical["warehouse"]) == {"MAIN", "EAST", "WEST"}
    assert canonical.select(pl.struct("sku", "warehouse").is_unique().all()).item()
    quarantine = table(tmp_path, "inventory", "quarantine")
    assert {"missing_sku", "archived_product"} <= set(quarantine["reason"])
    views = query(
        tmp_path / "warehouse.duckdb", "SELECT count(*) AS n FROM inventory.canonical_inventory"
    )
    assert views["n"].item() == canonical.height


def test_a_partial_refresh_equals_a_full_refresh_for_its_skus(odoo, tmp_path):
    full_dir, partial_dir = tmp_path / "full", tmp_path / "partial"
    assert materialize(odoo, partial_dir).success
    before = table(partial_dir, "inventory", "canonical_inventory")
    skus = before["sku"].unique().sort().head(5).to_list()
    changed = skus[0]
    odoo.state.move_stock(changed, "MAIN/Stock", 17)

    partial = materialize(odoo, partial_dir, skus=skus)
    assert partial.success
    assert materialize(odoo, full_dir).success

    after_partial = table(partial_dir, "inventory", "canonical_inventory")
    after_full = table(full_dir, "inventory", "canonical_inventory")
    columns = ["sku", "warehouse", "on_hand", "reserved", "quality_hold", "in_transit", "available"]
    assert after_partial.select(columns).equals(after_full.select(columns))
    moved = lambda t: t.filter((pl.col("sku") == changed) & (pl.col("warehouse") == "MAIN"))  # noqa: E731
    assert moved(after_partial)["on_hand"].item() == moved(before)["on_hand"].item() + 17
    untouched = before.filter(~pl.col("sku").is_in(skus)).select(columns)
    assert untouched.equals(after_partial.filter(~pl.col("sku").is_in(skus)).select(columns))


def test_with_odoo_down_the_snapshot_fails_with_a_clear_error_after_bounded_requests(
    odoo, tmp_path
):
    odoo.faults.outage = True
    odoo.reset_request_count()
    try:
        result = materialize(odoo, tmp_path, max_attempts=3)
    finally:
        odoo.faults.outage = False
    assert not result.success
    failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    causes = [error.cause or error for error in failures]
    assert {c.cls_name for c in causes} == {"OdooUnavailableError"}
    assert all("503" in c.message for c in causes), [c.message for c in causes]
    text = " ".join(c.to_string() for c in causes)
    assert odoo.api_key not in text and odoo.password not in text
    # products and locations each try at most max_attempts times; nothing downstream runs
    assert odoo.request_count <= 2 * 3
    assert not (tmp_path / "tables" / "inventory").exists()


def test_the_local_environment_refuses_a_real_endpoint(tmp_path):
    resource = OdooResource(url="https://erp.example.com", db="x", login="y", api_key="z")
    with pytest.raises(dg.Failure, match="only talks to the sandbox"):
        resource.client()


def test_everything_materializes_down_to_the_channel_allocation(odoo, tmp_path):
    from inventory_pipelines.defs.inventory.allocation import channel_allocation
    from inventory_pipelines.defs.odoo.assets import stock_moves
    from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets

    models = build_model_assets(default_rules_dir(), TABLES)
    assets = [*ASSETS, stock_moves, *models, channel_allocation]
    for channel in ("shopify", "b2b"):
        result = dg.materialize(
            assets, resources=resources(odoo, tmp_path), partition_key=channel, raise_on_error=False
        )
        assert result.success
        failed = [c for c in result.get_asset_check_evaluations() if not c.passed]
        assert not failed, [(c.asset_key, c.check_name, c.metadata) for c in failed]
    allocation = query(
        tmp_path / "warehouse.duckdb",
        "SELECT channel, count(*) AS skus, sum(publishable) AS units "
        "FROM inventory.channel_allocation GROUP BY 1 ORDER BY 1",
    )
    assert allocation["channel"].to_list() == ["b2b", "shopify"]
    assert (allocation["units"] > 0).all()
    b2b = TableStore(tmp_path / "tables").read(("inventory", "channel_allocation"), "b2b")
    assert (b2b["publishable_units"] % 6 == 0).all()  # b2b publishes packs of 6


def test_units_sold_and_not_yet_reserved_in_odoo_come_off_the_allocation(odoo, tmp_path):
    from inventory_pipelines.defs.inventory.allocation import channel_allocation
    from inventory_pipelines.defs.odoo.assets import stock_moves
    from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets
    from inventory_pipelines.ledger import create_engine, inbox, migrate

    models = build_model_assets(default_rules_dir(), TABLES)
    assets = [*ASSETS, stock_moves, *models, channel_allocation]
    store = TableStore(tmp_path / "tables")

    def shopify_row(sku=None):
        result = dg.materialize(
            assets, resources=resources(odoo, tmp_path), partition_key="shopify"
        )
        assert result.success
        frame = store.read(("inventory", "channel_allocation"), "shopify")
        if sku is None:
            return frame.filter(pl.col("pool") >= 20).sort("sku").row(0, named=True)
        return frame.filter(pl.col("sku") == sku).row(0, named=True)

    before = shopify_row()
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as conn:  # an order another channel accepted, not in Odoo yet
        inbox.receive(
            conn,
            [
                inbox.InboxEvent(
                    "woocommerce",
                    "55",
                    "created",
                    "created",
                    "webhook",
                    {},
                    pending={before["sku"]: 7},
                )
            ],
        )
    after = shopify_row(before["sku"])
    assert (before["pending"], after["pending"]) == (0, 7)
    assert after["net"] == before["net"] - 7
    # once Odoo reserved them and a later snapshot holds the reservation, they count there
    with engine.connect() as conn:
        inbox.mark_reserved(conn, "woocommerce", "55")
    engine.dispose()
    assert shopify_row(before["sku"])["pending"] == 0
