"""The Odoo emulator's return wizard: a receipt back from the customer, stock restored on
validation; the button is `create_returns` up to 17 and `action_create_returns` from 18."""

from __future__ import annotations

import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.errors import OdooError
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.sandbox.odoo import OdooSandbox


@pytest.fixture(scope="module", params=[16, 17, 18, 19])
def odoo(request):
    with OdooSandbox(version=request.param, skus=40, seed=6, port=0) as sandbox:
        yield sandbox


def test_a_returned_delivery_comes_back_in_stock_once_validated(odoo) -> None:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        products = read_products(client)
        row = next(
            r
            for r in products.iter_rows(named=True)
            if r["active"] and r["storable"] and (r["factor"] or 1) == 1
        )
        pid = row["product_id"]

        def free() -> float:
            return client.call("product.product", "read", [[pid]], {"fields": ["qty_available"]})[
                0
            ]["qty_available"]

        partner = client.call("res.partner", "search", [[]], {"limit": 1})[0]
        warehouse = client.call("stock.warehouse", "search", [[["code", "=", "MAIN"]]])[0]
        order = client.call(
            "sale.order",
            "create",
            [
                {
                    "partner_id": partner,
                    "warehouse_id": warehouse,
                    "order_line": [[0, 0, {"product_id": pid, "product_uom_qty": 2}]],
                }
            ],
        )
        order = order[0] if isinstance(order, list) else order
        client.call("sale.order", "action_confirm", [[order]])
        [delivery] = client.call("sale.order", "read", [[order]], {"fields": ["picking_ids"]})[0][
            "picking_ids"
        ]
        before = free()
        client.call("stock.picking", "button_validate", [[delivery]])
        assert free() == before - 2
        button = "create_returns" if odoo.version <= 17 else "action_create_returns"
        wizard = client.call(
            "stock.return.picking",
            "create",
            [
                {
                    "picking_id": delivery,
                    "product_return_moves": [[0, 0, {"product_id": pid, "quantity": 1}]],
                }
            ],
        )
        wizard = wizard[0] if isinstance(wizard, list) else wizard
        action = client.call("stock.return.picking", button, [[wizard]])
        receipt = action["res_id"]
        assert free() == before - 2  # not back before the warehouse receives it
        client.call("stock.picking", "button_validate", [[receipt]])
        assert free() == before - 1
        [picked] = client.call(
            "stock.picking", "read", [[receipt]], {"fields": ["state", "origin"]}
        )
        assert picked["state"] == "done" and picked["origin"].startswith("Return of ")
        other = "action_create_returns" if button == "create_returns" else "create_returns"
        with pytest.raises(OdooError):
            client.call("stock.return.picking", other, [[wizard]])
