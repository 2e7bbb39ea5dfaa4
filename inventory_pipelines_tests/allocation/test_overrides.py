"""Approved overrides and emergency stops in the allocation: step 6 of the trace, capped at
what the channel's allocation holds, named with who asked, who approved, until when and why."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from inventory_pipelines.allocation.engine import allocate
from inventory_pipelines.allocation.explain import explain_frame
from inventory_pipelines.allocation.overrides import CAPPED, overrides_frame
from inventory_pipelines.inventory.schemas import (
    ChannelAllocationSchema,
    ring_fence_breaches,
    validate,
)
from inventory_pipelines.rules import load_policy
from inventory_pipelines_tests.allocation.policies import NOW

CANONICAL = pl.DataFrame(
    {
        "sku": ["SKU-000001", "SKU-000001", "SKU-000002", "SKU-000991", "SKU-000102"],
        "warehouse": ["MAIN", "EAST", "MAIN", "MAIN", "MAIN"],
        "available": [100.0, 50.0, 10.0, 80.0, 10.0],
    }
)
UNTIL = NOW + timedelta(hours=2)


def override(id: int, channel: str, sku: str, quantity: int, **fields) -> dict:
    return {
        "id": id,
        "kind": "quantity",
        "channel": channel,
        "sku": sku,
        "quantity": quantity,
        "expires_at": UNTIL,
        "reason": "launch promo",
        "requested_by": "alice",
        "approved_by": "bob",
        "break_glass": False,
        **fields,
    }


def stop(id: int, channel: str, pattern: str, **fields) -> dict:
    return override(id, channel, pattern, 0, kind="stop", reason="recall", **fields)


def allocated(*rows: dict) -> pl.DataFrame:
    """The shipped rules' allocation of CANONICAL with these overrides, rules as text (their
    Enum's categories differ with the overrides), ordered by channel and SKU."""
    frame = allocate(
        CANONICAL, load_policy(now=NOW), NOW, overrides=overrides_frame(rows) if rows else None
    )
    return (
        frame.with_columns(pl.col("channel").cast(pl.Utf8))
        .with_columns(pl.col(c).cast(pl.Utf8) for c in frame.columns if c.endswith("_rule"))
        .sort("channel", "sku")
    )


def step(frame: pl.DataFrame, channel: str, sku: str, column: str):
    row = frame.filter((pl.col("channel") == channel) & (pl.col("sku") == sku))
    value = row[column].item()
    return str(value) if column.endswith("_rule") else value


def test_an_override_sets_the_channel_quantity_and_names_who_until_when_and_why() -> None:
    without, with_it = allocated(), allocated(override(12, "shopify", "SKU-000001", 5))
    assert step(without, "shopify", "SKU-000001", "publishable") == 58
    assert step(with_it, "shopify", "SKU-000001", "suppressed") == 5
    assert step(with_it, "shopify", "SKU-000001", "publishable") == 5
    assert step(with_it, "shopify", "SKU-000001", "suppressed_rule") == (
        "override #12: 5 in the channel's unit until 2026-11-27 14:00 UTC "
        "(requested by alice, approved by bob): launch promo"
    )
    untouched = with_it.filter(
        ~((pl.col("channel") == "shopify") & (pl.col("sku") == "SKU-000001"))
    )
    assert untouched.equals(
        without.filter(~((pl.col("channel") == "shopify") & (pl.col("sku") == "SKU-000001")))
    )


def test_an_override_above_the_channels_allocation_is_capped_never_oversold() -> None:
    frame = allocated(override(3, "shopify", "SKU-000001", 1000))
    # shopify's own fence: 40% of 150
    assert step(frame, "shopify", "SKU-000001", "allocated") == 60
    assert step(frame, "shopify", "SKU-000001", "publishable") == 60
    assert step(frame, "shopify", "SKU-000001", "suppressed_rule").endswith(CAPPED)
    assert validate(ChannelAllocationSchema, frame).passed
    assert ring_fence_breaches(frame).is_empty()


def test_an_override_passes_the_buffer_threshold_and_suppression_in_the_channels_unit() -> None:
    frame = allocated(
        override(1, "b2b", "SKU-000102", 1),  # b2b counts packs of 6, its threshold is 12
        override(2, "amazon", "SKU-000991", 4),  # suppressed by suppressions.yml
    )
    assert step(allocated(), "b2b", "SKU-000102", "publishable") == 0
    assert step(frame, "b2b", "SKU-000102", "thresholded") == 0
    assert step(frame, "b2b", "SKU-000102", "suppressed") == 6
    assert step(frame, "b2b", "SKU-000102", "publishable") == 1
    assert step(allocated(), "amazon", "SKU-000991", "publishable") == 0
    assert step(frame, "amazon", "SKU-000991", "publishable") == 4


def test_a_stop_zeroes_every_matching_sku_on_every_channel_and_nothing_else() -> None:
    before = allocated()
    frame = allocated(stop(7, "*", "SKU-00000*", break_glass=True, approved_by="alice"))
    stopped = frame.filter(pl.col("sku").is_in(["SKU-000001", "SKU-000002"]))
    assert stopped.height == 2 * 5
    assert stopped["publishable"].to_list() == [0] * 10
    assert set(stopped["suppressed_rule"].cast(pl.Utf8)) == {
        "emergency stop #7 (SKU-00000* on every channel): 0 until 2026-11-27 14:00 UTC "
        "(break-glass by alice): recall"
    }
    assert before.filter(pl.col("sku") == "SKU-000001")["publishable"].sum() > 0
    others = ~pl.col("sku").is_in(["SKU-000001", "SKU-000002"])
    assert frame.filter(others).equals(before.filter(others))


def test_a_stop_on_one_channel_leaves_the_others() -> None:
    frame = allocated(stop(8, "amazon", "SKU-000001"))
    assert step(frame, "amazon", "SKU-000001", "publishable") == 0
    assert step(frame, "shopify", "SKU-000001", "publishable") == 58


def test_where_several_apply_the_lowest_quantity_wins() -> None:
    frame = allocated(
        override(1, "shopify", "SKU-000001", 9),
        stop(2, "*", "SKU-0000*"),
        override(3, "shopify", "SKU-000001", 4),
        override(4, "woocommerce", "SKU-000001", 9),
        override(5, "woocommerce", "SKU-000001", 7),
    )
    assert step(frame, "shopify", "SKU-000001", "publishable") == 0
    assert step(frame, "shopify", "SKU-000001", "suppressed_rule").startswith("emergency stop #2")
    assert step(frame, "woocommerce", "SKU-000001", "publishable") == 0
    frame = allocated(
        override(4, "woocommerce", "SKU-000001", 9), override(5, "woocommerce", "SKU-000001", 7)
    )
    assert step(frame, "woocommerce", "SKU-000001", "publishable") == 7


def test_explain_shows_the_override_as_step_six() -> None:
    trace = explain_frame(allocated(override(12, "pos", "SKU-000001", 3)), "pos", "SKU-000001")
    assert trace.values["suppressed"] == 3 and trace.values["publishable"] == 3
    assert "requested by alice, approved by bob" in trace.rules["suppressed"]
    assert "until 2026-11-27 14:00 UTC" in trace.as_text()
