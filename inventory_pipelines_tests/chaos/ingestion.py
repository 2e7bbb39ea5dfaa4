"""The order side of the chaos suite: orders into the inbox, a clean run to compare with, and
the invariants checked after a trial.

A scenario (drawn from its seed): six orders on Shopify and WooCommerce, one and two lines
of unit SKUs, two of them cancelled by the channel, all in the inbox before ingestion starts.
Each trial's orders carry their own ids (a tag), so one Odoo serves every trial; outcomes
are compared with the clean run's with the tag taken out.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inventory_pipelines.channels.base import ChannelOrder
from inventory_pipelines.ledger import create_engine, dlq, inbox
from inventory_pipelines.ledger.schema import order_inbox, pending_units
from inventory_pipelines.odoo import OdooClient
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import client_order_ref
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.chaos import children
from inventory_pipelines_tests.chaos.killpoints import census
from inventory_pipelines_tests.chaos.publishing import LedgerFactory
from inventory_pipelines_tests.chaos.report import Recorder
from inventory_pipelines_tests.orders.test_ingest import order

ORDERS = 6
CANCELLED = 2
CHANNELS = ("shopify", "woocommerce")
#: ingestion claims this many rows at a time: a kill can strike with some claimed, not done
BATCH = 2

Outcome = dict[str, Any]


def unit_skus(odoo: OdooSandbox) -> list[str]:
    """Active storable SKUs counted in units (an order of n is n of the product)."""
    with OdooClient(children.odoo_config(odoo.credentials())) as client:
        frame = read_products(client)
    return sorted(
        r["sku"]
        for r in frame.iter_rows(named=True)
        if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
    )


@dataclass(frozen=True)
class Placed:
    """One channel order of a scenario: its channel, its position, and its events."""

    channel: str
    number: int
    events: tuple[ChannelOrder, ...]

    def ref(self, tag: str) -> str:
        """Its `client_order_ref` in Odoo."""
        return client_order_ref(self.channel, external_id(tag, self.number))


def external_id(tag: str, number: int) -> str:
    """The channel's order id of order `number` of the trial tagged `tag`."""
    return f"{tag}-{number}"


def orders(skus: Sequence[str], seed: int, tag: str) -> list[Placed]:
    """The scenario of `seed`, with the trial's ids."""
    rng = random.Random(seed)
    cancelled = set(rng.sample(range(ORDERS), CANCELLED))
    placed = []
    for n in range(ORDERS):
        lines = [(sku, rng.randint(1, 3)) for sku in rng.sample(list(skus), rng.choice([1, 2]))]
        created = order(external_id(tag, n), lines)
        events = [created]
        if n in cancelled:
            events.append(
                order(
                    external_id(tag, n),
                    [(s, 0) for s, _ in lines],
                    event="cancelled",
                    kind="cancelled",
                )
            )
        placed.append(Placed(CHANNELS[n % len(CHANNELS)], n, tuple(events)))
    return placed


def deliver(engine: Engine, placed: Iterable[Placed], route: str = "webhook") -> None:
    """Every event of every order into the inbox, in order."""
    with engine.connect() as conn:
        inbox.receive(conn, [inbox_event(p.channel, e, route) for p in placed for e in p.events])


def deliver_to(url: str, placed: Iterable[Placed], route: str = "webhook") -> None:
    """`deliver`, to the ledger at `url`."""
    engine = create_engine(url)
    try:
        deliver(engine, placed, route)
    finally:
        engine.dispose()


@dataclass
class Baseline:
    """A clean run of a scenario: the kill points it passed, its time, what it left."""

    trace: list[str]
    seconds: float
    outcome: Outcome


def clean_run(
    ledgers: LedgerFactory, odoo: OdooSandbox, skus: Sequence[str], seed: int, tmp_path: Path
) -> Baseline:
    """The scenario of `seed` ingested with no fault (its own ids, tagged `clean<seed>`)."""
    tag = f"clean{seed}"
    trace = tmp_path / f"ingest-census-{seed}.json"
    with ledgers.fresh("sqlite") as url:
        deliver_to(url, orders(skus, seed, tag))
        started = time.monotonic()
        args = (odoo.credentials(), url, "worker-1", BATCH, None, str(trace))
        assert children.run_child(children.ingest, args) == 0
        seconds = time.monotonic() - started
        return Baseline(census(trace), seconds, outcome(odoo, url, tag))


def sale_orders(odoo: OdooSandbox, tag: str) -> list[dict[str, Any]]:
    """The sale orders of a trial, read in the emulator's process (faults do not apply)."""
    found = []
    for channel in CHANNELS:
        found += odoo.state.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=like", f"{channel}/{tag}-%"]]],
            {"fields": ["id", "client_order_ref", "state", "order_line"]},
        )
    return found


def outcome(odoo: OdooSandbox, url: str, tag: str) -> Outcome:
    """What a run left, with the trial's tag taken out: Odoo's orders (state, lines), the
    inbox's rows, the pending units."""
    found = sale_orders(odoo, tag)
    lines = odoo.state.call(
        "sale.order.line",
        "read",
        [[line for o in found for line in o["order_line"]]],
        {"fields": ["order_id", "product_id", "product_uom_qty"]},
    )
    by_order: dict[int, list[tuple[int, float]]] = {}
    for line in lines:
        order_id = line["order_id"][0] if isinstance(line["order_id"], list) else line["order_id"]
        product = (
            line["product_id"][0] if isinstance(line["product_id"], list) else line["product_id"]
        )
        by_order.setdefault(order_id, []).append((product, line["product_uom_qty"]))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = list(conn.execute(sa.select(order_inbox)))
            pending = list(conn.execute(sa.select(pending_units)))
            letters = dlq.list_open(conn)
            maps = inbox.mappings(conn)
    finally:
        engine.dispose()
    untag = lambda text: text.replace(f"{tag}-", "")  # noqa: E731 - local shorthand
    return {
        "odoo": sorted(
            (untag(o["client_order_ref"]), o["state"], sorted(by_order.get(o["id"], [])))
            for o in found
        ),
        "odoo_ids": {o["client_order_ref"]: o["id"] for o in found},
        "refs": Counter(o["client_order_ref"] for o in found),
        "inbox": sorted((r.channel, untag(r.external_id), r.event, r.status) for r in rows),
        "pending": sorted(
            (
                p.channel,
                untag(p.external_id),
                p.sku,
                p.reserved_at is not None,
                p.released_at is not None,
            )
            for p in pending
        ),
        "letters": [(x.id, x.error) for x in letters],
        "map": {(m.client_order_ref, m.odoo_order_id, m.odoo_state) for m in maps},
    }


def check_invariants(
    rec: Recorder, got: Outcome, clean: Outcome, placed: Sequence[Placed], tag: str
) -> None:
    """Every order in Odoo exactly once, nothing else; the same as a clean run everywhere."""
    expected = Counter(p.ref(tag) for p in placed)
    rec.check(
        "every order in Odoo exactly once",
        got["refs"] == expected,
        f"{dict(got['refs'] - expected)} extra, {dict(expected - got['refs'])} missing",
    )
    rec.check("Odoo orders equal a clean run", got["odoo"] == clean["odoo"], str(got["odoo"]))
    rec.check("inbox settled as a clean run", got["inbox"] == clean["inbox"], str(got["inbox"]))
    rec.check(
        "pending units as a clean run", got["pending"] == clean["pending"], str(got["pending"])
    )
    rec.check("no dead letter", not got["letters"], str(got["letters"]))
    mapped = {ref: (order_id, state) for ref, order_id, state in got["map"]}
    wrong = {
        ref: mapped.get(ref)
        for ref, order_id in got["odoo_ids"].items()
        if mapped.get(ref, (None,))[0] != order_id
    }
    rec.check("the ledger maps each order to its Odoo order", not wrong, str(wrong))
