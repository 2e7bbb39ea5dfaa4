"""Properties of the allocation engine (hypothesis), over random stock and random policies."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines_tests.allocation.policies import (
    NOW,
    WAREHOUSES,
    channel_configs,
    make_policy,
)

SKUS = ("A", "B", "C", "D")
PROFILE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

stock = st.dictionaries(
    st.tuples(st.sampled_from(SKUS), st.sampled_from(WAREHOUSES)),
    st.integers(0, 500).map(float),
    max_size=12,
)
pending_units = st.dictionaries(st.sampled_from(SKUS), st.integers(0, 300).map(float), max_size=4)


def canonical(units: dict) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": [k[0] for k in units],
            "warehouse": [k[1] for k in units],
            "available": list(units.values()),
        },
        schema={"sku": pl.Utf8, "warehouse": pl.Utf8, "available": pl.Float64},
    )


def pending(units: dict) -> pl.DataFrame:
    return pl.DataFrame(
        {"sku": list(units), "pending": list(units.values())},
        schema={"sku": pl.Utf8, "pending": pl.Float64},
    )


def run(policy, units, pend=None) -> pl.DataFrame:
    universe = pl.DataFrame({"sku": list(SKUS)})
    result = allocate(canonical(units), policy, NOW, pending=pending(pend or {}), skus=universe)
    return result.sort("channel", "sku")


@PROFILE
@given(channel_configs(), stock, pending_units)
def test_ring_fenced_allocations_never_sum_above_the_pool(channels, units, pend):
    result = run(make_policy(channels), units, pend)
    fenced = (
        result.filter(pl.col("ring_fenced"))
        .group_by("sku")
        .agg(
            pl.col("publishable_units").sum(),
            pl.col("allocated").sum(),
            pl.col("fence_pool").first(),
        )
    )
    for row in fenced.iter_rows(named=True):
        assert row["allocated"] <= row["fence_pool"] + 1e-6
        assert row["publishable_units"] <= row["fence_pool"] + 1e-6


@PROFILE
@given(channel_configs(), stock, pending_units)
def test_publishable_is_never_above_what_is_available(channels, units, pend):
    result = run(make_policy(channels), units, pend)
    assert (result["publishable"] >= 0).all()
    assert (result["publishable_units"] <= result["pool"] + 1e-6).all()
    assert (result["publishable_units"] <= result["net"] + 1e-6).all()


@PROFILE
@given(
    channel_configs(),
    stock,
    pending_units,
    st.sampled_from(SKUS),
    st.sampled_from(WAREHOUSES),
    st.integers(1, 300),
)
def test_more_stock_never_lowers_a_publishable_quantity(channels, units, pend, sku, wh, extra):
    policy = make_policy(channels)
    before = run(policy, units, pend)
    more = dict(units)
    more[(sku, wh)] = more.get((sku, wh), 0.0) + extra
    after = run(policy, more, pend)
    joined = before.join(after, on=["channel", "sku"], suffix="_after")
    lowered = joined.filter(pl.col("publishable_after") < pl.col("publishable"))
    assert lowered.is_empty(), lowered.select("channel", "sku", "publishable", "publishable_after")


@PROFILE
@given(channel_configs(), stock, st.sampled_from(WAREHOUSES))
def test_an_offline_warehouse_contributes_nothing(channels, units, offline):
    result = run(make_policy(channels, statuses={offline: "offline"}), units)
    for row in result.iter_rows(named=True):
        channel = next(c for c in channels if c["name"] == row["channel"])
        eligible = {w["code"] for w in channel["warehouses"]} - {offline}
        expected = sum(v for (s, w), v in units.items() if s == row["sku"] and w in eligible)
        assert row["pool"] == expected


@PROFILE
@given(channel_configs(), stock, st.sampled_from(SKUS))
def test_an_active_suppression_publishes_zero_and_an_inactive_one_changes_nothing(
    channels, units, sku
):
    target = channels[0]["name"]
    active = {
        "channel": target,
        "sku": sku,
        "from": "2026-11-01T00:00:00Z",
        "until": "2026-12-01T00:00:00Z",
        "reason": "test",
    }
    later = {**active, "from": "2026-12-01T00:00:00Z", "until": "2026-12-31T00:00:00Z"}
    plain = run(make_policy(channels), units)
    suppressed = run(make_policy(channels, suppressions=[active]), units)
    not_yet = run(make_policy(channels, suppressions=[later]), units)
    hit = (pl.col("channel") == target) & (pl.col("sku") == sku)
    assert suppressed.filter(hit)["publishable"].to_list() == [0]
    assert (
        suppressed.filter(~hit)
        .select("channel", "sku", "publishable")
        .equals(plain.filter(~hit).select("channel", "sku", "publishable"))
    )
    assert not_yet.select("publishable").equals(plain.select("publishable"))


@PROFILE
@given(channel_configs(), stock, pending_units)
def test_pending_orders_are_subtracted_once(channels, units, pend):
    result = run(make_policy(channels), units, pend)
    for row in result.iter_rows(named=True):
        assert row["pending"] == pend.get(row["sku"], 0.0)
        assert row["net"] == max(0.0, row["pool"] - row["pending"])
    shared = result.filter(~pl.col("ring_fenced"))
    assert (shared["allocated"] == shared["net"]).all()


def test_a_policy_by_category_or_velocity_tier_applies_only_to_its_skus():
    channels = [
        {
            "name": "shop",
            "kind": "generic",
            "warehouses": [{"code": "MAIN"}],
            "allocation": {"mode": "shared"},
        }
    ]
    policy = make_policy(
        channels,
        policies=[
            {"name": "glass", "match": {"category": "All / Glass"}, "set": {"pack_size": 4}},
            {"name": "slow", "match": {"velocity_tier": "C"}, "set": {"min_threshold": 50}},
        ],
    )
    universe = pl.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "category": ["All / Glass", "All / Wood", "All / Wood"],
            "velocity_tier": ["A", "A", "C"],
        }
    )
    result = allocate(
        canonical({("A", "MAIN"): 10.0, ("B", "MAIN"): 10.0, ("C", "MAIN"): 10.0}),
        policy,
        NOW,
        skus=universe,
    ).sort("sku")
    assert result["publishable"].to_list() == [8, 10, 0]
    assert (
        result["publishable_rule"].cast(pl.Utf8).to_list()[0] == "policies.yml: glass pack_size 4"
    )
    assert (
        result["thresholded_rule"].cast(pl.Utf8).to_list()[2]
        == "policies.yml: slow min_threshold 50"
    )
