"""Vendor codes, incoming purchase orders and the drop-ship route, read from the emulated
Odoo 16 to 19 (and from a scripted one for what the emulator always has)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from typing import Any

import polars as pl
import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.supply import (
    INCOMING_SCHEMA,
    SUPPLIERINFO_SCHEMA,
    ambiguous_vendor_codes,
    drop_ship_route_id,
    read_incoming,
    read_supplierinfo,
    read_unreserved_demand,
)
from inventory_pipelines.sandbox.odoo import OdooSandbox, OdooState
from inventory_pipelines_tests.odoo.conftest import ClientFactory, FakeOdoo

_codes = count(1)


@pytest.fixture(scope="module", params=[16, 17, 18, 19], ids=lambda v: f"odoo{v}")
def odoo(request: pytest.FixtureRequest) -> Iterator[OdooSandbox]:
    with OdooSandbox(version=request.param, skus=60, seed=3) as sandbox:
        yield sandbox


def connect(odoo: OdooSandbox, login: str | None = None, secret: str | None = None) -> OdooClient:
    return OdooClient(
        OdooConfig(
            url=odoo.url, db=odoo.db, login=login or odoo.login, secret=secret or odoo.api_key
        )
    )


@pytest.fixture
def client(odoo: OdooSandbox) -> Iterator[OdooClient]:
    with connect(odoo) as client:
        yield client


def storable(state: OdooState) -> tuple[int, str]:
    """A new storable product counted in Units: (id, sku)."""
    sku = f"SUP-{next(_codes):04d}"
    vals: dict[str, Any] = {"name": f"Supply {sku}", "default_code": sku}
    if state.profile.major <= 17:
        vals["type"] = "product"
    else:
        vals.update(type="consu", is_storable=True)
    tmpl = state.call("product.template", "create", [vals])
    return state.call("product.product", "search", [[("product_tmpl_id", "=", tmpl)]])[0], sku


def vendor(state: OdooState, name: str = "Test Vendor") -> int:
    return state.call("res.partner", "create", [{"name": name, "supplier_rank": 1}])


def purchase(state: OdooState, warehouse: str, lines: list[dict[str, Any]]) -> int:
    """A confirmed purchase order to `warehouse`'s receipts."""
    [wh] = state.call(
        "stock.warehouse", "search_read", [[("code", "=", warehouse)], ["in_type_id"]]
    )
    po = state.call(
        "purchase.order",
        "create",
        [
            {
                "partner_id": vendor(state),
                "picking_type_id": wh["in_type_id"][0],
                "order_line": [(0, 0, line) for line in lines],
            }
        ],
    )
    state.call("purchase.order", "button_confirm", [[po]])
    return po


def lines_of(state: OdooState, po: int) -> list[int]:
    return state.call("purchase.order.line", "search", [[("order_id", "=", po)]])


def uom(state: OdooState, name: str) -> int:
    return state.call("uom.uom", "search", [[("name", "=", name)]])[0]


# -- vendor codes ------------------------------------------------------------------------------


def expected_supplierinfo(state: OdooState) -> dict[int, tuple]:
    """What each supplierinfo maps to, worked out from the emulator's records."""
    prices = state.call(
        "product.supplierinfo",
        "search_read",
        [
            [],
            [
                "partner_id",
                "product_tmpl_id",
                "product_id",
                "product_code",
                "min_qty",
                "delay",
                "sequence",
            ],
        ],
        {"load": None},
    )
    out = {}
    for p in prices:
        product = p["product_id"]
        if not product:
            variants = state.call(
                "product.product", "search", [[("product_tmpl_id", "=", p["product_tmpl_id"])]]
            )
            product = variants[0] if len(variants) == 1 else None
        sku = state.get("product.product", product, "default_code") if product else None
        name = state.get("res.partner", p["partner_id"], "name")
        out[p["id"]] = (
            p["partner_id"],
            name,
            p["product_code"] or None,
            sku or None,
            product,
            p["min_qty"],
            p["delay"],
            p["sequence"],
        )
    return out


def test_supplierinfo_maps_each_vendor_code_to_our_sku(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    frame = read_supplierinfo(client)

    assert frame.schema == SUPPLIERINFO_SCHEMA
    assert {row[0]: row[1:] for row in frame.iter_rows()} == expected_supplierinfo(odoo.state)
    # the demo's dirt is there: codes missing, and one price for every size of a template
    assert frame.filter(pl.col("vendor_code").is_null()).height > 0
    assert frame.filter(pl.col("sku").is_null()).height > 0
    assert not frame["vendor_code"].drop_nulls().str.starts_with("SKU-").any()


def test_supplierinfo_for_some_skus_is_the_full_read_of_those_skus(client: OdooClient) -> None:
    full = read_supplierinfo(client)
    skus = full["sku"].drop_nulls().unique().sort().head(5).to_list()

    subset = read_supplierinfo(client, skus=skus)

    assert subset.equals(full.filter(pl.col("sku").is_in(skus)))
    assert set(subset["sku"]) == set(skus)


def test_a_code_given_to_two_skus_is_ambiguous_price_breaks_are_not() -> None:
    frame = pl.DataFrame(
        {
            "vendor_id": [1, 1, 1, 2, 2],
            "vendor": ["A", "A", "A", "B", "B"],
            "vendor_code": ["X1", "X1", "X2", "X1", None],
            "sku": ["SKU-1", "SKU-2", "SKU-3", "SKU-1", "SKU-4"],
        }
    )
    breaks = pl.DataFrame(
        {"vendor_id": [1, 1], "vendor": ["A", "A"], "vendor_code": ["X"] * 2, "sku": ["S"] * 2}
    )

    assert ambiguous_vendor_codes(frame).to_dicts() == [
        {"vendor_id": 1, "vendor": "A", "vendor_code": "X1", "skus": ["SKU-1", "SKU-2"]}
    ]
    assert ambiguous_vendor_codes(breaks).is_empty()


# -- incoming purchases -------------------------------------------------------------------------


def expected_incoming(state: OdooState) -> dict[int, float]:
    """line id -> units still to come, for lines of confirmed orders with an open move."""
    confirmed = ["purchase"] if state.profile.major >= 19 else ["purchase", "done"]
    moves = state.call(
        "stock.move",
        "search_read",
        [
            [("purchase_line_id", "!=", False), ("state", "not in", ["done", "cancel"])],
            ["purchase_line_id", "location_dest_id"],
        ],
        {"load": None},
    )
    out = {}
    for move in moves:
        dest = state.get("stock.location", move["location_dest_id"], "usage")
        line = state.call(
            "purchase.order.line",
            "read",
            [[move["purchase_line_id"]], ["product_qty", "qty_received", "state"]],
        )[0]
        if dest == "internal" and line["state"] in confirmed:
            out[line["id"]] = line["product_qty"] - line["qty_received"]
    return out


def test_incoming_is_what_confirmed_orders_still_bring(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    frame = read_incoming(client)

    assert frame.schema == INCOMING_SCHEMA
    assert dict(frame.select("line_id", "quantity").iter_rows()) == expected_incoming(odoo.state)
    assert set(frame["warehouse"]) == {"MAIN", "EAST", "WEST"}
    # the demo's first order is partly received: its first line less, its second whole
    partly = frame.filter(pl.col("purchase_order") == "P00001").sort("line_id")
    assert partly["received"][0] > 0 and partly["received"][1] == 0
    assert set(partly["receipt_state"]) == {"assigned"}
    assert partly["date_planned"].min() > datetime.now(UTC)  # planned from the day it starts
    # fully received, cancelled and unconfirmed orders bring nothing
    done = odoo.state.call(
        "purchase.order",
        "search_read",
        [["|", ("state", "in", ["draft", "cancel"]), ("receipt_status", "=", "full")], ["name"]],
    )
    assert len(done) >= 3
    assert not {o["name"] for o in done} & set(frame["purchase_order"])


def test_incoming_follows_a_line_from_confirmation_to_arrival(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    state = odoo.state
    product, sku = storable(state)
    uom_field = state.profile.purchase_line_uom_field
    po = purchase(
        state,
        "WEST",
        [
            {
                "product_id": product,
                "product_qty": 3,
                uom_field: uom(state, "Dozens"),
                "date_planned": "2031-03-04 05:06:07",
            }
        ],
    )
    mine = lambda: read_incoming(client).filter(pl.col("sku") == sku)  # noqa: E731

    [row] = mine().to_dicts()
    assert row["quantity"] == 36.0 and row["uom"] == "Units"  # three dozens, in base units
    assert row["warehouse"] == "WEST" and row["received"] == 0.0
    assert row["date_planned"] == datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert row["receipt_state"] == "assigned"
    assert row["purchase_order"] == state.get("purchase.order", po, "name")

    state.receive_purchase(po, {sku: 12})
    [row] = mine().to_dicts()
    assert (row["quantity"], row["received"], row["receipt_state"]) == (24.0, 12.0, "assigned")

    state.receive_purchase(po)
    assert mine().is_empty()


def test_a_rest_cancelled_at_reception_is_not_incoming(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    state = odoo.state
    product, sku = storable(state)
    po = purchase(state, "MAIN", [{"product_id": product, "product_qty": 10}])

    state.receive_purchase(po, {sku: 4}, backorder=False)

    assert read_incoming(client).filter(pl.col("sku") == sku).is_empty()


def test_cancelled_and_unconfirmed_orders_are_not_incoming(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    state = odoo.state
    product, sku = storable(state)
    cancelled = purchase(state, "EAST", [{"product_id": product, "product_qty": 5}])
    state.call("purchase.order", "button_cancel", [[cancelled]])
    state.call(
        "purchase.order",
        "create",
        [{"partner_id": vendor(state), "order_line": [(0, 0, {"product_id": product})]}],
    )

    assert read_incoming(client).filter(pl.col("sku") == sku).is_empty()


def test_a_locked_order_still_brings_its_units(odoo: OdooSandbox, client: OdooClient) -> None:
    state = odoo.state
    product, sku = storable(state)
    po = purchase(state, "EAST", [{"product_id": product, "product_qty": 7}])

    lock = "button_lock" if state.profile.major >= 19 else "button_done"
    state.call("purchase.order", lock, [[po]])

    expected = "purchase" if state.profile.major >= 19 else "done"  # 19 locks with a flag
    assert state.get("purchase.order", po, "state") == expected
    assert read_incoming(client).filter(pl.col("sku") == sku)["quantity"].to_list() == [7.0]


def test_drop_ship_purchases_go_to_customers_not_to_a_warehouse(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    state = odoo.state
    product, sku = storable(state)
    tmpl = state.get("product.product", product, "product_tmpl_id")
    state.call(
        "product.supplierinfo", "create", [{"partner_id": vendor(state), "product_tmpl_id": tmpl}]
    )
    customer = state.call("res.partner", "search", [[("name", "=", "Walk-in Customer")]])[0]
    so = state.call(
        "sale.order",
        "create",
        [
            {
                "partner_id": customer,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": product,
                            "product_uom_qty": 2,
                            "route_id": drop_ship_route_id(client),
                        },
                    )
                ],
            }
        ],
    )
    state.call("sale.order", "action_confirm", [[so]])
    [po] = state.call(
        "purchase.order", "search", [[("origin", "=", state.get("sale.order", so, "name"))]]
    )
    state.call("purchase.order", "button_confirm", [[po]])

    assert state.get("purchase.order", po, "state") == "purchase"
    assert read_incoming(client).filter(pl.col("sku") == sku).is_empty()


def test_incoming_for_some_skus_is_the_full_read_of_those_skus(client: OdooClient) -> None:
    full = read_incoming(client)
    skus = full["sku"].unique().sort().head(3).to_list()

    subset = read_incoming(client, skus=skus)

    assert subset.equals(full.filter(pl.col("sku").is_in(skus)))
    assert not subset.is_empty()


def test_without_purchase_installed_nothing_is_incoming(
    fake: FakeOdoo, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake.on("ir.model", "search_count", lambda args, kwargs: 0)

    with caplog.at_level(logging.WARNING):
        frame = read_incoming(make_client())

    assert frame.is_empty() and frame.schema == INCOMING_SCHEMA
    assert "purchase is not installed" in caplog.text
    assert {c.model for c in fake.object_calls()} == {"ir.model"}


# -- the drop-ship route ------------------------------------------------------------------------


def route_of(state: OdooState) -> int:
    return state.call(
        "ir.model.data",
        "check_object_reference",
        ["stock_dropshipping", "route_drop_shipping"],
    )[1]


def test_the_drop_ship_route_is_found_by_its_xml_id(odoo: OdooSandbox, client: OdooClient) -> None:
    assert drop_ship_route_id(client) == route_of(odoo.state)


def test_a_user_who_may_not_read_external_ids_finds_the_route_by_name(
    odoo: OdooSandbox,
) -> None:
    state = odoo.state
    login = f"no-xmlids-{next(_codes)}"
    uid = state.add_user(login, api_key=f"{login}-key")
    state.access.restrict(uid, {"stock.route": ["read"], "res.users": ["read"]})

    with connect(odoo, login=login, secret=f"{login}-key") as restricted:
        assert drop_ship_route_id(restricted) == route_of(state)


def test_without_stock_dropshipping_there_is_no_drop_ship_route() -> None:
    with OdooSandbox(version=17, skus=20, seed=1) as odoo, connect(odoo) as client:
        route = route_of(odoo.state)
        odoo.state.call("stock.route", "write", [[route], {"active": False}])
        assert drop_ship_route_id(client) is None  # archived: lines on it would not ship

        odoo.state.call("stock.route", "unlink", [[route]])  # the module uninstalled

        assert drop_ship_route_id(client) is None


def _sell(state: OdooState, product: int, units: float) -> int:
    """A confirmed sale order of `units` of `product` from the default warehouse."""
    customer = state.call("res.partner", "search", [[("name", "=", "Walk-in Customer")]])[0]
    so = state.call(
        "sale.order",
        "create",
        [{"partner_id": customer, "order_line": [(0, 0, {"product_id": product,
                                                          "product_uom_qty": units})]}],
    )  # fmt: skip
    state.call("sale.order", "action_confirm", [[so]])
    return so


def test_a_sale_beyond_the_shelf_is_unreserved_demand_until_odoo_reserves_it(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    """Sold while the shelf is empty (ahead of a purchase on its way): Odoo reserves nothing,
    the snapshot's `reserved` does not hold it, this read does; a sale the shelf covers is
    reserved and not here."""
    state = odoo.state
    product, sku = storable(state)
    _sell(state, product, 5)
    assert read_unreserved_demand(client, skus=[sku]).select("sku", "quantity").rows() == [
        (sku, 5.0)
    ]

    covered, covered_sku = storable(state)
    state.move_stock(covered_sku, "MAIN/Stock", 10)
    _sell(state, covered, 4)
    assert read_unreserved_demand(client, skus=[covered_sku]).is_empty()

    state.move_stock(sku, "MAIN/Stock", 3)  # a partial receipt: Odoo reserves what came
    state.call("stock.picking", "action_assign",
               [state.call("stock.picking", "search", [[("state", "!=", "done")]])])  # fmt: skip
    assert read_unreserved_demand(client, skus=[sku])["quantity"].to_list() == [2.0]


def test_unreserved_demand_for_some_skus_is_the_full_read_of_those_skus(
    odoo: OdooSandbox, client: OdooClient
) -> None:
    state = odoo.state
    for units in (2, 7):
        product, _ = storable(state)
        _sell(state, product, units)
    full = read_unreserved_demand(client)
    skus = full["sku"].unique().sort().head(2).to_list()
    assert read_unreserved_demand(client, skus=skus).equals(full.filter(pl.col("sku").is_in(skus)))
    assert full["quantity"].min() > 0 and full["warehouse"].null_count() == 0
