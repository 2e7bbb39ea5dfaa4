"""Orders placed on the channel emulators reach Odoo exactly once, by webhook and by polling.

Each emulator delivers every order webhook three times (two at once, one again later) to
the receiver; polling brings each order a fourth time by the other route; two ingestion
workers run while deliveries are still arriving.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.ledger import create_engine, inbox
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox import webhooks as emulated
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox

ORDERS_PER_CHANNEL = 25


def test_the_sandbox_secrets_are_the_ones_the_receiver_expects_locally() -> None:
    assert SANDBOX_WEBHOOK_SECRETS == {
        "shopify": emulated.DEFAULT_SHOPIFY_WEBHOOK_SECRET,
        "woocommerce": emulated.DEFAULT_WOOCOMMERCE_WEBHOOK_SECRET,
    }


@pytest.fixture
def stack(migrated_ledger_url: str) -> Iterator[dict]:
    """The receiver on a ledger (on SQLite and on PostgreSQL), Odoo, Shopify and WooCommerce."""
    url = migrated_ledger_url
    engine = create_engine(url)
    channels = {
        "shopify": WebhookChannel("shopify", "shopify", SANDBOX_WEBHOOK_SECRETS["shopify"]),
        "woocommerce": WebhookChannel(
            "woocommerce", "woocommerce", SANDBOX_WEBHOOK_SECRETS["woocommerce"]
        ),
    }
    server, thread, sock = start_server(create_app(engine, channels), "127.0.0.1", 0, "receiver")
    receiver = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with (
        OdooSandbox(version=17, skus=120, seed=8, port=0) as odoo,
        ShopifySandbox(skus=120, seed=8, port=0) as shop,
        WooCommerceSandbox(products=120, seed=8, port=0) as woo,
    ):
        for name, sandbox in (("shopify", shop), ("woocommerce", woo)):
            sandbox.webhooks.configure(
                url=f"{receiver}/webhooks/{name}",
                duplicate_rate=1.0,
                redeliver_rate=1.0,
                redeliver_after_s=0.3,
            )
        yield {"engine": engine, "odoo": odoo, "shop": shop, "woo": woo, "url": url}
    stop_server(server, thread, sock)
    engine.dispose()


def odoo_client(odoo: OdooSandbox) -> OdooClient:
    return OdooClient(OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key))


def test_orders_delivered_three_times_and_by_both_routes_are_one_sale_order_each(stack) -> None:
    odoo, shop, woo, engine = stack["odoo"], stack["shop"], stack["woo"], stack["engine"]
    with odoo_client(odoo) as client:
        frame = read_products(client)
    in_odoo = {
        r["sku"]
        for r in frame.iter_rows(named=True)
        if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
    }
    shop_skus = sorted(v.sku for v in shop.state.variants.values() if v.sku in in_odoo)
    woo_items = sorted(
        (i for i in woo.state.items.values() if i.type != "variable" and i.sku in in_odoo),
        key=lambda i: i.id,
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        local = create_engine(stack["url"])
        try:
            with odoo_client(odoo) as client:
                ingest = Ingestor(local, client, channel_setups(load_policy()), worker=name)
                while not stop.is_set():
                    ingest.run(batch=5)
                    time.sleep(0.05)
                ingest.run()
        except BaseException as exc:
            errors.append(exc)
        finally:
            local.dispose()

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for worker in workers:
        worker.start()
    placed = {"shopify": [], "woocommerce": []}
    for n in range(ORDERS_PER_CHANNEL):
        placed["shopify"].append(str(shop.state.sell(shop_skus[n % len(shop_skus)], 1).id))
        placed["woocommerce"].append(str(woo.state.sell(woo_items[n % len(woo_items)].id, 1).id))
    shop.webhooks.drain()
    woo.webhooks.drain()
    # the other route: polling brings every order once more
    with ShopifyConnector(shop.url, shop.access_token) as connector:
        polled = [("shopify", o) for o in connector.read_orders(None).orders]
    with WooCommerceConnector(woo.url, woo.consumer_key, woo.consumer_secret) as connector:
        polled += [("woocommerce", o) for o in connector.read_orders(None).orders]
    with engine.connect() as conn:
        inbox.receive(conn, [inbox_event(channel, o, "poll") for channel, o in polled])
    stop.set()
    for worker in workers:
        worker.join()
    assert errors == []
    for sandbox in (shop, woo):
        answered = sandbox.webhooks.snapshot()
        assert answered["failed"] == 0 and set(answered["answers"]) == {"200"}
        assert answered["sent"] == 3 * ORDERS_PER_CHANNEL
    with odoo_client(odoo) as client:
        created = client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "!=", False]]],
            {"fields": ["client_order_ref", "state"]},
        )
    per_ref = Counter(o["client_order_ref"] for o in created)
    expected = {f"{c}/{external}": 1 for c, ids in placed.items() for external in ids}
    assert per_ref == expected
    assert {o["state"] for o in created} == {"sale"}
    with engine.connect() as conn:
        rows = inbox.rows(conn)
    assert len(rows) == 2 * ORDERS_PER_CHANNEL and {r.status for r in rows} == {"done"}
    assert {r.duplicates for r in rows} == {3}  # two more webhooks and one poll each


def test_a_forged_webhook_to_the_receiver_stores_nothing(stack) -> None:
    shop = stack["shop"]
    shop.webhooks.configure(secret="not-the-apps-secret")
    shop.state.sell(next(v.sku for v in shop.state.variants.values() if v.sku), 1)
    shop.webhooks.drain()
    assert shop.webhooks.snapshot()["answers"] == {"401": 9}  # 3 deliveries x 3 tries
    with stack["engine"].connect() as conn:
        assert inbox.rows(conn) == []
    assert httpx.get(f"{shop.url}/sandbox/webhooks").json()["failed"] == 3
