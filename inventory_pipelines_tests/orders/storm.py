"""An order storm on two real channel emulators, with the loop closed by the pending ledger.

Buyers order concurrently on Shopify (compare-and-set) and WooCommerce (none), only what each
channel shows, one unit at a time. Each order reaches the inbox by the emulator's own signed
webhook through the receiver. A refresher, like the sensor's fast path, turns new inbox rows
into an allocation of their SKUs (the stock snapshot less the pending units, each ring-fenced
channel out of its own fence) and one publish round to both channels (decreases first,
Shopify's updates carrying `changeFromQuantity`); it raises as well as lowers. With
`full_sync_every_s`, a full sync runs during the storm too, the way the graph runs it: read
every channel back, poll its orders, allocate, publish against what the channels showed.
Publishing rounds never overlap (the deployment's publishing pool). Odoo is not involved:
during a storm the units sold are all pending, which is the point.

The result counts, per SKU, what was sold against the pool, and per channel what it sold beyond
the allocation it was first given (its entitlement); the orders WooCommerce took while one of
its publishes was in flight (the window a channel without compare-and-set leaves open); and
the time from each order to the other channel showing the lower quantity.
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import yaml

from inventory_pipelines.allocation.engine import (
    allocate,
    fence_sales_frame,
    fence_signature,
    pending_frame,
)
from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.ledger import create_engine, fences, inbox, migrate
from inventory_pipelines.orders.events import take_in
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS
from inventory_pipelines.publishing.publisher import ChannelPlan, publish_round
from inventory_pipelines.rules import default_rules_dir, load_policy
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.sandbox.shopify import ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox


@dataclass
class StormResult:
    """What a storm did."""

    pool: dict[str, int]
    sold: dict[str, Counter] = field(
        default_factory=lambda: {"shopify": Counter(), "woocommerce": Counter()}
    )
    entitled: dict[str, dict[str, int]] = field(default_factory=dict)
    woo_window_orders: int = 0
    rounds: int = 0
    full_syncs: int = 0
    order_to_other_channel_s: list[float] = field(default_factory=list)

    @property
    def total_sold(self) -> int:
        """Units sold on every channel."""
        return sum(sum(c.values()) for c in self.sold.values())

    @property
    def oversold(self) -> int:
        """Units sold beyond the pool, summed over SKUs."""
        total: Counter = Counter()
        for counter in self.sold.values():
            total += counter
        return sum(max(0, total[sku] - pool) for sku, pool in self.pool.items())


def storm_rules(tmp: Path, mode: str, channels: dict[str, str]) -> Path:
    """A rules folder with only `channels` (name -> kind), selling MAIN, without buffers:
    ring-fenced at 50% each (no slack left), or all on the shared pool."""
    root = tmp / f"rules-{mode}-{'-'.join(channels)}"
    shutil.copytree(default_rules_dir(), root, dirs_exist_ok=True)
    for optional in ("policies.yml", "suppressions.yml", "mappings.yml", "orders.yml"):
        (root / optional).unlink(missing_ok=True)
    shares = iter((50, 50))
    entries = [
        {
            "name": name,
            "kind": kind,
            "warehouses": [{"code": "MAIN"}],
            "allocation": (
                {"mode": "percent", "percent": next(shares)}
                if mode == "ring"
                else {"mode": "shared"}
            ),
        }
        for name, kind in channels.items()
    ]
    (root / "channels.yml").write_text(yaml.safe_dump({"channels": entries}))
    return root


class _Shop:
    """A Shopify emulator in the storm: compare-and-set, webhooks."""

    def __init__(self, sandbox: ShopifySandbox) -> None:
        self.sandbox = sandbox
        self.connector = ShopifyConnector(sandbox.url, sandbox.access_token, backoff_s=0.05)
        self.listing = {
            x.sku: x.listing_id for page in self.connector.read_listings() for x in page if x.sku
        }

    def shown(self, sku: str) -> int:
        return int(self.sandbox.state.quantity(sku, "available"))

    def sell(self, sku: str) -> None:
        self.sandbox.state.sell(sku, 1)


class _Woo:
    """A WooCommerce emulator in the storm: no compare-and-set, webhooks."""

    def __init__(self, sandbox: WooCommerceSandbox) -> None:
        self.sandbox = sandbox
        self.connector = WooCommerceConnector(
            sandbox.url, sandbox.consumer_key, sandbox.consumer_secret, requests_per_s=0
        )
        items = sandbox.state.items.values()
        self.items = {i.sku: i.id for i in items if i.type == "simple" and i.sku and i.manage_stock}
        self.listing = {sku: f"product:{item}" for sku, item in self.items.items()}

    def shown(self, sku: str) -> int:
        return int(self.sandbox.state.items[self.items[sku]].stock_quantity or 0)

    def sell(self, sku: str) -> None:
        self.sandbox.state.sell(self.items[sku], 1)


def run_storm(
    tmp: Path,
    *,
    channels: dict[str, str] | None = None,
    mode: str = "ring",
    use_pending: bool = True,
    seconds: float = 6.0,
    skus: int = 6,
    pool: int = 12,
    buyers: int = 3,
    seed: int = 1,
    probes: int = 0,
    webhook_lag_s: float = 0.25,
    full_sync_every_s: float | None = None,
) -> StormResult:
    """One storm on `channels` (name -> kind: shopify or woocommerce); see the docstring.

    With `probes`, no storm: that many single orders on the first channel, one after the
    other, each timed until the second channel shows the lower quantity."""
    channels = channels or {"shopify": "shopify", "woocommerce": "woocommerce"}
    policy = load_policy(storm_rules(tmp, mode, channels))
    url = f"sqlite:///{tmp / f'ledger-{mode}-{use_pending}-{seed}.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    receiver_channels = {
        name: WebhookChannel(name, kind, SANDBOX_WEBHOOK_SECRETS[kind])
        for name, kind in channels.items()
    }
    server, thread, sock = start_server(
        create_app(engine, receiver_channels), "127.0.0.1", 0, "receiver"
    )
    receiver = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandboxes = {
        name: ShopifySandbox(skus=40, seed=seed, port=0, locations=1)
        if kind == "shopify"
        else WooCommerceSandbox(products=60, seed=seed, port=0)
        for name, kind in channels.items()
    }
    try:
        for name, sandbox in sandboxes.items():
            sandbox.start()
            # real channels deliver a webhook a moment after the order: sales go unseen meanwhile
            sandbox.webhooks.configure(
                url=f"{receiver}/webhooks/{name}", duplicate_rate=0.2, delay_s=webhook_lag_s
            )
        stores = {
            name: _Shop(sandbox) if channels[name] == "shopify" else _Woo(sandbox)
            for name, sandbox in sandboxes.items()
        }
        return _storm(
            engine,
            policy,
            stores,
            random.Random(seed),
            use_pending,
            seconds,
            skus,
            pool,
            buyers,
            probes,
            full_sync_every_s,
        )
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()
        stop_server(server, thread, sock)
        engine.dispose()


def _arrivals(rng: random.Random, seconds: float, buyers: int) -> list[float]:
    """Attempt times of `buyers` shoppers over `seconds`, each every 20-200 ms, merged."""
    times: list[float] = []
    for _ in range(buyers):
        t = rng.uniform(0.0, 0.1)
        while t < seconds:
            times.append(t)
            t += rng.uniform(0.02, 0.2)
    return sorted(times)


def _storm(
    engine,
    policy,
    stores,
    rng,
    use_pending,
    seconds,
    skus,
    pool,
    buyers,
    probes=0,
    full_sync_every_s=None,
) -> StormResult:
    shared = set.intersection(*(set(store.listing) for store in stores.values()))
    chosen = sorted(shared)[:skus]
    assert len(chosen) == skus, "the emulators share too few SKUs"
    result = StormResult(pool=dict.fromkeys(chosen, pool), sold={n: Counter() for n in stores})
    canonical = pl.DataFrame(
        {"sku": chosen, "warehouse": ["MAIN"] * skus, "available": [float(pool)] * skus}
    )
    in_flight: list[tuple[float, float]] = []
    lock = threading.Lock()

    publishing = threading.Lock()  # one publishing round at a time, as the deployment's pool

    def read_back() -> tuple[dict[str, dict[str, int]], datetime]:
        """What each channel shows for the storm's SKUs, then its orders polled into the inbox:
        every sale the read-back shows is pending before the allocation (the graph's order)."""
        shown_at = datetime.now(UTC)
        shown = {}
        with engine.connect() as conn:
            for name in stores:
                fences.note_read_back(conn, name, shown_at)
        for name, store in stores.items():
            wanted = {store.listing[sku] for sku in chosen}
            shown[name] = {
                x.listing_id: int(x.quantity)
                for page in store.connector.read_listings()
                for x in page
                if x.listing_id in wanted and x.quantity is not None
            }
        for name, store in stores.items():
            polled_at = datetime.now(UTC)
            with engine.connect() as conn:
                page = store.connector.read_orders(inbox.get_cursor(conn, name))
                take_in(conn, name, page.orders, "poll")
                inbox.set_cursor(conn, name, page.cursor)
                fences.explain_drops_after_poll(conn, name, polled_at)  # read-back sales heard
        return shown, shown_at

    def refresh(round_id: str, full: bool = False) -> dict[str, dict[str, int]]:
        with publishing:
            shown, shown_at = read_back() if full else ({}, None)
            pending = sales = read_at = None
            if use_pending:
                read_at = datetime.now(UTC)  # before the read: see fences.unheard_rise
                with engine.connect() as conn:
                    units, sold, _ = fences.allocation_inputs(conn, fence_signature(policy), None)
                pending, sales = pending_frame(units), fence_sales_frame(sold)
            frame = allocate(
                canonical,
                policy,
                datetime.now(UTC),
                pending=pending,
                sales=sales,
                skus=canonical.select("sku"),
            )
            targets, plans = {}, []
            for name, store in stores.items():
                publishable = dict(
                    frame.filter(pl.col("channel").cast(pl.Utf8) == name)
                    .select("sku", "publishable")
                    .iter_rows()
                )
                targets[name] = {sku: int(publishable[sku]) for sku in chosen}
                plans.append(
                    ChannelPlan(
                        name,
                        store.connector,
                        {store.listing[sku]: (sku, targets[name][sku]) for sku in chosen},
                        shown.get(name, {}),
                        shown_at,
                        ledger_read_at=read_at,
                    )
                )
            started = time.monotonic()
            publish_round(engine, plans, round_id, sleep=lambda s: time.sleep(min(s, 0.05)))
            with lock:
                in_flight.append((started, time.monotonic()))
            return targets

    result.entitled = refresh("initial")
    orders: list[tuple[float, str, str]] = []
    stop = threading.Event()

    # The same seed gives the same buying attempts (time, channel, SKU): runs compare on the
    # same orders. An attempt buys one unit if the channel shows one.
    started_at = time.monotonic()
    schedule = {
        name: [(offset, rng.choice(chosen)) for offset in _arrivals(rng, seconds, buyers)]
        for name in stores
    }

    def buyer(name: str, attempts: list[tuple[float, str]]) -> None:
        store = stores[name]
        for offset, sku in attempts:
            time.sleep(max(0.0, started_at + offset - time.monotonic()))
            # a channel never sells more than it shows: its check-out reads and sells under
            # its own lock, as a publish sets quantities under it (outside it, a publish could
            # land between the look and the sale and the channel would sell a unit it no
            # longer shows: under load that oversold one unit that no planning had offered)
            with store.sandbox.state.lock:
                if store.shown(sku) >= 1:
                    store.sell(sku)
                    with lock:
                        result.sold[name][sku] += 1
                        orders.append((time.monotonic(), name, sku))

    def refresher() -> None:
        seen = n = 0
        while not stop.is_set():
            with engine.connect() as conn:
                new = inbox.rows(conn, since_id=seen)
            if new:
                seen = max(r.id for r in new)
                n += 1
                refresh(f"storm-{n}")  # the fast path: raises as well as lowers
            else:
                time.sleep(0.01)
        result.rounds = n

    def full_syncs() -> None:
        n = 0
        while not stop.wait(full_sync_every_s or 0):
            n += 1
            refresh(f"full-{n}", full=True)
        result.full_syncs = n

    threads = [threading.Thread(target=buyer, args=(name, schedule[name])) for name in stores]
    watcher = threading.Thread(target=refresher)
    watcher.start()
    syncer = threading.Thread(target=full_syncs) if full_sync_every_s else None
    if syncer is not None:
        syncer.start()
    if probes:
        threads = []
        first, second = (stores[n] for n in list(stores)[:2])
        for n in range(probes):
            sku = chosen[n % len(chosen)]
            before = second.shown(sku)
            if before <= 0 or first.shown(sku) <= 0:
                continue
            placed = time.monotonic()
            first.sell(sku)
            result.sold[next(iter(stores))][sku] += 1
            while time.monotonic() < placed + 10 and second.shown(sku) >= before:
                time.sleep(0.002)
            if second.shown(sku) < before:
                result.order_to_other_channel_s.append(time.monotonic() - placed)
            time.sleep(0.05)
    for t in threads:
        t.start()
    samples: list[float] = []
    names = list(stores)
    sampling = use_pending and all(
        policy.channels.get(n).allocation.mode.value == "shared" for n in names
    )
    deadline = started_at + seconds
    while sampling and time.monotonic() < deadline:
        with lock:
            recent = [o for o in orders if o[0] > time.monotonic() - 0.02]
        for placed, name, sku in recent[:1]:
            other = stores[names[1] if name == names[0] else names[0]]
            before = other.shown(sku)
            while time.monotonic() < placed + 3 and before > 0 and other.shown(sku) >= before:
                time.sleep(0.005)
            if before > 0 and other.shown(sku) < before:
                samples.append(time.monotonic() - placed)
        time.sleep(0.05)
    for t in threads:
        t.join()
    for store in stores.values():
        store.sandbox.webhooks.drain()
    time.sleep(0.3)
    stop.set()
    watcher.join()
    if syncer is not None:
        syncer.join()
    refresh("final", full=True)
    result.order_to_other_channel_s += samples
    no_cas = {n for n, store in stores.items() if isinstance(store, _Woo)}
    result.window_orders = sum(
        1
        for placed, name, _ in orders
        if name in no_cas and any(a <= placed <= b for a, b in in_flight)
    )
    for store in stores.values():
        store.connector.close()
    return result
