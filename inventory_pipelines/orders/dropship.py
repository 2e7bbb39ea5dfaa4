"""Orders for drop-ship units: which units of a channel order the vendor ships (issue #13).

A channel with `dropship: true` offers its own stock and its drop-ship vendors' stock
(the allocation's `own` and `dropship` steps, own first). When one of its orders comes in,
each SKU's units are covered, in the same order:

1. by what the channel may still sell from its own stock before this order: the own part of
   its allocation (`allocated_own`: the own net pool of a shared-pool channel, the fence of a
   ring-fenced one), computed by the allocation engine itself on the latest stock snapshot
   and the pending ledger, this order left out;
2. then by the drop-ship stock left: the vendors' stock less the units already ordered on the
   drop-ship route that their feeds may not show yet, less what own stock did not cover of
   the other pending orders;
3. what neither covers stays on the warehouse route: Odoo backorders it, as it would any order
   beyond stock (the channel could only have sold it within its buffers' risk).

Odoo routes per sale order line, so a SKU split between own stock and drop-ship becomes two
lines: one shipped from the warehouse, one on the drop-ship route (`route_id`), for which Odoo
raises the purchase order to the vendor when the order is confirmed. Splits are in whole
units of the product's unit of measure. The drop-ship units are recorded on the order's
pending rows (`pending_units.dropship_quantity`) before the order is created in Odoo: from
then on they count against the vendors' stock, not the warehouse's, and consume no fence.

Only `created` events that are not in Odoo yet are split; an order found in Odoo by its
reference (a retry after a crash) keeps the lines it was created with.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import polars as pl
from sqlalchemy.engine import Engine

from inventory_pipelines.allocation.engine import (
    EPSILON,
    allocate,
    fence_sales_frame,
    fence_signature,
)
from inventory_pipelines.allocation.supply import DROPSHIP_PENDING_COLUMNS, dropship_pending
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.ledger import fences, inbox
from inventory_pipelines.rules import Policy

log = logging.getLogger(__name__)

CANONICAL = ("inventory", "canonical_inventory")
VENDOR_STOCK = ("supply", "vendor_stock")


@dataclass(frozen=True)
class SkuSupply:
    """What a channel may sell of one SKU before an order, in base units."""

    own: float  # from its own stock (its allocation's own part)
    dropship: float  # from the drop-ship stock left


@dataclass(frozen=True)
class Split:
    """One SKU of an order: its units (in the product's unit) from own stock and drop-ship."""

    own: int
    dropship: int


class DropshipSupply(Protocol):
    """Where ingestion learns what a channel may sell before an order (see the module)."""

    def before_order(
        self, channel: str, external_id: str, skus: Sequence[str]
    ) -> Mapping[str, SkuSupply]:
        """Per SKU of `skus` (those it knows): own and drop-ship units before this order."""
        ...


def split_units(quantity: int, factor: float, supply: SkuSupply | None) -> Split:
    """`quantity` product units (of `factor` base units each): own stock first, then drop-ship
    as far as it goes; the rest stays on the warehouse route (own)."""
    if supply is None or quantity <= 0:
        return Split(own=max(quantity, 0), dropship=0)
    factor = factor or 1.0
    own = min(quantity, max(0, math.floor(supply.own / factor + EPSILON)))
    dropship = min(quantity - own, max(0, math.floor(supply.dropship / factor + EPSILON)))
    return Split(own=quantity - dropship, dropship=dropship)


class SnapshotSupply:
    """`DropshipSupply` from the data plane (the canonical inventory and the vendors' stock
    as last materialized) and the ledger (pending units and fence sales), through the
    allocation engine, as the channel's allocation computes them."""

    def __init__(self, policy: Policy, ledger: Engine, store: TableStore) -> None:
        self.policy = policy
        self.ledger = ledger
        self.store = store

    def _vendor_stock(self, skus: list[str]) -> pl.DataFrame | None:
        declared = set(self.policy.vendors.codes())
        present = [v for v in self.store.partitions(VENDOR_STOCK) if v in declared]
        if not present:
            return None
        frames = [self.store.read(VENDOR_STOCK, v, skus=skus) for v in present]
        now = datetime.now(UTC)
        # judged fresh at this moment, as the allocation judges it: a partition its schedule
        # stopped reading sends nothing to the drop-ship route once its feed is too old
        return pl.concat(
            [
                frame.with_columns(
                    fresh=pl.col("fresh")
                    & (
                        pl.col("as_of")
                        >= now - timedelta(hours=self.policy.vendors.get(v).freshness_hours)
                    ).fill_null(False)
                )
                for v, frame in zip(present, frames, strict=True)
            ],
            how="diagonal_relaxed",
        )

    def before_order(
        self, channel: str, external_id: str, skus: Sequence[str]
    ) -> Mapping[str, SkuSupply]:
        """Per SKU: the channel's own allocation and the drop-ship stock left, this order left
        out. Empty when no stock snapshot is materialized (nothing is known to split on)."""
        wanted = sorted(set(skus))
        if not wanted or not self.store.exists(CANONICAL):
            return {}
        vendor_stock = self._vendor_stock(wanted)
        offered = (
            vendor_stock is not None
            and not vendor_stock.filter(
                pl.col("fresh").fill_null(False) & (pl.col("quantity") > 0)
            ).is_empty()
        )
        if not offered and not any(w.dropship for w in self.policy.warehouses.warehouses):
            return {}  # no drop-ship stock for these SKUs: every unit ships from the shelf
        canonical = self.store.read(CANONICAL, None, skus=wanted)
        as_of = (
            canonical["as_of"].min() if "as_of" in canonical.columns and canonical.height else None
        )
        with self.ledger.connect() as conn:
            units, sold, _ = fences.allocation_inputs(conn, fence_signature(self.policy), as_of)
            mine = inbox.order_pending(conn, channel, external_id)
            rows = inbox.pending_dropship_rows(conn, wanted)
        dropship = dropship_pending(
            pl.DataFrame(rows, schema=DROPSHIP_PENDING_COLUMNS, orient="row"), vendor_stock
        )
        pending_dropship = dict(dropship.iter_rows())
        # this order's own units are pending and counted as its channel's sale: leave them out
        for sku, (quantity, on_route) in mine.items():
            units[sku] = max(0, units.get(sku, 0) - (quantity - on_route))
            key = (channel, sku, None)  # pending: not reserved anywhere yet
            sold[key] = max(0, sold.get(key, 0) - (quantity - on_route))
            pending_dropship[sku] = max(0.0, pending_dropship.get(sku, 0.0) - on_route)
        pending = pl.DataFrame(
            {
                "sku": wanted,
                "pending": [float(units.get(s, 0)) for s in wanted],
                "pending_dropship": [float(pending_dropship.get(s, 0.0)) for s in wanted],
            }
        )
        frame = allocate(
            canonical,
            self.policy,
            datetime.now(UTC),
            pending=pending,
            skus=pl.DataFrame({"sku": wanted}),
            channels=[channel],
            sales=fence_sales_frame(sold),
            vendor_stock=vendor_stock,
        )
        own_pending = pl.col("pending") - pl.col("pending_dropship")
        uncovered = (own_pending - pl.col("own")).clip(lower_bound=0.0)
        left = (pl.col("dropship") - pl.col("pending_dropship") - uncovered).clip(lower_bound=0.0)
        return {
            row["sku"]: SkuSupply(own=row["allocated_own"], dropship=row["left"])
            for row in frame.select("sku", "allocated_own", left.alias("left")).iter_rows(
                named=True
            )
        }
