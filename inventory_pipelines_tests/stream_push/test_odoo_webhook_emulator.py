"""The Odoo emulator sends automation-rule webhooks as Odoo 17+ does (base_automation).

The rule is made with odoorpc through the ORM; the stock changes come the ways they come in
Odoo: an inventory adjustment (the sandbox's stock mover, the scenario driver's path), the
Physical Inventory's Apply button (``action_apply_inventory``), and Odoo's raw-SQL quant
merges, which fire nothing.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import odoolib
import odoorpc
import pytest

from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.stream_push.conftest import (
    create_quant_webhook_rule,
    odoorpc_client,
    stocked_quant,
)


def _move(odoo: OdooSandbox, sku: str, location: str, qty: float) -> float:
    """An inventory adjustment over the control API (on the emulator's own loop); its time."""
    started = time.monotonic()
    answer = httpx.post(
        f"{odoo.url}/sandbox/stock/move",
        json={"product": sku, "location": location, "qty": qty},
        timeout=10,
    )
    answer.raise_for_status()
    return time.monotonic() - started


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_rule_made_with_odoorpc_posts_what_odoo_posts(hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=17, skus=40, seed=5) as odoo:
        automation_id = create_quant_webhook_rule(odoo, url)
        action = (
            odoorpc_client(odoo)
            .env["ir.actions.server"]
            .search_read(
                [("base_automation_id", "=", automation_id)], ["name", "usage", "model_id"]
            )
        )
        quant_id, sku, location, before = stocked_quant(odoo)
        product_id = odoo.state.get("stock.quant", quant_id, "product_id")
        location_id = odoo.state.get("stock.quant", quant_id, "location_id")

        _move(odoo, sku, location, 5)

    [action] = action
    action_id = action["id"]
    assert (action["name"], action["usage"]) == ("Send Webhook Notification", "base_automation")
    # one POST: the counterpart quant in Inventory adjustment is outside the rule's domain
    [received] = target.received
    expected = {
        "_action": f"Send Webhook Notification(#{action_id})",
        "_id": quant_id,
        "_model": "stock.quant",
        "id": quant_id,
        "location_id": location_id,
        "product_id": product_id,
        "quantity": before + 5,
    }
    assert received.body == json.dumps(expected, sort_keys=True).encode()
    assert received.headers["content-type"] == "application/json"
    assert not [h for h in received.headers if "signature" in h or "hmac" in h]


@pytest.mark.parametrize("version", [17, 18])
def test_17_and_18_send_the_webhook_before_the_change_is_readable(version, hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=version, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        # the rest of Odoo's transaction after the rule ran: 300 ms more before the commit
        odoo.state.automation.configure(commit_delay_s=0.3)
        quant_id, sku, location, before = stocked_quant(odoo)
        reader = odoorpc_client(odoo)
        reads: list[tuple[float, float, float]] = []

        def read_back_on_arrival(_received) -> None:
            def read() -> None:
                started = time.time()
                [row] = reader.env["stock.quant"].read([quant_id], ["quantity"])
                reads.append((started, time.time(), row["quantity"]))

            threading.Thread(target=read).start()

        target.on_post = read_back_on_arrival
        _move(odoo, sku, location, 5)
        _wait_for(lambda: reads)
        [delivery] = odoo.state.automation.deliveries

    [received] = target.received
    assert received.json["quantity"] == before + 5
    assert delivery.status == 200 and not delivery.rolled_back
    assert received.at < delivery.answered_at < delivery.committed_at
    [(started, returned, seen)] = reads
    # a read that began when the hint arrived got an answer only once the change committed
    assert started < delivery.committed_at <= returned
    assert seen == before + 5


def test_19_sends_the_webhook_after_the_commit(hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=19, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        _, sku, location, before = stocked_quant(odoo)
        _move(odoo, sku, location, 5)
        [delivery] = odoo.state.automation.deliveries

    [received] = target.received
    assert received.json["quantity"] == before + 5
    assert delivery.committed_at <= delivery.sent_at <= received.at


def test_odoo_client_lib_makes_the_rule_over_json2_on_19(hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=19, skus=40, seed=5) as odoo:
        client = odoolib.get_connection(
            hostname="127.0.0.1",
            port=odoo.port,
            protocol="json2",
            database=odoo.db,
            login=odoo.login,
            password=odoo.api_key,
        )
        fields = client.get_model("ir.model.fields")
        [quantity] = fields.search([("model", "=", "stock.quant"), ("name", "=", "quantity")])
        client.get_model("base.automation").create(
            {
                "name": "Stock changed",
                "model_id": client.get_model("ir.model").search([("model", "=", "stock.quant")])[0],
                "trigger": "on_create_or_write",
                "trigger_field_ids": [(6, 0, [quantity])],
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "state": "webhook",
                            "webhook_url": url,
                            "webhook_field_ids": [(6, 0, [quantity])],
                        },
                    )
                ],
            }
        )
        quant_id, sku, location, before = stocked_quant(odoo)
        _move(odoo, sku, location, 1)
    # no domain on this rule: the counterpart quant in Inventory adjustment is posted too
    by_quant = {r.json["_id"]: r.json for r in target.received}
    assert len(by_quant) == 2
    assert by_quant[quant_id] == {
        "_action": "Send Webhook Notification(#1)",
        "_id": quant_id,
        "_model": "stock.quant",
        "id": quant_id,
        "quantity": before + 1,
    }


def test_16_has_no_webhook_action_and_sends_nothing(hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=16, skus=40, seed=5) as odoo:
        with pytest.raises(odoorpc.error.RPCError):
            create_quant_webhook_rule(odoo, url)
        client = odoorpc_client(odoo)
        model_id = client.env["ir.model"].search([("model", "=", "stock.quant")])[0]
        with pytest.raises(odoorpc.error.RPCError, match="webhook"):
            client.env["ir.actions.server"].create(
                {"name": "Send Webhook Notification", "model_id": model_id, "state": "webhook"}
            )
        _, sku, location, _ = stocked_quant(odoo)
        _move(odoo, sku, location, 5)
        assert list(odoo.state.automation.deliveries) == []
    assert target.received == []


def test_a_quant_changed_by_raw_sql_sends_nothing(hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=17, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        quant_id, sku, location, before = stocked_quant(odoo)
        httpx.post(
            f"{odoo.url}/sandbox/stock/set_quantity_silently",
            json={"quant_id": quant_id, "quantity": before + 7},
        ).raise_for_status()
        assert odoo.state.get("stock.quant", quant_id, "quantity") == before + 7
        assert target.received == []
        _move(odoo, sku, location, 1)  # the same quant through the ORM does send
    assert [r.json["quantity"] for r in target.received] == [before + 8]


def test_only_a_change_of_a_watched_field_fires(hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=17, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        quant_id, _, _, before = stocked_quant(odoo)
        quant = odoorpc_client(odoo).env["stock.quant"].browse(quant_id)
        # counting is a write of inventory_quantity: not the watched field
        quant.write({"inventory_quantity": before - 2})
        assert target.received == []
        # applying the count changes the quantity (Inventory > Physical Inventory > Apply)
        quant.action_apply_inventory()
    assert [r.json["quantity"] for r in target.received] == [before - 2]


def test_a_webhook_is_posted_once_never_retried(hook_target) -> None:
    target, url = hook_target
    target.status = 500
    with OdooSandbox(version=17, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        _, sku, location, _ = stocked_quant(odoo)
        _move(odoo, sku, location, 1)
        time.sleep(0.3)
        [delivery] = odoo.state.automation.deliveries
    assert delivery.status == 500
    assert len(target.received) == 1


@pytest.mark.slow
def test_a_slow_receiver_holds_the_save_for_the_one_second_timeout_only(hook_target) -> None:
    target, url = hook_target
    target.delay_s = 3.0
    with OdooSandbox(version=17, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        quant_id, sku, location, before = stocked_quant(odoo)
        took = _move(odoo, sku, location, 1)
        [delivery] = odoo.state.automation.deliveries
        assert odoo.state.get("stock.quant", quant_id, "quantity") == before + 1
    assert delivery.error == "timeout" and delivery.status is None
    assert 1.0 <= took < 2.5  # the 1 s timeout, not the 3 s the receiver takes
    assert len(target.received) == 1


@pytest.mark.parametrize(("version", "sent"), [(17, True), (19, False)])
def test_a_transaction_that_fails_after_the_rule_ran(version, sent, hook_target) -> None:
    target, url = hook_target
    with OdooSandbox(version=version, skus=40, seed=5) as odoo:
        create_quant_webhook_rule(odoo, url)
        _, sku, location, _ = stocked_quant(odoo)
        state = odoo.state
        with pytest.raises(RuntimeError), state.transaction():
            state.move_stock(sku, location, 1)
            raise RuntimeError("a later step of the transaction fails")
        [delivery] = state.automation.deliveries
    # 17/18 posted during the transaction: the receiver heard of a change that never committed;
    # 19 posts after the commit only
    assert delivery.rolled_back and delivery.committed_at is None
    assert bool(target.received) is sent
