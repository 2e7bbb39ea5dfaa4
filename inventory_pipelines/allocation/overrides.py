"""Approved manual overrides and emergency stops as a step of the allocation (pure Polars).

The ledger holds the overrides; the asset reads the ones that apply now and hands them over as
a frame (:func:`overrides_frame`). Here they become one row per (channel, sku) they touch
(:func:`expand`): a stop's pattern is matched against the SKUs being allocated and its `*`
channel stands for every channel. Where several apply to the same (channel, sku), the lowest
quantity wins (a stop is 0): two people agreed on each, and the lower one never sells what the
other ruled out.

The engine then sets step 6 (`suppressed`) to the override's quantity, in base units (the
quantity is in the channel's unit), never above `allocated`: what the channel's allocation
holds before buffers, thresholds and suppressions (the net pool for a shared-pool channel, its
own fence for a ring-fenced one). An override can take a channel anywhere from 0 to there, past
its buffer, threshold and suppressions, and never oversells: above that it is capped, and the
rule says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from inventory_pipelines.rules.patterns import glob_to_regex

ALL_CHANNELS = "*"
#: the columns of the frame :func:`allocate` takes as `overrides`
OVERRIDE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.Int64,
    "kind": pl.Utf8,  # quantity or stop
    "channel": pl.Utf8,  # a channel, or "*" for a stop on every channel
    "sku": pl.Utf8,  # a SKU; for a stop a shell pattern
    "quantity": pl.Int64,  # in the channel's unit
    "expires_at": pl.Datetime("us", "UTC"),
    "reason": pl.Utf8,
    "requested_by": pl.Utf8,
    "approved_by": pl.Utf8,
    "break_glass": pl.Boolean,
}
#: appended to an override's rule where the allocation held less than it asked for
CAPPED = "; capped at `allocated` (an override never offers more than the channel's allocation)"
APPLIED_SCHEMA = {"channel": pl.Utf8, "sku": pl.Utf8, "quantity": pl.Int64, "rule": pl.Utf8}


def overrides_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """The `overrides` argument of :func:`allocate` from mappings with the fields of
    :data:`OVERRIDE_SCHEMA` (extra fields are ignored)."""
    return pl.DataFrame(
        [{name: row[name] for name in OVERRIDE_SCHEMA} for row in rows], schema=OVERRIDE_SCHEMA
    )


def rule_of(override: Mapping[str, Any]) -> str:
    """The rule text an override puts in the trace: what, until when, who, why."""
    until = override["expires_at"]
    until_text = until.strftime("%Y-%m-%d %H:%M UTC") if isinstance(until, datetime) else until
    if override["break_glass"]:
        who = f"break-glass by {override['requested_by']}"
    else:
        who = f"requested by {override['requested_by']}, approved by {override['approved_by']}"
    if override["kind"] == "stop":
        where = "every channel" if override["channel"] == ALL_CHANNELS else override["channel"]
        what = f"emergency stop #{override['id']} ({override['sku']} on {where}): 0"
    else:
        what = f"override #{override['id']}: {override['quantity']} in the channel's unit"
    return f"{what} until {until_text} ({who}): {override['reason']}"


def expand(
    overrides: pl.DataFrame | None, skus: pl.Series, channels: Sequence[str]
) -> pl.DataFrame:
    """channel, sku, quantity, rule: the override that applies per (channel, sku) among `skus`
    and `channels`, the lowest quantity where several do (the latest of equals)."""
    if overrides is None or overrides.is_empty():
        return pl.DataFrame(schema=APPLIED_SCHEMA)
    known = pl.DataFrame({"sku": skus.unique()}, schema={"sku": pl.Utf8})
    parts = []
    for override in overrides.sort("id").to_dicts():
        targets = [c for c in channels if override["channel"] in (ALL_CHANNELS, c)]
        if not targets:
            continue
        if override["kind"] == "stop":
            matched = known.filter(pl.col("sku").str.contains(glob_to_regex(override["sku"])))
        else:
            matched = known.filter(pl.col("sku") == override["sku"])
        if matched.is_empty():
            continue
        parts.append(
            matched.join(pl.DataFrame({"channel": targets}), how="cross").with_columns(
                quantity=pl.lit(int(override["quantity"]), dtype=pl.Int64),
                rule=pl.lit(rule_of(override)),
                _id=pl.lit(int(override["id"]), dtype=pl.Int64),
            )
        )
    if not parts:
        return pl.DataFrame(schema=APPLIED_SCHEMA)
    return (
        pl.concat(parts)
        .sort(["quantity", "_id"], descending=[False, True])
        .unique(["channel", "sku"], keep="first", maintain_order=True)
        .select(*APPLIED_SCHEMA)
        .sort("channel", "sku")
    )
