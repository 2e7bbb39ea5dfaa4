"""Which changed SKUs are critical (refreshed now) and which wait, dirty, for the batch.

A changed SKU is critical when, by `automation.yml`'s `change_sensor.fast_path`:

- a channel order for it was heard of within `ordered_within_s` (the ledger's pending units);
- its sellable stock is at or under `low_stock_at_or_below`: the last known canonical units
  (`inventory/canonical_inventory`, summed over warehouses; a SKU the table does not hold has
  none), or that figure moved by the quants just read (their change against
  `odoo/stock_quants`, in stock locations of `odoo/locations`), so a fall from plenty to
  nearly nothing takes the fast path too;
- its velocity tier (`rules/sku_velocity`) is one of `velocity_tiers`.

The rest is marked dirty. Each rule uses what the data plane holds: a table not materialized
yet (a fresh machine) turns its rule off, it never fails the routing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.shared import (
    CANONICAL,
    LOCATIONS,
    PRODUCTS,
    SKU_VELOCITY,
    STOCK_QUANTS,
)
from inventory_pipelines.odoo.changes import many2one_id
from inventory_pipelines.rules.automation import FastPath

#: critical reasons, most urgent first (the order fast runs are filled in)
REASONS = ("ordered", "low_stock", "velocity")


@dataclass(frozen=True)
class Known:
    """What the data plane says of some SKUs (None: the table is not there)."""

    #: sku -> velocity tier
    tiers: Mapping[str, str] | None = None
    #: sku -> last known sellable units (canonical `available` summed over warehouses)
    sellable: Mapping[str, float] | None = None
    #: sku -> sellable units moved by the quants just read (stock locations, base units)
    moved: Mapping[str, float] = field(default_factory=dict)
    #: the SKUs the products just read had at the last snapshot (a changed internal reference
    #: leaves rows under the former one to refresh)
    former_skus: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Routed:
    """The changed SKUs split: critical ones (sku -> reason, most urgent first) and dirty ones
    (sku -> reason)."""

    critical: dict[str, str]
    dirty: dict[str, str]


def route(
    changed: Mapping[str, Iterable[str]],
    known: Known,
    ordered: set[str],
    fast_path: FastPath,
) -> Routed:
    """Split the changed SKUs (sku -> the legs that changed it) by the fast-path rules."""
    critical: dict[str, tuple[int, str]] = {}
    dirty: dict[str, str] = {}
    tiers = set(fast_path.velocity_tiers)
    for sku, legs in sorted(changed.items()):
        reason = None
        if sku in ordered:
            reason = "ordered"
        elif known.sellable is not None:
            last = float(known.sellable.get(sku, 0.0))
            now = last + float(known.moved.get(sku, 0.0))
            if min(last, now) <= fast_path.low_stock_at_or_below:
                reason = f"low_stock ({max(0.0, min(last, now)):g})"
        if reason is None and known.tiers is not None and known.tiers.get(sku) in tiers:
            reason = f"velocity {known.tiers[sku]}"
        if reason is None:
            dirty[sku] = "odoo: " + "+".join(sorted(legs))
        else:
            critical[sku] = (REASONS.index(reason.split(" ")[0]), reason)
    ranked = sorted(critical.items(), key=lambda item: (item[1][0], item[0]))
    return Routed({sku: reason for sku, (_, reason) in ranked}, dirty)


def read_known(
    store: TableStore,
    skus: Iterable[str],
    quants: Sequence[Mapping[str, Any]],
    product_ids: Iterable[int],
) -> Known:
    """What the data plane holds for `skus`: tiers, last sellable units, what the changed
    `quants` (as Odoo returned them) moved, and the former SKUs of `product_ids`."""
    wanted = sorted(set(skus))
    ids = sorted(
        {int(i) for i in product_ids}
        | {p for q in quants if (p := many2one_id(q.get("product_id")))}
    )
    products = _read(
        store,
        PRODUCTS,
        lambda t: t.filter(pl.col("product_id").is_in(ids)).select("product_id", "sku", "factor"),
    )
    return Known(
        tiers=_read(store, SKU_VELOCITY, lambda t: _tiers(t, wanted)),
        sellable=_read(store, CANONICAL, lambda t: _sellable(t, wanted)),
        moved=(_moved(store, quants, products) if quants and products is not None else None) or {},
        former_skus=frozenset(products["sku"].drop_nulls())
        if products is not None
        else frozenset(),
    )


def _read(store: TableStore, key: Sequence[str], take: Callable[[pl.LazyFrame], Any]) -> Any:
    """`take(table)`, or None when the table is not there or not readable as expected."""
    if not store.exists(key):
        return None
    try:
        taken = take(store.scan(key))
        return taken.collect() if isinstance(taken, pl.LazyFrame) else taken
    except (OSError, pl.exceptions.PolarsError):
        return None


def _tiers(table: pl.LazyFrame, skus: list[str]) -> dict[str, str]:
    rows = table.filter(pl.col("sku").is_in(skus)).select("sku", "velocity_tier").collect()
    return dict(rows.iter_rows())


def _sellable(table: pl.LazyFrame, skus: list[str]) -> dict[str, float]:
    rows = (
        table.filter(pl.col("sku").is_in(skus))
        .group_by("sku")
        .agg(pl.col("available").sum())
        .collect()
    )
    return dict(rows.iter_rows())


def _moved(
    store: TableStore, quants: Sequence[Mapping[str, Any]], products: pl.DataFrame
) -> dict[str, float] | None:
    """Sellable units per SKU the changed quants moved: their available quantity now less
    what `odoo/stock_quants` last held for them, in stock locations, in base units."""
    roles = _read(store, LOCATIONS, lambda t: t.select("location_id", "role"))
    before = _read(
        store,
        STOCK_QUANTS,
        lambda t: t.filter(pl.col("quant_id").is_in([int(q["id"]) for q in quants])).select(
            "quant_id", (pl.col("quantity") - pl.col("reserved_quantity")).alias("before")
        ),
    )
    if roles is None:
        return None
    now = pl.LazyFrame(
        [
            {
                "quant_id": int(q["id"]),
                "product_id": many2one_id(q.get("product_id")),
                "location_id": many2one_id(q.get("location_id")),
                "after": float(q.get("quantity") or 0) - float(q.get("reserved_quantity") or 0),
            }
            for q in quants
        ],
        schema={
            "quant_id": pl.Int64,
            "product_id": pl.Int64,
            "location_id": pl.Int64,
            "after": pl.Float64,
        },
    )
    if before is None:
        before = pl.DataFrame(schema={"quant_id": pl.Int64, "before": pl.Float64})
    try:
        moved = (
            now.join(roles.lazy().filter(pl.col("role") == "stock"), on="location_id")
            .join(before.lazy(), on="quant_id", how="left")
            .join(products.lazy(), on="product_id")
            .filter(pl.col("sku").is_not_null())
            .group_by("sku")
            .agg(
                (
                    (pl.col("after") - pl.col("before").fill_null(0.0))
                    * pl.col("factor").fill_null(1.0)
                )
                .sum()
                .alias("moved")
            )
            .collect()
        )
    except pl.exceptions.PolarsError:
        return None
    return dict(moved.iter_rows())
