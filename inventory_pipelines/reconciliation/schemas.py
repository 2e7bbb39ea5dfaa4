"""The pandera (Polars) schema of `reconciliation/drift`."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from inventory_pipelines.reconciliation.drift import CAUSES


class DriftSchema(pa.DataFrameModel):
    """`reconciliation/drift`: one row per drifting listing (or SKU without a listing), each
    with one known cause and a non-zero difference."""

    channel: str = pa.Field(nullable=False)
    sku: str = pa.Field(nullable=True)
    listing_id: str = pa.Field(nullable=True)
    expected: int = pa.Field(nullable=True, ge=0)
    actual: int = pa.Field(nullable=True)
    difference: int = pa.Field(nullable=False, ne=0)
    cause: str = pa.Field(nullable=False, isin=list(CAUSES))

    class Config:
        strict = False
        coerce = False

    @pa.dataframe_check(error="difference must be actual - expected (a missing side is 0)")
    @classmethod
    def difference_is_actual_less_expected(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """The difference says how far the channel is from what it should show."""
        return data.lazyframe.select(
            pl.col("difference") == pl.col("actual").fill_null(0) - pl.col("expected").fill_null(0)
        )

    @pa.dataframe_check(error="a row names its listing, or its SKU when it has no listing")
    @classmethod
    def names_what_drifts(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """A row a person cannot find on the channel or in Odoo is no use."""
        return data.lazyframe.select(
            pl.col("listing_id").is_not_null() | pl.col("sku").is_not_null()
        )

    @pa.dataframe_check(
        error="only an unmapped_listing row lacks its listing or its expected figure"
    )
    @classmethod
    def only_unmapped_rows_lack_a_side(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Every other cause is about a mapped listing with an expected and an actual figure."""
        complete = (
            pl.col("listing_id").is_not_null()
            & pl.col("expected").is_not_null()
            & pl.col("actual").is_not_null()
        )
        return data.lazyframe.select(complete | (pl.col("cause") == "unmapped_listing"))

    @pa.dataframe_check(error="a listing drifts once per channel, a SKU without listing once")
    @classmethod
    def one_row_per_listing(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Two rows for one listing would count its drift twice."""
        return data.lazyframe.select(pl.struct("channel", "listing_id", "sku").is_unique())
