"""Run the policies over one scenario and gather their figures."""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventory_pipelines.simulation import POLICIES
from inventory_pipelines.simulation.clock import VirtualClock, simulated_time
from inventory_pipelines.simulation.policies import make_policy, policy_rules
from inventory_pipelines.simulation.scenario import Scenario, build_scenario
from inventory_pipelines.simulation.world import World

#: simulated time before the shoppers come, for go-live (the first full run)
WARMUP_S = 600.0
#: after the last shopper: late webhooks, polls and runs settle before the final full run
SETTLE_S = 900.0
#: CAS channels: updates carry the quantity they replace
COMPARE_AND_SET_CHANNELS = ("shopify",)


@dataclass(frozen=True)
class Settings:
    """The size of a simulation."""

    seed: int = 1
    skus: int = 60
    hours: float = 6.0
    orders_per_hour: float = 90.0
    flash_sales: int = 2
    buffers: bool = False  # ours with the shipped buffers (policies.BUFFERS); periodic has none


class UnknownPolicyError(ValueError):
    """A policy name that is not one of :data:`POLICIES`."""


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 1)


def run_policy(
    scenario: Scenario, name: str, rules_root: Path, *, buffers: bool = False
) -> dict[str, Any]:
    """One policy over `scenario` in a fresh world; its figures."""
    clock = VirtualClock()
    with simulated_time(clock):
        clock.now = -WARMUP_S
        world = World(scenario, policy_rules(name, rules_root), clock, scenario.skus)
        try:
            driver = make_policy(world, name, rules_root, buffers)
            end = scenario.seconds
            driver.start(end)
            world.run_until(end + SETTLE_S)
            driver.finish()
            return _figures(world, driver.targets)
        finally:
            world.close()


def _figures(world: World, targets: dict[tuple[str, str], int]) -> dict[str, Any]:
    m = world.metrics
    refs = world.odoo_orders()
    per_channel: Counter = Counter()
    for ref in refs:
        per_channel[ref.split("/", 1)[0]] += 1
    missing = {name: max(0, m.accepted[name] - per_channel[name]) for name in world.stores}
    shown = world.shown()
    drift = sum(1 for key, quantity in shown.items() if targets.get(key) != quantity)
    over = sum(
        1
        for (channel, sku), quantity in shown.items()
        if quantity > world.truth.for_channel(channel, sku)
    )
    unreflected = sum(len(v) for v in m.unresolved.values())
    cas_oversold = sum(m.oversold_units[c] for c in COMPARE_AND_SET_CHANNELS)
    return {
        "orders_accepted": sum(m.accepted.values()),
        "oversold_units": sum(m.oversold_units.values()),
        "oversold_units_compare_and_set_channels": cas_oversold,
        "oversold_orders": sum(m.oversold_orders.values()),
        "lost_sales": sum(m.lost_sales.values()),
        "lost_units": sum(m.lost_units.values()),
        "turned_away_with_stock": sum(m.turned_away_with_stock.values()),
        "duplicate_orders": sum(n - 1 for n in refs.values() if n > 1),
        "lost_updates": sum(missing.values()) + unreflected,
        "orders_missing_in_odoo": sum(missing.values()),
        "changes_never_reflected": unreflected,
        "drift_end": drift,
        "overexposed_end": over,
        "api_calls": sum(world.api_calls.values()),
        "latency_p50_s": _percentile([s for _, s in m.latencies], 0.5),
        "latency_p95_s": _percentile([s for _, s in m.latencies], 0.95),
        "latency_by_source": {
            source: {
                "changes": len(values),
                "p50_s": _percentile(values, 0.5),
                "p95_s": _percentile(values, 0.95),
            }
            for source in ("stock", *world.stores)
            if (values := [s for where, s in m.latencies if where == source])
        },
        "by_channel": {
            name: {
                "orders_accepted": m.accepted[name],
                "oversold_units": m.oversold_units[name],
                "oversold_orders": m.oversold_orders[name],
                "lost_sales": m.lost_sales[name],
                "turned_away_with_stock": m.turned_away_with_stock[name],
                "api_calls": world.api_calls[name],
                "orders_missing_in_odoo": missing[name],
            }
            for name in world.stores
        },
        "timeline": [[round(t, 1), *counts] for t, *counts in _thin(m.timeline)],
    }


def _thin(points: list[tuple[float, int, int, int]]) -> list[tuple[float, int, int, int]]:
    """The cumulative curves at their changes only."""
    kept: list[tuple[float, int, int, int]] = []
    for point in points:
        if not kept or point[1:] != kept[-1][1:]:
            kept.append(point)
    if points and (not kept or kept[-1] != points[-1]):
        kept.append(points[-1])
    return kept


def run_simulation(
    settings: Settings,
    policies: Sequence[str] = POLICIES,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every policy in `policies` over the scenario of `settings`; the report's JSON."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise UnknownPolicyError(
            f"unknown policy {', '.join(map(repr, unknown))}: choose from {', '.join(POLICIES)}"
        )
    scenario = build_scenario(
        settings.seed,
        skus=settings.skus,
        hours=settings.hours,
        orders_per_hour=settings.orders_per_hour,
        flash_sales=settings.flash_sales,
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="inventory-sim-rules-") as root:
        for name in dict.fromkeys(policies):
            if progress:
                progress(name)
            results[name] = run_policy(scenario, name, Path(root), buffers=settings.buffers)
    return {
        "seed": settings.seed,
        "settings": {
            "skus": settings.skus,
            "hours": settings.hours,
            "orders_per_hour": settings.orders_per_hour,
            "flash_sales": settings.flash_sales,
            "buffers": settings.buffers,
            "shoppers": len(scenario.shoppers),
            "stock_events": len(scenario.stock),
            "channels": ["shopify", "woocommerce", "amazon"],
            "warehouses": ["MAIN", "EAST", "WEST"],
        },
        "policies": results,
    }
