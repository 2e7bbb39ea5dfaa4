"""The demo data: deterministic by seed, with the documented structure and dirt."""

from __future__ import annotations

from collections import Counter

import pytest

from inventory_pipelines.sandbox.demo_data import build_state
from inventory_pipelines.sandbox.odoo import OdooState

SKUS = 1000


@pytest.fixture(scope="module")
def demo() -> OdooState:
    return build_state(18, skus=SKUS, seed=11)


def _snapshot(state: OdooState) -> tuple:
    quants = state.call("stock.quant", "search_read", [[], []], {"load": None})
    products = state.call(
        "product.product",
        "search_read",
        [[], []],
        {"context": {"active_test": False}, "load": None},
    )
    return tuple(map(repr, quants)), tuple(map(repr, products))


def test_same_seed_same_data() -> None:
    assert _snapshot(build_state(17, skus=80, seed=5)) == _snapshot(
        build_state(17, skus=80, seed=5)
    )
    assert _snapshot(build_state(17, skus=80, seed=5)) != _snapshot(
        build_state(17, skus=80, seed=6)
    )


def test_warehouses_and_locations(demo: OdooState) -> None:
    warehouses = demo.call(
        "stock.warehouse", "search_read", [[], ["code", "lot_stock_id", "view_location_id"]]
    )
    assert [(w["code"], w["lot_stock_id"][1], w["view_location_id"][1]) for w in warehouses] == [
        ("MAIN", "MAIN/Stock", "MAIN"),
        ("EAST", "EAST/Stock", "EAST"),
        ("WEST", "WEST/Stock", "WEST"),
    ]
    locations = {
        row["complete_name"]: row
        for row in demo.call(
            "stock.location", "search_read", [[], ["complete_name", "usage", "warehouse_id"]]
        )
    }
    for code in ("MAIN", "EAST", "WEST"):
        for suffix in ("/Stock", "/Stock/Shelf 1", "/Stock/Shelf 2", "/Stock/QC", "/Stock/Damaged"):
            assert locations[code + suffix]["usage"] == "internal"
            assert locations[code + suffix]["warehouse_id"][1].startswith(code[0])
        transit = locations[f"Physical Locations/Inter-warehouse transit/To {code}"]
        assert transit["usage"] == "transit" and transit["warehouse_id"] is False
    assert locations["Physical Locations/Inter-warehouse transit"]["usage"] == "transit"
    assert locations["Partners/Customers"]["usage"] == "customer"
    assert locations["Partners/Vendors"]["usage"] == "supplier"
    assert locations["Virtual Locations/Inventory adjustment"]["usage"] == "inventory"
    hold = {
        demo.location_id(f"{c}/Stock/{n}")
        for c in ("MAIN", "EAST", "WEST")
        for n in ("QC", "Damaged")
    }
    assert demo.hold_location_ids == hold


def test_sku_count_and_catalog_shape(demo: OdooState) -> None:
    storable_coded = demo.call(
        "product.product",
        "search_count",
        [[("is_storable", "=", True), ("default_code", "!=", False)]],
    )
    assert storable_coded == SKUS
    sample = demo.call(
        "product.product",
        "search_read",
        [[("default_code", "=like", "SKU-%")], ["default_code", "barcode"]],
        {"limit": 5, "order": "id"},
    )
    assert sample[0]["default_code"] == "SKU-000001" and len(sample[0]["barcode"]) == 13
    variants = demo.call(
        "product.template",
        "read_group",
        [[], ["product_variant_count"], ["uom_id"]],
        {"lazy": False},
    )
    uoms = {group["uom_id"][1]: group["__count"] for group in variants}
    assert set(uoms) == {"Units", "Dozens", "Pack of 6"}
    templates = demo.call(
        "product.template",
        "search_read",
        [[], ["product_variant_count"]],
        {"context": {"active_test": False}},
    )
    assert {t["product_variant_count"] for t in templates} >= {1, 2}
    tracked = demo.call("product.product", "search_count", [[("tracking", "=", "lot")]])
    assert 0.02 * SKUS <= tracked <= 0.10 * SKUS
    assert demo.call("stock.lot", "search_count", [[]]) >= tracked


def test_dirt(demo: OdooState) -> None:
    quant_products = {
        q["product_id"]
        for q in demo.call(
            "stock.quant",
            "search_read",
            [[("location_id.usage", "=", "internal")], ["product_id"]],
            {"load": None},
        )
    }
    archived = demo.call("product.product", "search", [[("active", "=", False)]])
    assert 5 <= len(archived) <= 20 and set(archived) <= quant_products
    no_code = demo.call("product.product", "search", [[("default_code", "=", False)]])
    assert 5 <= len(no_code) <= 20 and set(no_code) <= quant_products
    consumables = demo.call("product.product", "search", [[("is_storable", "=", False)]])
    assert 10 <= len(consumables) <= 30 and not set(consumables) & quant_products
    barcodes = Counter(
        p["barcode"] for p in demo.call("product.product", "search_read", [[], ["barcode"]])
    )
    assert [count for count in barcodes.values() if count > 1] == [2] * round(SKUS * 0.005 / 2)


def test_stock_layout(demo: OdooState) -> None:
    rows = demo.call(
        "stock.quant",
        "search_read",
        [[], ["product_id", "location_id", "quantity", "reserved_quantity"]],
        {"load": None},
    )
    names = {
        loc["id"]: loc["complete_name"]
        for loc in demo.call("stock.location", "search_read", [[], ["complete_name"]])
    }
    by_product: dict[int, set[str]] = {}
    for row in rows:
        by_product.setdefault(row["product_id"], set()).add(names[row["location_id"]])
        assert 0 <= row["reserved_quantity"] <= max(row["quantity"], 0)
    storable = demo.call(
        "product.product",
        "search",
        [[("is_storable", "=", True)]],
        {"context": {"active_test": False}},
    )
    for pid in storable:
        warehouses = {
            n.split("/")[0]
            for n in by_product[pid]
            if "/Stock" in n and not n.endswith(("QC", "Damaged"))
        }
        assert warehouses == {"MAIN", "EAST", "WEST"}
    hold = sum(
        1 for locs in by_product.values() if any(n.endswith(("QC", "Damaged")) for n in locs)
    )
    transit = sum(1 for locs in by_product.values() if any("To " in n for n in locs))
    assert 0.02 * len(storable) <= hold <= 0.09 * len(storable)
    assert 0.01 * len(storable) <= transit <= 0.06 * len(storable)
    assert any(row["reserved_quantity"] > 0 for row in rows)
    assert any(row["quantity"] == 0 for row in rows)
    done_moves = demo.call("stock.move", "search_count", [[("state", "=", "done")]])
    assert done_moves > 0
