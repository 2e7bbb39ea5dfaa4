"""Vendor prices, purchase orders, receipts and drop-shipping in the emulated Odoo (16 to 19)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import odoorpc
import pytest

from inventory_pipelines.sandbox.demo_data import build_state
from inventory_pipelines.sandbox.odoo import OdooSandbox, OdooState, UserError

DROPSHIP = "stock_dropshipping.route_drop_shipping"


def _storable(state: OdooState, code: str) -> int:
    vals: dict[str, Any] = {"name": f"Widget {code}", "default_code": code, "standard_price": 4.0}
    if state.profile.major <= 17:
        vals["type"] = "product"
    else:
        vals.update(type="consu", is_storable=True)
    tmpl = state.call("product.template", "create", [vals])
    return state.call("product.product", "search", [[("product_tmpl_id", "=", tmpl)]])[0]


def _vendor(state: OdooState, name: str) -> int:
    return state.call("res.partner", "create", [{"name": name, "supplier_rank": 1}])


def _price(state: OdooState, vendor: int, product: int, code: str, **extra: Any) -> int:
    tmpl = state.get("product.product", product, "product_tmpl_id")
    vals = {"partner_id": vendor, "product_tmpl_id": tmpl, "product_code": code, **extra}
    return state.call("product.supplierinfo", "create", [vals])


def _uom(state: OdooState, name: str) -> int:
    return state.call("uom.uom", "search", [[("name", "=", name)]])[0]


def _receipt_type(state: OdooState, code: str) -> int:
    return state.call("stock.warehouse", "search_read", [[("code", "=", code)], ["in_type_id"]])[0][
        "in_type_id"
    ][0]


def _purchase(state: OdooState, vendor: int, warehouse: str, lines: list[dict[str, Any]]) -> int:
    return state.call(
        "purchase.order",
        "create",
        [
            {
                "partner_id": vendor,
                "picking_type_id": _receipt_type(state, warehouse),
                "order_line": [(0, 0, line) for line in lines],
            }
        ],
    )


def _read(state: OdooState, model: str, ids: list[int] | int, fields: list[str]) -> Any:
    rows = state.call(model, "read", [[ids] if isinstance(ids, int) else ids, fields])
    return rows[0] if isinstance(ids, int) else rows


def _on_hand(state: OdooState, product: int, location: str) -> float:
    rows = state.call(
        "stock.quant",
        "search_read",
        [
            [("product_id", "=", product), ("location_id.complete_name", "=", location)],
            ["quantity"],
        ],
    )
    return sum(r["quantity"] for r in rows)


def _sale(state: OdooState, lines: list[dict[str, Any]]) -> int:
    partner = state.call("res.partner", "search", [[("name", "=", "Online Store Customer")]])[0]
    return state.call(
        "sale.order",
        "create",
        [{"partner_id": partner, "order_line": [(0, 0, line) for line in lines]}],
    )


def _route(state: OdooState) -> int:
    module, name = DROPSHIP.split(".")
    return state.call("ir.model.data", "check_object_reference", [module, name])[1]


# -- the schema, per version ---------------------------------------------------------------------


def test_purchase_fields_follow_each_version(state: OdooState) -> None:
    major = state.profile.major
    order = state.call("purchase.order", "fields_get", [], {"attributes": ["selection", "type"]})
    states = [key for key, _label in order["state"]["selection"]]
    assert states[:4] == ["draft", "sent", "to approve", "purchase"]
    assert ("done" in states) is (major <= 18)  # 19 locks with a flag instead
    assert ("locked" in order) is (major >= 19)
    lines = state.call("purchase.order.line", "fields_get", [], {"attributes": ["type"]})
    assert ("product_uom_id" if major >= 19 else "product_uom") in lines
    assert {"product_qty", "qty_received", "date_planned", "move_ids", "state"} <= set(lines)
    prices = state.call("product.supplierinfo", "fields_get", [], {"attributes": ["type"]})
    assert {"partner_id", "product_code", "product_name", "min_qty", "delay", "sequence"} <= set(
        prices
    )
    assert ("uom_id" if major >= 19 else "product_uom") in prices
    codes = state.call(
        "stock.picking.type", "fields_get", [["code"]], {"attributes": ["selection"]}
    )
    assert ("dropship" in [k for k, _ in codes["code"]["selection"]]) is (major >= 17)
    assert "route_id" in state.call("sale.order.line", "fields_get", [["route_id"]])
    assert "purchase_line_id" in state.call("stock.move", "fields_get", [["purchase_line_id"]])


# -- buying and receiving ------------------------------------------------------------------------


def test_confirming_a_purchase_makes_the_receipt_of_its_warehouse(state: OdooState) -> None:
    product = _storable(state, "BUY-1")
    vendor = _vendor(state, "Acme Parts")
    uom_field = state.profile.purchase_line_uom_field
    po = _purchase(
        state,
        vendor,
        "EAST",
        [
            {
                "product_id": product,
                "product_qty": 2,
                uom_field: _uom(state, "Dozens"),
                "date_planned": "2030-05-01 08:00:00",
            }
        ],
    )
    draft = _read(state, "purchase.order", po, ["name", "state", "picking_ids"])
    assert draft["name"].startswith("P") and draft["state"] == "draft"
    assert draft["picking_ids"] == []

    assert state.call("purchase.order", "button_confirm", [[po]]) is True

    order = _read(
        state,
        "purchase.order",
        po,
        ["state", "date_approve", "picking_ids", "receipt_status", "date_planned"],
    )
    assert order["state"] == "purchase" and order["date_approve"]
    assert order["receipt_status"] == "pending"
    assert order["date_planned"] == "2030-05-01 08:00:00"
    [picking] = _read(
        state,
        "stock.picking",
        order["picking_ids"],
        ["name", "state", "location_id", "location_dest_id", "purchase_id", "move_ids", "origin"],
    )
    assert picking["name"].startswith("EAST/IN/")
    assert picking["state"] == "assigned"  # nothing to reserve at a vendor's
    assert picking["location_id"][1] == "Partners/Vendors"
    assert picking["location_dest_id"][1] == "EAST/Stock"
    assert picking["purchase_id"][0] == po and picking["origin"] == draft["name"]
    [move] = _read(
        state, "stock.move", picking["move_ids"], ["purchase_line_id", "product_qty", "state"]
    )
    assert move["product_qty"] == 24.0  # two dozens, in the product's unit
    assert move["purchase_line_id"]
    east = state.call("stock.warehouse", "search", [[("code", "=", "EAST")]])[0]
    key = state.profile.qty_warehouse_key
    incoming = state.call(
        "product.product", "read", [[product], ["incoming_qty"]], {"context": {key: east}}
    )
    assert incoming[0]["incoming_qty"] == 24.0


def test_a_partial_receipt_raises_qty_received_and_leaves_a_backorder(state: OdooState) -> None:
    product = _storable(state, "BUY-2")
    po = _purchase(
        state, _vendor(state, "Acme Parts"), "MAIN", [{"product_id": product, "product_qty": 30}]
    )
    state.call("purchase.order", "button_confirm", [[po]])
    before = _on_hand(state, product, "MAIN/Stock")

    done = state.receive_purchase(po, {"BUY-2": 12})

    [line] = state.call(
        "purchase.order.line", "search_read", [[("order_id", "=", po)], ["qty_received"]]
    )
    assert line["qty_received"] == 12.0
    assert _on_hand(state, product, "MAIN/Stock") == before + 12
    backorder = _read(
        state, "stock.picking", done["backorder_id"], ["state", "backorder_id", "move_ids"]
    )
    assert backorder["state"] == "assigned"
    assert backorder["backorder_id"][0] == done["picking_id"]
    [rest] = _read(state, "stock.move", backorder["move_ids"], ["product_qty", "state"])
    assert rest == {"id": rest["id"], "product_qty": 18.0, "state": "assigned"}
    order = _read(state, "purchase.order", po, ["receipt_status", "picking_ids"])
    assert order["receipt_status"] == "partial"
    assert set(order["picking_ids"]) == {done["picking_id"], done["backorder_id"]}

    state.receive_purchase(po)  # the backorder, in full

    assert _read(state, "purchase.order", po, ["receipt_status"])["receipt_status"] == "full"
    assert _on_hand(state, product, "MAIN/Stock") == before + 30


def test_without_a_backorder_the_rest_is_cancelled(state: OdooState) -> None:
    product = _storable(state, "BUY-3")
    po = _purchase(
        state, _vendor(state, "Acme Parts"), "WEST", [{"product_id": product, "product_qty": 10}]
    )
    state.call("purchase.order", "button_confirm", [[po]])

    done = state.receive_purchase(po, {"BUY-3": 4}, backorder=False)

    assert done["backorder_id"] is None
    moves = state.call(
        "stock.move",
        "search_read",
        [[("purchase_line_id.order_id", "=", po)], ["state", "product_qty"]],
    )
    assert sorted((m["state"], m["product_qty"]) for m in moves) == [("cancel", 6.0), ("done", 4.0)]
    [line] = state.call(
        "purchase.order.line", "search_read", [[("order_id", "=", po)], ["qty_received"]]
    )
    assert line["qty_received"] == 4.0


def test_a_confirmed_line_follows_its_quantity_but_not_below_what_came(state: OdooState) -> None:
    product = _storable(state, "BUY-4")
    po = _purchase(
        state, _vendor(state, "Acme Parts"), "MAIN", [{"product_id": product, "product_qty": 10}]
    )
    state.call("purchase.order", "button_confirm", [[po]])
    [line] = state.call("purchase.order.line", "search", [[("order_id", "=", po)]])

    state.call("purchase.order.line", "write", [[line], {"product_qty": 15}])
    state.receive_purchase(po, {"BUY-4": 8})

    moves = state.call(
        "stock.move", "search_read", [[("purchase_line_id", "=", line)], ["state", "product_qty"]]
    )
    assert sorted((m["state"], m["product_qty"]) for m in moves) == [
        ("assigned", 7.0),
        ("done", 8.0),
    ]
    with pytest.raises(UserError, match="below the received quantity"):
        state.call("purchase.order.line", "write", [[line], {"product_qty": 5}])
    state.call("purchase.order.line", "write", [[line], {"product_qty": 9}])
    [open_move] = state.call(
        "stock.move",
        "search_read",
        [[("purchase_line_id", "=", line), ("state", "=", "assigned")], ["product_qty"]],
    )
    assert open_move["product_qty"] == 1.0


def test_cancelling_a_purchase_cancels_its_receipt_unless_something_came(state: OdooState) -> None:
    product = _storable(state, "BUY-5")
    vendor = _vendor(state, "Acme Parts")
    first = _purchase(state, vendor, "MAIN", [{"product_id": product, "product_qty": 3}])
    second = _purchase(state, vendor, "MAIN", [{"product_id": product, "product_qty": 3}])
    state.call("purchase.order", "button_confirm", [[first, second]])
    state.receive_purchase(second, {"BUY-5": 1})

    state.call("purchase.order", "button_cancel", [[first]])

    order = _read(state, "purchase.order", first, ["state", "picking_ids"])
    assert order["state"] == "cancel"
    assert _read(state, "stock.picking", order["picking_ids"], ["state"])[0]["state"] == "cancel"
    with pytest.raises(UserError, match="some receptions have already been done"):
        state.call("purchase.order", "button_cancel", [[second]])


def test_confirming_makes_a_new_vendor_one_of_the_products_vendors(state: OdooState) -> None:
    product = _storable(state, "BUY-6")
    known, new = _vendor(state, "Known Vendor"), _vendor(state, "New Vendor")
    _price(state, known, product, "KV-1")
    po = _purchase(
        state, new, "MAIN", [{"product_id": product, "product_qty": 1, "price_unit": 3.5}]
    )

    state.call("purchase.order", "button_confirm", [[po]])

    prices = state.call(
        "product.supplierinfo",
        "search_read",
        [
            [("product_tmpl_id", "=", state.get("product.product", product, "product_tmpl_id"))],
            ["partner_id", "sequence", "product_code", "price"],
        ],
    )
    assert [(p["partner_id"][0], p["sequence"], p["product_code"], p["price"]) for p in prices] == [
        (known, 1, "KV-1", 0.0),
        (new, 2, False, 3.5),
    ]


# -- drop-shipping --------------------------------------------------------------------------------


def test_a_dropship_line_raises_a_quotation_to_the_first_vendor_and_reserves_nothing(
    state: OdooState,
) -> None:
    product = _storable(state, "DS-1")
    state.move_stock("DS-1", "MAIN/Stock", 40)
    first, second = _vendor(state, "First Vendor"), _vendor(state, "Second Vendor")
    _price(state, second, product, "SV-9", sequence=2, price=2.0, delay=2)
    _price(state, first, product, "FV-1", sequence=1, price=3.0, delay=5, min_qty=10)
    small = _sale(state, [{"product_id": product, "product_uom_qty": 4, "route_id": _route(state)}])
    large = _sale(
        state, [{"product_id": product, "product_uom_qty": 12, "route_id": _route(state)}]
    )
    free = state.call("product.product", "read", [[product], ["free_qty"]])[0]["free_qty"]

    state.call("sale.order", "action_confirm", [[small, large]])

    assert state.call("product.product", "read", [[product], ["free_qty"]])[0]["free_qty"] == free
    for so, vendor, code, delay in ((small, second, "SV-9", 2), (large, first, "FV-1", 5)):
        sale = _read(
            state, "sale.order", so, ["name", "state", "picking_ids", "purchase_order_count"]
        )
        assert sale["state"] == "sale" and sale["picking_ids"] == []
        assert sale["purchase_order_count"] == 1
        [po] = state.call(
            "purchase.order",
            "search_read",
            [
                [("origin", "=", sale["name"])],
                [
                    "partner_id",
                    "state",
                    "picking_type_id",
                    "dest_address_id",
                    "order_line",
                    "date_order",
                ],
            ],
        )
        # the first vendor by sequence, but not below its minimum quantity
        assert po["partner_id"][0] == vendor and po["state"] == "draft"
        assert po["picking_type_id"][1] == "Dropship"
        assert po["dest_address_id"][1] == "Online Store Customer"
        [line] = _read(
            state,
            "purchase.order.line",
            po["order_line"],
            ["name", "product_qty", "sale_line_id", "date_planned"],
        )
        assert line["name"].startswith(f"[{code}]")
        assert line["sale_line_id"]
        planned = datetime.fromisoformat(line["date_planned"]) - datetime.fromisoformat(
            po["date_order"]
        )
        assert planned.days == delay


def test_a_confirmed_dropship_purchase_ships_from_the_vendor_to_the_customer(
    state: OdooState,
) -> None:
    product = _storable(state, "DS-2")
    _price(state, _vendor(state, "Drop Vendor"), product, "DV-2")
    so = _sale(state, [{"product_id": product, "product_uom_qty": 3, "route_id": _route(state)}])
    state.call("sale.order", "action_confirm", [[so]])
    [po] = state.call(
        "purchase.order",
        "search",
        [[("origin", "=", _read(state, "sale.order", so, ["name"])["name"])]],
    )

    state.call("purchase.order", "button_confirm", [[po]])

    [picking] = _read(
        state,
        "stock.picking",
        _read(state, "purchase.order", po, ["picking_ids"])["picking_ids"],
        ["name", "sale_id", "location_id", "location_dest_id", "is_dropship", "picking_type_code"],
    )
    assert picking["name"].startswith("DS/") and picking["is_dropship"]
    assert picking["picking_type_code"] == state.profile.dropship_picking_code
    assert picking["sale_id"][0] == so
    assert (picking["location_id"][1], picking["location_dest_id"][1]) == (
        "Partners/Vendors",
        "Partners/Customers",
    )
    state.call("stock.picking", "button_validate", [[picking["id"]]])
    [line] = state.call(
        "sale.order.line", "search_read", [[("order_id", "=", so)], ["qty_delivered"]]
    )
    assert line["qty_delivered"] == 3.0


def test_a_dropship_line_without_a_vendor_fails_and_changes_nothing(state: OdooState) -> None:
    product = _storable(state, "DS-3")
    so = _sale(state, [{"product_id": product, "product_uom_qty": 1, "route_id": _route(state)}])
    orders = state.call("purchase.order", "search_count", [[]])

    with pytest.raises(UserError, match="no matching vendor price"):
        state.call("sale.order", "action_confirm", [[so]])

    assert _read(state, "sale.order", so, ["state"])["state"] == "draft"
    assert state.call("purchase.order", "search_count", [[]]) == orders


def test_a_product_on_the_dropship_route_goes_dropship_without_a_line_route(
    state: OdooState,
) -> None:
    product = _storable(state, "DS-4")
    _price(state, _vendor(state, "Drop Vendor"), product, "DV-4")
    tmpl = state.get("product.product", product, "product_tmpl_id")
    state.call("product.template", "write", [[tmpl], {"route_ids": [(4, _route(state))]}])
    so = _sale(state, [{"product_id": product, "product_uom_qty": 2}])

    state.call("sale.order", "action_confirm", [[so]])

    assert _read(state, "sale.order", so, ["purchase_order_count"])["purchase_order_count"] == 1


def test_deleting_the_route_forgets_its_external_id(state: OdooState) -> None:
    route = _route(state)

    state.call("stock.route", "unlink", [[route]])

    assert (
        state.call("ir.model.data", "search_count", [[("name", "=", "route_drop_shipping")]]) == 0
    )
    with pytest.raises(ValueError, match="External ID not found"):
        state.call(
            "ir.model.data", "check_object_reference", ["stock_dropshipping", "route_drop_shipping"]
        )


# -- the demo data ------------------------------------------------------------------------------


def test_the_demo_data_has_vendors_prices_and_purchases_coming(state: OdooState) -> None:
    vendors = state.call("res.partner", "search_read", [[("supplier_rank", ">", 0)], ["name"]])
    assert {v["name"] for v in vendors} >= {
        "Main Supplier Inc",
        "Nordwind Industrial GmbH",
        "Pacific Components Ltd",
        "Bright Drop-Ship Co",
    }
    prices = state.call(
        "product.supplierinfo", "search_read", [[], ["product_code", "product_id", "partner_id"]]
    )
    codes = [p["product_code"] for p in prices if p["product_code"]]
    assert codes and not any(code.startswith("SKU-") for code in codes)
    orders = state.call(
        "purchase.order",
        "search_read",
        [[], ["state", "receipt_status", "picking_type_id", "date_planned"]],
    )
    confirmed = [o for o in orders if o["state"] == "purchase"]
    assert {o["state"] for o in orders} == {"purchase", "cancel", "draft"}
    assert {o["picking_type_id"][1].split(" ")[0] for o in confirmed} == {"Main", "East", "West"}
    assert sorted(o["receipt_status"] for o in confirmed).count("partial") == 1
    assert sorted(o["receipt_status"] for o in confirmed).count("full") == 1
    today = state.current_time().strftime("%Y-%m-%d")
    assert all(o["date_planned"] > today for o in confirmed)


def test_the_demo_supply_is_the_same_for_the_same_seed_and_day() -> None:
    day = datetime(2030, 1, 1)

    def supply(seed: int) -> tuple:
        state = build_state(17, skus=80, seed=seed, supply_from=day)
        return tuple(
            repr(state.call(model, "search_read", [[], []], {"load": None}))
            for model in ("product.supplierinfo", "purchase.order.line", "stock.move")
        )

    assert supply(5) == supply(5)
    assert supply(5) != supply(6)


# -- with a client we did not write (odoorpc, JSON-RPC) ------------------------------------------


def _odoorpc(odoo: OdooSandbox) -> odoorpc.ODOO:
    client = odoorpc.ODOO("127.0.0.1", port=odoo.port)
    client.login(odoo.db, odoo.login, odoo.password)
    return client


@pytest.mark.parametrize("fresh_odoo", [16, 19], indirect=True)
def test_odoorpc_buys_receives_part_and_answers_the_backorder_wizard(
    fresh_odoo: OdooSandbox,
) -> None:
    state = fresh_odoo.state
    client = _odoorpc(fresh_odoo)
    product = _storable(state, "RPC-1")
    prices = client.env["product.supplierinfo"].search_read(
        [("product_code", "!=", False)], ["partner_id", "product_code", "min_qty", "delay"]
    )
    assert prices and all(isinstance(p["delay"], int) for p in prices)
    orders = client.env["purchase.order"]
    po = orders.create(
        {
            "partner_id": prices[0]["partner_id"][0],
            "order_line": [(0, 0, {"product_id": product, "product_qty": 10})],
        }
    )
    orders.browse(po).button_confirm()
    order = orders.browse(po)
    assert order.state == "purchase" and order.picking_type_id.warehouse_id.code == "MAIN"
    picking = order.picking_ids[0]
    move = picking.move_ids[0]
    qty_field = "quantity" if fresh_odoo.version >= 17 else "quantity_done"
    move.write({qty_field: 4})

    action = client.execute_kw("stock.picking", "button_validate", [[picking.id]])

    assert action["res_model"] == "stock.backorder.confirmation"
    wizard = client.env["stock.backorder.confirmation"].create({"pick_ids": [(4, picking.id)]})
    client.execute_kw(
        "stock.backorder.confirmation", "process", [[wizard]], {"context": action["context"]}
    )
    assert client.env["purchase.order.line"].browse(order.order_line.ids[0]).qty_received == 4.0
    assert client.env["stock.picking"].browse(picking.id).state == "done"
    [backorder] = client.env["stock.picking"].search([("backorder_id", "=", picking.id)])
    assert client.env["stock.picking"].browse(backorder).state == "assigned"
    assert _on_hand(state, product, "MAIN/Stock") == 4.0


@pytest.mark.parametrize("fresh_odoo", [16, 19], indirect=True)
def test_odoorpc_sale_line_on_the_dropship_route_raises_the_purchase(
    fresh_odoo: OdooSandbox,
) -> None:
    state = fresh_odoo.state
    client = _odoorpc(fresh_odoo)
    product = _storable(state, "RPC-DS")
    vendor = client.env["res.partner"].create({"name": "Drop Vendor", "supplier_rank": 1})
    client.env["product.supplierinfo"].create(
        {
            "partner_id": vendor,
            "product_tmpl_id": state.get("product.product", product, "product_tmpl_id"),
            "product_code": "DV-77",
            "delay": 3,
        }
    )
    route = client.env.ref(DROPSHIP)
    assert route.name == "Dropship"
    customer = client.env["res.partner"].search([("name", "=", "Online Store Customer")])[0]
    sales = client.env["sale.order"]
    so = sales.create(
        {
            "partner_id": customer,
            "order_line": [
                (0, 0, {"product_id": product, "product_uom_qty": 6, "route_id": route.id})
            ],
        }
    )

    sales.browse(so).action_confirm()

    sale = sales.browse(so)
    assert sale.state == "sale" and not sale.picking_ids
    [po] = client.env["purchase.order"].search([("origin", "=", sale.name)])
    order = client.env["purchase.order"].browse(po)
    assert order.partner_id.id == vendor and order.state == "draft"
    assert order.order_line[0].sale_line_id.id == sale.order_line[0].id
    assert order.order_line[0].product_qty == 6.0
    order.button_confirm()
    confirmed = client.env["purchase.order"].browse(po)
    assert sales.browse(so).picking_ids.ids == confirmed.picking_ids.ids
    dropship = confirmed.picking_ids[0]
    assert dropship.picking_type_id.code == state.profile.dropship_picking_code
