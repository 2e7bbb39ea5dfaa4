"""The trace of one (channel, sku): each step of the allocation and the rule that set it."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from inventory_pipelines.allocation.engine import STEPS


class ExplainError(LookupError):
    """The trace cannot be given (unknown channel, SKU not allocated, table not built yet)."""


@dataclass(frozen=True)
class Trace:
    """One row of `inventory/channel_allocation`, step by step."""

    channel: str
    sku: str
    values: dict[str, float]
    rules: dict[str, str]
    channel_uom: str
    fence: dict[str, float] | None = None  # base and sold, for a ring-fenced channel

    def as_json(self) -> dict[str, dict[str, object]]:
        """The step names of DESIGN.md section 3 as keys, each with its value and its rule;
        a ring-fenced channel's trace also has `fence`: its base and what it consumed."""
        steps: dict[str, dict[str, object]] = {
            step: {"value": self.values[step], "rule": self.rules[step]} for step in STEPS
        }
        if self.fence is not None:
            steps["fence"] = dict(self.fence)
        return steps

    def as_text(self) -> str:
        """A table a person reads in a terminal."""
        lines = [f"{self.channel} / {self.sku}"]
        for step in STEPS:
            value = self.values[step]
            shown = f"{value:g}" + (f" {self.channel_uom}" if step == "publishable" else "")
            lines.append(f"  {step:<12} {shown:>14}   {self.rules[step]}")
            if step == "allocated" and self.fence is not None:
                lines.append(
                    f"  {'fence':<12} {self.fence['base']:>14g}   base: net + the fenced "
                    f"channels' sales since the fences were based; {self.fence['sold']:g} of "
                    f"it sold here (consumed from this fence only)"
                )
        return "\n".join(lines)


def trace_of(row: dict) -> Trace:
    """The trace of one allocation row (as a dict)."""
    return Trace(
        channel=str(row["channel"]),
        sku=row["sku"],
        values={step: row[step] for step in STEPS},
        rules={step: str(row[f"{step}_rule"]) for step in STEPS},
        channel_uom=row.get("channel_uom") or "",
        fence=(
            {"base": float(row["fence_base"]), "sold": float(row.get("fence_sold") or 0.0)}
            if row.get("ring_fenced") and row.get("fence_base") is not None
            else None
        ),
    )


def explain_frame(allocation: pl.DataFrame, channel: str, sku: str) -> Trace:
    """Explain from an allocation frame in memory."""
    rows = allocation.filter(
        (pl.col("channel").cast(pl.Utf8) == channel) & (pl.col("sku") == sku)
    ).to_dicts()
    if not rows:
        raise ExplainError(f"no allocation row for channel {channel!r} and SKU {sku!r}")
    return trace_of(rows[0])
