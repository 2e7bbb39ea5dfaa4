"""`odoo/supplierinfo` and `odoo/incoming_purchases` against the Odoo sandbox: tables through
the data plane's IO manager, their checks, and a partial refresh over a SKU subset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.odoo.supply import (
    INCOMING_PURCHASES,
    SUPPLIERINFO,
    incoming_purchases,
    supplierinfo,
)
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

ASSETS = [supplierinfo, incoming_purchases]


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooSandbox]:
    with OdooSandbox(version=18, skus=200, seed=4) as sandbox:
        yield sandbox


def materialize(
    odoo: OdooSandbox, data: Path, skus: list[str] | None = None
) -> dg.ExecuteInProcessResult:
    run_config = {"resources": {"sku_scope": {"config": {"skus": skus}}}} if skus else None
    return dg.materialize(ASSETS, resources=sandbox_resources(odoo, data), run_config=run_config)


def table(data: Path, key: list[str]) -> pl.DataFrame:
    return TableStore(data / "tables").read(key)


def metadata(result: dg.ExecuteInProcessResult, key: list[str]) -> dict[str, object]:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.mark.slow
def test_supply_tables_are_written_with_their_figures_and_pass_their_checks(
    odoo: OdooSandbox, tmp_path: Path
) -> None:
    result = materialize(odoo, tmp_path)

    checks = result.get_asset_check_evaluations()
    assert {(c.asset_key.to_user_string(), c.check_name) for c in checks} == {
        ("odoo/supplierinfo", "schema"),
        ("odoo/supplierinfo", "vendor_codes_unambiguous"),
        ("odoo/incoming_purchases", "schema"),
    }
    assert all(c.passed for c in checks), [c.metadata for c in checks if not c.passed]
    prices = table(tmp_path, SUPPLIERINFO)
    assert prices.height == odoo.state.call("product.supplierinfo", "search_count", [[]])
    figures = metadata(result, SUPPLIERINFO)
    assert figures["rows"] == prices.height and figures["vendors"] == 4
    assert figures["without_sku"] == prices.filter(pl.col("sku").is_null()).height > 0
    incoming = table(tmp_path, INCOMING_PURCHASES)
    figures = metadata(result, INCOMING_PURCHASES)
    assert figures["lines"] == incoming.height > 0
    assert figures["units"] == pytest.approx(incoming["quantity"].sum())
    assert figures["partly_received_lines"] == 1
    assert set(figures["units_by_warehouse"]) == {"MAIN", "EAST", "WEST"}


@pytest.mark.slow
def test_a_partial_refresh_of_supply_equals_a_full_one_for_its_skus(
    odoo: OdooSandbox, tmp_path: Path
) -> None:
    partial_dir, full_dir = tmp_path / "partial", tmp_path / "full"
    materialize(odoo, partial_dir)
    before = table(partial_dir, INCOMING_PURCHASES)
    [po] = before.filter(pl.col("received") == 0)["purchase_order"].head(1).to_list()
    arriving = before.filter(pl.col("purchase_order") == po)["sku"].to_list()
    skus = [*arriving, *table(partial_dir, SUPPLIERINFO)["sku"].drop_nulls().head(2)]
    odoo.state.receive_purchase(po, {arriving[0]: 1})

    materialize(odoo, partial_dir, skus=skus)
    materialize(odoo, full_dir)

    for key, order in ((INCOMING_PURCHASES, "line_id"), (SUPPLIERINFO, "supplierinfo_id")):
        partial, full = table(partial_dir, key).sort(order), table(full_dir, key).sort(order)
        assert partial.equals(full), key
    after = table(partial_dir, INCOMING_PURCHASES)
    changed = lambda t: t.filter(pl.col("sku") == arriving[0]).filter(  # noqa: E731
        pl.col("purchase_order") == po
    )
    assert changed(after)["quantity"].item() == changed(before)["quantity"].item() - 1
    untouched = ~pl.col("sku").is_in(skus)
    assert after.filter(untouched).equals(before.filter(untouched))
