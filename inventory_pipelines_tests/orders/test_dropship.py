"""Orders for drop-ship units reach Odoo on the drop-ship route, exactly once.

A channel order's units that the channel's own stock cannot cover but its drop-ship vendor's
can become a sale order line on Odoo's drop-ship route (`stock_dropshipping`): confirming the
order raises the purchase order to the vendor. The webhook tests run the real receiver, the
Shopify emulator (each webhook delivered three times) and the Odoo emulator; the channel's
stock comes from a data plane the test writes, as the snapshot assets would.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.ledger import create_engine, dlq, fences, inbox
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.supply import drop_ship_route_id, read_supplierinfo
from inventory_pipelines.orders.dropship import SkuSupply, SnapshotSupply, Split, split_units
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import Ingestor, channel_setups, client_order_ref
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS
from inventory_pipelines.rules import Policy, default_rules_dir, load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.sandbox.shopify import ShopifySandbox

VENDOR = "Bright Drop-Ship Co"  # the sandbox's drop-ship vendor in Odoo
VENDOR_CODE = "bright-dropship"  # the same vendor in the shipped vendors.yml


# -- the split rule (pure) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "factor", "own", "dropship", "expected"),
    [
        (5, 1.0, 10.0, 50.0, Split(own=5, dropship=0)),  # own stock covers it
        (5, 1.0, 0.0, 50.0, Split(own=0, dropship=5)),  # only the vendor does
        (5, 1.0, 2.0, 50.0, Split(own=2, dropship=3)),  # both: split
        (5, 1.0, 2.0, 1.0, Split(own=4, dropship=1)),  # neither in full: the rest backordered
        (5, 1.0, 0.0, 0.0, Split(own=5, dropship=0)),  # nothing anywhere: a plain backorder
        (3, 12.0, 30.0, 100.0, Split(own=2, dropship=1)),  # dozens: whole product units only
        (4, 1.0, 2.9999999999, 9.0, Split(own=3, dropship=1)),  # float noise costs no unit
    ],
)
def test_own_stock_covers_first_then_drop_ship_the_rest_stays_on_the_warehouse_route(
    quantity, factor, own, dropship, expected
) -> None:
    assert split_units(quantity, factor, SkuSupply(own=own, dropship=dropship)) == expected


def test_without_knowing_the_stock_nothing_goes_drop_ship() -> None:
    assert split_units(5, 1.0, None) == Split(own=5, dropship=0)


# -- the stack ---------------------------------------------------------------------------------


def dropship_policy(tmp_path: Path) -> Policy:
    """The shipped rules with Shopify (ring-fenced, 40%) also selling drop-ship."""
    root = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), root)
    path = root / "channels.yml"
    text, n = re.subn(
        r"(  - name: shopify\n    kind: shopify\n)", r"\1    dropship: true\n", path.read_text()
    )
    assert n == 1
    path.write_text(text)
    return load_policy(root)


def write_stock(store: TableStore, sku: str, own: float, vendor: float) -> None:
    """The data plane as the snapshot assets leave it: `own` units of `sku` in MAIN, `vendor`
    units at the drop-ship vendor (a fresh feed)."""
    now = datetime.now(UTC)
    store.write(
        ("inventory", "canonical_inventory"),
        pl.DataFrame(
            {"sku": [sku], "warehouse": ["MAIN"], "available": [own], "as_of": [now]},
            schema_overrides={"as_of": pl.Datetime("us", "UTC")},
        ),
    )
    store.write(
        ("supply", "vendor_stock"),
        pl.DataFrame(
            {
                "vendor": [VENDOR_CODE],
                "sku": [sku],
                "feed_quantity": [vendor + 1],
                "quantity": [vendor],
                "fresh": [True],
                "as_of": [now - timedelta(hours=1)],
            },
            schema_overrides={"as_of": pl.Datetime("us", "UTC")},
        ),
        VENDOR_CODE,
    )


def client_of(odoo: OdooSandbox) -> OdooClient:
    return OdooClient(OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key))


@pytest.fixture
def stack(migrated_ledger_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The webhook receiver on a ledger (SQLite and PostgreSQL), Odoo and Shopify emulators
    whose every order webhook arrives three times, and a Shopify SKU whose vendor in Odoo is
    the drop-ship vendor."""
    engine = create_engine(migrated_ledger_url)
    channel = WebhookChannel("shopify", "shopify", SANDBOX_WEBHOOK_SECRETS["shopify"])
    server, thread, sock = start_server(
        create_app(engine, {"shopify": channel}), "127.0.0.1", 0, "receiver"
    )
    with (
        OdooSandbox(version=17, skus=120, seed=8, port=0) as odoo,
        ShopifySandbox(skus=120, seed=8, port=0) as shop,
    ):
        shop.webhooks.configure(
            url=f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/shopify",
            duplicate_rate=1.0,
            redeliver_rate=1.0,
            redeliver_after_s=0.2,
        )
        with client_of(odoo) as client:
            prices = read_supplierinfo(client)
        first_vendor = (
            prices.filter(pl.col("sku").is_not_null())
            .sort("sequence", "supplierinfo_id")
            .unique("sku", keep="first")
        )
        in_shop = {v.sku for v in shop.state.variants.values()}
        skus = sorted(
            s for s in first_vendor.filter(pl.col("vendor") == VENDOR)["sku"] if s in in_shop
        )
        assert skus, "the demo data has a Shopify SKU the drop-ship vendor supplies"
        policy = dropship_policy(tmp_path)
        store = TableStore(tmp_path / "tables")
        yield {
            "engine": engine,
            "odoo": odoo,
            "shop": shop,
            "sku": skus[0],
            "policy": policy,
            "store": store,
        }
    stop_server(server, thread, sock)
    engine.dispose()


def place(stack: dict[str, Any], quantity: int) -> str:
    """An order on the Shopify emulator, its webhook delivered three times; its id."""
    order = stack["shop"].state.sell(stack["sku"], quantity)
    stack["shop"].webhooks.drain()
    return str(order.id)


def ingest(stack: dict[str, Any], worker: str = "w1"):
    policy = stack["policy"]
    with client_of(stack["odoo"]) as client:
        supply = SnapshotSupply(policy, stack["engine"], stack["store"])
        return Ingestor(
            stack["engine"], client, channel_setups(policy), worker=worker, supply=supply
        ).run()


def sale_order(odoo: OdooSandbox, ref: str) -> tuple[list[dict], list[dict]]:
    """The sale orders with `ref` and the lines of the first one."""
    with client_of(odoo) as client:
        orders = client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=", ref]]],
            {"fields": ["id", "name", "state", "order_line"]},
        )
        lines = client.call(
            "sale.order.line",
            "read",
            [orders[0]["order_line"] if orders else []],
            {"fields": ["product_uom_qty", "route_id"]},
        )
    return orders, lines


def purchases_for(odoo: OdooSandbox, origin: str) -> list[dict]:
    with client_of(odoo) as client:
        found = client.call(
            "purchase.order",
            "search_read",
            [[["origin", "=", origin]]],
            {"fields": ["name", "partner_id", "order_line"]},
        )
        for order in found:
            order["lines"] = client.call(
                "purchase.order.line", "read", [order["order_line"]], {"fields": ["product_qty"]}
            )
    return found


def route_of(line: dict) -> int | None:
    return line["route_id"][0] if line["route_id"] else None


@pytest.mark.slow
def test_a_drop_ship_order_by_webhook_is_one_sale_order_on_the_drop_ship_route(stack) -> None:
    """Shopify holds none of the SKU, the vendor 40: the order of 3, delivered three times and
    ingested by two passes, is one sale order whose line is on the drop-ship route, and Odoo's
    one purchase order to the vendor; the 3 units are pending against the vendor's stock."""
    write_stock(stack["store"], stack["sku"], own=0.0, vendor=40.0)
    external_id = place(stack, 3)
    first, second = ingest(stack, "w1"), ingest(stack, "w2")
    assert (first.created, first.dropship_lines, first.parked) == (1, 1, 0)
    assert (second.created, second.recovered) == (0, 0)  # nothing left to do

    ref = client_order_ref("shopify", external_id)
    orders, lines = sale_order(stack["odoo"], ref)
    assert len(orders) == 1 and orders[0]["state"] == "sale"
    with client_of(stack["odoo"]) as client:
        route = drop_ship_route_id(client)
    assert route is not None
    assert [(line["product_uom_qty"], route_of(line)) for line in lines] == [(3.0, route)]
    [purchase] = purchases_for(stack["odoo"], orders[0]["name"])
    assert purchase["partner_id"][1] == VENDOR
    assert [line["product_qty"] for line in purchase["lines"]] == [3.0]

    with stack["engine"].connect() as conn:
        [row] = inbox.rows(conn)
        assert (row.status, row.duplicates) == ("done", 2)
        assert inbox.order_pending(conn, "shopify", external_id) == {stack["sku"]: (3, 3)}
        # not against the shelf, and no fence moves: the vendor ships them
        assert stack["sku"] not in inbox.pending_by_sku(conn, None)
        always = datetime(2000, 1, 1, tzinfo=UTC)
        sold = fences.sales_since(conn, always)
        assert not [key for key in sold if key[:2] == ("shopify", stack["sku"])]
        [(sku, units, reserved_at)] = inbox.pending_dropship_rows(conn)
        assert (sku, units) == (stack["sku"], 3) and reserved_at is not None


@pytest.mark.slow
def test_a_line_own_stock_covers_in_part_is_split_between_the_shelf_and_the_vendor(
    stack,
) -> None:
    """10 in MAIN give ring-fenced Shopify (40%) a fence of 4: of an order of 7, 4 ship from
    the warehouse and 3 on the drop-ship route, on two lines of the one sale order."""
    write_stock(stack["store"], stack["sku"], own=10.0, vendor=40.0)
    external_id = place(stack, 7)
    summary = ingest(stack)
    assert (summary.created, summary.dropship_lines) == (1, 1)
    orders, lines = sale_order(stack["odoo"], client_order_ref("shopify", external_id))
    with client_of(stack["odoo"]) as client:
        route = drop_ship_route_id(client)
    assert sorted((line["product_uom_qty"], route_of(line) or 0) for line in lines) == [
        (3.0, route),
        (4.0, 0),
    ]
    [purchase] = purchases_for(stack["odoo"], orders[0]["name"])
    assert [line["product_qty"] for line in purchase["lines"]] == [3.0]
    with stack["engine"].connect() as conn:
        assert inbox.order_pending(conn, "shopify", external_id) == {stack["sku"]: (7, 3)}


@pytest.mark.slow
def test_an_order_own_stock_covers_goes_in_as_before(stack) -> None:
    write_stock(stack["store"], stack["sku"], own=100.0, vendor=40.0)
    external_id = place(stack, 2)
    assert ingest(stack).dropship_lines == 0
    _, lines = sale_order(stack["odoo"], client_order_ref("shopify", external_id))
    assert [(line["product_uom_qty"], route_of(line)) for line in lines] == [(2.0, None)]
    with stack["engine"].connect() as conn:
        assert inbox.order_pending(conn, "shopify", external_id) == {stack["sku"]: (2, 0)}


@pytest.mark.slow
def test_without_a_drop_ship_route_in_odoo_the_order_is_parked_with_the_reason(stack) -> None:
    write_stock(stack["store"], stack["sku"], own=0.0, vendor=40.0)
    with client_of(stack["odoo"]) as client:
        route = drop_ship_route_id(client)
        client.call("stock.route", "write", [[route], {"active": False}])
    external_id = place(stack, 3)
    summary = ingest(stack)
    assert (summary.created, summary.parked) == (0, 1)
    orders, _ = sale_order(stack["odoo"], client_order_ref("shopify", external_id))
    assert orders == []  # nothing half-created
    with stack["engine"].connect() as conn:
        [row] = inbox.rows(conn)
        [letter] = dlq.list_open(conn, "shopify", kind="order")
    assert row.status == "parked"
    assert letter.error == (
        f"units only drop-ship covers (3 of {stack['sku']}) need Odoo's drop-ship route, and "
        "Odoo has none: install the Dropship module (stock_dropshipping) or unarchive its "
        "route, then replay this order"
    )
    # once the route is back, the replayed order goes in on it
    with client_of(stack["odoo"]) as client:
        client.call(
            "stock.route", "write", [[route], {"active": True}], {"context": {"active_test": False}}
        )
    with stack["engine"].connect() as conn:
        inbox.replay_parked(conn, letter.id, actor="ops")
    assert ingest(stack).dropship_lines == 1


def test_a_channel_without_drop_ship_never_splits(migrated_ledger_url: str, tmp_path) -> None:
    """Woocommerce sells no drop-ship: its setup says so and ingestion never asks for stock."""
    policy = dropship_policy(tmp_path)
    setups = channel_setups(policy)
    assert setups["shopify"].dropship and not setups["woocommerce"].dropship


def test_the_supply_before_an_order_leaves_that_order_out(migrated_ledger_url, tmp_path) -> None:
    """What Shopify may sell before its own order: the order's units are pending (and a sale
    of its fence) in the ledger, and are not counted against it twice."""
    policy = dropship_policy(tmp_path)
    store = TableStore(tmp_path / "tables")
    write_stock(store, "SKU-1", own=10.0, vendor=6.0)
    engine = create_engine(migrated_ledger_url)
    try:
        with engine.connect() as conn:
            inbox.receive(
                conn,
                [
                    inbox_event("shopify", order, "webhook")
                    for order in (shop_order("1", 3), shop_order("2", 2))
                ],
            )
            inbox.set_dropship(conn, "shopify", "2", {"SKU-1": 2})
        before = SnapshotSupply(policy, engine, store).before_order("shopify", "1", ["SKU-1"])
        # fence: 40% of 10 = 4 (order 2 went drop-ship: no sale of the fence); vendor: 6 - 2
        assert before == {"SKU-1": SkuSupply(own=4.0, dropship=4.0)}
        empty = SnapshotSupply(policy, engine, TableStore(tmp_path / "none"))
        assert empty.before_order("shopify", "1", ["SKU-1"]) == {}  # no snapshot yet
        sold_out = TableStore(tmp_path / "sold-out")
        write_stock(sold_out, "SKU-1", own=10.0, vendor=0.0)
        nothing = SnapshotSupply(policy, engine, sold_out)
        assert nothing.before_order("shopify", "1", ["SKU-1"]) == {}  # no drop-ship stock
        # a vendor partition its schedule stopped reading: too old now, so nothing goes to the
        # drop-ship route on its stored figures (the allocation shows that vendor at 0 too)
        stale = TableStore(tmp_path / "stale")
        write_stock(stale, "SKU-1", own=10.0, vendor=6.0)
        hours = policy.vendors.get(VENDOR_CODE).freshness_hours
        old = stale.read(("supply", "vendor_stock"), VENDOR_CODE).with_columns(
            as_of=pl.lit(datetime.now(UTC) - timedelta(hours=hours + 1)).cast(
                pl.Datetime("us", "UTC")
            )
        )
        stale.write(("supply", "vendor_stock"), old, VENDOR_CODE)
        aged = SnapshotSupply(policy, engine, stale).before_order("shopify", "1", ["SKU-1"])
        assert aged == {}
    finally:
        engine.dispose()


def shop_order(external_id: str, quantity: int):
    from inventory_pipelines.channels.base import ChannelOrder, OrderLine

    return ChannelOrder(
        external_id=external_id,
        event="created",
        kind="created",
        lines=(OrderLine(None, "SKU-1", quantity, "10.00"),),
        updated_at="2026-11-27T10:00:00Z",
        number=f"#{external_id}",
        customer_email=None,
    )
