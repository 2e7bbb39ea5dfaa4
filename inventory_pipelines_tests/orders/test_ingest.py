"""Channel orders into the emulated Odoo, exactly once, through the ledger's inbox."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from inventory_pipelines.channels.base import ChannelOrder, OrderLine
from inventory_pipelines.ledger import create_engine, dlq, fences, inbox
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import Ingestor, channel_setups, client_order_ref
from inventory_pipelines.rules import load_policy
from inventory_pipelines.rules.orders import AfterFulfilment, Customer, CustomerMatch, Routing
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.pg import LEDGER_BACKENDS, migrated_ledger, url_of

POLICY = load_policy()


@pytest.fixture(scope="module", params=LEDGER_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The ledger's database: every test runs on SQLite and on PostgreSQL, each with its own
    Odoo (the tests' order ids repeat across backends, as they do across Odoo versions)."""
    return request.param


@pytest.fixture(scope="module", params=[17, 19])
def odoo(request, backend: str) -> Iterator[OdooSandbox]:
    with OdooSandbox(version=request.param, skus=80, seed=11, port=0) as sandbox:
        yield sandbox


def client_for(odoo: OdooSandbox, **options: Any) -> OdooClient:
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key, **options)
    return OdooClient(config)


@pytest.fixture(scope="module")
def products(odoo: OdooSandbox) -> dict[str, dict[str, Any]]:
    """SKU -> product row, for active storable products."""
    with client_for(odoo) as client:
        frame = read_products(client)
    return {
        row["sku"]: row
        for row in frame.iter_rows(named=True)
        if row["sku"] and row["active"] and row["storable"]
    }


@pytest.fixture
def ledger(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated ledger on `backend`."""
    with migrated_ledger(request, backend, tmp_path) as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


def warehouse_id(odoo: OdooSandbox, code: str) -> int:
    [found] = odoo.state.call("stock.warehouse", "search", [[["code", "=", code]]])
    return found


def free_qty(odoo: OdooSandbox, product_id: int, warehouse: str | None = None) -> float:
    """The product's free quantity, in every warehouse or in the one of code `warehouse`."""
    options: dict[str, Any] = {"fields": ["free_qty"]}
    if warehouse is not None:
        wid = warehouse_id(odoo, warehouse)
        options["context"] = {"warehouse": wid, "warehouse_id": wid}  # Odoo 16/17, 18/19
    [row] = odoo.state.call("product.product", "read", [[product_id]], options)
    return row["free_qty"]


def unit_skus(products: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(sku for sku, row in products.items() if (row["factor"] or 1) == 1)


def order(
    external_id: str, lines: list[tuple[str | None, int]], email: str | None = None, **extra: Any
) -> ChannelOrder:
    return ChannelOrder(
        external_id=external_id,
        event=extra.pop("event", "created"),
        kind=extra.pop("kind", "created"),
        lines=tuple(OrderLine(None, sku, quantity, "10.00") for sku, quantity in lines),
        updated_at="2026-11-27T10:00:00Z",
        number=f"#{external_id}",
        customer_email=email,
        **extra,
    )


def deliver(ledger: Engine, channel: str, orders: list[ChannelOrder], route: str = "poll") -> None:
    with ledger.connect() as conn:
        inbox.receive(conn, [inbox_event(channel, o, route) for o in orders])


def sale_orders(odoo: OdooSandbox, prefix: str) -> list[dict[str, Any]]:
    with client_for(odoo) as client:
        return client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=like", f"{prefix}%"]]],
            {"fields": ["id", "client_order_ref", "state", "partner_id", "order_line"]},
        )


def ingestor(ledger: Engine, client: OdooClient, worker: str = "w1", **setups: Any) -> Ingestor:
    channels = channel_setups(POLICY) | setups
    return Ingestor(ledger, client, channels, worker=worker)


def test_each_order_delivered_three_times_concurrently_by_both_routes_is_one_sale_order(
    odoo: OdooSandbox, products, ledger: Engine, tmp_path: Path
) -> None:
    """40 orders, each delivered by webhook twice and by polling once, from three threads,
    while three ingestion workers run at the same time."""
    skus = unit_skus(products)
    orders = [
        order(f"9{n:03d}", [(skus[n % len(skus)], 1), (skus[(n + 7) % len(skus)], 2)])
        for n in range(40)
    ]
    url = url_of(ledger)
    stop = threading.Event()
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def delivery(route: str) -> None:
        engine = create_engine(url)
        try:
            start.wait()
            for o in orders:
                with engine.connect() as conn:
                    inbox.receive(conn, [inbox_event("shopify", o, route)])
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    def worker(name: str) -> None:
        engine = create_engine(url)
        try:
            with client_for(odoo) as client:
                start.wait()
                work = ingestor(engine, client, name)
                while not stop.is_set():
                    work.run(channel="shopify", batch=5)
                work.run(channel="shopify")
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    senders = [threading.Thread(target=delivery, args=(r,)) for r in ("webhook", "webhook", "poll")]
    workers = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for thread in senders + workers:
        thread.start()
    for thread in senders:
        thread.join()
    stop.set()
    for thread in workers:
        thread.join()
    assert errors == []
    created = sale_orders(odoo, "shopify/9")
    per_ref = Counter(o["client_order_ref"] for o in created)
    assert per_ref == {client_order_ref("shopify", o.external_id): 1 for o in orders}
    assert {o["state"] for o in created} == {"sale"}
    with ledger.connect() as conn:
        rows = inbox.rows(conn, channel="shopify")
        assert len(rows) == 40 and {r.status for r in rows} == {"done"}
        assert sum(r.duplicates for r in rows) == 80
        mapped = {m.external_id: m.odoo_order_id for m in inbox.mappings(conn, "shopify")}
        assert mapped == {o["client_order_ref"].split("/")[1]: o["id"] for o in created}
        # every unit is reserved in Odoo now: none stays pending once a later snapshot has it
        assert inbox.pending_by_sku(conn, inbox.audit.utcnow()) == {}


def test_lines_map_to_products_and_odoo_reserves_them(odoo, products, ledger) -> None:
    sku = unit_skus(products)[3]
    before = free_qty(odoo, products[sku]["product_id"])
    deliver(ledger, "shopify", [order("7001", [(sku, 2)], email=None)])
    with client_for(odoo) as client:
        summary = ingestor(ledger, client).run()
    assert (summary.created, summary.parked) == (1, 0)
    [created] = sale_orders(odoo, "shopify/7001")
    assert created["partner_id"][1] == "Online Store Customer"  # no e-mail: the policy's partner
    assert before - free_qty(odoo, products[sku]["product_id"]) == 2


def test_pack_channels_order_in_packs_and_odoo_gets_units(odoo, products, ledger) -> None:
    sku = unit_skus(products)[4]
    deliver(ledger, "b2b", [order("7101", [(sku, 2)])])  # b2b counts in packs of 6
    with client_for(odoo) as client:
        assert ingestor(ledger, client).run().created == 1
        [created] = sale_orders(odoo, "b2b/7101")
        lines = client.call(
            "sale.order.line", "read", [created["order_line"]], {"fields": ["product_uom_qty"]}
        )
    assert [line["product_uom_qty"] for line in lines] == [12.0]


@pytest.mark.bad_input
def test_orders_that_cannot_be_created_are_parked_with_their_reason_never_half_created(
    odoo, products, ledger
) -> None:
    good = unit_skus(products)[5]
    dozens = next((s for s, p in sorted(products.items()) if (p["factor"] or 1) == 12), None)
    strict = dataclasses.replace(
        channel_setups(POLICY)["shopify"],
        policy=POLICY.orders.defaults.model_copy(
            update={"customer": Customer(match=CustomerMatch.EMAIL)}
        ),
    )
    bad = [
        order("7201", [(good, 1), ("SKU-999999", 1)]),  # one unknown SKU spoils the order
        order("7202", [(good, 1), (None, 1)]),  # a line without SKU
    ]
    if dozens:
        bad.append(order("7203", [(dozens, 5)]))  # 5 units are not whole dozens
    deliver(ledger, "shopify", bad)
    deliver(ledger, "strict", [order("7204", [(good, 1)], email="nobody@example.com")])
    with client_for(odoo) as client:
        summary = ingestor(ledger, client, strict=strict).run()
    assert (summary.created, summary.parked) == (0, len(bad) + 1)
    assert sale_orders(odoo, "shopify/72") == [] and sale_orders(odoo, "strict/") == []
    with ledger.connect() as conn:
        reasons = {d.payload["external_id"]: d.error for d in dlq.list_open(conn)}
        assert {r.status for r in inbox.rows(conn)} == {"parked"}
        assert inbox.pending_by_sku(conn, None) == {}  # parked orders hold no units
    assert reasons["7201"] == "unknown SKU SKU-999999"
    assert reasons["7202"] == "a line has no SKU"
    if dozens:
        assert "do not convert to whole" in reasons["7203"]
    assert reasons["7204"].startswith("no Odoo customer matches (email: nobody@example.com")


def test_an_order_found_in_odoo_after_a_crash_is_confirmed_not_created_again(
    odoo, products, ledger
) -> None:
    sku = unit_skus(products)[6]
    ref = client_order_ref("shopify", "7301")
    with client_for(odoo) as client:  # the crash came after create, before confirm
        partner = client.call("res.partner", "search", [[["name", "=", "Online Store Customer"]]])[
            0
        ]
        client.call(
            "sale.order",
            "create",
            [
                {
                    "partner_id": partner,
                    "client_order_ref": ref,
                    "order_line": [
                        [0, 0, {"product_id": products[sku]["product_id"], "product_uom_qty": 1}]
                    ],
                }
            ],
        )
        deliver(ledger, "shopify", [order("7301", [(sku, 1)])])
        summary = ingestor(ledger, client).run()
    assert (summary.created, summary.recovered) == (0, 1)
    [found] = sale_orders(odoo, ref)
    assert found["state"] == "sale"


def test_a_cancellation_before_fulfilment_cancels_and_releases_the_reservation(
    odoo, products, ledger
) -> None:
    sku = unit_skus(products)[7]
    pid = products[sku]["product_id"]
    free = free_qty(odoo, pid)
    deliver(ledger, "shopify", [order("7401", [(sku, 3)])])
    with client_for(odoo) as client:
        ingestor(ledger, client).run()
        assert free_qty(odoo, pid) == free - 3
        deliver(ledger, "shopify", [order("7401", [(sku, 3)], event="cancelled", kind="cancelled")])
        summary = ingestor(ledger, client).run()
    assert summary.cancelled == 1
    assert sale_orders(odoo, "shopify/7401")[0]["state"] == "cancel"
    assert free_qty(odoo, pid) == free


@pytest.mark.parametrize(
    ("rule", "status", "state"),
    [
        (AfterFulfilment.REVIEW, "review", "sale"),
        (AfterFulfilment.REJECT, "ignored", "sale"),
        (AfterFulfilment.ACCEPT, "done", "cancel"),
    ],
)
def test_a_cancellation_after_fulfilment_started_follows_the_policy(
    odoo, products, ledger, rule, status, state
) -> None:
    skus = unit_skus(products)
    external = f"75{list(AfterFulfilment).index(rule)}0"
    setup = channel_setups(POLICY)["shopify"]
    setup = dataclasses.replace(
        setup,
        policy=setup.policy.model_copy(
            update={
                "cancellation": setup.policy.cancellation.model_copy(
                    update={"after_fulfilment": rule}
                )
            }
        ),
    )
    deliver(ledger, "shopify", [order(external, [(skus[8], 1), (skus[9], 1)])])
    with client_for(odoo) as client:
        ingestor(ledger, client, shopify=setup).run()
        [created] = sale_orders(odoo, f"shopify/{external}")
        pickings = client.call("sale.order", "read", [[created["id"]]], {"fields": ["picking_ids"]})
        client.call("stock.picking", "button_validate", [pickings[0]["picking_ids"][:1]])
        deliver(ledger, "shopify", [order(external, [], event="cancelled", kind="cancelled")])
        ingestor(ledger, client, shopify=setup).run()
    with ledger.connect() as conn:
        row = inbox.find(conn, "shopify", external, "cancelled")
    assert row is not None and row.status == status
    assert sale_orders(odoo, f"shopify/{external}")[0]["state"] == state


def test_a_cancellation_of_an_order_never_ingested_releases_its_pending_units(
    odoo, products, ledger
) -> None:
    sku = unit_skus(products)[10]
    deliver(ledger, "shopify", [order("7601", [("SKU-999999", 1), (sku, 2)])])
    with client_for(odoo) as client:
        ingestor(ledger, client).run()  # parked: unknown SKU
        deliver(ledger, "shopify", [order("7601", [], event="cancelled", kind="cancelled")])
        summary = ingestor(ledger, client).run()
    assert summary.ignored == 1
    with ledger.connect() as conn:
        assert inbox.pending_by_sku(conn, None) == {}


def test_with_odoo_down_rows_wait_in_the_inbox_and_go_in_after_recovery(
    odoo, products, ledger
) -> None:
    skus = unit_skus(products)
    deliver(ledger, "shopify", [order(f"77{n:02d}", [(skus[n], 1)]) for n in range(5)])
    odoo.faults.set_outage(True)
    try:
        with client_for(odoo, max_attempts=2, backoff_initial_s=0.01, backoff_max_s=0.02) as client:
            summary = ingestor(ledger, client).run()
    finally:
        odoo.faults.set_outage(None)
    assert summary.created == 0 and summary.released == 5
    with ledger.connect() as conn:
        assert {r.status for r in inbox.rows(conn)} == {"new"}
        assert inbox.pending_by_sku(conn, None)  # still subtracted while Odoo is down
    with client_for(odoo) as client:
        assert ingestor(ledger, client).run().created == 5
    assert len(sale_orders(odoo, "shopify/77")) == 5


@pytest.mark.parametrize("restock", ["on_receipt", "immediately", "never"])
def test_a_return_follows_the_restock_policy_and_is_made_once(
    odoo, products, ledger, restock
) -> None:
    from inventory_pipelines.rules.orders import Restock

    sku = unit_skus(products)[11 + list(Restock).index(Restock(restock))]
    pid = products[sku]["product_id"]
    external = f"78{list(Restock).index(Restock(restock))}0"
    setup = channel_setups(POLICY)["shopify"]
    setup = dataclasses.replace(
        setup,
        policy=setup.policy.model_copy(
            update={
                "returns": setup.policy.returns.model_copy(update={"restock": Restock(restock)})
            }
        ),
    )
    deliver(ledger, "shopify", [order(external, [(sku, 3)])])
    with client_for(odoo) as client:
        ingestor(ledger, client, shopify=setup).run()
        [created] = sale_orders(odoo, f"shopify/{external}")
        [delivery] = client.call(
            "sale.order", "read", [[created["id"]]], {"fields": ["picking_ids"]}
        )[0]["picking_ids"]
        client.call("stock.picking", "button_validate", [[delivery]])  # shipped
        on_hand = odoo.state.call("product.product", "read", [[pid]], {"fields": ["qty_available"]})
        before = on_hand[0]["qty_available"]
        deliver(ledger, "shopify", [order(external, [(sku, 2)], event="refund:9", kind="returned")])
        first = ingestor(ledger, client, shopify=setup).run()
        with ledger.connect() as conn:
            row = inbox.find(conn, "shopify", external, "refund:9")
            # a crash after the return was made: the row is processed again
            conn.execute(
                inbox.order_inbox.update()
                .where(inbox.order_inbox.c.id == row.id)
                .values(status="new")
            )
            conn.commit()
        ingestor(ledger, client, shopify=setup).run()
        returns = client.call(
            "stock.picking",
            "search_read",
            [[["origin", "=", f"shopify/{external} refund:9"]]],
            {"fields": ["state"]},
        )
    after = odoo.state.call("product.product", "read", [[pid]], {"fields": ["qty_available"]})
    after = after[0]["qty_available"]
    if restock == "never":
        assert first.ignored == 1 and returns == [] and after == before
    elif restock == "on_receipt":
        assert first.returned == 1 and [r["state"] for r in returns] == ["assigned"]
        assert after == before  # back in stock when the warehouse validates the receipt
    else:
        assert first.returned == 1 and [r["state"] for r in returns] == ["done"]
        assert after == before + 2


def test_an_order_whose_cancellation_was_ingested_first_is_never_created(
    odoo, products, ledger
) -> None:
    """Webhooks come in any order: the cancellation arrives and is settled (nothing in Odoo to
    cancel), then the order itself. It is not created: no sale order, no reservation, its
    pending units released."""
    sku = unit_skus(products)[9]
    pid = products[sku]["product_id"]
    free = free_qty(odoo, pid)
    cancelled = order("7451", [(sku, 2)], event="cancelled", kind="cancelled")
    deliver(ledger, "shopify", [cancelled], route="webhook")
    with client_for(odoo) as client:
        ingestor(ledger, client).run()
        deliver(ledger, "shopify", [order("7451", [(sku, 2)])], route="webhook")
        summary = ingestor(ledger, client).run()
    assert (summary.created, summary.ignored) == (0, 1)
    assert sale_orders(odoo, "shopify/7451") == []
    assert free_qty(odoo, pid) == free
    with ledger.connect() as conn:
        assert {r.status for r in inbox.rows(conn)} == {"ignored"}
        assert inbox.pending_by_sku(conn, None).get(sku, 0) == 0


def warehouses_of(client, refs: list[str]) -> dict[str, int]:
    """Each sale order of `refs` (client_order_ref) -> the id of the warehouse it ships from."""
    found = client.call(
        "sale.order",
        "search_read",
        [[["client_order_ref", "in", refs]]],
        {"fields": ["client_order_ref", "warehouse_id"]},
    )
    return {o["client_order_ref"]: o["warehouse_id"][0] for o in found}


def test_an_order_ships_from_the_first_warehouse_of_its_channel_that_can_reserve_it(
    odoo, products, ledger
) -> None:
    """`routing: priority`. Shopify sells from MAIN, then EAST: an order MAIN covers goes there;
    one MAIN cannot cover goes to EAST, which can, and Odoo reserves all of it (sent to MAIN, it
    would wait there unreserved while EAST's units stayed on offer)."""
    sku = unit_skus(products)[5]
    product = products[sku]["product_id"]
    main = int(free_qty(odoo, product, "MAIN"))
    assert main >= 1
    odoo.state.move_stock(sku, "EAST/Stock", main + 5)
    east = free_qty(odoo, product, "EAST")
    deliver(ledger, "shopify", [order("7201", [(sku, 1)]), order("7202", [(sku, main)])])
    shopify = channel_setups(POLICY)["shopify"]
    by_priority = dataclasses.replace(
        shopify, policy=shopify.policy.model_copy(update={"routing": Routing.PRIORITY})
    )
    with client_for(odoo) as client:
        assert ingestor(ledger, client, shopify=by_priority).run().created == 2
        found = warehouses_of(client, ["shopify/7201", "shopify/7202"])
    assert found == {
        "shopify/7201": warehouse_id(odoo, "MAIN"),
        "shopify/7202": warehouse_id(odoo, "EAST"),
    }
    assert free_qty(odoo, product, "MAIN") == main - 1  # the small order, from MAIN
    assert free_qty(odoo, product, "EAST") == east - main  # the large one, all reserved


@pytest.mark.parametrize("routing", [Routing.SPARE_SCARCE, Routing.PRIORITY])
def test_spare_scarce_routing_ships_from_the_warehouse_the_other_channels_need_least(
    odoo, products, ledger, routing: Routing
) -> None:
    """WooCommerce sells from MAIN, then WEST; Shopify, POS and B2B from MAIN (and EAST) but
    never WEST. A WooCommerce order both cover ships from WEST under `spare_scarce`, leaving
    MAIN's units to the channels that have nothing else, and from MAIN under `priority`. An
    order only MAIN covers goes to MAIN under either."""
    sku = unit_skus(products)[6]
    product = products[sku]["product_id"]
    odoo.state.move_stock(sku, "WEST/Stock", 1)
    west = free_qty(odoo, product, "WEST")
    odoo.state.move_stock(sku, "MAIN/Stock", west + 2)  # MAIN covers both orders
    main = free_qty(odoo, product, "MAIN")
    woo = channel_setups(POLICY)["woocommerce"]
    setup = dataclasses.replace(woo, policy=woo.policy.model_copy(update={"routing": routing}))
    small, large = ("7301", "7302") if routing is Routing.SPARE_SCARCE else ("7303", "7304")
    deliver(ledger, "woocommerce", [order(small, [(sku, 1)])])
    deliver(ledger, "woocommerce", [order(large, [(sku, int(west) + 1)])])
    with client_for(odoo) as client:
        assert ingestor(ledger, client, woocommerce=setup).run().created == 2
        found = warehouses_of(client, [f"woocommerce/{small}", f"woocommerce/{large}"])
    first = "WEST" if routing is Routing.SPARE_SCARCE else "MAIN"
    assert found == {
        f"woocommerce/{small}": warehouse_id(odoo, first),
        f"woocommerce/{large}": warehouse_id(odoo, "MAIN"),
    }
    # the ledger knows where each order's units were reserved (a fence base counts a sale only
    # against the pools it took from)
    with ledger.connect() as conn:
        sold = fences.sales_since(conn, datetime(2000, 1, 1, tzinfo=UTC), inbox.audit.utcnow())
    assert {k: v for k, v in sold.items() if k[1] == sku} == (
        {("woocommerce", sku, "WEST"): 1, ("woocommerce", sku, "MAIN"): int(west) + 1}
        if routing is Routing.SPARE_SCARCE
        else {("woocommerce", sku, "MAIN"): int(west) + 2}
    )
    taken_from_west = 1 if routing is Routing.SPARE_SCARCE else 0
    assert free_qty(odoo, product, "WEST") == west - taken_from_west
    assert free_qty(odoo, product, "MAIN") == main - (1 - taken_from_west) - (west + 1)


def test_spare_scarce_routing_sends_no_order_to_a_warehouse_not_online_that_another_covers(
    odoo, products, ledger
) -> None:
    """WEST offline (warehouses.yml): a WooCommerce order MAIN covers ships from MAIN, though
    WEST would spare the other channels more; one only WEST covers still goes to WEST (it ships
    when WEST is back, and Odoo reserves it there meanwhile)."""
    sku = unit_skus(products)[7]
    product = products[sku]["product_id"]
    main = int(free_qty(odoo, product, "MAIN"))
    assert main >= 1
    odoo.state.move_stock(sku, "WEST/Stock", main + 5)  # WEST covers what MAIN cannot
    woo = channel_setups(POLICY)["woocommerce"]
    setup = dataclasses.replace(
        woo,
        policy=woo.policy.model_copy(update={"routing": Routing.SPARE_SCARCE}),
        not_online=frozenset({"WEST"}),
    )
    deliver(ledger, "woocommerce", [order("7401", [(sku, 1)])])
    deliver(ledger, "woocommerce", [order("7402", [(sku, main)])])  # MAIN has main - 1 left
    with client_for(odoo) as client:
        assert ingestor(ledger, client, woocommerce=setup).run().created == 2
        found = warehouses_of(client, ["woocommerce/7401", "woocommerce/7402"])
    assert found == {
        "woocommerce/7401": warehouse_id(odoo, "MAIN"),
        "woocommerce/7402": warehouse_id(odoo, "WEST"),
    }
