"""What differs between the emulated versions 16, 17, 18 and 19."""

from __future__ import annotations

import pytest

from inventory_pipelines.sandbox.odoo import OdooState, UserError


def _product(state: OdooState, sku: str = "SKU-000001") -> dict:
    fields = ["type", "detailed_type"] if state.profile.major <= 17 else ["type", "is_storable"]
    return state.call(
        "product.product", "search_read", [[("default_code", "=", sku)], [*fields, "uom_id"]]
    )[0]


def test_storable_flag(state: OdooState) -> None:
    product = _product(state)
    fields = state.call("product.product", "fields_get", [], {"attributes": ["selection"]})
    types = [key for key, _label in fields["type"]["selection"]]
    if state.profile.major <= 17:
        assert product["type"] == product["detailed_type"] == "product"
        assert types == ["consu", "service", "product"]
        assert "is_storable" not in fields
        storable = state.call("product.product", "search_count", [[("type", "=", "product")]])
    else:
        assert product["type"] == "consu" and product["is_storable"] is True
        assert types == ["consu", "service", "combo"]
        assert "detailed_type" not in fields
        storable = state.call("product.product", "search_count", [[("is_storable", "=", True)]])
    consumables = state.call("product.product", "search_count", [[("type", "=", "consu")]])
    assert storable > 0 and consumables > 0


def test_units_of_measure(state: OdooState) -> None:
    uoms = {row["name"]: row for row in state.call("uom.uom", "search_read", [[], []])}
    dozens, pack, units = uoms["Dozens"], uoms["Pack of 6"], uoms["Units"]
    if state.profile.major <= 18:
        assert dozens["factor"] == pytest.approx(1 / 12)
        assert pack["factor"] == pytest.approx(1 / 6)
        assert dozens["factor_inv"] == pytest.approx(12)
        assert dozens["uom_type"] == "bigger" and units["uom_type"] == "reference"
        assert dozens["category_id"][1] == "Unit"
        assert state.call("uom.category", "search_count", [[]]) == 1
    else:
        assert dozens["relative_factor"] == 12 and dozens["factor"] == 12
        assert pack["factor"] == 6
        assert dozens["relative_uom_id"] == [units["id"], "Units"]
        assert "category_id" not in dozens and "uom_type" not in dozens
        with pytest.raises(UserError, match=r"Object uom\.category doesn.t exist"):
            state.call("uom.category", "search", [[]])


def test_grouping_api(state: OdooState) -> None:
    domain = [("location_id.usage", "=", "internal")]
    groups = state.call(
        "stock.quant", "read_group", [domain, ["quantity:sum"], ["location_id"]], {"lazy": False}
    )
    total = sum(
        row["quantity"] for row in state.call("stock.quant", "search_read", [domain, ["quantity"]])
    )
    assert sum(group["quantity"] for group in groups) == pytest.approx(total)
    assert all("__count" in group and "__domain" in group for group in groups)
    if state.profile.major <= 18:
        with pytest.raises(AttributeError):
            state.call("stock.quant", "formatted_read_group", [domain])
        return
    formatted = state.call(
        "stock.quant",
        "formatted_read_group",
        [domain],
        {"groupby": ["location_id"], "aggregates": ["quantity:sum", "__count"]},
    )
    assert sum(group["quantity:sum"] for group in formatted) == pytest.approx(total)
    first = formatted[0]
    assert first["__extra_domain"] == [("location_id", "=", first["location_id"][0])]
    assert first["__count"] > 0
    having = state.call(
        "stock.quant",
        "formatted_read_group",
        [domain],
        {
            "groupby": ["location_id"],
            "aggregates": ["quantity:sum"],
            "having": [("quantity:sum", ">", 10**9)],
        },
    )
    assert having == []


def test_lazy_read_group_counts_per_first_groupby(state: OdooState) -> None:
    groups = state.call(
        "stock.quant", "read_group", [[], ["quantity"], ["warehouse_id", "location_id"]]
    )
    assert all("warehouse_id_count" in group for group in groups)
    assert all(group["__context"] == {"group_by": ["location_id"]} for group in groups)


def test_sale_order_states(state: OdooState) -> None:
    fields = state.call("sale.order", "fields_get", [], {"attributes": ["selection", "type"]})
    states = [key for key, _label in fields["state"]["selection"]]
    if state.profile.major == 16:
        assert states == ["draft", "sent", "sale", "done", "cancel"]
        assert "locked" not in fields
    else:
        assert states == ["draft", "sent", "sale", "cancel"]
        assert fields["locked"]["type"] == "boolean"


def test_version_specific_fields(state: OdooState) -> None:
    moves = state.call("stock.move", "fields_get", [], {"attributes": ["type"]})
    locations = state.call("stock.location", "fields_get", [], {"attributes": ["type"]})
    lines = state.call("sale.order.line", "fields_get", [], {"attributes": ["type"]})
    major = state.profile.major
    assert ("quantity_done" in moves) == (major == 16)
    assert ("quantity" in moves and "picked" in moves) == (major >= 17)
    assert ("scrap_location" in locations) == (major <= 18)
    assert ("product_uom" in lines) == (major <= 18)
    assert ("product_uom_id" in lines) == (major == 19)
    assert "stock.lot" in state.tables


def test_quantities_follow_the_versions_context_key(state: OdooState) -> None:
    key = "warehouse" if state.profile.major <= 17 else "warehouse_id"
    other = "warehouse_id" if key == "warehouse" else "warehouse"
    main = state.call("stock.warehouse", "search", [[("code", "=", "MAIN")]])[0]
    sku = [("default_code", "=", "SKU-000003")]
    everywhere = state.call("product.product", "search_read", [sku, ["qty_available"]])[0]
    in_main = state.call(
        "product.product", "search_read", [sku, ["qty_available"]], {"context": {key: main}}
    )[0]
    ignored = state.call(
        "product.product", "search_read", [sku, ["qty_available"]], {"context": {other: main}}
    )[0]
    main_quants = state.call(
        "stock.quant",
        "search_read",
        [
            [
                ("product_id.default_code", "=", "SKU-000003"),
                ("location_id", "child_of", state.location_id("MAIN")),
            ],
            ["quantity"],
        ],
    )
    assert in_main["qty_available"] == pytest.approx(sum(q["quantity"] for q in main_quants))
    assert ignored["qty_available"] == everywhere["qty_available"]
    by_name = state.call(
        "product.product",
        "search_read",
        [sku, ["qty_available"]],
        {"context": {key: "Main Warehouse"}},
    )[0]
    assert by_name == in_main


def test_name_get_only_on_16(state: OdooState) -> None:
    if state.profile.major == 16:
        assert state.call("stock.warehouse", "name_get", [[1]]) == [[1, "Main Warehouse"]]
    else:
        with pytest.raises(AttributeError):
            state.call("stock.warehouse", "name_get", [[1]])
