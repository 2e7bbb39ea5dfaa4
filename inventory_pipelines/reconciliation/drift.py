"""Drift: per listing, what a channel shows against what it should show, and why they differ.

A pure function of frames (the full reconciliation's joins run here, in Polars). Its inputs:

- **expected**: per (channel, sku) the publishable quantity of `inventory/channel_allocation`
  (what `inventory-sync explain` traces) with the listing that carries the SKU on the channel
  (`inventory/product_identity`; none: the SKU has no listing there), and `expected_at`, when
  that figure was computed;
- **read-back**: every listing the channel showed (`reconciliation/channel_stock`): its own
  SKU, the quantity it shows, `read_at`;
- **ledger facts** (`LedgerFacts`): the last quantity each listing acknowledged and when; the
  channels' sales (order units from the inbox, in the channel's unit, with when they were
  accepted); the listings an open publish dead letter holds; the compare-and-set drops no order
  has explained yet, per (channel, sku).

What the channel shows (`actual`) is its read-back, or our last acknowledgement where that is
newer than the read-back (the channel's own later answer, as the publisher plans it). A mapped
listing drifts when `actual` differs from `expected`; a SKU without a listing when it should
show more than 0; a listing no sellable product matches when it shows more than 0 (a listing
whose quantity the channel does not track is not compared).

Each drifting row gets one cause, the first that applies, in this order (`CAUSES`):

1. `unmapped_listing`: the listing matches no sellable SKU, or the SKU has no listing on the
   channel (the identity asset reports why). Publishing cannot correct it: map it in
   `mappings.yml` or fix the channel's catalog.
2. `dead_letter`: an open publish dead letter holds an update of this listing (the channel
   refused it, or it ran out of attempts): an operator's case (the next full publish plans
   the listing again, and stays red until the letter is replayed or discarded).
3. `stale_compare`: the channel shows less than expected, and a compare-and-set on its SKU came
   back stale with a drop no order has explained yet: the channel sold units we have not heard
   of (the allocation counts them as pending until orders explain them).
4. `pending_order`: the channel shows less than expected by no more than the units its orders
   for the SKU took after the expected figure was computed: sold on the channel, not yet in the
   expected figure (the next allocation holds them).
5. `channel_edit`: the read-back, newer than our last acknowledgement, differs from it by more
   than what the channel's own orders took since: someone changed it on the channel.
6. `missed_update`: the channel shows our last acknowledged quantity (less what it sold since),
   or a listing we never published, and that is not the expected one: the update was never
   sent, or was lost.

`difference` is `actual - expected` (a missing side counts 0): above 0 the channel offers more
than it should (oversell risk), below 0 it under-sells.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

#: the causes of drift, in the order they are decided (the first that applies wins)
CAUSES = (
    "unmapped_listing",
    "dead_letter",
    "stale_compare",
    "pending_order",
    "channel_edit",
    "missed_update",
)

UTC_TIME = pl.Datetime("us", "UTC")
#: quantities in the channel's unit are compared to order units converted to it: float noise
#: (a pack of 6 sold as 6 base units) never makes a difference
EPSILON = 1e-9

EXPECTED_SCHEMA = {
    "channel": pl.Utf8,
    "sku": pl.Utf8,
    "listing_id": pl.Utf8,
    "expected": pl.Int64,
    "expected_at": UTC_TIME,
}
READ_BACK_SCHEMA = {
    "channel": pl.Utf8,
    "listing_id": pl.Utf8,
    "sku": pl.Utf8,
    "quantity": pl.Int64,
    "read_at": UTC_TIME,
}
ACKNOWLEDGED_SCHEMA = {
    "channel": pl.Utf8,
    "listing_id": pl.Utf8,
    "quantity": pl.Int64,
    "acknowledged_at": UTC_TIME,
}
SALES_SCHEMA = {"channel": pl.Utf8, "sku": pl.Utf8, "units": pl.Float64, "accepted_at": UTC_TIME}
DEAD_LETTERS_SCHEMA = {"channel": pl.Utf8, "listing_id": pl.Utf8, "dead_letter_id": pl.Int64}
DROPS_SCHEMA = {"channel": pl.Utf8, "sku": pl.Utf8, "units": pl.Int64}
DRIFT_SCHEMA = {
    "channel": pl.Utf8,
    "sku": pl.Utf8,
    "listing_id": pl.Utf8,
    "expected": pl.Int64,
    "actual": pl.Int64,
    "difference": pl.Int64,
    "cause": pl.Utf8,
    "acknowledged": pl.Int64,
    "detail": pl.Utf8,
    "observed_at": UTC_TIME,
}


def _frame(data: pl.DataFrame | None, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """`data` with exactly `schema`'s columns and types (empty when None)."""
    if data is None:
        return pl.DataFrame(schema=dict(schema))
    return data.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger knows that explains drift, as frames (see the module docstring).

    - `acknowledged`: channel, listing_id, quantity, acknowledged_at (the last acknowledgement);
    - `sales`: channel, sku, units (in the channel's unit), accepted_at: order units not
      released (cancelled before Odoo reserved them), from the order inbox;
    - `dead_letters`: channel, listing_id, dead_letter_id of open publish dead letters;
    - `drops`: channel, sku, units: compare-and-set drops no order has explained yet.
    """

    acknowledged: pl.DataFrame | None = None
    sales: pl.DataFrame | None = None
    dead_letters: pl.DataFrame | None = None
    drops: pl.DataFrame | None = None

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The four frames, typed (an absent one is empty)."""
        return (
            _frame(self.acknowledged, ACKNOWLEDGED_SCHEMA),
            _frame(self.sales, SALES_SCHEMA),
            _frame(self.dead_letters, DEAD_LETTERS_SCHEMA),
            _frame(self.drops, DROPS_SCHEMA),
        )


def expected_per_listing(
    allocation: pl.DataFrame,
    mapping: pl.DataFrame,
    expected_at: Mapping[str, datetime | None] | None = None,
) -> pl.DataFrame:
    """Per (channel, sku) of the allocation: its publishable quantity, the listing carrying it
    on the channel (null: none) and when the figure was computed (`expected_at` per channel)."""
    times = pl.DataFrame(
        [{"channel": c, "expected_at": t} for c, t in (expected_at or {}).items()],
        schema={"channel": pl.Utf8, "expected_at": UTC_TIME},
    )
    return (
        allocation.select(
            pl.col("channel").cast(pl.Utf8),
            "sku",
            pl.col("publishable").cast(pl.Int64).alias("expected"),
        )
        .join(
            mapping.select(pl.col("channel").cast(pl.Utf8), "sku", "listing_id"),
            on=["channel", "sku"],
            how="left",
        )
        .join(times, on="channel", how="left")
        .select(list(EXPECTED_SCHEMA))
        .cast(EXPECTED_SCHEMA)
    )


def _listings(read_back: pl.DataFrame) -> pl.DataFrame:
    """The read-back's listings (marker rows of unreadable channels left out)."""
    return (
        _frame(read_back, READ_BACK_SCHEMA)
        .filter(pl.col("listing_id").is_not_null())
        .rename({"sku": "listing_sku", "quantity": "shown"})
    )


def _shown(expected: pl.DataFrame, listings: pl.DataFrame, acknowledged: pl.DataFrame):
    """Mapped listings with what the channel shows: the read-back, or the acknowledgement
    where that is newer (then `from_read_back` is false)."""
    return (
        expected.filter(pl.col("listing_id").is_not_null())
        .join(listings, on=["channel", "listing_id"], how="inner")
        .join(
            acknowledged.rename({"quantity": "acknowledged"}),
            on=["channel", "listing_id"],
            how="left",
        )
        .with_columns(
            from_read_back=pl.col("acknowledged_at").is_null()
            | (pl.col("read_at") >= pl.col("acknowledged_at"))
        )
        .with_columns(
            actual=pl.when("from_read_back").then(pl.col("shown")).otherwise(pl.col("acknowledged"))
        )
    )


def sales_horizon(
    expected: pl.DataFrame, read_back: pl.DataFrame, acknowledged: pl.DataFrame | None
) -> datetime | None:
    """The oldest moment whose sales can explain drift: the earliest expected figure, or the
    earliest acknowledgement of a listing that shows something else than it or than expected
    (None: no sale can matter). Sales accepted before it need not be read."""
    acknowledged = _frame(acknowledged, ACKNOWLEDGED_SCHEMA)
    moved = _shown(_frame(expected, EXPECTED_SCHEMA), _listings(read_back), acknowledged).filter(
        (pl.col("shown") != pl.col("acknowledged")) | (pl.col("actual") != pl.col("expected"))
    )
    candidates = [
        expected["expected_at"].min() if expected.height else None,
        moved["acknowledged_at"].min() if moved.height else None,
    ]
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def _explained(
    rows: pl.DataFrame, sales: pl.DataFrame, letters: pl.DataFrame, drops: pl.DataFrame
) -> pl.DataFrame:
    """`rows` with the facts that may explain them: units the channel sold since our
    acknowledgement and since the expected figure, the dead letter holding the listing, and
    the unexplained drop of the SKU."""
    sold = (
        rows.select("channel", "listing_id", "sku", "acknowledged_at", "expected_at")
        .join(sales, on=["channel", "sku"], how="inner")
        .group_by("channel", "listing_id")
        .agg(
            pl.col("units")
            .filter(
                pl.col("acknowledged_at").is_not_null()
                & (pl.col("accepted_at") > pl.col("acknowledged_at"))
            )
            .sum()
            .alias("sold_since_ack"),
            pl.col("units")
            .filter(
                pl.col("expected_at").is_not_null()
                & (pl.col("accepted_at") > pl.col("expected_at"))
            )
            .sum()
            .alias("sold_not_expected"),
        )
    )
    held = letters.group_by("channel", "listing_id").agg(pl.col("dead_letter_id").min())
    dropped = drops.group_by("channel", "sku").agg(pl.col("units").sum().alias("dropped"))
    return (
        rows.join(sold, on=["channel", "listing_id"], how="left")
        .join(held, on=["channel", "listing_id"], how="left")
        .join(dropped, on=["channel", "sku"], how="left")
        .with_columns(
            pl.col("sold_since_ack").fill_null(0.0),
            pl.col("sold_not_expected").fill_null(0.0),
            pl.col("dropped").fill_null(0),
        )
    )


def _cause() -> pl.Expr:
    """The first cause that applies to a mapped listing (the order of `CAUSES`)."""
    short = pl.col("actual") < pl.col("expected")
    edited = (
        pl.col("from_read_back")
        & pl.col("acknowledged").is_not_null()
        & ((pl.col("acknowledged") - pl.col("sold_since_ack") - pl.col("actual")).abs() > EPSILON)
    )
    return (
        pl.when(pl.col("dead_letter_id").is_not_null())
        .then(pl.lit("dead_letter"))
        .when(short & (pl.col("dropped") > 0))
        .then(pl.lit("stale_compare"))
        .when(
            short & (pl.col("expected") - pl.col("actual") <= pl.col("sold_not_expected") + EPSILON)
        )
        .then(pl.lit("pending_order"))
        .when(edited)
        .then(pl.lit("channel_edit"))
        .otherwise(pl.lit("missed_update"))
    )


def _detail() -> pl.Expr:
    """One line a person reads: what the facts behind the cause are."""
    units = pl.col("sold_not_expected").round(3)
    return (
        pl.when(pl.col("cause") == "dead_letter")
        .then(
            pl.format(
                "open dead letter {} holds its update (shows {}, should show {}): "
                "`inventory-sync dlq show {}`",
                "dead_letter_id",
                "actual",
                "expected",
                "dead_letter_id",
            )
        )
        .when(pl.col("cause") == "stale_compare")
        .then(
            pl.format(
                "a stale compare-and-set showed {} unit(s) sold that no order explains yet",
                "dropped",
            )
        )
        .when(pl.col("cause") == "pending_order")
        .then(
            pl.format(
                "{} unit(s) sold on the channel since the expected figure was computed", units
            )
        )
        .when(pl.col("cause") == "channel_edit")
        .then(
            pl.format(
                "shows {} where we last set {} and it sold {} since: changed on the channel",
                "actual",
                "acknowledged",
                pl.col("sold_since_ack").round(3),
            )
        )
        .when(pl.col("acknowledged").is_null())
        .then(pl.format("never published: shows {}, should show {}", "actual", "expected"))
        .otherwise(
            pl.format(
                "still shows our last acknowledged {} (less its sales), should show {}",
                "acknowledged",
                "expected",
            )
        )
    )


def drift(
    expected: pl.DataFrame,
    read_back: pl.DataFrame,
    facts: LedgerFacts,
    *,
    now: datetime,
    only_skus: Collection[str] | None = None,
) -> pl.DataFrame:
    """Every listing (or SKU) of the channels in `expected` whose channel shows something else
    than it should, with its cause (see the module docstring); columns `DRIFT_SCHEMA`.

    `observed_at` is the channel's read-back time (`now` for a channel that showed no listing).
    In a run over a SKU subset (`only_skus`; `expected` and its mapping cover only the subset),
    a listing matching no SKU is judged only when its own SKU is in the subset: the others are
    the mapped listings of other SKUs.
    """
    expected = _frame(expected, EXPECTED_SCHEMA)
    listings = _listings(read_back)
    acknowledged, sales, letters, drops = facts.frames()
    channels = expected.select("channel").unique()
    read_at = listings.group_by("channel").agg(pl.col("read_at").max())

    mapped = _shown(expected, listings, acknowledged).filter(
        pl.col("actual").is_not_null() & (pl.col("actual") != pl.col("expected"))
    )
    mapped = (
        _explained(mapped, sales, letters, drops)
        .with_columns(cause=_cause())
        .with_columns(detail=_detail())
    )

    no_listing = (
        expected.filter(pl.col("listing_id").is_null() & (pl.col("expected") > 0))
        .join(read_at, on="channel", how="left")
        .with_columns(
            actual=pl.lit(None, dtype=pl.Int64),
            acknowledged=pl.lit(None, dtype=pl.Int64),
            cause=pl.lit("unmapped_listing"),
            detail=pl.format(
                "no listing on the channel carries this SKU; it should show {}", "expected"
            ),
        )
    )
    candidates = listings.join(channels, on="channel", how="semi")
    if only_skus is not None:
        candidates = candidates.filter(pl.col("listing_sku").is_in(list(only_skus)))
    unmatched = (
        candidates.join(
            expected.filter(pl.col("listing_id").is_not_null()),
            on=["channel", "listing_id"],
            how="anti",
        )
        .filter(pl.col("shown") > 0)
        .select(
            "channel",
            pl.col("listing_sku").alias("sku"),
            "listing_id",
            "read_at",
            expected=pl.lit(None, dtype=pl.Int64),
            actual=pl.col("shown"),
            acknowledged=pl.lit(None, dtype=pl.Int64),
            cause=pl.lit("unmapped_listing"),
            detail=pl.format("no sellable product matches this listing; it shows {}", "shown"),
        )
    )
    columns = ["channel", "sku", "listing_id", "expected", "actual", "acknowledged"]
    columns += ["cause", "detail", "read_at"]
    return (
        pl.concat(
            [f.select(columns) for f in (mapped, no_listing, unmatched)], how="vertical_relaxed"
        )
        .with_columns(
            difference=pl.col("actual").fill_null(0) - pl.col("expected").fill_null(0),
            observed_at=pl.col("read_at").fill_null(pl.lit(now, dtype=UTC_TIME)),
        )
        .select(list(DRIFT_SCHEMA))
        .cast(DRIFT_SCHEMA)
        .sort("channel", "cause", "sku", "listing_id", nulls_last=True)
    )


def summarize(
    drift_frame: pl.DataFrame, read_back: pl.DataFrame, channels: Iterable[str]
) -> pl.DataFrame:
    """Per channel: `listings_compared` (listings read back with a quantity), `drift_skus`
    (drifting rows: a SKU, or a listing no SKU matches), `drift_units` (the sum of the
    differences' sizes) and `drift_<cause>` for every cause."""
    names = pl.DataFrame({"channel": list(channels)}, schema={"channel": pl.Utf8})
    compared = (
        _listings(read_back)
        .filter(pl.col("shown").is_not_null())
        .group_by("channel")
        .agg(pl.len().cast(pl.Int64).alias("listings_compared"))
    )
    drifting = drift_frame.group_by("channel").agg(
        pl.len().cast(pl.Int64).alias("drift_skus"),
        pl.col("difference").abs().sum().cast(pl.Int64).alias("drift_units"),
        *[
            (pl.col("cause") == cause).sum().cast(pl.Int64).alias(f"drift_{cause}")
            for cause in CAUSES
        ],
    )
    counts = ["listings_compared", "drift_skus", "drift_units", *(f"drift_{c}" for c in CAUSES)]
    return (
        names.join(compared, on="channel", how="left")
        .join(drifting, on="channel", how="left")
        .with_columns(pl.col(counts).fill_null(0))
        .select("channel", *counts)
    )
