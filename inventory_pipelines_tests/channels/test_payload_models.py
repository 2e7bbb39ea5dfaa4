"""Every channel order event read through its typed model (issue #11, item 1): ids kept as
text, quantities whole and in range, and what a model refuses named by field, never value."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.channels.payloads import (
    MAX_QUANTITY,
    AmazonOrder,
    AmazonOrderItem,
    PayloadError,
    read,
)
from inventory_pipelines.channels.shopify import graphql_order_events, order_event, refund_event
from inventory_pipelines.channels.woocommerce import WooCommerceConnector, read_order
from inventory_pipelines.channels.woocommerce import order_event as woo_event
from inventory_pipelines.ledger import inbox
from inventory_pipelines.sandbox.amazon import AmazonSandbox

EMAIL = "ada@example.com"


def shopify_order() -> dict[str, Any]:
    return {
        "id": 4010,
        "email": EMAIL,
        "customer": {"first_name": "Ada", "last_name": "Lovelace"},
        "created_at": "2026-11-27T10:00:00Z",
        "line_items": [{"sku": "SKU-1", "quantity": 2, "price": "9.90"}],
    }


def shopify_refund() -> dict[str, Any]:
    return {
        "id": 900,
        "order_id": 4010,
        "refund_line_items": [{"quantity": 1, "line_item": {"sku": "SKU-1"}}],
    }


def shopify_node() -> dict[str, Any]:
    return {
        "id": "gid://shopify/Order/4010",
        "name": "#1010",
        "createdAt": "2026-11-27T10:00:00Z",
        "updatedAt": "2026-11-27T10:00:00Z",
        "cancelledAt": None,
        "lineItems": {"nodes": [{"sku": "SKU-1", "quantity": 2}]},
    }


def woo_order() -> dict[str, Any]:
    return {
        "id": 4010,
        "status": "processing",
        "billing": {"email": EMAIL, "first_name": "Ada"},
        "line_items": [{"product_id": 40, "variation_id": 0, "sku": "SKU-1", "quantity": 2}],
    }


def amazon_items(items: list[dict[str, Any]]) -> list[AmazonOrderItem]:
    """An Amazon order's items, read as the connector reads them (no HTTP)."""
    return [read(AmazonOrderItem, item, "amazon order item") for item in items]


READERS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[[Any], list], str, str]] = {
    # name: (a good payload, the reader, its id field, its first quantity field)
    "shopify order": (
        shopify_order,
        lambda x: [order_event(x, "created")],
        "id",
        "line_items.0.quantity",
    ),
    "shopify refund": (
        shopify_refund,
        lambda x: [refund_event(x)],
        "order_id",
        "refund_line_items.0.quantity",
    ),
    "shopify graphql order": (
        shopify_node,
        graphql_order_events,
        "id",
        "lineItems.nodes.0.quantity",
    ),
    "woocommerce order": (
        woo_order,
        lambda x: [woo_event(read_order(x), "created")],
        "id",
        "line_items.0.quantity",
    ),
}


def with_value(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    *parents, last = path.split(".")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return changed


BAD_IDS = [None, True, {"nested": 1}, [], "", "   ", 1e40, 2.5, 0, -5, 2**63, "x" * 256]
BAD_QUANTITIES = [2.9, 0.5, True, False, "2", None, 1e30, 2**63, MAX_QUANTITY + 1, -1, [2]]


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.bad_input
def test_every_event_model_refuses_each_bad_id_and_quantity_naming_the_field(reader) -> None:
    good, parse, id_field, quantity_field = READERS[reader]
    assert parse(good())  # the good payload reads
    for value in BAD_IDS:
        if reader == "shopify graphql order" and isinstance(value, str) and value.strip():
            continue  # a long global id is a string id: its tail is the order id
        with pytest.raises(PayloadError) as refused:
            parse(with_value(good(), id_field, value))
        assert str(refused.value).split(": ", 1)[1].startswith(f"{id_field}: "), value
    for value in BAD_QUANTITIES:
        with pytest.raises(PayloadError) as refused:
            parse(with_value(good(), quantity_field, value))
        assert quantity_field in str(refused.value), value
    for refused_payload in (None, [], "order", 17):
        with pytest.raises(PayloadError):
            parse(refused_payload)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.bad_input
def test_a_refusal_names_fields_never_values(reader) -> None:
    good, parse, id_field, quantity_field = READERS[reader]
    payload = with_value(good(), quantity_field, 2.9)
    payload = with_value(payload, id_field, {"secret": EMAIL})
    with pytest.raises(PayloadError) as refused:
        parse(payload)
    message = str(refused.value)
    assert EMAIL not in message and "2.9" not in message and "secret" not in message
    assert len(refused.value.problems) == 2


def test_ids_are_text_and_whole_quantities_are_ints() -> None:
    event = order_event({**shopify_order(), "id": 2**63 - 1}, "created")
    assert event.external_id == str(2**63 - 1)
    event = order_event({**shopify_order(), "id": " R-17 "}, "created")
    assert event.external_id == "R-17"
    whole = with_value(shopify_order(), "line_items.0.quantity", 3.0)
    event = order_event(whole, "created")
    assert event.lines[0].quantity == 3 and type(event.lines[0].quantity) is int
    assert event.lines[0].price == "9.90"
    [node_event] = graphql_order_events(shopify_node())
    assert node_event.external_id == "4010"


def test_the_quantity_bound_is_the_ledgers() -> None:
    assert MAX_QUANTITY == inbox.MAX_UNITS


def test_a_cancellation_needs_no_unit_an_order_or_return_does() -> None:
    no_units = with_value(shopify_order(), "line_items.0.quantity", 0)
    cancelled = order_event(no_units, "cancelled")
    assert cancelled.kind == "cancelled"
    with pytest.raises(PayloadError, match="quantity 0"):
        order_event(no_units, "created")
    with pytest.raises(PayloadError, match="quantity 0"):
        refund_event(with_value(shopify_refund(), "refund_line_items.0.quantity", 0))


def test_display_fields_of_any_json_type_are_text_so_no_paid_order_is_refused_for_them() -> None:
    odd = {**shopify_order(), "name": 1010, "currency": None, "email": "", "customer": {}}
    odd["line_items"][0]["price"] = {"amount": "9.90"}
    event = order_event(odd, "created")
    assert (event.number, event.currency, event.customer_email) == ("1010", None, None)
    assert event.lines[0].price is None and event.lines[0].quantity == 2
    event = woo_event(read_order({**woo_order(), "number": 77, "billing": None}), "created")
    assert (event.number, event.customer_email) == ("77", None)


def test_amazon_order_and_item_models() -> None:
    [item] = amazon_items([{"SellerSKU": "SKU-1", "QuantityOrdered": 1}])
    assert (item.SellerSKU, item.QuantityOrdered) == ("SKU-1", 1)
    for value in BAD_QUANTITIES:
        with pytest.raises(PayloadError, match="QuantityOrdered"):
            amazon_items([{"SellerSKU": "SKU-1", "QuantityOrdered": value}])
    for value in BAD_IDS:
        with pytest.raises(PayloadError, match="AmazonOrderId"):
            read(AmazonOrder, {"AmazonOrderId": value, "OrderStatus": "Shipped"}, "amazon order")


# -- polling: what a model refuses is handed over, the others go on ------------------------------


@pytest.fixture
def amazon() -> Iterator[AmazonSandbox]:
    with AmazonSandbox(skus=20, seed=3, rate_scale=20.0, feed_window=None) as sandbox:
        yield sandbox


@pytest.mark.bad_input
def test_amazon_polling_hands_over_the_orders_its_models_refuse_and_reads_the_rest(
    amazon: AmazonSandbox,
) -> None:
    skus = sorted(amazon.state.listings)
    for sku in skus[:3]:
        amazon.state.listings[sku].quantity = 50
    good = amazon.state.sell(skus[0], 2)
    fraction = amazon.state.sell(skus[1], 1)
    absurd = amazon.state.sell(skus[2], 1)
    # what the marketplace then says of the two: a fraction of a unit, and 2^63 units
    amazon.state.orders[fraction["AmazonOrderId"]].items = [(skus[1], "B0", 2.5)]
    amazon.state.orders[absurd["AmazonOrderId"]].items = [(skus[2], "B0", 2**63)]
    creds = amazon.credentials()
    connector = AmazonConnector(
        creds["endpoint"],
        creds["seller_id"],
        creds["marketplace_id"],
        creds["client_id"],
        creds["client_secret"],
        creds["refresh_token"],
        rate_scale=20.0,
        backoff_base_s=0.01,
    )
    try:
        page = connector.read_orders(None)
    finally:
        connector.close()
    assert [e.external_id for e in page.orders] == [good["AmazonOrderId"]]
    unreadable = {x.external_id: x for x in page.unreadable}
    assert set(unreadable) == {fraction["AmazonOrderId"], absurd["AmazonOrderId"]}
    assert "a fraction is refused" in unreadable[fraction["AmazonOrderId"]].reason
    assert "a quantity is from 0 to" in unreadable[absurd["AmazonOrderId"]].reason
    # the dead letter keeps the order as the channel sent it
    assert orjson.loads(orjson.dumps(unreadable[absurd["AmazonOrderId"]].payload))
    assert page.cursor is not None  # the cursor moves past all three


@pytest.mark.parametrize("status", [["pending"], {"name": "pending"}])
def test_a_woo_status_of_a_list_or_object_is_read_as_none_never_a_crash(status: Any) -> None:
    """`status in _UNPAID` raised TypeError (unhashable) and failed the whole poll."""
    [event] = WooCommerceConnector._order_events({**woo_order(), "status": status})
    assert (event.external_id, event.kind, event.lines[0].quantity) == ("4010", "created", 2)
    # with a line the model refuses, the order is handed over as unreadable (PayloadError)
    bad = {**woo_order(), "status": status}
    bad["line_items"] = [{**bad["line_items"][0], "quantity": 2.5}]
    with pytest.raises(PayloadError, match=r"line_items\.0\.quantity"):
        WooCommerceConnector._order_events(bad)
    for unpaid in ("pending", "failed", "checkout-draft"):
        assert WooCommerceConnector._order_events({**woo_order(), "status": unpaid}) == []
