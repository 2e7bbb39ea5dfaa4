"""The policies under comparison, each driving the same world.

**Ours** (`ours-ring-fenced`, `ours-shared`, and the two with one feature off) runs the
product's own code on every path, at the cadences of `automation.yml`:

- *fast path*: a webhook's order lands in the inbox (`take_in`); at the order sensor's next
  tick (every 5 s, plus 2 s to start the run) it launches the ingestion into Odoo
  (`Ingestor`) and a refresh of the ordered SKUs together: the refresh reads the quants
  (`read_quants`, `compute_canonical`) as the ingestion starts (so the new orders are not
  reserved in that snapshot, and the pending ledger is what keeps them out), allocates
  (`allocate` with the pending units and the fences of `fences.allocation_inputs`, and Odoo's
  unreserved demand) and publishes one round to every channel (`publish_round`: outbox,
  decreases first, compare-and-set where offered); the ingestion runs beside it (a lane);
- *push*: a stock change in Odoo reaches the same fast run 3 s later (Odoo's push, p50 3.0 s
  measured by `make bench`); so does the reservation of each order the ingestion takes into
  Odoo (the shipped rule watches the quants' reserved quantity too): the refresh that reads
  Odoo after it no longer counts the order as pending;
- *poll* every 5 minutes (`orders_poll`), a run of its own beside the others (Amazon's order
  quotas can pace it for minutes in a flash sale; it holds up no fast run): it reads the
  channels as they are when it starts, its orders reach the inbox when it ends, and its new
  orders take the fast path too;
- *batch* every 15 minutes over every SKU (delta only: what a channel shows already is not
  sent);
- *full reconciliation* (read every channel back, poll, allocate, publish against what the
  channels show) at go-live and at the end (its cron, 02:00, is outside the simulated day);
- a warehouse going offline is marked offline in `warehouses.yml` by an operator a minute
  after it happens, who runs a sync; the same when it is back.

`ours-no-pending-ledger` allocates without the inbox's pending units and fence sales
(`pending=None, sales=None`; Odoo's unreserved demand still counts, it is Odoo's);
`ours-no-compare-and-set` uses connectors that declare no compare-and-set, so the publisher
sends absolute quantities everywhere. Both ring-fenced, the shipped mode.

The simulated rules (`rules_folder`): the shipped rules with the three simulated channels,
ring-fenced at their demand shares (Shopify 45%, WooCommerce 20%, Amazon 35%) or all on the
shared pool, and no safety buffer or threshold, so that ours and periodic differ by mechanism,
not by a business's caution; `--buffers` gives ours :data:`BUFFERS` (periodic has none).

**Periodic** (`periodic-10m`, `periodic-15m`) is how common connectors and hubs work: every
N minutes, poll every channel's orders and import them into Odoo, read Odoo's free quantity
(on hand less reserved) per SKU over the channel's warehouses, and set it as an absolute
quantity on every listing of every channel, in batches at the channel's limit, through the
same connectors. No pending ledger, no compare-and-set, no outbox, no buffer, no notion of a
warehouse being offline (Odoo's free quantity still counts it).
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from inventory_pipelines.allocation.engine import (
    allocate,
    fence_sales_frame,
    fence_signature,
    pending_frame,
)
from inventory_pipelines.channels.base import (
    ChannelConnector,
    ChannelError,
    ChannelLimits,
    OrdersPage,
    QuantityUpdate,
)
from inventory_pipelines.defs.inventory.allocation import with_unreserved_demand
from inventory_pipelines.ledger import fences, inbox
from inventory_pipelines.orders.events import take_in
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines.rules import Policy, default_rules_dir, load_policy
from inventory_pipelines.simulation import POLICIES
from inventory_pipelines.simulation.scenario import DEMAND_SHARES
from inventory_pipelines.simulation.world import World

SENSOR_TICK_S = 5.0  # the order sensor's interval
RUN_START_S = 2.0  # from a sensor tick to the fast run's first step
PUSH_S = 3.0  # from a stock change in Odoo to the fast run (Odoo's push)
POLL_S = 300.0  # orders_poll: */5
BATCH_S = 900.0  # batch: */15
OPERATOR_S = 60.0  # from a warehouse going offline to the rules saying so


@dataclass(frozen=True)
class PolicySpec:
    """One policy: its family and what is on."""

    name: str
    family: str  # ours, periodic
    mode: str = "ring"  # ring, shared (ours)
    pending: bool = True
    compare_and_set: bool = True
    interval_s: float = 600.0  # periodic


SPECS = {
    "ours-ring-fenced": PolicySpec("ours-ring-fenced", "ours", "ring"),
    "ours-shared": PolicySpec("ours-shared", "ours", "shared"),
    "periodic-10m": PolicySpec("periodic-10m", "periodic", interval_s=600.0),
    "periodic-15m": PolicySpec("periodic-15m", "periodic", interval_s=900.0),
    "ours-no-pending-ledger": PolicySpec("ours-no-pending-ledger", "ours", "ring", pending=False),
    "ours-no-compare-and-set": PolicySpec(
        "ours-no-compare-and-set", "ours", "ring", compare_and_set=False
    ),
}

#: the simulated channels (the shipped ones a shopper's order can come back from) and their
#: warehouses, fences (the demand shares) and buffers
CHANNELS = {
    "shopify": {"warehouses": [{"code": "MAIN", "priority": 1}, {"code": "EAST", "priority": 2}]},
    "woocommerce": {
        "warehouses": [{"code": "MAIN", "priority": 1}, {"code": "WEST", "priority": 2}]
    },
    "amazon": {
        "warehouses": [
            {"code": "MAIN", "priority": 1},
            {"code": "EAST", "priority": 2},
            {"code": "WEST", "priority": 3},
        ]
    },
}
#: with `--buffers`: the shipped channels' buffers and thresholds (Shopify's buffer 1, not 2:
#: compare-and-set covers what a buffer would; the others cover their residual window)
BUFFERS = {
    "shopify": {"safety_buffer": {"units": 1}, "min_threshold": 1},
    "woocommerce": {"safety_buffer": {"units": 1}},
    "amazon": {"safety_buffer": {"units": 3}, "min_threshold": 2},
}


def rules_folder(
    root: Path, mode: str, offline: frozenset[str] = frozenset(), *, buffers: bool = False
) -> Path:
    """A copy of the shipped rules with the simulated channels (`mode` ring or shared; with
    `buffers`, :data:`BUFFERS`), no drop-ship vendors, policies, suppressions or feeds, and
    `offline` warehouses offline."""
    name = f"rules-{mode}-{'-'.join(sorted(offline)) or 'all-online'}-{'buffers' * buffers}"
    folder = root / name
    if folder.exists():
        return folder
    shutil.copytree(default_rules_dir(), folder)
    for optional in ("policies.yml", "suppressions.yml", "mappings.yml", "vendors.yml"):
        (folder / optional).unlink(missing_ok=True)
    channels = []
    for name, kind in (
        ("shopify", "shopify"),
        ("woocommerce", "woocommerce"),
        ("amazon", "amazon"),
    ):
        allocation = (
            {"mode": "percent", "percent": round(DEMAND_SHARES[name] * 100)}
            if mode == "ring"
            else {"mode": "shared"}
        )
        extra = BUFFERS[name] if buffers else {}
        channels.append(
            {"name": name, "kind": kind, "allocation": allocation, **CHANNELS[name], **extra}
        )
    (folder / "channels.yml").write_text(yaml.safe_dump({"channels": channels}, sort_keys=False))
    warehouses = yaml.safe_load((folder / "warehouses.yml").read_text())
    warehouses["warehouses"] = [
        {"code": code, "status": "offline" if code in offline else "online"}
        for code in ("MAIN", "EAST", "WEST")
    ]
    (folder / "warehouses.yml").write_text(yaml.safe_dump(warehouses, sort_keys=False))
    orders = yaml.safe_load((folder / "orders.yml").read_text())
    orders["channels"] = {k: v for k, v in orders.get("channels", {}).items() if k in CHANNELS}
    (folder / "orders.yml").write_text(yaml.safe_dump(orders, sort_keys=False))
    return folder


class NoCompareAndSet(ChannelConnector):
    """A connector that declares no compare-and-set (everything else is the real one's)."""

    def __init__(self, inner: ChannelConnector) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.api_version = inner.api_version

    def limits(self) -> ChannelLimits:
        """The channel's limits, compare-and-set off."""
        limits = self.inner.limits()
        return ChannelLimits(
            max_batch=limits.max_batch,
            requests_per_s=limits.requests_per_s,
            burst=limits.burst,
            compare_and_set=False,
            bulk_batch=limits.bulk_batch,
            bulk_threshold=limits.bulk_threshold,
            concurrency=limits.concurrency,
        )

    def read_listings(self) -> Any:
        """The real connector's."""
        return self.inner.read_listings()

    def publish(self, updates: Any, idempotency_key: str) -> Any:
        """The real connector's."""
        return self.inner.publish(updates, idempotency_key)

    def endpoints(self) -> tuple[str, ...]:
        """The real connector's."""
        return self.inner.endpoints()

    def close(self) -> None:
        """Nothing: the world closes the real connector."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Ours:
    """The product on every path (see the module docstring)."""

    def __init__(self, world: World, spec: PolicySpec, rules_root: Path, buffers: bool) -> None:
        self.world = world
        self.spec = spec
        self.policies = {
            offline: load_policy(rules_folder(rules_root, spec.mode, offline, buffers=buffers))
            for offline in (frozenset(), frozenset({"WEST"}))
        }
        self.policy: Policy = self.policies[frozenset()]
        self.connectors = {
            name: store.connector if spec.compare_and_set else NoCompareAndSet(store.connector)
            for name, store in world.stores.items()
        }
        self.fast_skus: set[str] = set()
        self.fast_at: float | None = None
        self.rounds = 0
        self.targets: dict[tuple[str, str], int] = {}
        world.on_webhook = self.on_webhook

    # -- schedule --------------------------------------------------------------------------------

    def start(self, end: float) -> None:
        """Go live (a full run) and schedule every recurring path until `end`."""
        world = self.world
        self.run(None, full=True)
        for event in world.scenario.stock:
            world.at(event.at, lambda e=event: self.stock(e))
        for window in world.windows("offline"):
            world.at(window.start, lambda w=window: world.truth.offline.add(w.warehouse))
            world.at(window.end, lambda w=window: world.truth.offline.discard(w.warehouse))
            world.at(window.start + OPERATOR_S, lambda w=window: self.rules({w.warehouse}))
            world.at(window.end + OPERATOR_S, lambda: self.rules(set()))
        for t in _every(POLL_S, end):
            world.at(t, self.poll)
        for t in _every(BATCH_S, end):
            world.at(t, lambda: self.run(None))

    def finish(self) -> None:
        """The last full reconciliation."""
        self.run(None, full=True)

    def on_webhook(self, channel: str, skus: set[str]) -> None:
        """The order sensor sees new inbox rows at its next tick."""
        now = self.world.clock.now
        self.request(skus, (math.floor(now / SENSOR_TICK_S) + 1) * SENSOR_TICK_S + RUN_START_S)

    def stock(self, event: Any) -> None:
        """A warehouse event in Odoo; its push reaches the fast path."""
        sku = self.world.apply_stock(event)
        self.request({sku}, self.world.clock.now + PUSH_S)

    def poll(self) -> None:
        """Poll every channel's orders (a run of its own, beside the others); when it is done,
        its new orders take the fast path."""
        world = self.world
        end, pages = world.poll_in_lane()
        world.at(end, lambda: self._polled(pages))

    def _polled(self, pages: list[tuple[str, OrdersPage]]) -> None:
        new = self.world.take_polled(pages)
        if new:
            self.request(new, self.world.clock.now + SENSOR_TICK_S + RUN_START_S)

    def rules(self, offline: set[str]) -> None:
        """An operator edits warehouses.yml and runs a sync."""
        self.policy = self.policies[frozenset(offline)]
        self.run(None)

    def request(self, skus: set[str], due: float) -> None:
        """A fast run of `skus` at `due` (runs asked for meanwhile are coalesced)."""
        self.fast_skus |= skus
        if self.fast_at is None or due < self.fast_at:
            self.fast_at = due
            self.world.at(due, self._fast)

    def _fast(self) -> None:
        if self.fast_at is None or self.world.clock.now + 1e-9 < self.fast_at:
            return  # a later request moved the run earlier; this one is stale
        skus, self.fast_skus, self.fast_at = self.fast_skus, set(), None
        if skus:
            self.run(skus)

    # -- one run ---------------------------------------------------------------------------------

    def run(self, skus: set[str] | None, *, full: bool = False) -> None:
        """One run of the graph over `skus` (None: every SKU); `full` reads channels back first."""
        world = self.world
        self.rounds += 1
        round_id = f"{self.spec.name}-{self.rounds}"
        shown: dict[str, dict[str, int]] = {}
        shown_at = None
        if full:
            shown_at = world.clock.datetime()
            with world.engine.connect() as conn:
                for name in world.stores:
                    fences.note_read_back(conn, name, shown_at)
            for name in world.stores:
                try:
                    shown[name] = {
                        x.listing_id: int(x.quantity)
                        for page in self.connectors[name].read_listings()
                        for x in page
                        if x.quantity is not None
                    }
                except ChannelError:
                    shown[name] = {}
            for name, store in world.stores.items():
                polled_at = world.clock.datetime()
                try:
                    with world.engine.connect() as conn:
                        page = store.connector.read_orders(inbox.get_cursor(conn, name))
                        take_in(conn, name, page.orders, "poll", unreadable=page.unreadable)
                        inbox.set_cursor(conn, name, page.cursor)
                        fences.explain_drops_after_poll(conn, name, polled_at)
                except ChannelError:
                    continue
                world.metrics.heard(
                    name, {x.sku for o in page.orders for x in o.lines if x.sku}, world.clock.now
                )
        if skus is None:
            # a batch or full run: the ingestion runs before it are long done (their reservations
            # are in the snapshot, yet their pushes still come)
            reserved = world.ingest()
            ingested = world.clock.now
            canonical = world.snapshot()
        else:
            # the order sensor launches the ingestion and this refresh together: the refresh
            # reads Odoo as the ingestion starts, and the ingestion runs beside it (a lane)
            canonical = world.snapshot()
            started = world.clock.now
            reserved = world.ingest()
            ingested, world.clock.now = world.clock.now, started
        if reserved:
            # Odoo reserving the orders' units changes the quants' reserved quantity, which the
            # shipped webhook rule watches: a push, as for any stock change
            self.request(reserved, ingested + PUSH_S)
        wanted = sorted(skus) if skus is not None else world.skus
        canonical = canonical.filter(pl.col("sku").is_in(wanted))
        computed_at = world.clock.now
        ledger_read_at = world.clock.datetime()
        frame = self.allocate(canonical, wanted)
        world.clock.advance(0.2)
        plans = []
        for name in world.stores:
            listing = world.stores[name].listing
            publishable = dict(
                frame.filter(pl.col("channel").cast(pl.Utf8) == name)
                .select("sku", "publishable")
                .iter_rows()
            )
            targets = {listing[sku]: (sku, int(publishable.get(sku, 0))) for sku in wanted}
            for sku in wanted:
                self.targets[(name, sku)] = int(publishable.get(sku, 0))
            plans.append(
                ChannelPlan(
                    name,
                    self.connectors[name],
                    targets,
                    shown.get(name, {}),
                    shown_at,
                    ledger_read_at=ledger_read_at if self.spec.pending else None,
                )
            )
        summaries = publish_round(world.engine, plans, round_id, sleep=world.clock.sleep)
        if skus is not None:
            world.clock.now = max(world.clock.now, ingested)
        clean = all(
            s.circuit is None and not s.pending_left and not s.dead_lettered
            for s in summaries.values()
        )
        if clean:
            world.metrics.resolve(set(wanted), computed_at, world.clock.now)

    def allocate(self, canonical: pl.DataFrame, skus: list[str]) -> pl.DataFrame:
        """The allocation of `skus`, with the pending ledger and fences unless switched off."""
        world = self.world
        as_of = canonical["as_of"].min() if canonical.height else world.clock.datetime()
        pending = sales = None
        if self.spec.pending:
            with world.engine.connect() as conn:
                units, sold, _ = fences.allocation_inputs(conn, fence_signature(self.policy), as_of)
            pending = pending_frame(units).with_columns(pending_dropship=pl.lit(0.0))
            sales = fence_sales_frame(sold)
        unreserved = world.unreserved()
        if pending is None:
            pending = pending_frame({}).with_columns(pending_dropship=pl.lit(0.0))
        pending = with_unreserved_demand(pending, unreserved)
        return allocate(
            canonical.select("sku", "warehouse", "available"),
            self.policy,
            world.clock.datetime(),
            pending=pending,
            sales=sales,
            skus=pl.DataFrame({"sku": skus}),
        )


class Periodic:
    """Odoo's free quantity pushed on a timer (see the module docstring)."""

    def __init__(self, world: World, spec: PolicySpec, rules_root: Path, buffers: bool) -> None:
        self.world = world
        self.spec = spec
        self.policy = load_policy(rules_folder(rules_root, "shared"))
        self.eligible = {
            c.name: [w.code for w in c.warehouses] for c in self.policy.channels.channels
        }
        self.cycles = 0
        self.targets: dict[tuple[str, str], int] = {}

    def start(self, end: float) -> None:
        """The first push, then every `interval_s` until `end`."""
        world = self.world
        self.cycle()
        for event in world.scenario.stock:
            world.at(event.at, lambda e=event: world.apply_stock(e))
        for window in world.windows("offline"):
            world.at(window.start, lambda w=window: world.truth.offline.add(w.warehouse))
            world.at(window.end, lambda w=window: world.truth.offline.discard(w.warehouse))
        for t in _every(self.spec.interval_s, end):
            world.at(t, self.cycle)

    def finish(self) -> None:
        """One last cycle."""
        self.cycle()

    def cycle(self) -> None:
        """Import orders, read free quantities, set them everywhere."""
        world = self.world
        self.cycles += 1
        world.poll()
        world.ingest()
        canonical = world.snapshot()
        computed_at = world.clock.now
        free: dict[tuple[str, str], float] = {}
        for sku, warehouse, available in canonical.select(
            "sku", "warehouse", "available"
        ).iter_rows():
            free[(sku, warehouse)] = free.get((sku, warehouse), 0.0) + float(available)
        clean = True
        for name, store in world.stores.items():
            updates = []
            for sku in world.skus:
                quantity = int(sum(free.get((sku, w), 0.0) for w in self.eligible[name]))
                self.targets[(name, sku)] = quantity
                updates.append(QuantityUpdate(store.listing[sku], sku, quantity))
            size = store.connector.limits().max_batch
            for n in range(0, len(updates), size):
                try:
                    store.connector.publish(
                        updates[n : n + size], f"{self.spec.name}-{self.cycles}-{name}-{n}"
                    )
                except ChannelError:
                    clean = False
                    break
        if clean:
            world.metrics.resolve(None, computed_at, world.clock.now)


def _every(interval: float, end: float) -> list[float]:
    return [interval * k for k in range(1, int(end // interval) + 1)]


def make_policy(world: World, name: str, rules_root: Path, buffers: bool) -> Ours | Periodic:
    """The driver of policy `name` in `world` (`buffers`: ours with :data:`BUFFERS`)."""
    spec = SPECS[name]
    return (Ours if spec.family == "ours" else Periodic)(world, spec, rules_root, buffers)


def policy_rules(name: str, rules_root: Path) -> Policy:
    """The rules the world of policy `name` is built with (its channels and warehouses)."""
    spec = SPECS[name]
    return load_policy(rules_folder(rules_root, spec.mode if spec.family == "ours" else "shared"))


__all__ = ["POLICIES", "SPECS", "make_policy", "policy_rules", "rules_folder"]
