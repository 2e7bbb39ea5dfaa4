"""Canonical inventory (DESIGN.md section 3): one row per (sku, warehouse), in base units.

Every quant read from Odoo ends in exactly one of two places: summed into a canonical row, or
in the quarantine with the reason it could not be normalized. Nothing is dropped silently.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from inventory_pipelines.inventory.locations import ROLE_HOLD, ROLE_STOCK, ROLE_TRANSIT

# Quantities in base units are rounded to this many decimals: UoM factors such as 1/12 leave
# float noise (2.5 dozen = 30.000000000000004 units) that must not reach a channel.
QUANTITY_DECIMALS = 6

CANONICAL_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.Utf8(),
    "warehouse": pl.Utf8(),
    "product_id": pl.Int64(),
    "on_hand": pl.Float64(),
    "reserved": pl.Float64(),
    "quality_hold": pl.Float64(),
    "in_transit": pl.Float64(),
    "available": pl.Float64(),
    "uom": pl.Utf8(),
    "as_of": pl.Datetime("us", "UTC"),
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.Utf8(),
    "record_id": pl.Int64(),
    "product_id": pl.Int64(),
    "sku": pl.Utf8(),
    "location_id": pl.Int64(),
    "warehouse": pl.Utf8(),
    "quantity": pl.Float64(),
    "reason": pl.Utf8(),
    "detail": pl.Utf8(),
    "as_of": pl.Datetime("us", "UTC"),
}

# Why a quant cannot be normalized, in the order the reasons are tested.
QUARANTINE_REASONS = (
    "unknown_product",
    "missing_sku",
    "duplicate_sku",
    "not_storable",
    "archived_product",
    "unknown_uom",
    "unknown_location",
    "location_without_warehouse",
    "transit_location_without_rule",
    "negative_on_hand",
    "negative_quality_hold",
    "negative_in_transit",
)


def _product_reason() -> pl.Expr:
    """Why no quant of this product can be normalized (null when it can)."""
    return (
        pl.when(pl.col("sku").is_null())
        .then(pl.lit("missing_sku"))
        .when(pl.col("sku").is_duplicated())
        .then(pl.lit("duplicate_sku"))
        .when(~pl.col("storable"))
        .then(pl.lit("not_storable"))
        .when(~pl.col("active"))
        .then(pl.lit("archived_product"))
        .when(pl.col("factor").is_null() | pl.col("base_uom").is_null())
        .then(pl.lit("unknown_uom"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )


def _product_detail() -> pl.Expr:
    return (
        pl.when(pl.col("product_reason") == "unknown_uom")
        .then(pl.format("uom {} has no known conversion to a base unit", pl.col("uom")))
        .when(pl.col("product_reason") == "duplicate_sku")
        .then(pl.format("default_code {} is used by more than one product", pl.col("sku")))
        .otherwise(pl.lit(""))
    )


def compute_canonical(
    products: pl.DataFrame,
    locations: pl.DataFrame,
    quants: pl.DataFrame,
    as_of: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return `(canonical_inventory, quarantine)` from the snapshot frames.

    `products` as `odoo/products`, `locations` as `odoo/locations` (with `role`, `warehouse`,
    `role_problem` from `assign_location_roles`), `quants` as `odoo/stock_quants`.

    Reasons are decided once per product and once per location, not per quant, and the
    aggregation runs on integer keys; strings are joined back onto the (fewer) result rows.
    """
    as_of_lit = pl.lit(as_of).cast(pl.Datetime("us", "UTC"))
    product_info = (
        products.lazy()
        .select(
            "product_id",
            "sku",
            "uom",
            "base_uom",
            "factor",
            product_reason=_product_reason(),
        )
        .with_columns(product_detail=_product_detail())
    )
    warehouses = (
        locations.lazy().select("warehouse").drop_nulls().unique().with_row_index("warehouse_idx")
    )
    location_info = (
        locations.lazy()
        .join(warehouses, on="warehouse", how="left")
        .select(
            "location_id",
            "warehouse",
            "warehouse_idx",
            is_stock=pl.col("role") == ROLE_STOCK,
            is_hold=pl.col("role") == ROLE_HOLD,
            is_transit=pl.col("role") == ROLE_TRANSIT,
            location_reason=pl.col("role_problem"),
            location_detail=pl.format("location {}", pl.col("complete_name")),
        )
    )
    classified = (
        quants.lazy()
        .select("quant_id", "product_id", "location_id", "quantity", "reserved_quantity")
        .join(
            product_info.select("product_id", "factor", "product_reason", _known=pl.lit(True)),
            on="product_id",
            how="left",
        )
        .join(location_info, on="location_id", how="left")
        .with_columns(
            reason=pl.when(pl.col("_known").is_null())
            .then(pl.lit("unknown_product"))
            .when(pl.col("product_reason").is_not_null())
            .then(pl.col("product_reason"))
            .when(pl.col("is_stock").is_null())
            .then(pl.lit("unknown_location"))
            .otherwise(pl.col("location_reason"))
        )
    )
    qty = pl.col("quantity") * pl.col("factor")
    res = pl.col("reserved_quantity") * pl.col("factor")
    summed = (
        classified.filter(pl.col("reason").is_null())
        .group_by("product_id", "warehouse_idx")
        .agg(
            (qty * pl.col("is_stock")).sum().alias("on_hand"),
            (res * pl.col("is_stock")).sum().alias("reserved"),
            (qty * pl.col("is_hold")).sum().alias("quality_hold"),
            (qty * pl.col("is_transit")).sum().alias("in_transit"),
        )
        .with_columns(
            pl.col("on_hand", "reserved", "quality_hold", "in_transit").round(QUANTITY_DECIMALS)
        )
        .join(warehouses, on="warehouse_idx", how="left")
        .join(
            product_info.select("product_id", "sku", pl.col("base_uom").alias("uom")),
            on="product_id",
            how="left",
        )
        .collect()
    )
    # Odoo allows negative quants (sold before received). A negative sum is reported and
    # counted as zero: publishing it would be meaningless, and clamping can only under-sell.
    negatives = pl.concat(
        [
            summed.filter(pl.col(measure) < 0).select(
                source=pl.lit("canonical_inventory"),
                record_id=pl.lit(None, dtype=pl.Int64),
                product_id="product_id",
                sku="sku",
                location_id=pl.lit(None, dtype=pl.Int64),
                warehouse="warehouse",
                quantity=measure,
                reason=pl.lit(f"negative_{measure}"),
                detail=pl.lit(f"{measure} below zero in Odoo; counted as 0"),
                as_of=as_of_lit,
            )
            for measure in ("on_hand", "quality_hold", "in_transit")
        ]
    )
    nonneg = ["on_hand", "reserved", "quality_hold", "in_transit"]
    canonical = (
        summed.with_columns(pl.max_horizontal(pl.col(c), pl.lit(0.0)).alias(c) for c in nonneg)
        .with_columns(
            available=pl.max_horizontal(pl.col("on_hand") - pl.col("reserved"), pl.lit(0.0)).round(
                QUANTITY_DECIMALS
            ),
            as_of=as_of_lit,
        )
        .select(list(CANONICAL_SCHEMA))
        .cast(CANONICAL_SCHEMA)
    )
    rejected = (
        classified.filter(pl.col("reason").is_not_null())
        .join(
            product_info.select("product_id", "sku", "product_detail"), on="product_id", how="left"
        )
        .select(
            source=pl.lit("stock.quant"),
            record_id="quant_id",
            product_id="product_id",
            sku="sku",
            location_id="location_id",
            warehouse="warehouse",
            quantity="quantity",
            reason="reason",
            detail=pl.when(pl.col("reason") == pl.col("product_reason"))
            .then(pl.col("product_detail"))
            .when(pl.col("reason") == pl.col("location_reason"))
            .then(pl.col("location_detail"))
            .otherwise(pl.lit("")),
            as_of=as_of_lit,
        )
        .collect()
    )
    quarantine = pl.concat(
        [rejected.cast(QUARANTINE_SCHEMA), negatives.cast(QUARANTINE_SCHEMA)], how="vertical"
    )
    return canonical, quarantine
