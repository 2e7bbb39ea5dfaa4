"""The world one policy runs in: the emulators, the product's connectors to them, the truth.

Fresh for each policy, built the same way from the same seed: an Odoo emulator and one channel
emulator per simulated channel (real HTTP servers on the loopback, in this process), the
product's own connectors to them, a ledger (SQLite in a temporary folder), and the *truth*: the
units that are really on the shelves, which no policy sees.

Each connector sends through :class:`SimTransport`, which makes the request cost simulated
time (half the channel's round trip before the channel handles it, half after) and, before the
channel handles it, lets the channel's shoppers whose time has come buy: so sales land between
the product's reads and writes as they would in real time. A channel in an outage window
answers 503 without being called; one in a throttling window answers every other request 429
with `Retry-After: 2`.

Webhooks are captured from the emulators (the payload and headers they would sign and send) and
delivered to the inbox by the simulation at the sale's time plus the shopper's webhook lag,
through the channel's own webhook parser (`channels.factory.WEBHOOKS`) and `orders.events.take_in`,
as the receiver does once a signature is verified.
"""

from __future__ import annotations

import heapq
import math
import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import polars as pl

from inventory_pipelines.channels.amazon import AmazonConnector
from inventory_pipelines.channels.base import ChannelConnector, ChannelError, OrdersPage
from inventory_pipelines.channels.factory import WEBHOOKS
from inventory_pipelines.channels.pacing import Pacer
from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.inventory.canonical import compute_canonical
from inventory_pipelines.inventory.locations import assign_location_roles
from inventory_pipelines.ledger import create_engine, inbox, migrate
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_locations, read_products, read_quants
from inventory_pipelines.odoo.supply import read_unreserved_demand
from inventory_pipelines.orders.events import take_in
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.rules import Policy
from inventory_pipelines.rules.channels import AllocationMode
from inventory_pipelines.sandbox.amazon import AmazonSandbox
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.shopify import CostBucket, ShopifySandbox
from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox
from inventory_pipelines.simulation.clock import VirtualClock
from inventory_pipelines.simulation.scenario import Scenario, Shopper, StockEvent, Window

#: simulated round trip of one request, per channel (seconds)
LATENCY_S = {"shopify": 0.25, "woocommerce": 0.45, "amazon": 0.35}
#: simulated time the product's work against Odoo takes (not measured: the Odoo emulator
#: is called over real HTTP, but its time is not the channel's)
INGEST_S_PER_ORDER = 0.3
SNAPSHOT_S = 0.4
ALLOCATE_S = 0.2
ODOO_VERSION = 17


class WebhookCapture:
    """Stands in for an emulator's webhook sender: keeps each delivery for the simulation."""

    def __init__(
        self, sink: Callable[[Mapping[str, Any], Callable[..., dict[str, str]], str], None]
    ):
        self.sink = sink

    def deliver(
        self, payload: Mapping[str, Any], headers: Callable[..., dict[str, str]], delivery_id: str
    ) -> None:
        """Hand the delivery to the simulation (it decides when it arrives)."""
        self.sink(payload, headers, delivery_id)

    def drain(self, timeout: float = 0.0) -> None:
        """Nothing is in flight: deliveries are the simulation's."""


class SimTransport(httpx.BaseTransport):
    """A connector's transport in simulated time (see the module docstring)."""

    def __init__(self, world: World, channel: str) -> None:
        self.world = world
        self.channel = channel
        self.inner = httpx.HTTPTransport()
        self.throttle_turn = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Cost the round trip, let due shoppers buy, then answer (or fail as the window says)."""
        world = self.world
        half = LATENCY_S[self.channel] / 2
        world.clock.advance(half)
        world.apply_sales(self.channel, world.sales_until())
        world.api_calls[self.channel] += 1
        window = world.window_of(self.channel, world.clock.now)
        if window == "outage":
            world.clock.advance(half)
            return httpx.Response(503, json={"errors": "service unavailable"}, request=request)
        if window == "throttle":
            self.throttle_turn += 1
            if self.throttle_turn % 2:
                world.clock.advance(half)
                return httpx.Response(
                    429, headers={"Retry-After": "2"}, json={"errors": "throttled"}, request=request
                )
        response = self.inner.handle_request(request)
        response.read()
        world.clock.advance(half)
        return response

    def close(self) -> None:
        """Close the real transport."""
        self.inner.close()


@dataclass
class Truth:
    """What could really be fulfilled: the sellable units on each warehouse's shelves (not on
    hold), the units promised to each channel's accepted orders (oversold ones included: they
    wait as backorders for the next units), warehouses offline.

    Orders do not ship during a simulation: their units stay on the shelves, promised. The
    promises can be kept while some assignment of every promised unit to a warehouse eligible
    for it exists; by Hall's theorem, while for every set of promise kinds the units promised
    to them are at most the units in the union of their warehouses.

    A promise's warehouses are its channel's eligible ones, less those offline both when it was
    made and now: an order accepted while a warehouse was online may still be kept from its
    units after it goes offline (Odoo reserved them there; the order ships late, when it is
    back), and an order accepted while a warehouse is offline may not count on it until it is
    back. A new order counts only on warehouses online now.

    Which of those units are *for* a channel (what a lost sale is measured against) is decided
    as the business decides it (:meth:`for_channel_by_rules`): Odoo, the system of record, holds
    the units of each order it has taken where it reserved them (:meth:`pin`; an order is not
    moved to another warehouse to free a unit for another channel), and the allocation rule
    (DESIGN.md section 3) shares out the rest: on the shared pool every unit a channel could
    still promise is for it; a ring-fenced channel (`fences`: channel -> its share) owns its
    share of the pool as it stood when the fences were based (the start), its own sales taking
    from its fence unit for unit and no other's, and what arrives or leaves otherwise shared out
    by the shares.
    """

    shelf: dict[tuple[str, str], int]
    eligible: dict[str, list[str]]  # channel -> warehouses in priority order
    offline: set[str] = field(default_factory=set)
    #: (sku, channel, warehouses offline when promised) -> units
    promised: Counter = field(default_factory=Counter)
    #: ring-fenced channel -> its share of the pool (0..1); the others are on the shared pool
    fences: dict[str, float] = field(default_factory=dict)
    #: (sku, channel, warehouse) -> units of the channel's orders Odoo reserved there (or holds
    #: there as backorders): see :meth:`pin`
    pinned: Counter = field(default_factory=Counter)

    def _warehouses(self, kind: tuple[str, frozenset[str]]) -> frozenset[str]:
        channel, offline_then = kind
        return frozenset(set(self.eligible[channel]) - (offline_then & self.offline))

    def _demands(
        self, sku: str, *, as_reserved: bool, unpinned_of: Collection[str] | None = None
    ) -> dict[frozenset[str], int]:
        """The promises of `sku`, grouped by the warehouses each may be kept from: any its
        channel may ship from (an order can be sent anywhere), or, `as_reserved`, the warehouse
        Odoo put it in where it did (the channel's oldest promises first: orders reach Odoo in
        the order they were accepted). `unpinned_of`: only those channels' promises not in
        Odoo yet are counted (all channels': None)."""
        left = Counter()
        if as_reserved:
            for (s, channel, _), units in self.pinned.items():
                if s == sku:
                    left[channel] += units
        demands: dict[frozenset[str], int] = {}
        for (s, channel, offline_then), units in self.promised.items():
            if s != sku or units <= 0:
                continue
            cut = min(units, left[channel])
            left[channel] -= cut
            if units > cut and (unpinned_of is None or channel in unpinned_of):
                where = self._warehouses((channel, offline_then))
                demands[where] = demands.get(where, 0) + units - cut
        if as_reserved:
            for warehouse, units in self._held(sku).items():
                if units > 0:
                    where = frozenset({warehouse})
                    demands[where] = demands.get(where, 0) + units
        return demands

    def _held(self, sku: str, channels: Collection[str] | None = None) -> dict[str, int]:
        """Warehouse -> the units of `sku` Odoo holds there for orders (of `channels`, when
        given): at most what the shelf has; what it lacks is a backorder, waiting for units to
        arrive there, and takes nothing from another warehouse."""
        held: Counter = Counter()
        for (s, channel, warehouse), units in self.pinned.items():
            if s == sku and (channels is None or channel in channels):
                held[warehouse] += units
        return {w: min(units, max(0, self.shelf.get((sku, w), 0))) for w, units in held.items()}

    def _least_room(
        self,
        sku: str,
        demands: dict[frozenset[str], int],
        must: frozenset[str] | None = None,
        warehouse: str | None = None,
    ) -> int | None:
        """The least room (units in the union of their warehouses beyond what is promised to
        them) over the sets of demand groups: with `must` in each, or touching `warehouse`."""
        others = sorted((w for w in demands if w != must), key=sorted)
        least: int | None = None
        for mask in range(0 if must is not None else 1, 2 ** len(others)):
            groups = [w for n, w in enumerate(others) if mask >> n & 1]
            if must is not None:
                groups.append(must)
            where = frozenset().union(*groups)
            if warehouse is not None and warehouse not in where:
                continue
            supply = sum(self.shelf.get((sku, w), 0) for w in where)
            room = supply - sum(demands.get(g, 0) for g in groups)
            least = room if least is None else min(least, room)
        return least

    def for_channel(
        self,
        channel: str,
        sku: str,
        *,
        as_reserved: bool = False,
        unpinned_of: Collection[str] | None = None,
    ) -> int:
        """The most units `channel` could still promise for `sku` without breaking a promise:
        sending any order to any warehouse its channel may ship from, or, `as_reserved`, with
        the orders in Odoo kept where Odoo reserved them (and of the orders not in Odoo yet,
        only those of the channels `unpinned_of`, when given)."""
        now = self._warehouses((channel, frozenset(self.offline)))
        demands = self._demands(sku, as_reserved=as_reserved, unpinned_of=unpinned_of)
        return max(0, self._least_room(sku, demands, must=now) or 0)

    def pin(self, sku: str, channel: str, warehouse: str, units: int) -> None:
        """`units` of `channel`'s promises of `sku` are an order Odoo reserved in `warehouse`."""
        self.pinned[(sku, channel, warehouse)] += units

    def sold(self, sku: str, channels: Iterable[str]) -> int:
        """Units of `sku` promised to the orders `channels` accepted (since the start)."""
        wanted = set(channels)
        return sum(units for (s, c, _), units in self.promised.items() if s == sku and c in wanted)

    def for_channel_by_rules(self, channel: str, sku: str) -> int:
        """The units of `sku` that are `channel`'s to sell: what it could still promise with
        the orders Odoo has kept where Odoo reserved them (Odoo, the system of record, holds
        those units for those orders: moving one to free a unit for another channel is a
        decision no sync makes), and for a ring-fenced channel at most what is left of its
        fence: its share of the pool as if no fenced channel had sold (what it could promise
        with the fenced channels' orders not in Odoo left out, plus what Odoo holds for fenced
        orders in the warehouses it sells from now; an order Odoo shipped from elsewhere never
        was in its pool), less its own sales, rounded down (what `allocation.engine.allocate`
        computes from the ledger's view of the same facts: pending fenced sales count against
        every pool and are added back to every base)."""
        room = self.for_channel(channel, sku, as_reserved=True)
        share = self.fences.get(channel)
        if share is None:
            return room
        # the pool as if no fenced channel had sold: the room left by the other channels'
        # orders, plus what Odoo holds in the channel's own warehouses for fenced orders (on
        # the shelf: a backorder's missing units were never in the pool)
        others = [c for c in self.eligible if c not in self.fences]
        own = set(self.eligible[channel]) - self.offline
        held = self._held(sku, self.fences)
        base = self.for_channel(channel, sku, as_reserved=True, unpinned_of=others) + sum(
            units for w, units in held.items() if w in own
        )
        fence = max(0, math.floor(share * base - self.sold(sku, [channel]) + 1e-9))
        return min(room, fence)

    def consume(self, channel: str, sku: str, units: int) -> int:
        """Promise `units` to an accepted order; the units that could not be (oversold).

        Oversold units stay promised, as backorders: the order is in Odoo, which reserves the
        next units that arrive for it, so those units are not there for a later shopper
        (counted as free, they would make every shopper turned away meanwhile a lost sale).
        """
        kept = min(units, self.for_channel(channel, sku))
        self.promised[(sku, channel, frozenset(self.offline))] += units
        return units - kept

    def remove(self, sku: str, warehouse: str, units: int) -> int:
        """Units leave the shelf (found damaged, put on hold, sent away): at most what no
        promise needs (sent anywhere its channel ships from); the units that left."""
        slack = self.shelf.get((sku, warehouse), 0)
        least = self._least_room(sku, self._demands(sku, as_reserved=False), warehouse=warehouse)
        if least is not None:
            slack = min(slack, least)
        taken = max(0, min(units, slack))
        self.shelf[(sku, warehouse)] = self.shelf.get((sku, warehouse), 0) - taken
        return taken

    def add(self, sku: str, warehouse: str, units: int) -> None:
        """Units arrive on the shelf."""
        self.shelf[(sku, warehouse)] = self.shelf.get((sku, warehouse), 0) + units


@dataclass
class Metrics:
    """What happened to the shoppers and to the changes, as the simulation saw it."""

    accepted: Counter = field(default_factory=Counter)  # channel -> orders accepted
    oversold_units: Counter = field(default_factory=Counter)  # channel -> units
    oversold_orders: Counter = field(default_factory=Counter)
    #: channel -> shoppers turned away while the channel's units by the rules were there
    lost_sales: Counter = field(default_factory=Counter)
    lost_units: Counter = field(default_factory=Counter)
    #: channel -> shoppers turned away while the channel's warehouses held units no promise
    #: needed, sending any order anywhere its channel ships from and ignoring fences
    turned_away_with_stock: Counter = field(default_factory=Counter)
    turned_away: int = 0  # shoppers the channel could not serve and the shelf could not either
    #: t, oversold units, lost sales, turned away with stock (each cumulative)
    timeline: list[tuple[float, int, int, int]] = field(default_factory=list)
    latencies: list[tuple[str, float]] = field(default_factory=list)  # (source, seconds)
    #: sku -> [(changed at, known to the product from, source: a channel or "stock")]
    unresolved: dict[str, list[tuple[float, float, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def mark(self, t: float) -> None:
        """A point of the cumulative curves."""
        self.timeline.append(
            (
                t,
                sum(self.oversold_units.values()),
                sum(self.lost_sales.values()),
                sum(self.turned_away_with_stock.values()),
            )
        )

    def change(self, sku: str, at: float, known_at: float, source: str) -> None:
        """A change of `sku` at `at` (a sale on channel `source`, or `stock`) the product can
        know of from `known_at` on."""
        self.unresolved[sku].append((at, known_at, source))

    def heard(self, source: str, skus: set[str], now: float) -> None:
        """The product heard of `source`'s sales of `skus` at `now`."""
        for sku in skus:
            self.unresolved[sku] = [
                (at, min(known, now) if where == source else known, where)
                for at, known, where in self.unresolved.get(sku, [])
            ]

    def resolve(self, skus: set[str] | None, computed_at: float, done_at: float) -> None:
        """Quantities computed at `computed_at` reached every channel at `done_at`: every change
        of those SKUs known by then is reflected."""
        for sku in list(self.unresolved) if skus is None else skus:
            waiting = self.unresolved.get(sku)
            if not waiting:
                continue
            kept = []
            for at, known, source in waiting:
                if known <= computed_at:
                    self.latencies.append((source, done_at - at))
                else:
                    kept.append((at, known, source))
            self.unresolved[sku] = kept


@dataclass
class Store:
    """One channel emulator and how a shopper sees and buys on it."""

    name: str
    sandbox: Any
    connector: ChannelConnector
    listing: dict[str, str]  # sku -> listing id
    shown: Callable[[str], int]
    sell: Callable[[str, int], None]


class World:
    """Emulators, connectors, ledger, truth and metrics for one policy run."""

    def __init__(self, scenario: Scenario, policy: Policy, clock: VirtualClock, skus: int) -> None:
        self.scenario = scenario
        self.policy = policy
        self.clock = clock
        self.metrics = Metrics()
        self.api_calls: Counter = Counter()
        self._tmp = tempfile.TemporaryDirectory(prefix="inventory-sim-")
        url = f"sqlite:///{Path(self._tmp.name) / 'ledger.sqlite'}"
        migrate(url)
        self.engine = create_engine(url)
        self.jobs: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._buyer: Shopper | None = None
        #: while a poll runs in its own lane: the channels' shoppers have bought up to here
        self._sales_until: float | None = None
        self._queues: dict[str, list[Shopper]] = {
            n: [] for n in ("shopify", "woocommerce", "amazon")
        }
        for shopper in scenario.shoppers:
            self._queues[shopper.channel].append(shopper)
        self._next = dict.fromkeys(self._queues, 0)
        for shopper in scenario.shoppers:  # each shopper is a moment the world moves
            self.at(shopper.at, _nothing)
        seed = scenario.seed
        catalog = skus * 3 + 30
        self.odoo = OdooSandbox(version=ODOO_VERSION, skus=catalog, seed=seed, port=0)
        self.odoo.start()
        shop = ShopifySandbox(skus=catalog, seed=seed, port=0, locations=1)
        shop.state.bucket = CostBucket(1000.0, 100.0, clock.monotonic)
        woo = WooCommerceSandbox(products=catalog, seed=seed, port=0)
        amazon = AmazonSandbox(skus=catalog, seed=seed, port=0, orders=0)
        amazon.state.quotas.configure(enabled=False)  # the connector paces on simulated time
        self.sandboxes = {"shopify": shop, "woocommerce": woo, "amazon": amazon}
        for name, sandbox in self.sandboxes.items():
            if name in WEBHOOKS_OF:
                sandbox.webhooks = WebhookCapture(self._webhook_sink(name))
            sandbox.start()
        self.client = OdooClient(
            OdooConfig(
                url=self.odoo.url, db=self.odoo.db, login=self.odoo.login, secret=self.odoo.api_key
            )
        )
        self.stores = self._stores(seed)
        self.skus = self._choose_skus(skus)
        self.sku_of = dict(enumerate(self.skus))
        self.products = read_products(self.client, self.skus)
        self.product_ids = self.products["product_id"].to_list()
        self.locations = assign_location_roles(read_locations(self.client), policy.warehouses)
        self._stock_up()
        canonical = self.snapshot()
        shelf = {
            (sku, wh): int(units)
            for sku, wh, units in canonical.select("sku", "warehouse", "available").iter_rows()
        }
        eligible = {
            c.name: [w.code for w in sorted(c.warehouses, key=lambda w: w.priority)]
            for c in policy.channels.channels
        }
        fences = {
            c.name: (c.allocation.percent or 0) / 100
            for c in policy.channels.channels
            if c.allocation.mode is AllocationMode.PERCENT
        }
        if any(c.allocation.mode is AllocationMode.CAP for c in policy.channels.channels):
            raise ValueError("the simulation's truth knows percentage fences, not caps")
        self.truth = Truth(shelf, eligible, fences=fences)
        # orders the sandbox was seeded with are not the simulation's
        self._last_order_id = max(self.odoo.state.call("sale.order", "search", [[]]), default=0)
        self._warehouse_codes = {
            w["id"]: w["code"]
            for w in self.odoo.state.call(
                "stock.warehouse", "search_read", [[]], {"fields": ["code"]}
            )
        }
        self._sku_of_product = dict(
            zip(self.products["product_id"].to_list(), self.products["sku"].to_list(), strict=True)
        )
        self.ingestor = Ingestor(self.engine, self.client, channel_setups(policy), worker="sim")
        self._held: dict[tuple[str, str, str], list[int]] = {}
        self.go_live()

    # -- setup -----------------------------------------------------------------------------------

    def _stores(self, seed: int) -> dict[str, Store]:
        clock = self.clock
        shop, woo, amazon = (self.sandboxes[n] for n in ("shopify", "woocommerce", "amazon"))
        shopify = ShopifyConnector(
            shop.url,
            shop.access_token,
            transport=SimTransport(self, "shopify"),
            sleep=clock.sleep,
            clock=clock.monotonic,
            rng=random.Random(seed),
            concurrency=1,
        )
        woocommerce = WooCommerceConnector(
            woo.url,
            woo.consumer_key,
            woo.consumer_secret,
            transport=SimTransport(self, "woocommerce"),
            sleep=clock.sleep,
            concurrency=1,
            clock=clock.wall,
        )
        # the connector's own token bucket, on simulated time (its default is the wall clock)
        woocommerce._http.pacer = Pacer(
            woocommerce.requests_per_s, woocommerce.burst, clock.monotonic, clock.sleep
        )
        woocommerce._http._rng = random.Random(seed)
        credentials = amazon.credentials()
        amazon_connector = AmazonConnector(
            amazon.url,
            credentials["seller_id"],
            credentials["marketplace_id"],
            credentials["client_id"],
            credentials["client_secret"],
            credentials["refresh_token"],
            transport=SimTransport(self, "amazon"),
            sleep=clock.sleep,
            clock=clock.monotonic,
        )
        amazon_connector._http._rng = random.Random(seed)
        items = {
            i.sku: i.id
            for i in woo.state.items.values()
            if i.type == "simple" and i.sku and i.manage_stock
        }
        stores = {
            "shopify": Store(
                "shopify",
                shop,
                shopify,
                {},
                lambda sku: int(shop.state.quantity(sku, "available")),
                lambda sku, n: shop.state.sell(sku, n),
            ),
            "woocommerce": Store(
                "woocommerce",
                woo,
                woocommerce,
                {},
                lambda sku: int(woo.state.items[items[sku]].stock_quantity or 0),
                lambda sku, n: woo.state.sell(items[sku], n),
            ),
            "amazon": Store(
                "amazon",
                amazon,
                amazon_connector,
                {},
                lambda sku: int(amazon.state.listings[sku].quantity or 0),
                lambda sku, n: amazon.state.sell(sku, n),
            ),
        }
        for store in stores.values():
            store.listing = {
                x.sku: x.listing_id
                for page in store.connector.read_listings()
                for x in page
                if x.sku and x.quantity is not None
            }
        stores["woocommerce"].listing = {
            sku: listing for sku, listing in stores["woocommerce"].listing.items() if sku in items
        }
        return stores

    def _choose_skus(self, count: int) -> list[str]:
        """The first `count` SKUs that Odoo stocks in units (no lots) and every channel lists."""
        rows = self.odoo.state.call(
            "product.product",
            "search_read",
            [[["tracking", "=", "none"], ["default_code", "like", "SKU-"]]],
            {"fields": ["default_code", "uom_id"]},
        )
        unit = min(r["uom_id"][0] for r in rows)
        odoo = {r["default_code"] for r in rows if r["uom_id"][0] == unit}
        shared = set.intersection(odoo, *(set(s.listing) for s in self.stores.values()))
        chosen = sorted(shared)[:count]
        if len(chosen) < count:
            raise RuntimeError(f"the emulators share only {len(chosen)} SKUs, {count} asked")
        return chosen

    def _stock_up(self) -> None:
        """Set each SKU's sellable units per warehouse to the scenario's starting stock."""
        self.sync_odoo_clock()
        canonical = self.snapshot()
        now = {
            (sku, wh): units
            for sku, wh, units in canonical.select("sku", "warehouse", "available").iter_rows()
        }
        for (index, wh), units in sorted(self.scenario.initial.items()):
            sku = self.skus[index]
            delta = units - int(now.get((sku, wh), 0))
            if delta > 0:
                self.odoo.state.move_stock(sku, f"{wh}/Stock", float(delta))
            elif delta < 0:
                self._take(sku, wh, -delta)

    def go_live(self) -> None:
        """Orders polled from here on are the simulation's: the cursors start at go-live."""
        with self.engine.connect() as conn:
            for name, store in self.stores.items():
                page = store.connector.read_orders(None)
                inbox.set_cursor(conn, name, page.cursor)

    # -- Odoo ------------------------------------------------------------------------------------

    def sync_odoo_clock(self) -> None:
        """Odoo's clock reads simulated time."""
        self.odoo.state.set_clock(self.clock.datetime().replace(tzinfo=None))

    def snapshot(self) -> pl.DataFrame:
        """Canonical inventory of the simulated SKUs, read from Odoo now."""
        self.sync_odoo_clock()
        quants = read_quants(self.client, self.product_ids)
        canonical, _ = compute_canonical(
            self.products, self.locations, quants, self.clock.datetime()
        )
        self.clock.advance(SNAPSHOT_S)
        return canonical

    def unreserved(self) -> pl.DataFrame:
        """Odoo's open deliveries less what it reserved (`odoo/unreserved_demand`)."""
        return read_unreserved_demand(self.client, self.skus)

    def ingest(self) -> set[str]:
        """Every order in the inbox into Odoo (the ingestion run); the SKUs of the orders Odoo
        took (each reserves units: a change of the quants' reserved quantity)."""
        self.sync_odoo_clock()
        summary = self.ingestor.run()
        done = summary.created + summary.recovered + summary.cancelled + summary.returned
        skus = self._pin_new_orders() if done else set()
        self.clock.advance(INGEST_S_PER_ORDER * done)
        return skus

    def _pin_new_orders(self) -> set[str]:
        """Tell the truth where Odoo put the channels' orders it has not seen yet; their SKUs."""
        state = self.odoo.state
        orders = state.call(
            "sale.order",
            "search_read",
            [[["id", ">", self._last_order_id], ["client_order_ref", "!=", False]]],
            {"fields": ["client_order_ref", "warehouse_id", "order_line"]},
        )
        if not orders:
            return set()
        self._last_order_id = max(o["id"] for o in orders)
        lines = {
            line["id"]: line
            for line in state.call(
                "sale.order.line",
                "read",
                [[i for o in orders for i in o["order_line"]]],
                {"fields": ["product_id", "product_uom_qty"]},
            )
        }
        skus: set[str] = set()
        for o in orders:
            channel = str(o["client_order_ref"]).split("/", 1)[0]
            if channel not in self.stores:
                continue
            warehouse = self._warehouse_codes[o["warehouse_id"][0]]
            for i in o["order_line"]:
                sku = self._sku_of_product.get(lines[i]["product_id"][0])
                if sku is not None:
                    self.truth.pin(sku, channel, warehouse, int(lines[i]["product_uom_qty"]))
                    skus.add(sku)
        return skus

    # -- events ----------------------------------------------------------------------------------

    def at(self, t: float, job: Callable[[], None]) -> None:
        """Run `job` at simulated time `t` (in order of time, then of scheduling)."""
        self._seq += 1
        heapq.heappush(self.jobs, (t, self._seq, job))

    def run_until(self, end: float) -> None:
        """Run jobs in time order until none is left before `end`; shoppers buy in between."""
        while self.jobs and self.jobs[0][0] <= end:
            t, _, job = heapq.heappop(self.jobs)
            self.clock.now = max(self.clock.now, t)
            for name in self.stores:
                self.apply_sales(name, self.clock.now)
            job()
        self.clock.now = max(self.clock.now, end)
        for name in self.stores:
            self.apply_sales(name, self.clock.now)

    def window_of(self, channel: str, t: float) -> str | None:
        """`outage` or `throttle` when `channel` is in such a window at `t`."""
        for w in self.scenario.windows:
            if w.channel == channel and w.start <= t < w.end:
                return w.kind
        return None

    def _outage_end(self, channel: str, t: float) -> float | None:
        for w in self.scenario.windows:
            if w.channel == channel and w.kind == "outage" and w.start <= t < w.end:
                return w.end
        return None

    def apply_sales(self, channel: str, upto: float) -> None:
        """Let `channel`'s shoppers whose time has come (up to `upto`) buy, in order."""
        queue = self._queues[channel]
        if self._next[channel] >= len(queue) or queue[self._next[channel]].at > upto:
            return
        store = self.stores[channel]
        while self._next[channel] < len(queue) and queue[self._next[channel]].at <= upto:
            shopper = queue[self._next[channel]]
            self._next[channel] += 1
            sku = self.sku_of[shopper.sku]
            if store.shown(sku) >= shopper.quantity:
                self._buyer = shopper
                store.sell(sku, shopper.quantity)
                self._buyer = None
                short = self.truth.consume(channel, sku, shopper.quantity)
                self.metrics.accepted[channel] += 1
                if short:
                    self.metrics.oversold_units[channel] += short
                    self.metrics.oversold_orders[channel] += 1
                self.metrics.change(sku, shopper.at, float("inf"), channel)
            elif self.truth.for_channel(channel, sku) >= shopper.quantity:
                # the truth is as the shopper found it: only a sale changes it
                self.metrics.turned_away_with_stock[channel] += 1
                if self.truth.for_channel_by_rules(channel, sku) >= shopper.quantity:
                    self.metrics.lost_sales[channel] += 1
                    self.metrics.lost_units[channel] += shopper.quantity
            else:
                self.metrics.turned_away += 1
            self.metrics.mark(shopper.at)

    def on_webhook(self, channel: str, skus: set[str]) -> None:
        """A policy's hook: a webhook's order is in the inbox."""

    def _webhook_sink(self, channel: str) -> Callable[..., None]:
        def sink(
            payload: Mapping[str, Any], headers: Callable[..., dict[str, str]], delivery: str
        ) -> None:
            shopper = self._buyer
            if shopper is None or shopper.webhook_lost:
                return
            sent = shopper.at + shopper.webhook_lag_s
            end = self._outage_end(channel, shopper.at)
            if end is not None:
                sent = end + shopper.webhook_lag_s  # the channel sends them when it is back
            body = orjson.dumps(payload)
            head = headers(body, "", delivery)
            self.at(max(sent, self.clock.now), lambda: self.deliver_webhook(channel, head, body))

        return sink

    def deliver_webhook(self, channel: str, headers: dict[str, str], body: bytes) -> None:
        """A webhook arrives: parsed by the channel's parser, into the inbox."""
        orders = WEBHOOKS[WEBHOOKS_OF[channel]].parse(headers, body)
        with self.engine.connect() as conn:
            intake = take_in(conn, channel, orders, "webhook")
        if intake.stored:
            skus = {line.sku for o in orders for line in o.lines if line.sku}
            self.metrics.heard(channel, skus, self.clock.now)
            self.on_webhook(channel, skus)

    def sales_until(self) -> float:
        """Up to when a channel's shoppers have bought, for a request sent now."""
        return self.clock.now if self._sales_until is None else self._sales_until

    def poll(self) -> set[str]:
        """Poll every channel's orders into the inbox; the SKUs of new orders."""
        return self.take_polled(self.read_polls())

    def read_polls(self) -> list[tuple[str, OrdersPage]]:
        """Read every channel's orders since its cursor (one that cannot be read now is polled
        next time); the pages, for :meth:`take_polled`."""
        pages: list[tuple[str, OrdersPage]] = []
        for name, store in self.stores.items():
            try:
                with self.engine.connect() as conn:
                    pages.append((name, store.connector.read_orders(inbox.get_cursor(conn, name))))
            except ChannelError:
                continue
        return pages

    def poll_in_lane(self) -> tuple[float, list[tuple[str, OrdersPage]]]:
        """The poll as its own run, beside the others (``orders_poll`` is a run of its own: a
        poll paced by Amazon's order quotas holds up no fast run): it reads the channels as
        they are when it starts, and the clock is back at that start when it returns. The end
        of the poll's lane, and its pages, for :meth:`take_polled` at that end."""
        start = self.clock.now
        self._sales_until = start
        try:
            pages = self.read_polls()
        finally:
            self._sales_until = None
            end, self.clock.now = self.clock.now, start
        return end, pages

    def take_polled(self, pages: list[tuple[str, OrdersPage]]) -> set[str]:
        """The polled pages into the inbox, each channel's cursor on; the SKUs of new orders."""
        new: set[str] = set()
        for name, page in pages:
            with self.engine.connect() as conn:
                intake = take_in(conn, name, page.orders, "poll", unreadable=page.unreadable)
                inbox.set_cursor(conn, name, page.cursor)
            if intake.stored:
                skus = {line.sku for o in page.orders for line in o.lines if line.sku}
                self.metrics.heard(name, skus, self.clock.now)
                new |= skus
        return new

    def apply_stock(self, event: StockEvent) -> str:
        """A warehouse event on Odoo and on the shelves; the SKU it changed.

        What leaves a shelf (shrinkage, a hold, a transfer out) is at most what no accepted
        order needs and what Odoo has not reserved there, so the events are the same units
        for every policy as far as the shelves allow; a release or an arrival brings back what
        its hold or transfer took."""
        sku = self.sku_of[event.sku]
        self.sync_odoo_clock()
        state = self.odoo.state
        where = f"{event.warehouse}/Stock"
        if event.kind in ("receipt", "transfer_in", "release"):
            units = event.quantity
            if event.kind != "receipt":
                held = self._held.get((event.kind, sku, event.warehouse), [])
                units = held.pop(0) if held else 0
            if units:
                if event.kind == "release":
                    state.move_stock(sku, f"{where}/QC", -float(units))
                state.move_stock(sku, where, float(units))
                self.truth.add(sku, event.warehouse, units)
        else:
            # never units Odoo has reserved for an order there: a worker takes free ones
            units = self.truth.remove(
                sku, event.warehouse, min(event.quantity, self._free(sku, event.warehouse))
            )
            if event.kind == "hold":
                self._held.setdefault(("release", sku, event.warehouse), []).append(units)
            elif event.kind == "transfer_out" and event.other:
                self._held.setdefault(("transfer_in", sku, event.other), []).append(units)
            if units:
                self._take(sku, event.warehouse, units)
                if event.kind == "hold":
                    state.move_stock(sku, f"{where}/QC", float(units))
        self.metrics.change(sku, self.clock.now, self.clock.now, "stock")
        return sku

    def _free_quants(self, sku: str, warehouse: str) -> list[tuple[str, int]]:
        """(location, free units) of `sku` in the warehouse's stock, holds left out."""
        stock = f"{warehouse}/Stock"
        rows = self.odoo.state.call(
            "stock.quant",
            "search_read",
            [
                [
                    ["product_id.default_code", "=", sku],
                    ["location_id.complete_name", "=like", f"{stock}%"],
                ]
            ],
            {"fields": ["quantity", "reserved_quantity", "location_id"], "order": "id"},
        )
        held = (f"{stock}/QC", f"{stock}/Damaged")
        return [
            (r["location_id"][1], int(r["quantity"] - r["reserved_quantity"]))
            for r in rows
            if not r["location_id"][1].startswith(held) and r["quantity"] > r["reserved_quantity"]
        ]

    def _free(self, sku: str, warehouse: str) -> int:
        """Units of `sku` in the warehouse's stock, not on hold, not reserved."""
        return sum(units for _, units in self._free_quants(sku, warehouse))

    def _take(self, sku: str, warehouse: str, units: int) -> None:
        """Take `units` off the warehouse's free quants (no quant goes below what it has
        reserved or below zero, as a worker picks from a shelf)."""
        for location, free in self._free_quants(sku, warehouse):
            if units <= 0:
                return
            take = min(free, units)
            self.odoo.state.move_stock(sku, location, -float(take))
            units -= take

    def windows(self, kind: str) -> list[Window]:
        """The scenario's windows of `kind`."""
        return [w for w in self.scenario.windows if w.kind == kind]

    # -- the end ---------------------------------------------------------------------------------

    def shown(self) -> dict[tuple[str, str], int]:
        """(channel, sku) -> what the channel shows now (its own state, not an API call)."""
        return {
            (name, sku): store.shown(sku)
            for name, store in self.stores.items()
            for sku in self.skus
        }

    def odoo_orders(self) -> Counter:
        """client_order_ref -> sale orders carrying it, for the channels' orders."""
        refs: Counter = Counter()
        for name in self.stores:
            rows = self.odoo.state.call(
                "sale.order",
                "search_read",
                [[["client_order_ref", "=like", f"{name}/%"]]],
                {"fields": ["client_order_ref"]},
            )
            refs.update(r["client_order_ref"] for r in rows)
        return refs

    def close(self) -> None:
        """Stop the emulators, drop the ledger."""
        for store in self.stores.values():
            store.connector.close()
        self.client.close()
        for sandbox in self.sandboxes.values():
            sandbox.stop()
        self.odoo.stop()
        self.engine.dispose()
        self._tmp.cleanup()


def _nothing() -> None:
    """A job that only brings the clock to its time (shoppers buy on the way)."""


#: simulated channel -> kind of its webhooks (Amazon sends none)
WEBHOOKS_OF = {"shopify": "shopify", "woocommerce": "woocommerce"}
