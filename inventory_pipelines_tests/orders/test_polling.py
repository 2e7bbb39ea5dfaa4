"""Polling each channel's orders API: the events match what the webhooks would bring."""

from __future__ import annotations

from pathlib import Path

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.ledger import create_engine, inbox, migrate
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox


def test_shopify_orders_are_polled_with_their_lines_and_a_cursor() -> None:
    with ShopifySandbox(skus=30, seed=2) as shop:
        sku = next(v.sku for v in shop.state.variants.values() if v.sku)
        placed = [shop.state.sell(sku, 2), shop.state.sell(sku, 1)]
        with ShopifyConnector(shop.url, shop.access_token) as connector:
            first = connector.read_orders(None)
            shop.state.sell(sku, 3)
            again = connector.read_orders(first.cursor)
    assert [(o.external_id, o.event) for o in first.orders] == [
        (str(p.id), "created") for p in placed
    ]
    assert [(line.sku, line.quantity) for line in first.orders[0].lines] == [(sku, 2)]
    assert first.orders[0].number == placed[0].name and first.cursor
    # the overlap window reads the recent ones again; the inbox keeps each once
    assert {o.external_id for o in again.orders} >= {str(p.id) for p in placed}
    assert len(again.orders) == 3 and again.cursor >= first.cursor


def test_woocommerce_orders_are_polled_by_status_and_modification(tmp_path: Path) -> None:
    with WooCommerceSandbox(products=30, seed=4) as woo:
        simple = next(i for i in woo.state.products() if i.type == "simple" and i.sku)
        paid = woo.state.sell(simple.id, 2)
        unpaid = woo.state.sell(simple.id, 1, status="pending")
        cancelled = woo.state.sell(simple.id, 1, status="cancelled")
        with WooCommerceConnector(woo.url, woo.consumer_key, woo.consumer_secret) as connector:
            page = connector.read_orders(None)
    events = [(o.external_id, o.event) for o in page.orders]
    assert (str(paid.id), "created") in events
    assert (str(cancelled.id), "created") in events and (str(cancelled.id), "cancelled") in events
    assert all(external != str(unpaid.id) for external, _ in events)  # not paid: not ours yet
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = inbox.receive(conn, [inbox_event("woocommerce", o, "poll") for o in page.orders])
        again = inbox.receive(conn, [inbox_event("woocommerce", o, "poll") for o in page.orders])
    engine.dispose()
    assert (stored.stored, again.stored, again.duplicates) == (3, 0, 3)


def test_amazon_orders_are_polled_with_their_items_and_cancellations() -> None:
    with AmazonSandbox(skus=30, seed=7, rate_scale=100) as amazon:
        sku = sorted(amazon.state.listings)[0]
        shipped_later = amazon.state.sell(sku, 2)
        waiting = amazon.state.sell(sku, 1, status="Pending")
        creds = amazon.credentials()
        with AmazonConnector(
            creds["endpoint"],
            creds["seller_id"],
            creds["marketplace_id"],
            creds["client_id"],
            creds["client_secret"],
            creds["refresh_token"],
            token_url=creds["token_url"],
            rate_scale=100,
        ) as connector:
            page = connector.read_orders(None)
            amazon.state.cancel_order(shipped_later["AmazonOrderId"])
            later = connector.read_orders(page.cursor)
    ours = [o for o in page.orders if o.external_id == shipped_later["AmazonOrderId"]]
    assert [(o.event, [(x.sku, x.quantity) for x in o.lines]) for o in ours] == [
        ("created", [(sku, 2)])
    ]
    assert all(o.external_id != waiting["AmazonOrderId"] for o in page.orders)  # Pending
    assert (shipped_later["AmazonOrderId"], "cancelled") in [
        (o.external_id, o.event) for o in later.orders
    ]
