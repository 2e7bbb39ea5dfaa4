"""Canonical inventory and its quarantine, from the Odoo snapshot (and the 3PL feeds of the
warehouses whose `stock_source` is `feed` or `both` in warehouses.yml)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.checks import preview, schema_check_result, schema_check_spec
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, ParquetIOManager
from inventory_pipelines.defs.shared import (
    CANONICAL,
    FEED_WAREHOUSES,
    LOCATIONS,
    POLICY,
    PRODUCTS,
    QUARANTINE,
    STOCK_MOVES,
    STOCK_QUANTS,
    THREEPL_STOCK,
)
from inventory_pipelines.inventory.canonical import compute_canonical
from inventory_pipelines.inventory.schemas import CanonicalInventorySchema, QuarantineSchema
from inventory_pipelines.rules.warehouses import StockSource
from inventory_pipelines.supply.threepl import (
    THREEPL_STOCK_SCHEMA,
    apply_threepl_stock,
    shipments,
)


@dg.multi_asset(
    outs={
        "canonical_inventory": dg.AssetOut(
            key=CANONICAL,
            metadata={SCOPE_COLUMN: "sku", SORT_BY: ["sku", "warehouse"]},
            kinds={"polars", "parquet"},
            description="One row per (sku, warehouse) in base units: on_hand, reserved, "
            "quality_hold, in_transit, available = max(0, on_hand - reserved), uom, as_of; "
            "odoo_on_hand is Odoo's own on-hand (it differs from on_hand only in a 3PL "
            "warehouse whose stock_source is feed or both).",
        ),
        "quarantine": dg.AssetOut(
            key=QUARANTINE,
            metadata={SCOPE_COLUMN: "sku", SORT_BY: ["reason", "record_id", "sku", "warehouse"]},
            kinds={"polars", "parquet"},
            description="Every quant that could not be normalized (no SKU, duplicate SKU, "
            "unknown UoM, archived or non-storable product, unattributable location), and "
            "negative on-hand sums, each with its reason.",
        ),
    },
    ins={
        "products": dg.AssetIn(key=PRODUCTS),
        "locations": dg.AssetIn(key=LOCATIONS),
        "stock_quants": dg.AssetIn(key=STOCK_QUANTS),
    },
    # what left a 3PL warehouse since its feed was written is taken off the feed: the done
    # moves are read first in a run that reads them (a run without them uses the last read)
    deps=[STOCK_MOVES] if FEED_WAREHOUSES else [],
    group_name="inventory",
    code_version=f"rules-{POLICY.version_of('warehouses.yml')}",
    check_specs=[
        schema_check_spec(CANONICAL, CanonicalInventorySchema),
        schema_check_spec(QUARANTINE, QuarantineSchema),
    ],
)
def canonical_inventory(
    context: dg.AssetExecutionContext,
    products: pl.DataFrame,
    locations: pl.DataFrame,
    stock_quants: pl.DataFrame,
    io_manager: dg.ResourceParam[ParquetIOManager],
):
    """Normalize the snapshot into canonical rows; quarantine what cannot be normalized; take
    a 3PL warehouse's on-hand from its feed where its stock_source says so."""
    as_of = stock_quants["read_at"].max() if "read_at" in stock_quants.columns else None
    canonical, quarantine = compute_canonical(
        products, locations, stock_quants, as_of or datetime.now(UTC)
    )
    store = TableStore(io_manager.base_dir)
    feeds = _threepl_stock(store, products)
    shipped = _shipped(store, products, locations) if FEED_WAREHOUSES else None
    canonical = apply_threepl_stock(canonical, feeds, POLICY.warehouses, shipped)
    yield dg.Output(
        canonical,
        output_name="canonical_inventory",
        metadata={
            "skus": canonical["sku"].n_unique(),
            "available_units": float(canonical["available"].sum()),
            "preview": preview(canonical),
        },
    )
    yield dg.Output(
        quarantine,
        output_name="quarantine",
        metadata={
            "by_reason": dg.MetadataValue.json(
                dict(quarantine.group_by("reason").len().sort("reason").iter_rows())
            ),
            "preview": preview(quarantine),
        },
    )
    yield schema_check_result(CANONICAL, CanonicalInventorySchema, canonical)
    yield schema_check_result(QUARANTINE, QuarantineSchema, quarantine)


def _shipped(
    store: TableStore, products: pl.DataFrame, locations: pl.DataFrame
) -> pl.DataFrame | None:
    """What Odoo's done moves (as `odoo/stock_moves` last read them, for this run's products)
    took out of the 3PL feed warehouses; none before the moves were ever read."""
    if not store.exists(STOCK_MOVES):
        return None
    moves = store.read(STOCK_MOVES, None, skus=products["sku"].drop_nulls().to_list())
    return shipments(moves, locations, FEED_WAREHOUSES)


def _threepl_stock(
    store: TableStore, products: pl.DataFrame, now: datetime | None = None
) -> pl.DataFrame:
    """What the feeds of the warehouses that take stock from their 3PL last said, for the
    products of this run (a SKU subset reads only its SKUs); a feed never read is no row, so
    its warehouse counts 0 under `feed` and `both` (never more than anyone has seen). A feed
    older than its warehouse's `freshness_hours` now counts 0 too, whether or not its schedule
    read it again since."""
    now = now or datetime.now(UTC)
    taken = [w for w in POLICY.warehouses.warehouses if w.stock_source != StockSource.ODOO]
    empty = pl.DataFrame(schema=THREEPL_STOCK_SCHEMA)
    frames = [
        store.read(THREEPL_STOCK, w.code, skus=products["sku"].drop_nulls().to_list()).with_columns(
            _limit=pl.lit(now - timedelta(hours=w.freshness_hours))
        )
        for w in taken
        if store.exists(THREEPL_STOCK, w.code)
    ]
    if not frames:
        return empty
    aged = pl.col("as_of").is_null() | (pl.col("as_of") < pl.col("_limit"))
    return (
        pl.concat([empty.with_columns(_limit=pl.lit(now)), *frames], how="diagonal_relaxed")
        .with_columns(
            quantity=pl.when(aged).then(0.0).otherwise(pl.col("quantity")),
            fresh=pl.col("fresh") & ~aged,
        )
        .drop("_limit")
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The canonical inventory assets."""
    return dg.Definitions(assets=[canonical_inventory])
