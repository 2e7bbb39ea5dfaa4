"""The scenario: what shoppers, warehouses and channels do, fixed by the seed before any policy
runs.

Every policy meets the same scenario (same shoppers at the same instants, asking for the same
units; same warehouse events; same outages), so their figures differ only by what the policy
does. SKUs are indices here (0 = the most popular); `world.py` maps them to the catalog.

- **Demand**: shoppers arrive as a Poisson process whose rate follows the hour of the day
  (`demand_curve`: quiet at 08:00, a peak around lunch and one in the evening), each asking one
  channel (by the channel's demand share) for one SKU (popularity falls with rank as
  1/(rank+1)^0.8) and 1 unit (80%), 2 (15%) or 3 (5%).
- **Flash sales**: for `flash_minutes`, three SKUs are promoted and shoppers ask for each of them
  about twice a minute on each channel of the promotion: the first flash sale on one channel
  (Shopify), the second on every channel at once, then alternating.
- **Webhook lag**: drawn per shopper (Shopify 1 s + exponential of mean 2 s; WooCommerce 2 s +
  mean 6 s); 2% of webhooks are never delivered (polling brings those orders).
- **Warehouse events**: receipts, shrinkage (units found damaged: gone), quality holds (units
  to QC, released after an hour), transfers between warehouses (in transit 45 minutes) and one
  warehouse offline for 45 minutes.
- **Channel faults**: an API outage of WooCommerce and one of Amazon (503 to every request;
  the storefront keeps selling and webhooks wait for the end), and a window in which Shopify
  throttles every other request (`Retry-After: 2`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

#: demand share per channel (the fences of the ring-fenced rules match them)
DEMAND_SHARES = {"shopify": 0.45, "woocommerce": 0.20, "amazon": 0.35}
WEBHOOK_CHANNELS = ("shopify", "woocommerce")
WAREHOUSES = ("MAIN", "EAST", "WEST")


@dataclass(frozen=True)
class Shopper:
    """One shopper: at `at` seconds, asks `channel` for `quantity` of SKU `sku`."""

    at: float
    channel: str
    sku: int
    quantity: int
    webhook_lag_s: float
    webhook_lost: bool
    flash: bool = False


@dataclass(frozen=True)
class StockEvent:
    """A change on the shelves: `kind` receipt, shrink, hold, release, transfer_out,
    transfer_in; `quantity` units of SKU `sku` at `warehouse` (to `other` for a transfer)."""

    at: float
    kind: str
    sku: int
    warehouse: str
    quantity: int
    other: str | None = None


@dataclass(frozen=True)
class Window:
    """From `start` to `end` seconds: `channel` is down (`outage`) or throttling (`throttle`);
    or `warehouse` offline (`offline`)."""

    kind: str
    start: float
    end: float
    channel: str | None = None
    warehouse: str | None = None


@dataclass
class Scenario:
    """Everything the world does, in simulated seconds from the start."""

    seed: int
    skus: int
    hours: float
    initial: dict[tuple[int, str], int]
    shoppers: list[Shopper] = field(default_factory=list)
    stock: list[StockEvent] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """How long shoppers shop."""
        return self.hours * 3600.0


def demand_curve(hour_of_day: float) -> float:
    """Relative demand at an hour of the day (1.0 on average over 08:00-20:00)."""
    lunch = math.exp(-(((hour_of_day - 12.5) / 1.5) ** 2))
    evening = math.exp(-(((hour_of_day - 19.0) / 1.8) ** 2))
    return 0.45 + 0.9 * lunch + 1.1 * evening


def _quantity(rng: random.Random) -> int:
    draw = rng.random()
    return 1 if draw < 0.8 else 2 if draw < 0.95 else 3


def _lag(rng: random.Random, channel: str) -> tuple[float, bool]:
    if channel == "shopify":
        return 1.0 + rng.expovariate(1 / 2.0), rng.random() < 0.02
    if channel == "woocommerce":
        return 2.0 + rng.expovariate(1 / 6.0), rng.random() < 0.02
    rng.random()
    rng.random()
    return 0.0, True  # Amazon sends no webhooks: its orders come by polling


def build_scenario(
    seed: int,
    *,
    skus: int = 100,
    hours: float = 6.0,
    orders_per_hour: float = 90.0,
    flash_sales: int = 2,
    flash_minutes: float = 15.0,
    start_hour: float = 8.0,
) -> Scenario:
    """The scenario of `seed` (see the module docstring)."""
    rng = random.Random(f"simulation-{seed}")
    initial = {}
    for sku in range(skus):
        scale = 1.0 if rng.random() < 0.7 else 0.4  # some SKUs run low from the start
        initial[(sku, "MAIN")] = int(rng.randint(4, 30) * scale)
        initial[(sku, "EAST")] = int(rng.randint(0, 14) * scale)
        initial[(sku, "WEST")] = int(rng.randint(0, 10) * scale)
    scenario = Scenario(seed, skus, hours, initial)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(skus)]
    channels = list(DEMAND_SHARES)
    shares = [DEMAND_SHARES[c] for c in channels]
    peak = max(demand_curve(start_hour + h / 10) for h in range(int(hours * 10) + 1))
    t = 0.0
    shoppers: list[Shopper] = []
    while True:
        t += rng.expovariate(orders_per_hour * peak / 3600.0)
        if t >= scenario.seconds:
            break
        if rng.random() > demand_curve(start_hour + t / 3600.0) / peak:
            continue  # thinning: fewer shoppers off-peak
        channel = rng.choices(channels, shares)[0]
        sku = rng.choices(range(skus), weights)[0]
        lag, lost = _lag(rng, channel)
        shoppers.append(Shopper(t, channel, sku, _quantity(rng), lag, lost))
    for n in range(flash_sales):
        start = scenario.seconds * (0.25 + 0.5 * n / max(1, flash_sales - 1 or 1))
        start = min(start, scenario.seconds - flash_minutes * 60)
        # the first on one channel (its own promotion), the second on every channel at once
        promoted_on = [channels[(n // 2) % len(channels)]] if n % 2 == 0 else channels
        promoted = rng.sample(range(min(skus, 30)), k=min(3, skus))
        for channel in promoted_on:
            for sku in promoted:
                t = start
                while True:
                    t += rng.expovariate(2.0 / 60.0)
                    if t >= start + flash_minutes * 60:
                        break
                    lag, lost = _lag(rng, channel)
                    shoppers.append(Shopper(t, channel, sku, _quantity(rng), lag, lost, flash=True))
    scenario.shoppers = sorted(shoppers, key=lambda s: (s.at, s.channel, s.sku))
    scenario.stock = _stock_events(rng, scenario)
    scenario.windows = _windows(scenario)
    return scenario


def _stock_events(rng: random.Random, scenario: Scenario) -> list[StockEvent]:
    events: list[StockEvent] = []
    span = scenario.seconds
    skus = scenario.skus

    def some_time() -> float:
        return rng.uniform(0.02 * span, 0.95 * span)

    for _ in range(max(1, int(scenario.hours * 2))):  # receipts: two an hour
        events.append(
            StockEvent(
                some_time(),
                "receipt",
                rng.randrange(skus),
                rng.choice(WAREHOUSES),
                rng.randint(6, 30),
            )
        )
    for _ in range(max(1, int(scenario.hours))):  # shrinkage: one an hour
        events.append(
            StockEvent(some_time(), "shrink", rng.randrange(skus), "MAIN", rng.randint(1, 3))
        )
    for _ in range(max(1, int(scenario.hours / 2))):  # quality holds: one every two hours
        at, sku, where, units = (
            some_time(),
            rng.randrange(skus),
            rng.choice(WAREHOUSES),
            rng.randint(2, 6),
        )
        events.append(StockEvent(at, "hold", sku, where, units))
        events.append(StockEvent(min(span, at + 3600.0), "release", sku, where, units))
    for _ in range(max(1, int(scenario.hours / 2))):  # transfers MAIN -> EAST/WEST
        at, sku, units = some_time(), rng.randrange(skus), rng.randint(2, 8)
        to = rng.choice(("EAST", "WEST"))
        events.append(StockEvent(at, "transfer_out", sku, "MAIN", units, to))
        events.append(StockEvent(min(span, at + 2700.0), "transfer_in", sku, to, units, "MAIN"))
    return sorted(events, key=lambda e: (e.at, e.kind, e.sku))


def _windows(scenario: Scenario) -> list[Window]:
    span = scenario.seconds
    return [
        Window("outage", 0.35 * span, 0.35 * span + 1200.0, channel="woocommerce"),
        Window("throttle", 0.62 * span, 0.62 * span + 900.0, channel="shopify"),
        Window("outage", 0.8 * span, 0.8 * span + 600.0, channel="amazon"),
        Window("offline", 0.5 * span, 0.5 * span + 2700.0, warehouse="WEST"),
    ]
