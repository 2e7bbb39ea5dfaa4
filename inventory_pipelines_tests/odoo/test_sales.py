"""`OdooSales` against the emulated Odoo 16 to 19: sale orders by reference, confirmation,
cancellation, and returns through the wizard whose button changed name in 18."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig, read_products
from inventory_pipelines.odoo.sales import CANCELLED, CONFIRMED, DRAFT, OdooSales, SaleLine
from inventory_pipelines.sandbox.odoo import OdooSandbox

_refs = count(1)


@pytest.fixture(scope="module", params=[16, 17, 18, 19])
def odoo(request) -> Iterator[OdooSandbox]:
    with OdooSandbox(version=request.param, skus=40, seed=5, port=0) as sandbox:
        yield sandbox


@pytest.fixture
def client(odoo: OdooSandbox) -> Iterator[OdooClient]:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        yield client


@pytest.fixture
def sales(client: OdooClient) -> OdooSales:
    return OdooSales(client)


@pytest.fixture(scope="module")
def stocked(odoo: OdooSandbox) -> Iterator[dict[str, Any]]:
    """Active storable products counted in units with stock to sell, one per call."""
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        rows = [
            row
            for row in read_products(client).iter_rows(named=True)
            if row["active"] and row["storable"] and (row["factor"] or 1) == 1
        ]
    return iter(row for row in rows if quantity(odoo, row["product_id"], "free_qty") >= 5)


def quantity(odoo: OdooSandbox, product_id: int, field: str) -> float:
    [row] = odoo.state.call("product.product", "read", [[product_id]], {"fields": [field]})
    return row[field]


def new_order(sales: OdooSales, product: dict[str, Any], units: float = 2.0) -> tuple[str, int]:
    """A draft order for `units` of `product` on the sandbox's web-shop partner: (ref, id)."""
    ref = f"test/{next(_refs)}"
    partner = sales.partner_by_name("Online Store Customer")
    assert partner is not None
    line = SaleLine(product["product_id"], units, product["name"], uom_id=product["uom_id"])
    return ref, sales.create_order(partner_id=partner, ref=ref, origin=f"#{ref}", lines=[line])


def test_a_created_order_is_a_quotation_found_by_its_reference(sales, stocked) -> None:
    ref, order_id = new_order(sales, next(stocked))
    found = sales.find_order_by_ref(ref)
    assert found is not None and (found.id, found.state) == (order_id, DRAFT)
    assert sales.find_order_by_ref(f"{ref}-never-made") is None


def test_an_order_keeps_its_lines_unit_price_and_warehouse(client, sales, stocked) -> None:
    """The unit goes in `product_uom` up to 18 and `product_uom_id` on 19 (Odoo, like the
    sandbox, refuses the other)."""
    product = next(stocked)
    warehouse = sales.warehouse_by_code("EAST")
    partner = sales.partner_by_name("Walk-in Customer")
    assert warehouse is not None and partner is not None
    line = SaleLine(product["product_id"], 3.0, "three", uom_id=product["uom_id"], price_unit=4.5)
    order_id = sales.create_order(
        partner_id=partner, ref="test/lines", origin="#L", lines=[line], warehouse_id=warehouse
    )
    [order] = client.call(
        "sale.order", "read", [[order_id]], {"fields": ["warehouse_id", "order_line", "origin"]}
    )
    [created] = client.call(
        "sale.order.line",
        "read",
        [order["order_line"]],
        {"fields": ["product_uom_qty", "name", "price_unit"]},
    )
    assert order["warehouse_id"][0] == warehouse and order["origin"] == "#L"
    assert (created["product_uom_qty"], created["name"], created["price_unit"]) == (3, "three", 4.5)


def test_the_oldest_order_answers_for_a_reference_held_twice(sales, stocked) -> None:
    product = next(stocked)
    ref, first = new_order(sales, product)
    partner = sales.partner_by_name("Online Store Customer")
    sales.create_order(
        partner_id=partner, ref=ref, origin="again", lines=[SaleLine(product["product_id"], 1, "x")]
    )
    found = sales.find_order_by_ref(ref)
    assert found is not None and found.id == first


def test_confirming_makes_the_delivery_and_reserves_the_stock(odoo, sales, stocked) -> None:
    product = next(stocked)
    free = quantity(odoo, product["product_id"], "free_qty")
    ref, order_id = new_order(sales, product, 2)
    sales.confirm_order(order_id)
    found = sales.find_order_by_ref(ref)
    assert found is not None and found.state == CONFIRMED and len(found.picking_ids) == 1
    assert quantity(odoo, product["product_id"], "free_qty") == free - 2
    assert not sales.fulfilment_started(found) and sales.done_delivery(found) is None


def test_cancelling_a_confirmed_order_releases_its_reservation(odoo, sales, stocked) -> None:
    product = next(stocked)
    free = quantity(odoo, product["product_id"], "free_qty")
    _, order_id = new_order(sales, product, 2)
    sales.confirm_order(order_id)
    sales.cancel_order(order_id)
    assert sales.order_state(order_id) == CANCELLED
    assert quantity(odoo, product["product_id"], "free_qty") == free


def test_a_return_is_a_receipt_marked_for_its_event_and_restocks_once_validated(
    odoo, sales, stocked
) -> None:
    product = next(stocked)
    ref, order_id = new_order(sales, product, 3)
    sales.confirm_order(order_id)
    shipped = sales.find_order_by_ref(ref)
    assert shipped is not None
    [delivery] = shipped.picking_ids
    sales.validate_transfer(delivery)
    assert sales.fulfilment_started(shipped) and sales.done_delivery(shipped) == delivery
    on_hand = quantity(odoo, product["product_id"], "qty_available")
    marker = f"{ref} refund:1"
    assert sales.find_return(marker) is None

    receipt = sales.return_delivery(delivery, [(product["product_id"], 2.0)], marker)

    assert sales.find_return(marker) == receipt and not sales.transfer_done(receipt)
    assert quantity(odoo, product["product_id"], "qty_available") == on_hand
    sales.validate_transfer(receipt)
    assert sales.transfer_done(receipt)
    assert quantity(odoo, product["product_id"], "qty_available") == on_hand + 2
    returned = sales.find_order_by_ref(ref)
    assert returned is not None and sales.done_delivery(returned) == delivery  # not the return


def test_partners_are_found_by_email_whatever_its_case_and_by_exact_name(client, sales) -> None:
    made = client.call("res.partner", "create", [{"name": "Ada", "email": "Ada@Example.com"}])
    made = made[0] if isinstance(made, list) else made
    assert sales.partner_by_email("  ada@EXAMPLE.com ") == made
    assert sales.partner_by_name("Ada") == made
    assert sales.partner_by_email("nobody@example.com") is None
    assert sales.partner_by_name("ada") is None


def test_warehouses_and_products_are_found_by_their_codes(sales, stocked) -> None:
    product = next(stocked)
    assert isinstance(sales.warehouse_by_code("MAIN"), int)
    assert sales.warehouse_by_code("NOPE") is None
    found = sales.products_by_sku([product["sku"], "SKU-999999"])
    assert list(found) == [product["sku"]]
    assert found[product["sku"]]["product_id"] == product["product_id"]
