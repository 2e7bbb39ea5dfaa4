"""Pandera (Polars) schemas of the supply tables: the checks of `supply/vendor_stock`,
`supply/threepl_stock` and their quarantines."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from inventory_pipelines.supply.rows import SUPPLY_QUARANTINE_REASONS

#: quantities are compared with this tolerance (a percentage buffer leaves float noise)
EPSILON = 1e-9


class _FeedStockSchema(pa.DataFrameModel):
    """What a supplier's stock table holds per SKU: what the feed reported (`feed_quantity`)
    and what counts (`quantity`): never more than reported, never negative, 0 when stale."""

    sku: str = pa.Field(nullable=False)
    feed_quantity: float = pa.Field(ge=0)
    quantity: float = pa.Field(ge=0)
    fresh: bool

    class Config:
        strict = False
        coerce = False

    @pa.dataframe_check(error="quantity must not exceed feed_quantity")
    @classmethod
    def within_the_feed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A buffer only ever takes away from what the supplier reports."""
        return data.lazyframe.select(pl.col("quantity") <= pl.col("feed_quantity") + EPSILON)

    @pa.dataframe_check(error="a row that is not fresh must count 0")
    @classmethod
    def stale_counts_zero(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A stale feed never counts."""
        return data.lazyframe.select(pl.col("fresh") | (pl.col("quantity") == 0))


class VendorStockSchema(_FeedStockSchema):
    """`supply/vendor_stock`: one row per (vendor, sku)."""

    vendor: str = pa.Field(nullable=False)
    lead_time_days: int = pa.Field(ge=0)

    class Config:
        unique = ["vendor", "sku"]


class ThreeplStockSchema(_FeedStockSchema):
    """`supply/threepl_stock`: one row per (warehouse, sku) of the 3PL's feed, in base units."""

    warehouse: str = pa.Field(nullable=False)

    class Config:
        unique = ["warehouse", "sku"]


class SupplyQuarantineSchema(pa.DataFrameModel):
    """`supply/quarantine` and `supply/threepl_quarantine`: every feed row (or unreadable
    feed) left out, with its feed, its reason and the row as read."""

    source: str = pa.Field(nullable=False)
    feed: str = pa.Field(nullable=False)
    reason: str = pa.Field(isin=list(SUPPLY_QUARANTINE_REASONS))
    detail: str = pa.Field(nullable=False)
    raw: str = pa.Field(nullable=False)
    quantity: float = pa.Field(nullable=True)

    class Config:
        strict = False
        coerce = False
