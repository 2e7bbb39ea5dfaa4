"""Canonical semantics end to end, on Odoo 16, 17, 18 and 19: sandbox -> client -> canonical.

Each test lays out stock for fresh products in the emulator, reads the snapshot over the API
as the assets do, and checks the canonical rows and the quarantine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest

from inventory_pipelines.inventory.canonical import compute_canonical
from inventory_pipelines.inventory.locations import assign_location_roles
from inventory_pipelines.odoo import (
    OdooClient,
    OdooConfig,
    read_locations,
    read_products,
    read_quants,
)
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox, OdooState

RULES = load_policy().warehouses


@pytest.fixture(scope="module", params=[16, 17, 18, 19])
def odoo(request):
    with OdooSandbox(version=request.param, skus=60, seed=5, port=0) as sandbox:
        _lay_out_stock(sandbox.state)
        yield sandbox


def _template_vals(state: OdooState, code: str | bool, *, storable: bool = True, **extra) -> dict:
    vals: dict[str, Any] = {"name": f"Test {code}", "default_code": code, **extra}
    if state.profile.major <= 17:
        vals["type"] = "product" if storable else "consu"
    else:
        vals.update(type="consu", is_storable=storable)
    return vals


def _create(state: OdooState, code: str | bool, **kwargs) -> int:
    template = state.call("product.template", "create", [_template_vals(state, code, **kwargs)])
    template_id = template[0] if isinstance(template, list) else template
    return state.call("product.product", "search", [[("product_tmpl_id", "=", template_id)]])[0]


def _lay_out_stock(state: OdooState) -> None:
    dozens = state.call("uom.uom", "search", [[("name", "=", "Dozens")]])[0]
    _create(state, "T-PLAIN")
    state.move_stock("T-PLAIN", "MAIN/Stock", 10)
    state.move_stock("T-PLAIN", "MAIN/Stock/Shelf 1", 5)
    state.move_stock("T-PLAIN", "MAIN/Stock/QC", 4)
    state.move_stock("T-PLAIN", "MAIN/Stock/Damaged", 1)
    state.move_stock("T-PLAIN", "Physical Locations/Inter-warehouse transit/To EAST", 7)
    state.move_stock("T-PLAIN", "WEST/Stock", 2)
    _create(state, "T-DOZEN", uom_id=dozens)
    state.move_stock("T-DOZEN", "EAST/Stock", 2.5)
    _create(state, "T-LOTS", tracking="lot")
    state.move_stock("T-LOTS", "MAIN/Stock", 3, lot="LOT-A")
    state.move_stock("T-LOTS", "MAIN/Stock", 4, lot="LOT-B")
    archived = _create(state, "T-ARCHIVED")
    state.move_stock("T-ARCHIVED", "MAIN/Stock", 6)
    state.call("product.product", "write", [[archived], {"active": False}])
    no_code = _create(state, False)
    state.move_stock(no_code, "MAIN/Stock", 8)
    _create(state, "T-CONSU", storable=False)
    # A confirmed sale order reserves 3 units of T-PLAIN in MAIN.
    partner = state.call("res.partner", "search", [[]], {"limit": 1})[0]
    order = state.call(
        "sale.order",
        "create",
        [
            {
                "partner_id": partner,
                "client_order_ref": "T-ORDER-1",
                "order_line": [
                    [0, 0, {"product_id": state.product_id("T-PLAIN"), "product_uom_qty": 3}]
                ],
            }
        ],
    )
    state.call("sale.order", "action_confirm", [[order]])


@pytest.fixture(scope="module")
def snapshot(odoo):
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        products = read_products(client)
        locations = assign_location_roles(read_locations(client), RULES)
        quants = read_quants(client)
    canonical, quarantine = compute_canonical(products, locations, quants, datetime.now(UTC))
    return products, canonical, quarantine


def row(canonical: pl.DataFrame, sku: str, warehouse: str) -> dict:
    rows = canonical.filter((pl.col("sku") == sku) & (pl.col("warehouse") == warehouse))
    assert rows.height == 1, rows
    return rows.to_dicts()[0]


def test_stock_sums_internal_locations_and_reservations_come_off_available(snapshot):
    _, canonical, _ = snapshot
    r = row(canonical, "T-PLAIN", "MAIN")
    assert (r["on_hand"], r["reserved"], r["available"]) == (15, 3, 12)
    assert row(canonical, "T-PLAIN", "WEST")["available"] == 2


def test_hold_locations_are_quality_hold_not_on_hand(snapshot):
    _, canonical, _ = snapshot
    assert row(canonical, "T-PLAIN", "MAIN")["quality_hold"] == 5  # QC 4 + Damaged 1


def test_transit_stock_counts_for_its_destination_and_is_not_available(snapshot):
    _, canonical, _ = snapshot
    r = row(canonical, "T-PLAIN", "EAST")
    assert (r["in_transit"], r["on_hand"], r["available"]) == (7, 0, 0)


def test_quantities_in_dozens_become_base_units(snapshot):
    _, canonical, _ = snapshot
    r = row(canonical, "T-DOZEN", "EAST")
    assert (r["on_hand"], r["available"], r["uom"]) == (30, 30, "Units")


def test_lots_are_summed(snapshot):
    _, canonical, _ = snapshot
    assert row(canonical, "T-LOTS", "MAIN")["on_hand"] == 7


@pytest.mark.bad_input
def test_archived_products_and_missing_codes_are_quarantined_with_their_stock(snapshot):
    products, canonical, quarantine = snapshot
    assert canonical.filter(pl.col("sku") == "T-ARCHIVED").is_empty()
    archived = quarantine.filter(pl.col("sku") == "T-ARCHIVED")
    assert archived.select("reason", "quantity").rows() == [("archived_product", 6.0)]
    no_code = products.filter(pl.col("name") == "Test False")["product_id"].item()
    missing = quarantine.filter(pl.col("product_id") == no_code)
    assert missing.select("reason", "quantity").rows() == [("missing_sku", 8.0)]


def test_products_carry_their_category_for_the_policies(snapshot):
    products, _, _ = snapshot
    demo = products.filter(pl.col("sku").str.starts_with("SKU-"))
    assert demo.height > 0 and demo.filter(pl.col("category").is_null()).is_empty()
    assert "All / Saleable" in set(products["category"])


def test_non_storable_products_are_known_but_hold_no_canonical_stock(snapshot):
    products, canonical, _ = snapshot
    consu = products.filter(pl.col("sku") == "T-CONSU").to_dicts()
    assert [p["storable"] for p in consu] == [False]
    assert canonical.filter(pl.col("sku") == "T-CONSU").is_empty()


@pytest.mark.bad_input
def test_the_demo_catalog_dirt_is_quarantined_with_reasons(snapshot):
    _, canonical, quarantine = snapshot
    reasons = set(quarantine["reason"])
    assert {"archived_product", "missing_sku"} <= reasons
    assert reasons <= {
        "unknown_product", "missing_sku", "duplicate_sku", "not_storable", "archived_product",
        "unknown_uom", "unknown_location", "location_without_warehouse",
        "transit_location_without_rule", "negative_on_hand", "negative_quality_hold",
        "negative_in_transit",
    }  # fmt: skip
    assert canonical.select(pl.struct("sku", "warehouse").is_unique().all()).item()
