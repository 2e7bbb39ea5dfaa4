"""Pandera (Polars) schemas of the supply tables: the checks of `supply/vendor_stock`,
`supply/threepl_stock` and their quarantines."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from inventory_pipelines.supply.rows import SUPPLY_QUARANTINE_REASONS

#: quantities are compared with this tolerance (a percentage buffer leaves float noise)
EPSILON = 1e-9


class VendorStockSchema(pa.DataFrameModel):
    """`supply/vendor_stock`: one row per (vendor, sku); what may be sold never exceeds what
    the vendor reported, and nothing is negative."""

    vendor: str = pa.Field(nullable=False)
    sku: str = pa.Field(nullable=False)
    feed_quantity: float = pa.Field(ge=0)
    quantity: float = pa.Field(ge=0)
    fresh: bool
    lead_time_days: int = pa.Field(ge=0)

    class Config:
        strict = False
        coerce = False
        unique = ["vendor", "sku"]

    @pa.dataframe_check(error="quantity must not exceed feed_quantity")
    @classmethod
    def within_the_feed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """The buffer only ever takes away from what the vendor reports."""
        return data.lazyframe.select(pl.col("quantity") <= pl.col("feed_quantity") + EPSILON)

    @pa.dataframe_check(error="a row that is not fresh must count 0")
    @classmethod
    def stale_counts_zero(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A stale feed never sells."""
        return data.lazyframe.select(pl.col("fresh") | (pl.col("quantity") == 0))


class ThreeplStockSchema(pa.DataFrameModel):
    """`supply/threepl_stock`: one row per (warehouse, sku) of the 3PL's feed, in base units."""

    warehouse: str = pa.Field(nullable=False)
    sku: str = pa.Field(nullable=False)
    feed_quantity: float = pa.Field(ge=0)
    quantity: float = pa.Field(ge=0)
    fresh: bool

    class Config:
        strict = False
        coerce = False
        unique = ["warehouse", "sku"]

    @pa.dataframe_check(error="quantity must not exceed feed_quantity")
    @classmethod
    def within_the_feed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """What counts is at most what the 3PL reports."""
        return data.lazyframe.select(pl.col("quantity") <= pl.col("feed_quantity") + EPSILON)

    @pa.dataframe_check(error="a row that is not fresh must count 0")
    @classmethod
    def stale_counts_zero(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A stale feed never counts."""
        return data.lazyframe.select(pl.col("fresh") | (pl.col("quantity") == 0))


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
