"""The blocking checks of `inventory/channel_allocation` catch what must never be published."""

from __future__ import annotations

import polars as pl

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines.inventory.schemas import (
    ChannelAllocationSchema,
    ring_fence_breaches,
    validate,
)
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.allocation.policies import NOW

CANONICAL = pl.DataFrame(
    {"sku": ["A", "A", "B"], "warehouse": ["MAIN", "EAST", "WEST"], "available": [40.0, 9.0, 3.0]}
)


def allocation() -> pl.DataFrame:
    return allocate(CANONICAL, load_policy(now=NOW), NOW).with_columns(
        pl.col("channel").cast(pl.Utf8)
    )


def test_a_real_allocation_passes_both_checks():
    result = allocation()
    assert validate(ChannelAllocationSchema, result).passed
    assert ring_fence_breaches(result).is_empty()


def test_publishing_above_the_pool_fails_the_schema_check():
    bad = allocation().with_columns(publishable_units=pl.col("pool") + 1)
    outcome = validate(ChannelAllocationSchema, bad)
    assert not outcome.passed and "must not exceed the pool" in outcome.summary


def test_a_negative_publishable_or_a_duplicate_row_fails_the_schema_check():
    result = allocation()
    negative = result.with_columns(publishable=pl.lit(-1, dtype=pl.Int64))
    assert "publishable" in validate(ChannelAllocationSchema, negative).summary
    duplicated = pl.concat([result, result.head(1)])
    assert "uniqueness" in validate(ChannelAllocationSchema, duplicated).summary


def test_ring_fenced_channels_offered_more_than_the_pool_are_reported():
    inflated = allocation().with_columns(
        publishable_units=pl.when(pl.col("ring_fenced"))
        .then(pl.col("fence_pool"))
        .otherwise(pl.col("publishable_units"))
    )
    breaches = ring_fence_breaches(inflated)
    assert set(breaches["sku"]) == {"A", "B"}
