"""The benchmark's row-loop baseline computes what the engine computes (an honest comparison)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.allocation.policies import NOW, WAREHOUSES
from inventory_pipelines_tests.bench.rowloop import allocate_rows

POLICY = load_policy(now=NOW)
SKUS = [f"SKU-0000{i:02d}" for i in range(12)] + ["SKU-000991", "SKU-000992"]
COLUMNS = [
    "channel",
    "sku",
    "pool",
    "pending",
    "net",
    "allocated",
    "buffered",
    "thresholded",
    "suppressed",
    "publishable",
]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.sampled_from(SKUS), st.sampled_from(WAREHOUSES)),
        st.integers(0, 400).map(float),
        max_size=30,
    ),
    st.dictionaries(st.sampled_from(SKUS), st.integers(0, 100).map(float), max_size=5),
    st.lists(st.sampled_from(["A", "B", "C"]), min_size=len(SKUS), max_size=len(SKUS)),
)
def test_the_row_loop_agrees_with_the_engine(stock, pending, tiers):
    canonical = [{"sku": s, "warehouse": w, "available": v} for (s, w), v in stock.items()]
    skus = [{"sku": s, "velocity_tier": t} for s, t in zip(SKUS, tiers, strict=True)]
    expected = allocate(
        pl.DataFrame(
            canonical, schema={"sku": pl.Utf8, "warehouse": pl.Utf8, "available": pl.Float64}
        ),
        POLICY,
        NOW,
        pending=pl.DataFrame(
            {"sku": list(pending), "pending": list(pending.values())},
            schema={"sku": pl.Utf8, "pending": pl.Float64},
        ),
        skus=pl.DataFrame(skus),
    ).with_columns(pl.col("channel").cast(pl.Utf8))
    got = pl.DataFrame(allocate_rows(canonical, POLICY, NOW, pending, skus))
    left = expected.select(COLUMNS).sort("channel", "sku")
    right = got.select(COLUMNS).sort("channel", "sku")
    for column in COLUMNS[2:]:
        assert left[column].to_list() == pytest.approx(right[column].to_list()), column
