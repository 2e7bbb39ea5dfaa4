"""The push path whole: the Odoo emulator's rule fires before its commit, the receiver answers
at once, reads the quant back after the commit and submits one fast run carrying the SKU."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream import HintCoalescer, OdooQuantReader, PushStats
from inventory_pipelines.stream.setup import PushPath
from inventory_pipelines_tests.stream_push.conftest import (
    RecordingSubmitter,
    Served,
    create_quant_webhook_rule,
    odoorpc_client,
    stocked_quant,
)

TOKEN = "push-path-test-token-0123456789"
POLICY = load_policy()


@dataclass
class Stack:
    odoo: OdooSandbox
    coalescer: HintCoalescer
    submitter: RecordingSubmitter
    stats: PushStats
    hook_url: str


@contextmanager
def push_stack(
    version: int, *, commit_delay_s: float = 0.0, window_s: float = 0.1
) -> Iterator[Stack]:
    """Odoo (emulated) -> POST /odoo/<token> -> coalescer -> a recording submitter, wired as
    `webhooks serve` wires it (the commit wait is automation.yml's, 0 for Odoo 19)."""
    with OdooSandbox(version=version, skus=40, seed=9) as odoo:
        odoo.state.automation.configure(commit_delay_s=commit_delay_s)
        config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
        submitter = RecordingSubmitter()
        coalescer = HintCoalescer(
            OdooQuantReader(OdooClient(config)),
            submitter,
            POLICY.channels.names(),
            commit_wait_s=POLICY.automation.push.commit_wait_s,
            window_s=window_s,
        )
        push = PushPath(TOKEN, coalescer, coalescer.reader.client).start()
        served = Served(push.routes())
        try:
            yield Stack(odoo, coalescer, submitter, push.stats, f"{served.url}/odoo/{TOKEN}")
        finally:
            served.stop()
            push.stop()


def _move(odoo: OdooSandbox, sku: str, location: str, qty: float) -> None:
    httpx.post(
        f"{odoo.url}/sandbox/stock/move",
        json={"product": sku, "location": location, "qty": qty},
        timeout=10,
    ).raise_for_status()


@pytest.mark.slow
@pytest.mark.parametrize("version", [17, 18])
def test_a_pre_commit_webhook_becomes_a_run_carrying_the_sku(version: int) -> None:
    # Odoo's transaction stays open 300 ms after the rule ran: longer than the answer takes
    with push_stack(version, commit_delay_s=0.3) as stack:
        create_quant_webhook_rule(stack.odoo, stack.hook_url)
        _, sku, location, _ = stocked_quant(stack.odoo)
        _move(stack.odoo, sku, location, -3)
        assert stack.coalescer.drain()
        [delivery] = stack.odoo.state.automation.deliveries

    assert delivery.status == 202
    # the receiver answered at once: it did not hold Odoo's request through the commit wait
    # it gives the re-read (a bound in behaviour, not speed: 0.1 s failed under a loaded suite)
    answered_in = delivery.answered_at - delivery.sent_at
    assert answered_in < POLICY.automation.push.commit_wait_s, answered_in
    assert delivery.answered_at < delivery.committed_at
    # and read the quant back after the commit: the run carries the SKU
    [(submitted, run)] = stack.submitter.runs
    assert run.skus == (sku,)
    assert submitted > delivery.committed_at
    assert run.tags["inventory/trigger"] == "odoo_push"
    assert stack.coalescer.stats.taken_unconfirmed == 0


def test_odoo_19_sends_after_its_commit_and_the_run_follows_without_a_wait() -> None:
    with push_stack(19) as stack:
        assert stack.coalescer.commit_wait_s == 0
        create_quant_webhook_rule(stack.odoo, stack.hook_url)
        _, sku, location, _ = stocked_quant(stack.odoo)
        _move(stack.odoo, sku, location, 2)
        assert stack.coalescer.drain()
    assert [run.skus for _, run in stack.submitter.runs] == [(sku,)]


def _internal_quants_of_distinct_skus(odoo: OdooSandbox, n: int) -> dict[str, str]:
    """SKU -> the name of an internal location holding it."""
    state = odoo.state
    quants, products = state.tables["stock.quant"], state.tables["product.product"]
    locations = state.tables["stock.location"]
    out: dict[str, str] = {}
    for row in quants.records.values():
        sku = products.records[row[quants.pos["product_id"]]][products.pos["default_code"]]
        location = locations.records[row[quants.pos["location_id"]]]
        if sku and location[locations.pos["usage"]] == "internal":
            out.setdefault(sku, location[locations.pos["complete_name"]])
        if len(out) == n:
            return out
    raise AssertionError("not enough stocked SKUs")


@pytest.mark.slow
def test_a_transfer_of_many_products_becomes_one_run() -> None:
    # one transaction changing six quants (a receipt validated): six webhooks, one run. Odoo 17
    # sends each before its commit, one after the other; on a loaded test machine six loopback
    # posts have taken over 0.1 s, so the window is one such a machine keeps
    with push_stack(17, window_s=1.0) as stack:
        create_quant_webhook_rule(stack.odoo, stack.hook_url)
        moved = _internal_quants_of_distinct_skus(stack.odoo, 6)
        state = stack.odoo.state
        with state.transaction():
            for sku, location in moved.items():
                state.move_stock(sku, location, 1)
        assert stack.coalescer.drain()
        deliveries = list(state.automation.deliveries)
    assert stack.stats.accepted == 6
    spread = deliveries[-1].sent_at - deliveries[0].sent_at
    assert spread < stack.coalescer.window_s, f"the webhooks took {spread:.3f} s: not one burst"
    [(_, run)] = stack.submitter.runs
    assert run.skus == tuple(sorted(moved))


@pytest.mark.slow
def test_stock_changes_saved_one_after_the_other_become_one_run() -> None:
    # saves a few milliseconds apart each (a window wide enough for a loaded test machine)
    with push_stack(17, window_s=0.5) as stack, httpx.Client(base_url=stack.odoo.url) as http:
        create_quant_webhook_rule(stack.odoo, stack.hook_url)
        moved = _internal_quants_of_distinct_skus(stack.odoo, 6)
        for sku, location in moved.items():
            answer = http.post(
                "/sandbox/stock/move", json={"product": sku, "location": location, "qty": 1}
            )
            answer.raise_for_status()
        assert stack.coalescer.drain()
        deliveries = list(stack.odoo.state.automation.deliveries)
    spread = deliveries[-1].sent_at - deliveries[0].sent_at
    assert spread < stack.coalescer.window_s, f"the saves took {spread:.3f} s: not one burst"
    [(_, run)] = stack.submitter.runs
    assert run.skus == tuple(sorted(moved))


@pytest.mark.slow
def test_a_sale_confirmed_in_odoo_reserves_stock_and_pushes_its_sku() -> None:
    # a rule that also watches the reserved quantity: what is reserved is not for sale
    with push_stack(17) as stack:
        create_quant_webhook_rule(
            stack.odoo,
            stack.hook_url,
            fields=("quantity", "reserved_quantity", "product_id"),
            triggers=("quantity", "reserved_quantity"),
        )
        client = odoorpc_client(stack.odoo)
        warehouse = client.env["stock.warehouse"].search([], limit=1)
        stock = client.env["stock.warehouse"].browse(warehouse[0]).lot_stock_id.id
        [quant] = client.env["stock.quant"].search_read(
            [("location_id", "=", stock), ("quantity", ">", 10), ("lot_id", "=", False)],
            ["product_id"],
            limit=1,
        )
        product = client.env["product.product"].browse(quant["product_id"][0])
        order = client.env["sale.order"].create(
            {
                "partner_id": client.env["res.partner"].search([], limit=1)[0],
                "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 1})],
            }
        )
        client.env["sale.order"].browse(order).action_confirm()
        assert stack.coalescer.drain()
        hints = [d.payload for d in stack.odoo.state.automation.deliveries]
    assert hints and all(h["reserved_quantity"] > 0 for h in hints)
    assert [run.skus for _, run in stack.submitter.runs] == [(product.default_code,)]


def test_odoo_16_pushes_nothing_the_sensor_stays_the_only_path() -> None:
    with push_stack(16) as stack:
        with pytest.raises(Exception, match="action_server_ids"):
            create_quant_webhook_rule(stack.odoo, stack.hook_url)
        _, sku, location, _ = stocked_quant(stack.odoo)
        _move(stack.odoo, sku, location, 4)
        time.sleep(0.3)
        assert stack.coalescer.drain()
    assert stack.stats.accepted == 0 and stack.submitter.runs == []


def test_a_quant_merged_by_raw_sql_pushes_nothing() -> None:
    with push_stack(17) as stack:
        create_quant_webhook_rule(stack.odoo, stack.hook_url)
        quant_id, _, _, before = stocked_quant(stack.odoo)
        httpx.post(
            f"{stack.odoo.url}/sandbox/stock/set_quantity_silently",
            json={"quant_id": quant_id, "quantity": before + 9},
        ).raise_for_status()
        time.sleep(0.3)
        assert stack.coalescer.drain()
    assert stack.stats.accepted == 0 and stack.submitter.runs == []
