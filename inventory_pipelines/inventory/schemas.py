"""Pandera (Polars) schemas of the snapshot and canonical tables: the blocking checks."""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl


class ProductsSchema(pa.DataFrameModel):
    """`odoo/products`: one row per product.product, archived ones included."""

    product_id: int = pa.Field(unique=True)
    sku: str = pa.Field(nullable=True)
    factor: float = pa.Field(nullable=True, gt=0)
    storable: bool
    active: bool

    class Config:
        strict = False


class LocationsSchema(pa.DataFrameModel):
    """`odoo/locations`: one row per stock.location, with the role the rules give it."""

    location_id: int = pa.Field(unique=True)
    usage: str
    role: str = pa.Field(isin=["stock", "hold", "transit", "unresolved", "ignored"])

    class Config:
        strict = False


class StockQuantsSchema(pa.DataFrameModel):
    """`odoo/stock_quants`: stock.quant rows in internal and transit locations."""

    quant_id: int = pa.Field(unique=True)
    product_id: int
    location_id: int
    quantity: float
    reserved_quantity: float = pa.Field(ge=0)

    class Config:
        strict = False


class CanonicalInventorySchema(pa.DataFrameModel):
    """`inventory/canonical_inventory`: one row per (sku, warehouse), in base units."""

    sku: str
    warehouse: str
    on_hand: float = pa.Field(ge=0)
    reserved: float = pa.Field(ge=0)
    quality_hold: float = pa.Field(ge=0)
    in_transit: float = pa.Field(ge=0)
    available: float = pa.Field(ge=0)
    uom: str

    class Config:
        strict = False
        unique = ["sku", "warehouse"]

    @pa.dataframe_check(error="available must not exceed on_hand")
    @classmethod
    def available_within_on_hand(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """No warehouse can offer more than it holds."""
        return data.lazyframe.select(pl.col("available") <= pl.col("on_hand"))


class QuarantineSchema(pa.DataFrameModel):
    """`inventory/quarantine`: every row that could not be normalized, with its reason."""

    source: str
    reason: str
    quantity: float

    class Config:
        strict = False


@dataclass(frozen=True)
class Validation:
    """The outcome of a schema check: failure cases are empty when it passed."""

    passed: bool
    failure_cases: pl.DataFrame
    summary: str


def validate(schema: type[pa.DataFrameModel], frame: pl.DataFrame) -> Validation:
    """Validate `frame` lazily (every failure, not the first) and summarise the failures."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.with_columns(pl.col("failure_case").cast(pl.Utf8))
        counts = cases.group_by("column", "check").len().sort("column", "check")
        summary = "; ".join(
            f"{row['column']}: {row['check']} ({row['len']} rows)" for row in counts.to_dicts()
        )
        return Validation(False, cases, summary)
    return Validation(True, pl.DataFrame(), "ok")


class ChannelAllocationSchema(pa.DataFrameModel):
    """`inventory/channel_allocation`: one row per (channel, sku), every step of the policy."""

    channel: str = pa.Field(nullable=False)
    sku: str = pa.Field(nullable=False)
    pool: float = pa.Field(ge=0)
    net: float = pa.Field(ge=0)
    allocated: float = pa.Field(ge=0)
    publishable: int = pa.Field(ge=0)
    publishable_units: float = pa.Field(ge=0)

    class Config:
        strict = False
        unique = ["channel", "sku"]
        coerce = False

    @pa.dataframe_check(error="publishable_units must not exceed the pool")
    @classmethod
    def publishable_within_pool(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A channel is never offered more than its eligible warehouses hold."""
        return data.lazyframe.select(pl.col("publishable_units") <= pl.col("pool") + 1e-6)


def ring_fence_breaches(allocation: pl.DataFrame) -> pl.DataFrame:
    """SKUs whose ring-fenced channels together are offered more of our own stock than the
    fenced pool. Of what a channel publishes, at most its drop-ship and incoming units
    (`allocated - allocated_own`, which no fence holds) are not our own stock: the rest is."""
    offered = pl.col("publishable_units")
    if "allocated_own" in allocation.columns:
        unfenced = pl.col("allocated") - pl.col("allocated_own")
        offered = (offered - unfenced).clip(lower_bound=0.0)
    return (
        allocation.filter(pl.col("ring_fenced"))
        .group_by("sku")
        .agg(
            offered.sum().alias("ring_fenced_units"),
            pl.col("fence_pool").first(),
        )
        .filter(pl.col("ring_fenced_units") > pl.col("fence_pool") + 1e-6)
    )
