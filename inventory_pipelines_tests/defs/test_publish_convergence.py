"""Publishing converges on every path: the whole graph in one run, as *Materialize all* runs it.

Odoo and one emulator per channel of `channels.yml` (Shopify, WooCommerce, Amazon and two
generic portals), the real assets, a real ledger. What the channels show is read back through
the connectors (what a merchant sees), never taken from our own tables.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import sqlalchemy as sa

from inventory_pipelines.channels.factory import connector_from_env, sandbox_env
from inventory_pipelines.channels.woocommerce import parse_listing_id
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.inventory.allocation import channel_allocation
from inventory_pipelines.defs.inventory.assets import canonical_inventory
from inventory_pipelines.defs.odoo.assets import locations, products, stock_moves, stock_quants
from inventory_pipelines.defs.orders.assets import channel_orders, odoo_order_sync
from inventory_pipelines.defs.publish.assets import (
    channel_stock,
    product_identity,
    published_channel_state,
)
from inventory_pipelines.defs.rules.assets import TABLES, build_model_assets
from inventory_pipelines.defs.shared import POLICY, PUBLISHED, channel_range_tags
from inventory_pipelines.ledger import audit, create_engine
from inventory_pipelines.ledger.schema import outbox
from inventory_pipelines.rules import default_rules_dir
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.generic import GenericChannelSandbox
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources

pytestmark = pytest.mark.slow

CHANNELS = POLICY.channels.names()
ASSETS = [
    products,
    locations,
    stock_quants,
    stock_moves,
    canonical_inventory,
    *build_model_assets(default_rules_dir(), TABLES),
    channel_allocation,
    channel_stock,
    channel_orders,
    odoo_order_sync,
    product_identity,
    published_channel_state,
]


@dataclass
class Sandbox:
    """Odoo and one running emulator per channel."""

    odoo: OdooSandbox
    channels: dict[str, object]

    def env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, emulator in self.channels.items():
            kind = POLICY.channels.get(name).kind.value
            env.update(sandbox_env(name, kind, emulator.credentials()))
        return env


def _emulator(kind: str, seed: int):
    if kind == "shopify":
        return ShopifySandbox(skus=40, seed=seed, port=0)
    if kind == "woocommerce":
        return WooCommerceSandbox(products=40, seed=seed, port=0)
    if kind == "amazon":
        return AmazonSandbox(skus=40, seed=seed, port=0)
    return GenericChannelSandbox(listings=40, seed=seed, port=0)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    yield from _sandbox(seed=6)


def _sandbox(seed: int) -> Iterator[Sandbox]:
    odoo = OdooSandbox(version=17, skus=30, seed=seed, port=0)
    emulators = {c.name: _emulator(c.kind.value, seed) for c in POLICY.channels.channels}
    odoo.start()
    for emulator in emulators.values():
        emulator.start()
    try:
        yield Sandbox(odoo, emulators)
    finally:
        for emulator in emulators.values():
            emulator.stop()
        odoo.stop()


def resources(sandbox: Sandbox, tmp_path: Path, ledger: Path) -> dict:
    return sandbox_resources(sandbox.odoo, tmp_path, f"sqlite:///{ledger}")


def materialize_all(res: dict, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """What *Materialize all* runs: every asset, every channel partition, in one run."""
    result = dg.materialize(
        ASSETS,
        resources=res,
        tags=channel_range_tags(CHANNELS),
        run_config=run_config,
        raise_on_error=False,
    )
    assert result.success, [
        e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure
    ]
    return result


def per_channel(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """The publish step's figures per channel (its `channels` metadata)."""
    events = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(PUBLISHED)
    ]
    assert events, "the publish step materialized nothing"
    return events[0].materialization.metadata["channels"].value


def shown(monkeypatch, sandbox: Sandbox) -> dict[str, dict[str, int | None]]:
    """What every channel shows now, per listing, read through its connector."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    out = {}
    for name in CHANNELS:
        kind = POLICY.channels.get(name).kind.value
        with connector_from_env(name, kind) as connector:
            out[name] = {
                x.listing_id: x.quantity for page in connector.read_listings() for x in page
            }
    return out


def targets(tmp_path: Path) -> dict[str, dict[str, int]]:
    """What each channel should show: the allocation of its mapped listings."""
    store = TableStore(tmp_path / "tables")
    out = {}
    for name in CHANNELS:
        allocation = store.read(("inventory", "channel_allocation"), name)
        mapping = store.read(("inventory", "product_identity"), name)
        joined = allocation.join(mapping, on="sku").select("listing_id", "publishable")
        out[name] = dict(joined.iter_rows())
    return out


def edit(sandbox: Sandbox, channel: str, listing_id: str, quantity: int) -> None:
    """Change what a channel shows behind the sync's back (a merchant in the channel's admin)."""
    emulator = sandbox.channels[channel]
    kind = POLICY.channels.get(channel).kind.value
    if kind == "shopify":
        emulator.state.set_quantity_silently(listing_id, quantity)
    elif kind == "woocommerce":
        product, variation = parse_listing_id(listing_id)
        item = emulator.state.items[variation or product]
        item.stock_quantity = quantity
    elif kind == "amazon":
        emulator.state.set_quantity(listing_id, quantity)
    else:
        emulator.state.set_quantity(listing_id, quantity)


def assert_converged(monkeypatch, sandbox: Sandbox, tmp_path: Path) -> None:
    now = shown(monkeypatch, sandbox)
    for name, wanted in targets(tmp_path).items():
        assert wanted, f"{name}: nothing mapped"
        wrong = {k: (now[name].get(k), v) for k, v in wanted.items() if now[name].get(k) != v}
        assert not wrong, f"{name} shows (shown, target): {dict(list(wrong.items())[:5])}"


def test_edits_made_on_every_channel_are_corrected_by_the_next_full_publish_and_audited(
    sandbox, tmp_path, monkeypatch
):
    ledger = tmp_path / "ledger.sqlite"
    res = resources(sandbox, tmp_path, ledger)
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    materialize_all(res)
    assert_converged(monkeypatch, sandbox, tmp_path)

    wanted = targets(tmp_path)
    edited: dict[str, dict[str, tuple[int, int]]] = {}
    for name in CHANNELS:
        listings = sorted(wanted[name])[:6]
        edited[name] = {}
        for i, listing_id in enumerate(listings):
            target = wanted[name][listing_id]
            new = target + 7 if i % 2 == 0 else max(0, target - 3) if target else target + 2
            edit(sandbox, name, listing_id, new)
            edited[name][listing_id] = (target, new)
    # a sale is not an edit: the channel shows less because of an order the run polls
    sold = next(
        k for k, v in sorted(wanted["shopify"].items()) if v >= 2 and k not in edited["shopify"]
    )
    sandbox.channels["shopify"].state.sell(sold, 2)

    corrected = per_channel(materialize_all(res))
    assert_converged(monkeypatch, sandbox, tmp_path)
    for name in CHANNELS:
        assert corrected[name]["channel_edits"] == len(edited[name]), (name, corrected[name])
        assert corrected[name]["sent"] >= len(edited[name])

    engine = create_engine(f"sqlite:///{ledger}")
    try:
        with engine.connect() as conn:
            entries = audit.history(conn, action="publish.channel_edit", limit=10_000)
    finally:
        engine.dispose()
    seen = {(e.source, e.entity.split("/", 2)[2]): e for e in entries}
    assert ("shopify", sold) not in seen
    for name, listings in edited.items():
        for listing_id, (target, new) in listings.items():
            entry = seen[(name, listing_id)]
            assert entry.before == {"quantity": target}
            assert entry.after["quantity"] == new

    again = per_channel(materialize_all(res))
    assert {n: (f["sent"], f["api_calls"]) for n, f in again.items()} == dict.fromkeys(
        CHANNELS, (0, 0)
    )


def test_a_restored_ledger_converges_on_a_fresh_sandbox_in_one_sync(sandbox, tmp_path, monkeypatch):
    """The ledger of one sandbox run (with increases left waiting in its outbox) used against
    a fresh sandbox, as after restoring a ledger or a store from a backup."""
    ledger = tmp_path / "ledger.sqlite"
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    materialize_all(
        resources(sandbox, tmp_path, ledger),
        run_config={
            "ops": {"inventory__published_channel_state": {"config": {"increases": False}}}
        },
    )
    restored = tmp_path / "restored.sqlite"
    shutil.copy(ledger, restored)

    fresh_dir = tmp_path / "fresh"
    for fresh in _sandbox(seed=6):
        for key, value in fresh.env().items():
            monkeypatch.setenv(key, value)
        res = resources(fresh, fresh_dir, restored)
        first = per_channel(materialize_all(res))
        assert_converged(monkeypatch, fresh, fresh_dir)
        assert all(f["pending_left"] == 0 and f["failed"] == 0 for f in first.values()), first
        second = per_channel(materialize_all(res))
        assert {n: f["sent"] for n, f in second.items()} == dict.fromkeys(CHANNELS, 0)
        engine = create_engine(f"sqlite:///{restored}")
        try:
            with engine.connect() as conn:
                stuck = conn.execute(
                    sa.select(outbox.c.channel, outbox.c.status, sa.func.count())
                    .where(outbox.c.status.in_(("pending", "sent", "failed", "dead")))
                    .group_by(outbox.c.channel, outbox.c.status)
                ).all()
        finally:
            engine.dispose()
        assert stuck == []


def test_materialize_all_sends_no_increase_before_every_decrease_of_the_round_is_acknowledged(
    sandbox, tmp_path, monkeypatch
):
    ledger = tmp_path / "ledger.sqlite"
    res = resources(sandbox, tmp_path, ledger)
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    materialize_all(res)
    wanted = targets(tmp_path)
    # two channels each need some listings lowered and others raised
    for name in ("shopify", "pos"):
        listings = sorted(k for k, v in wanted[name].items() if v > 0)[:10]
        for i, listing_id in enumerate(listings):
            edit(sandbox, name, listing_id, wanted[name][listing_id] + 50 if i % 2 else 0)

    result = materialize_all(res)
    run_id = result.run_id
    engine = create_engine(f"sqlite:///{ledger}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    outbox.c.channel,
                    outbox.c.direction,
                    outbox.c.status,
                    outbox.c.sent_at,
                    outbox.c.acknowledged_at,
                ).where(outbox.c.round_id.like(f"{run_id}%"))
            ).all()
    finally:
        engine.dispose()
    frame = pl.DataFrame([dict(r._mapping) for r in rows])
    lowering = frame.filter(pl.col("direction").is_in(["zero", "decrease"]))
    raising = frame.filter(pl.col("direction") == "increase")
    assert set(lowering["channel"]) >= {"shopify", "pos"}
    assert set(raising["channel"]) >= {"shopify", "pos"}
    assert (frame["status"] == "acknowledged").all()
    last_decrease_acknowledged = lowering["acknowledged_at"].max()
    first_increase_sent = raising["sent_at"].min()
    assert last_decrease_acknowledged <= first_increase_sent
    assert_converged(monkeypatch, sandbox, tmp_path)
