"""One unprocessable order never stops its channel (issue 9).

A WooCommerce order for 2^63 units among good ones, by polling and by webhook, against the
Odoo and WooCommerce emulators: the good orders reach Odoo (one sale.order each), the bad
one is parked in the dead-letter queue, polling moves past it (a second poll neither parks
it again nor fails), the partition's `no_parked_orders` check fails in red naming the letter
and the command that settles it, and once `inventory-sync dlq discard` settled it the check
passes. Also: a stored row that cannot be processed is parked at ingestion, the others go
in, and `dlq replay` puts it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from inventory_pipelines.channels.factory import sandbox_env
from inventory_pipelines.cli import main
from inventory_pipelines.defs.orders.assets import channel_orders, odoo_order_sync
from inventory_pipelines.ledger import audit, create_engine, dlq, inbox
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

pytestmark = pytest.mark.slow

CHANNEL = "woocommerce"
ABSURD = 2**63


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, migrated_ledger_url: str
) -> Iterator[dict[str, Any]]:
    """Odoo and WooCommerce emulators, a ledger (on SQLite and on PostgreSQL), and the
    resources of the order assets."""
    ledger_url = migrated_ledger_url
    monkeypatch.setenv("INVENTORY_LEDGER_URL", ledger_url)
    with (
        OdooSandbox(version=17, skus=120, seed=8, port=0) as odoo,
        WooCommerceSandbox(products=120, seed=8, port=0) as woo,
    ):
        for key, value in sandbox_env(CHANNEL, CHANNEL, woo.credentials()).items():
            monkeypatch.setenv(key, value)
        resources = sandbox_resources(odoo, tmp_path, ledger_url)
        engine = create_engine(ledger_url)
        yield {"odoo": odoo, "woo": woo, "resources": resources, "engine": engine}
        engine.dispose()


def odoo_client(odoo: OdooSandbox) -> OdooClient:
    return OdooClient(OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key))


def sellable_items(env: dict[str, Any]) -> list[int]:
    """Simple WooCommerce products whose SKU Odoo knows in units (orders for them go in)."""
    with odoo_client(env["odoo"]) as client:
        frame = read_products(client)
    in_odoo = {
        r["sku"]
        for r in frame.iter_rows(named=True)
        if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
    }
    items = env["woo"].state.items.values()
    return sorted(i.id for i in items if i.type == "simple" and i.sku in in_odoo)


def sale_orders(env: dict[str, Any]) -> list[str]:
    """client_order_ref of every sale order of the channel in Odoo (one per order expected)."""
    with odoo_client(env["odoo"]) as client:
        found = client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=like", f"{CHANNEL}/%"]]],
            {"fields": ["client_order_ref"]},
        )
    return sorted(r["client_order_ref"] for r in found)


def refs(*orders: Any) -> list[str]:
    return sorted(f"{CHANNEL}/{o.id}" for o in orders)


def materialize(env: dict[str, Any], *assets: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [channel_orders, odoo_order_sync],
        selection=[k for a in assets for k in a.keys],
        resources=env["resources"],
        partition_key=CHANNEL,
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, node: str) -> dict[str, Any]:
    [materialization] = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in materialization.metadata.items()}


def parked_check(result: dg.ExecuteInProcessResult, asset: str) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "no_parked_orders" and e.asset_key.to_user_string() == asset
    ]
    return evaluation


def open_letters(env: dict[str, Any]) -> list[dlq.DeadLetter]:
    with env["engine"].connect() as conn:
        return dlq.list_open(conn, CHANNEL)


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["dlq", *args], catch_exceptions=False)


def assert_names_the_letter(check: dg.AssetCheckEvaluation, letter_id: int) -> None:
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert check.partition == CHANNEL
    assert f"#{letter_id} (order" in check.description
    assert f"inventory-sync dlq show {letter_id}" in check.description
    assert f"inventory-sync dlq discard {letter_id} --reason" in check.description


@pytest.mark.bad_input
def test_a_polled_order_of_2_pow_63_units_is_parked_and_the_channel_goes_on(env) -> None:
    woo = env["woo"]
    first, second, third = sellable_items(env)[:3]
    good = [woo.state.sell(first, 1)]
    bad = woo.state.sell(second, ABSURD)
    good.append(woo.state.sell(third, 2))

    polled = materialize(env, channel_orders, odoo_order_sync)
    assert polled.success  # materialized what it did: no run failure, no "output then fail"
    assert sale_orders(env) == refs(*good)
    [letter] = open_letters(env)
    assert (letter.kind, letter.payload["external_id"], letter.payload["inbox_id"]) == (
        "order",
        str(bad.id),
        None,
    )
    # refused by the channel's payload model, parked with the order as the channel sent it
    assert "line_items.0.quantity: a quantity is from 0 to 2147483647 units" in letter.error
    assert letter.payload["order"]["line_items"][0]["quantity"] == ABSURD
    figures = metadata(polled, "orders__channel_orders")
    assert (figures["stored"], figures["parked"]) == (2, 1)
    assert metadata(polled, "orders__odoo_order_sync")["created"] == 2
    assert_names_the_letter(parked_check(polled, "orders/channel_orders"), letter.id)
    assert_names_the_letter(parked_check(polled, "orders/odoo_order_sync"), letter.id)
    with env["engine"].connect() as conn:
        cursor = inbox.get_cursor(conn, CHANNEL)
        assert cursor and [r.external_id for r in inbox.rows(conn)] == [str(o.id) for o in good]

    # a later order: the cursor moved past the bad one, which the overlap re-reads as a duplicate
    later = woo.state.sell(first, 3)
    again = materialize(env, channel_orders, odoo_order_sync)
    assert again.success
    figures = metadata(again, "orders__channel_orders")
    assert (figures["stored"], figures["parked"]) == (1, 0)
    assert figures["duplicates"] >= 1
    assert [x.id for x in open_letters(env)] == [letter.id]
    assert sale_orders(env) == refs(*good, later)

    shown = cli("show", str(letter.id))
    assert shown.exit_code == 0
    for text in (
        f"dead letter #{letter.id}: order on {CHANNEL}, open",
        f"order {bad.id}, as the channel sent it",
        letter.error,
        f"{CHANNEL}:{bad.id}",
        str(ABSURD),
        "parked as the channel sent it",
        f'inventory-sync dlq discard {letter.id} --reason "..."',
        "replay is not possible",
    ):
        assert text in shown.output, text
    as_json = json.loads(cli("show", str(letter.id), "--json").output)
    [listed] = json.loads(cli("list", "--channel", CHANNEL, "--json").output)
    assert listed == {k: v for k, v in as_json.items() if k not in ("payload", "history")}
    assert (listed["kind"], listed["status"], listed["items"], listed["replayable"]) == (
        "order",
        "open",
        1,
        False,
    )
    refused = CliRunner().invoke(main, ["dlq", "replay", str(letter.id)])
    assert refused.exit_code == 1 and "never reached the inbox" in refused.output

    discarded = cli("discard", str(letter.id), "--reason", "no one orders 2^63", "--actor", "ops")
    assert discarded.exit_code == 0, discarded.output
    assert open_letters(env) == []
    with env["engine"].connect() as conn:
        [entry] = audit.history(conn, entity=f"dead_letter/{letter.id}")
    assert (entry.actor, entry.action) == ("ops", "dead_letter.discarded")
    assert entry.before["status"] == "open"
    assert entry.after == {"status": "discarded", "reason": "no one orders 2^63"}

    settled = materialize(env, channel_orders, odoo_order_sync)
    assert settled.success
    assert parked_check(settled, "orders/channel_orders").passed
    assert parked_check(settled, "orders/odoo_order_sync").passed
    assert metadata(settled, "orders__channel_orders")["parked"] == 0  # re-read, not re-parked
    assert sale_orders(env) == refs(*good, later)


@pytest.mark.bad_input
def test_a_webhook_of_2_pow_63_units_is_refused_and_stored_nowhere_and_polling_parks_it(
    env,
) -> None:
    """The webhook can never succeed: 422, nothing stored, each retry refused the same way;
    the good orders reach Odoo. The order is not lost: polling reads it through the same
    model and parks it as the channel sent it."""
    woo = env["woo"]
    channels = {CHANNEL: WebhookChannel(CHANNEL, CHANNEL, SANDBOX_WEBHOOK_SECRETS[CHANNEL])}
    server, thread, sock = start_server(
        create_app(env["engine"], channels), "127.0.0.1", 0, "receiver"
    )
    try:
        woo.webhooks.configure(
            url=f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/{CHANNEL}",
            duplicate_rate=1.0,
            redeliver_rate=1.0,
            redeliver_after_s=0.2,
        )
        first, second, third = sellable_items(env)[:3]
        good = [woo.state.sell(first, 1)]
        bad = woo.state.sell(second, ABSURD)
        good.append(woo.state.sell(third, 2))
        woo.webhooks.drain()
    finally:
        stop_server(server, thread, sock)
    delivered = woo.webhooks.snapshot()
    # three deliveries of each order; the bad order's three, tried 3 times each, all refused
    assert delivered["answers"] == {"200": 6, "422": 9} and delivered["failed"] == 3
    assert open_letters(env) == []
    with env["engine"].connect() as conn:
        assert sorted(r.external_id for r in inbox.rows(conn)) == sorted(str(o.id) for o in good)

    ingested = materialize(env, odoo_order_sync)
    assert ingested.success
    assert sale_orders(env) == refs(*good)

    # polling brings the same three orders by the other route: the good ones are duplicates,
    # the bad one is parked as the channel sent it
    polled = materialize(env, channel_orders)
    assert polled.success
    figures = metadata(polled, "orders__channel_orders")
    assert (figures["stored"], figures["parked"], figures["duplicates"]) == (0, 1, 2)
    [letter] = open_letters(env)
    assert (letter.payload["external_id"], letter.payload["route"]) == (str(bad.id), "poll")
    assert_names_the_letter(parked_check(polled, "orders/channel_orders"), letter.id)

    discarded = cli("discard", str(letter.id), "--reason", "refused: absurd quantity")
    assert discarded.exit_code == 0, discarded.output
    settled = materialize(env, channel_orders, odoo_order_sync)
    assert settled.success and parked_check(settled, "orders/odoo_order_sync").passed
    assert metadata(settled, "orders__channel_orders")["parked"] == 0  # re-read, not re-parked
    assert sale_orders(env) == refs(*good)


@pytest.mark.bad_input
def test_a_stored_row_that_cannot_be_processed_is_parked_and_can_be_replayed(env) -> None:
    skus = [env["woo"].state.items[i].sku for i in sellable_items(env)[:2]]

    def event(external_id: str, lines: list[dict[str, Any]]) -> inbox.InboxEvent:
        payload = {
            "external_id": external_id,
            "event": "created",
            "kind": "created",
            "lines": lines,
            "updated_at": "2026-11-27T10:00:00Z",
        }
        return inbox.InboxEvent(CHANNEL, external_id, "created", "created", "webhook", payload)

    line = {"listing_id": None, "price": None}
    with env["engine"].connect() as conn:
        inbox.receive(
            conn,
            [
                event("9001", [{**line, "sku": skus[0], "quantity": 1}]),
                event("9002", [{**line, "sku": skus[1], "quantity": 2.5}]),  # not whole
                event("9003", [{**line, "sku": skus[1], "quantity": 1, "colour": "red"}]),
                event("9004", [{**line, "sku": skus[1], "quantity": 2}]),
            ],
        )
    with odoo_client(env["odoo"]) as client:
        summary = Ingestor(env["engine"], client, channel_setups(load_policy()), worker="test").run(
            channel=CHANNEL
        )
    assert (summary.created, summary.parked) == (2, 2)
    assert sale_orders(env) == [f"{CHANNEL}/9001", f"{CHANNEL}/9004"]
    letters = {x.payload["external_id"]: x for x in open_letters(env)}
    assert "quantity 2.5 is not a whole number" in letters["9002"].error
    assert "the stored event cannot be read" in letters["9003"].error

    replayed = cli("replay", str(letters["9002"].id), "--actor", "ops")
    assert replayed.exit_code == 0, replayed.output
    assert "back for ingestion" in replayed.output
    with env["engine"].connect() as conn:
        row = inbox.find(conn, CHANNEL, "9002", "created")
        assert row is not None and row.status == "new"
