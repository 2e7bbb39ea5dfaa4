"""The trace of one (channel, sku): each step of the allocation and the rule that set it.

The pool's sources come first (`own`, `dropship`, `incoming`, in the channel's order of
priority), each with its rule and what stands behind its units: the vendors and their feeds'
age for drop-ship units, the purchase orders and their planned dates for incoming ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from inventory_pipelines.allocation.engine import SOURCES, STEPS


class ExplainError(LookupError):
    """The trace cannot be given (unknown channel, SKU not allocated, table not built yet)."""


#: what stands behind each source's units, as the trace names it
BEHIND = {"dropship": "vendors", "incoming": "purchase_orders"}
#: how the text trace introduces each of them
NAMED = {"dropship": "vendor", "incoming": "purchase order"}


@dataclass(frozen=True)
class Trace:
    """One row of `inventory/channel_allocation`, step by step."""

    channel: str
    sku: str
    values: dict[str, float]
    rules: dict[str, str]
    channel_uom: str
    fence: dict[str, float] | None = None  # base and sold, for a ring-fenced channel
    # the pool's sources (own, dropship, incoming): value and rule in `values` and `rules`,
    # and what stands behind drop-ship and incoming units here (None: nothing)
    sources: dict[str, str | None] = field(default_factory=dict)
    pending_dropship: float = 0.0

    def _source_keys(self) -> list[str]:
        return [s for s in SOURCES if s in self.values]

    def as_json(self) -> dict[str, dict[str, object]]:
        """The step names of DESIGN.md section 3 as keys, each with its value and its rule,
        after the pool's sources (`own`, `dropship`, `incoming`; drop-ship and incoming also
        name their `vendors` and `purchase orders`); `pending` gives its `dropship` part; a
        ring-fenced channel's trace also has `fence`: its base and what it consumed."""
        steps: dict[str, dict[str, object]] = {}
        for source in self._source_keys():
            steps[source] = {"value": self.values[source], "rule": self.rules[source]}
            if source in BEHIND:
                steps[source][BEHIND[source]] = self.sources.get(source)
        for step in STEPS:
            steps[step] = {"value": self.values[step], "rule": self.rules[step]}
        if self._source_keys():
            steps["pending"]["dropship"] = self.pending_dropship
        if self.fence is not None:
            steps["fence"] = dict(self.fence)
        return steps

    def as_text(self) -> str:
        """A table a person reads in a terminal."""
        lines = [f"{self.channel} / {self.sku}"]
        indent = " " * 32
        for step in [*self._source_keys(), *STEPS]:
            value = self.values[step]
            shown = f"{value:g}" + (f" {self.channel_uom}" if step == "publishable" else "")
            lines.append(f"  {step:<12} {shown:>14}   {self.rules[step]}")
            behind = self.sources.get(step)
            if behind:
                head, parts = _parts(behind)
                if head:
                    lines.append(f"{indent}{head}:")
                lines += [f"{indent}{NAMED[step]} {part}" for part in parts]
            if step == "pending" and self.pending_dropship:
                lines.append(
                    f"{indent}of which {self.pending_dropship:g} ordered on the drop-ship route "
                    "(counted against the vendors' stock)"
                )
            if step == "allocated" and self.fence is not None:
                lines.append(
                    f"  {'fence':<12} {self.fence['base']:>14g}   base: own net + the fenced "
                    f"channels' sales from this pool (pending, or reserved in its warehouses) "
                    f"since the fences were based; {self.fence['sold']:g} of it sold here "
                    f"(consumed from this fence only)"
                )
        return "\n".join(lines)


def _parts(text: str) -> tuple[str | None, list[str]]:
    """`50% of 42 units: P00012 ...; P00013 ...` as its head (the share, if any) and one part
    per source."""
    head, sep, rest = text.partition(": ")
    if sep and head.endswith(" units") and "% of " in head:
        return head, rest.split("; ")
    return None, text.split("; ")


def trace_of(row: dict) -> Trace:
    """The trace of one allocation row (as a dict); a row written before the pool had its
    sources gives the steps alone."""
    present = [s for s in SOURCES if row.get(s) is not None and row.get(f"{s}_rule") is not None]
    return Trace(
        channel=str(row["channel"]),
        sku=row["sku"],
        values={step: row[step] for step in [*present, *STEPS]},
        rules={step: str(row[f"{step}_rule"]) for step in [*present, *STEPS]},
        channel_uom=row.get("channel_uom") or "",
        fence=(
            {"base": float(row["fence_base"]), "sold": float(row.get("fence_sold") or 0.0)}
            if row.get("ring_fenced") and row.get("fence_base") is not None
            else None
        ),
        sources={s: row.get(f"{s}_sources") for s in BEHIND if s in present},
        pending_dropship=float(row.get("pending_dropship") or 0.0),
    )


def explain_frame(allocation: pl.DataFrame, channel: str, sku: str) -> Trace:
    """Explain from an allocation frame in memory."""
    rows = allocation.filter(
        (pl.col("channel").cast(pl.Utf8) == channel) & (pl.col("sku") == sku)
    ).to_dicts()
    if not rows:
        raise ExplainError(f"no allocation row for channel {channel!r} and SKU {sku!r}")
    return trace_of(rows[0])
