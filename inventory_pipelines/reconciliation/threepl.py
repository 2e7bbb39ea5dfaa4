"""3PL drift: per 3PL warehouse and SKU, Odoo's on-hand against the 3PL's own count.

Beside `reconciliation/drift` (what channels show against what they should), this compares the
two books of one warehouse: Odoo's quants (`inventory/canonical_inventory`; where the 3PL's
feed already replaced the on-hand there, Odoo's own figure kept in ``odoo_on_hand``) and the
3PL's stock feed (`supply/threepl_stock`, ``feed_quantity``: what the 3PL says, buffered by
nothing). Only warehouses whose feed is fresh are compared: a stale count says nothing about
today.

A row per (warehouse, sku) where the two differ, a missing side counting 0, with
``difference`` = threepl_quantity - odoo_on_hand (above 0 the 3PL holds more than Odoo knows:
a receipt not booked; below 0 less: a loss, or a delivery not booked at the 3PL) and the cause
``threepl_mismatch``. Quantities in base units, compared to 1e-6.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import pandera.polars as pa
import polars as pl

THREEPL_CAUSES = ("threepl_mismatch",)

UTC_TIME = pl.Datetime("us", "UTC")
EPSILON = 1e-6

THREEPL_DRIFT_SCHEMA: dict[str, pl.DataType] = {
    "warehouse": pl.Utf8(),
    "sku": pl.Utf8(),
    "product_id": pl.Int64(),
    "odoo_on_hand": pl.Float64(),
    "threepl_quantity": pl.Float64(),
    "difference": pl.Float64(),
    "cause": pl.Utf8(),
    "detail": pl.Utf8(),
    "feed_as_of": UTC_TIME,
    "observed_at": UTC_TIME,
}


def threepl_drift(
    canonical: pl.DataFrame,
    threepl: pl.DataFrame,
    compared: Collection[str],
    *,
    now: datetime,
) -> pl.DataFrame:
    """The drift of the `compared` warehouses (their feeds fresh): `THREEPL_DRIFT_SCHEMA`."""
    warehouses = list(compared)
    odoo_column = "odoo_on_hand" if "odoo_on_hand" in canonical.columns else "on_hand"
    odoo = canonical.filter(pl.col("warehouse").is_in(warehouses)).select(
        "warehouse", "sku", "product_id", pl.col(odoo_column).alias("odoo_on_hand")
    )
    feed = threepl.filter(pl.col("warehouse").is_in(warehouses)).select(
        "warehouse",
        "sku",
        pl.col("product_id").alias("_feed_product"),
        pl.col("feed_quantity").alias("threepl_quantity"),
        pl.col("as_of").alias("_as_of"),
    )
    as_of = threepl.group_by("warehouse").agg(pl.col("as_of").max().alias("feed_as_of"))
    both = odoo.join(feed, on=["warehouse", "sku"], how="full", coalesce=True).with_columns(
        product_id=pl.coalesce("product_id", "_feed_product"),
        _odoo_missing=pl.col("odoo_on_hand").is_null(),
        _feed_missing=pl.col("threepl_quantity").is_null(),
        odoo_on_hand=pl.col("odoo_on_hand").fill_null(0.0),
        threepl_quantity=pl.col("threepl_quantity").fill_null(0.0),
    )
    difference = pl.col("threepl_quantity") - pl.col("odoo_on_hand")
    detail = (
        pl.when(pl.col("_feed_missing"))
        .then(pl.lit("Odoo holds it; the 3PL's feed does not list it"))
        .when(pl.col("_odoo_missing"))
        .then(pl.lit("the 3PL holds it; Odoo has no stock of it there"))
        .when(difference > 0)
        .then(pl.lit("the 3PL counts more than Odoo (a receipt not booked in Odoo?)"))
        .otherwise(pl.lit("the 3PL counts less than Odoo (a loss, or a delivery not booked?)"))
    )
    return (
        both.filter(difference.abs() > EPSILON)
        .join(as_of, on="warehouse", how="left")
        .select(
            "warehouse",
            "sku",
            "product_id",
            "odoo_on_hand",
            "threepl_quantity",
            difference.alias("difference"),
            pl.lit(THREEPL_CAUSES[0]).alias("cause"),
            detail.alias("detail"),
            "feed_as_of",
            pl.lit(now, UTC_TIME).alias("observed_at"),
        )
        .cast(THREEPL_DRIFT_SCHEMA)  # type: ignore[arg-type]
        .sort("warehouse", "sku")
    )


class ThreeplDriftSchema(pa.DataFrameModel):
    """`reconciliation/threepl_drift`: one row per drifting (warehouse, sku), a known cause,
    a non-zero difference equal to the 3PL's count less Odoo's."""

    warehouse: str = pa.Field(nullable=False)
    sku: str = pa.Field(nullable=False)
    odoo_on_hand: float = pa.Field(ge=0)
    threepl_quantity: float = pa.Field(ge=0)
    difference: float = pa.Field(nullable=False)
    cause: str = pa.Field(isin=list(THREEPL_CAUSES))

    class Config:
        strict = False
        coerce = False
        unique = ["warehouse", "sku"]

    @pa.dataframe_check(error="difference must be threepl_quantity - odoo_on_hand, and not 0")
    @classmethod
    def difference_is_the_gap(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """The difference says how far the two books are apart."""
        gap = pl.col("threepl_quantity") - pl.col("odoo_on_hand")
        return data.lazyframe.select(
            ((pl.col("difference") - gap).abs() <= EPSILON) & (pl.col("difference").abs() > 0)
        )
