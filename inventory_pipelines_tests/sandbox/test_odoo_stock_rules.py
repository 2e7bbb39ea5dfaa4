"""Inventory and sales rules: reservations, cancellation, deliveries, write_date stamping."""

from __future__ import annotations

from typing import Any

import odoorpc
import pytest

from inventory_pipelines.sandbox.odoo import OdooSandbox, OdooState, UserError


def _storable_vals(state: OdooState, name: str, code: str) -> dict[str, Any]:
    vals: dict[str, Any] = {"name": name, "default_code": code}
    if state.profile.major <= 17:
        vals["type"] = "product"
    else:
        vals.update(type="consu", is_storable=True)
    return vals


@pytest.fixture
def product(state: OdooState) -> int:
    """A fresh storable product with stock laid out for FIFO and hold tests.

    MAIN/Stock/Shelf 1: 4 (oldest), MAIN/Stock: 10 (newer), MAIN/Stock/QC: 50 (hold),
    EAST/Stock: 100 (another warehouse).
    """
    state.call("product.template", "create", [_storable_vals(state, "Test Widget", "TEST-1")])
    with state.transaction(at="2024-06-01 10:00:00"):
        state.move_stock("TEST-1", "MAIN/Stock/Shelf 1", 4)
    with state.transaction(at="2024-06-02 10:00:00"):
        state.move_stock("TEST-1", "MAIN/Stock", 10)
        state.move_stock("TEST-1", "MAIN/Stock/QC", 50)
        state.move_stock("TEST-1", "EAST/Stock", 100)
    return state.product_id("TEST-1")


def _quants(state: OdooState, product_id: int) -> dict[str, dict[str, Any]]:
    rows = state.call(
        "stock.quant",
        "search_read",
        [
            [("product_id", "=", product_id), ("location_id.usage", "=", "internal")],
            ["location_id", "quantity", "reserved_quantity", "write_date"],
        ],
    )
    return {row["location_id"][1]: row for row in rows}


def _order(state: OdooState, product_id: int, qty: float) -> int:
    partner = state.call("res.partner", "search", [[("name", "=", "Amazon Marketplace")]])[0]
    return state.call(
        "sale.order",
        "create",
        [
            {
                "partner_id": partner,
                "client_order_ref": "AMZ-1",
                "order_line": [
                    [0, 0, {"product_id": product_id, "product_uom_qty": qty, "price_unit": 9.5}]
                ],
            }
        ],
    )


def test_confirm_creates_a_delivery_and_reserves_oldest_first(
    state: OdooState, product: int
) -> None:
    order = _order(state, product, 6)
    assert state.call("sale.order", "action_confirm", [[order]]) is True
    so = state.call("sale.order", "read", [[order], ["state", "picking_ids", "amount_total"]])[0]
    assert so["state"] == "sale" and so["amount_total"] == pytest.approx(57.0)
    picking = state.call(
        "stock.picking", "read", [so["picking_ids"], ["name", "state", "origin", "location_id"]]
    )[0]
    assert picking["name"] == "MAIN/OUT/00001"
    assert picking["state"] == "assigned"
    assert picking["location_id"][1] == "MAIN/Stock"
    quants = _quants(state, product)
    assert quants["MAIN/Stock/Shelf 1"]["reserved_quantity"] == 4
    assert quants["MAIN/Stock"]["reserved_quantity"] == 2
    assert quants["MAIN/Stock/QC"]["reserved_quantity"] == 0
    assert quants["EAST/Stock"]["reserved_quantity"] == 0
    move = state.call(
        "stock.move",
        "search_read",
        [[("picking_id", "=", so["picking_ids"][0])], ["state", "sale_line_id", "product_uom_qty"]],
    )
    assert move[0]["state"] == "assigned" and move[0]["product_uom_qty"] == 6


def test_reservation_never_takes_hold_stock_or_exceeds_quantity(
    state: OdooState, product: int
) -> None:
    order = _order(state, product, 30)
    state.call("sale.order", "action_confirm", [[order]])
    quants = _quants(state, product)
    assert quants["MAIN/Stock/Shelf 1"]["reserved_quantity"] == 4
    assert quants["MAIN/Stock"]["reserved_quantity"] == 10
    assert quants["MAIN/Stock/QC"]["reserved_quantity"] == 0
    move = state.call(
        "stock.move",
        "search_read",
        [[("product_id", "=", product), ("state", "!=", "done")], ["state"]],
    )
    assert move[0]["state"] == "partially_available"
    free = state.call("product.product", "read", [[product], ["free_qty", "qty_available"]])[0]
    assert free["qty_available"] == 164 and free["free_qty"] == 150


def test_cancel_of_a_confirmed_order_returns_the_wizard(state: OdooState, product: int) -> None:
    order = _order(state, product, 6)
    state.call("sale.order", "action_confirm", [[order]])
    action = state.call("sale.order", "action_cancel", [[order]])
    assert action["res_model"] == "sale.order.cancel"
    assert action["type"] == "ir.actions.act_window"
    assert action["context"]["default_order_id"] == order
    assert state.call("sale.order", "read", [[order], ["state"]])[0]["state"] == "sale"
    assert _quants(state, product)["MAIN/Stock/Shelf 1"]["reserved_quantity"] == 4


def test_cancel_without_warning_releases_reservations(state: OdooState, product: int) -> None:
    order = _order(state, product, 6)
    state.call("sale.order", "action_confirm", [[order]])
    result = state.call(
        "sale.order", "action_cancel", [[order]], {"context": {"disable_cancel_warning": True}}
    )
    assert result is True
    so = state.call("sale.order", "read", [[order], ["state", "picking_ids"]])[0]
    assert so["state"] == "cancel"
    picking = state.call("stock.picking", "read", [so["picking_ids"], ["state"]])[0]
    assert picking["state"] == "cancel"
    assert all(q["reserved_quantity"] == 0 for q in _quants(state, product).values())


def test_the_cancel_wizard_cancels(state: OdooState, product: int) -> None:
    order = _order(state, product, 2)
    state.call("sale.order", "action_confirm", [[order]])
    wizard = state.call("sale.order.cancel", "create", [{"order_id": order}])
    assert state.call("sale.order.cancel", "action_cancel", [[wizard]]) is True
    assert state.call("sale.order", "read", [[order], ["state"]])[0]["state"] == "cancel"


def test_draft_orders_cancel_without_wizard(state: OdooState, product: int) -> None:
    order = _order(state, product, 2)
    assert state.call("sale.order", "action_cancel", [[order]]) is True


def test_locked_orders_cannot_be_cancelled(state: OdooState, product: int) -> None:
    order = _order(state, product, 2)
    state.call("sale.order", "action_confirm", [[order]])
    state.call(
        "sale.order", "action_lock" if state.profile.major >= 17 else "action_done", [[order]]
    )
    with pytest.raises(UserError, match="locked"):
        state.call(
            "sale.order", "action_cancel", [[order]], {"context": {"disable_cancel_warning": True}}
        )


def test_confirming_twice_is_refused(state: OdooState, product: int) -> None:
    order = _order(state, product, 1)
    state.call("sale.order", "action_confirm", [[order]])
    with pytest.raises(UserError):
        state.call("sale.order", "action_confirm", [[order]])


def test_validating_the_delivery_moves_stock_to_the_customer(
    state: OdooState, product: int
) -> None:
    order = _order(state, product, 6)
    state.call("sale.order", "action_confirm", [[order]])
    picking = state.call("sale.order", "read", [[order], ["picking_ids"]])[0]["picking_ids"]
    assert state.call("stock.picking", "button_validate", [picking]) is True
    quants = _quants(state, product)
    assert quants["MAIN/Stock/Shelf 1"]["quantity"] == 0
    assert quants["MAIN/Stock"]["quantity"] == 8
    assert all(q["reserved_quantity"] == 0 for q in quants.values())
    customer = state.call(
        "stock.quant",
        "search_read",
        [[("product_id", "=", product), ("location_id.usage", "=", "customer")], ["quantity"]],
    )
    assert customer[0]["quantity"] == 6
    line = state.call(
        "sale.order.line", "search_read", [[("order_id", "=", order)], ["qty_delivered"]]
    )
    assert line[0]["qty_delivered"] == 6


def test_write_date_is_the_transaction_start(state: OdooState, product: int) -> None:
    state.set_clock("2030-01-01 12:00:00")
    quant_ids = state.call("stock.quant", "search", [[("product_id", "=", product)]])
    state.call("stock.quant", "write", [quant_ids, {"inventory_quantity": 1}])
    stamps = {
        q["write_date"] for q in state.call("stock.quant", "read", [quant_ids, ["write_date"]])
    }
    assert stamps == {"2030-01-01 12:00:00"}
    with state.transaction(at="2029-12-31 23:00:00"):
        state.set_clock("2030-01-01 13:00:00")
        result = state.move_stock("TEST-1", "MAIN/Stock", 1)
    assert result["write_date"] == "2029-12-31 23:00:00"


def test_reservations_stamp_quants(state: OdooState, product: int) -> None:
    state.set_clock("2031-05-05 05:05:05")
    state.call("sale.order", "action_confirm", [[_order(state, product, 1)]])
    assert _quants(state, product)["MAIN/Stock/Shelf 1"]["write_date"] == "2031-05-05 05:05:05"
    assert _quants(state, product)["EAST/Stock"]["write_date"] != "2031-05-05 05:05:05"


def test_silent_quantity_changes_keep_write_date(state: OdooState, product: int) -> None:
    before = _quants(state, product)["MAIN/Stock"]
    state.set_clock("2032-01-01 00:00:00")
    state.set_quant_quantity_silently(before["id"], 77)
    after = _quants(state, product)["MAIN/Stock"]
    assert after["quantity"] == 77 and after["write_date"] == before["write_date"]
    state.delete_quant_silently(before["id"])
    assert "MAIN/Stock" not in _quants(state, product)


def test_move_stock_leaves_a_done_inventory_move(state: OdooState, product: int) -> None:
    state.set_clock("2033-03-03 03:03:03")
    result = state.move_stock("TEST-1", "WEST/Stock/Shelf 2", -3, lot=None)
    assert result["quantity"] == -3
    move = state.call(
        "stock.move",
        "read",
        [[result["move_id"]], ["state", "location_id", "location_dest_id", "date", "is_inventory"]],
    )[0]
    assert move["state"] == "done" and move["is_inventory"]
    assert move["location_id"][1] == "WEST/Stock/Shelf 2"
    assert move["location_dest_id"][1] == "Virtual Locations/Inventory adjustment"
    assert move["date"] == "2033-03-03 03:03:03"
    done = state.call(
        "stock.move",
        "search",
        [[("state", "=", "done"), ("write_date", ">=", "2033-03-03 00:00:00")]],
    )
    assert done == [result["move_id"]]


def test_counted_quantities_apply_as_adjustments(state: OdooState, product: int) -> None:
    quant = _quants(state, product)["MAIN/Stock"]
    state.call("stock.quant", "write", [[quant["id"]], {"inventory_quantity": 25}])
    state.call("stock.quant", "action_apply_inventory", [[quant["id"]]])
    assert _quants(state, product)["MAIN/Stock"]["quantity"] == 25


@pytest.mark.parametrize("fresh_odoo", [16, 19], indirect=True)
def test_order_loop_over_json_rpc(fresh_odoo: OdooSandbox) -> None:
    client = odoorpc.ODOO("127.0.0.1", port=fresh_odoo.port)
    client.login(fresh_odoo.db, fresh_odoo.login, fresh_odoo.password)
    product = client.env["product.product"].search([("default_code", "=", "SKU-000001")])[0]
    partner = client.env["res.partner"].search([("name", "=", "Online Store Customer")])[0]
    orders = client.env["sale.order"]
    order = orders.create(
        {
            "partner_id": partner,
            "client_order_ref": "WEB-1",
            "origin": "web",
            "order_line": [[0, 0, {"product_id": product, "product_uom_qty": 1}]],
        }
    )
    assert orders.action_confirm([order]) is True
    wizard = orders.action_cancel([order])
    assert wizard["res_model"] == "sale.order.cancel"
    assert orders.with_context(disable_cancel_warning=True).action_cancel([order]) is True
    assert orders.read([order], ["state"])[0]["state"] == "cancel"
