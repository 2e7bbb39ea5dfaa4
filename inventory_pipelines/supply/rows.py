"""Cleaning a parsed feed: each row is kept (a code, a quantity, when it was true) or
quarantined with its reason, never dropped silently; and the quarantine's shape.

Rules, in the order they are decided (the first that applies is the row's reason):

1. ``truncated_line``, ``ragged_line``, ``undecodable``: what the parse marked (`supply/parse.py`);
2. ``missing_code``: no product code;
3. ``duplicate_code``: a code the feed lists more than once. **None of its rows is used**:
   two quantities for one product cannot both be true, first-wins and last-wins are both
   guesses (feeds append corrections at either end), and counting none under-sells one
   product for one cycle where a guess could oversell it;
4. ``unparsable_quantity``: not a finite number (``12x``, ``1,000``, empty);
5. ``negative_quantity``;
6. ``unparsable_updated_at``: an ``updated_at`` given but not a date-time (ISO 8601 with or
   without an offset, ``YYYY-MM-DD HH:MM:SS`` or a date; a time without an offset is in the
   feed's ``columns.timezone``, UTC unless the rules say otherwise).

A kept row is true as of its ``updated_at`` when the feed has one (cut to when the body was
written at the latest: a time in the future is the writer's clock, not a fresher figure),
else as of the feed's own time (Last-Modified, the file's modification time, or when the feed
was last served or confirmed); it is ``fresh`` when that is within the freshness limit.

The quarantine has the columns of `inventory/quarantine` (`QUARANTINE_SCHEMA`: ``source``,
``record_id`` the line, ``quantity``, ``reason``, ``detail``, ``as_of``...) plus ``feed``
(``vendor:<code>``, ``threepl:<warehouse>``), ``code`` and ``raw`` (the row as read).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import polars as pl

from inventory_pipelines.inventory.canonical import QUARANTINE_SCHEMA
from inventory_pipelines.supply.model import FeedRead
from inventory_pipelines.supply.parse import empty_parsed

UTC_TIME = pl.Datetime("us", "UTC")

SUPPLY_QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    **QUARANTINE_SCHEMA,
    "feed": pl.Utf8(),
    "code": pl.Utf8(),
    "raw": pl.Utf8(),
}

#: every reason a supplier feed's row (or the whole feed) is quarantined for
SUPPLY_QUARANTINE_REASONS = (
    # the whole feed
    "truncated_feed",
    "malformed_feed",
    "missing_columns",
    # one row
    "truncated_line",
    "ragged_line",
    "undecodable",
    "missing_code",
    "duplicate_code",
    "unparsable_quantity",
    "negative_quantity",
    "unparsable_updated_at",
    # mapping to our SKUs
    "unknown_code",
    "ambiguous_code",
    "duplicate_sku",
    "unknown_sku",
)

#: the kept rows: `clean`'s first frame (a row's `raw` stays in the parse: `line` finds it)
CLEAN_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "code": pl.Utf8(),
    "feed_quantity": pl.Float64(),
    "as_of": UTC_TIME,
    "written_at": UTC_TIME,
    "fresh": pl.Boolean(),
}
#: the rejected rows before they are shaped as quarantine rows
REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "code": pl.Utf8(),
    "quantity": pl.Float64(),
    "reason": pl.Utf8(),
    "detail": pl.Utf8(),
    "raw": pl.Utf8(),
}

_DEFECT_DETAIL = {
    "truncated_line": "the feed does not end with a newline: its last line was cut off in "
    "transfer and is not trusted",
    "ragged_line": "the row has more or fewer fields than the header: which value is which "
    "is not guessed",
    "undecodable": "bytes the declared encoding cannot decode (shown as U+FFFD): declare the "
    "feed's encoding in the rules",
}


def _local(naive: pl.Expr, timezone: str) -> pl.Expr:
    # a wall-clock time skipped by a DST change is no time: unparsable; one repeated by it is
    # taken at its earlier instant (the older reading: never fresher than it was)
    return naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


def parse_time(text: pl.Expr, timezone: str = "UTC") -> pl.Expr:
    """Text to a UTC time: ISO 8601 with an offset (or Z), without one (in `timezone`), or a
    date (its midnight in `timezone`)."""
    # `2026-12-01 08:00:00+01:00` (SQL's way) as `2026-12-01T08:00:00+01:00`
    text = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    aware = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="us"
    ).dt.convert_time_zone("UTC")
    naive = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    day = text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
    return pl.coalesce(aware, _local(naive, timezone), _local(day, timezone))


def parse_times(texts: pl.Series, timezone: str = "UTC") -> pl.Series:
    """`parse_time` over a column, each distinct text parsed once (a feed stamps many rows
    with one time: a million rows are then a handful of parses and a join)."""
    distinct = texts.drop_nulls().unique().to_frame("_text")
    parsed = distinct.with_columns(_at=parse_time(pl.col("_text"), timezone))
    joined = texts.to_frame("_text").join(parsed, on="_text", how="left", maintain_order="left")
    return joined["_at"]


def feed_timezone(feed: object) -> str:
    """The time zone a feed's ``updated_at`` without an offset is read in (UTC for a feed that
    declares no columns, such as a channel API)."""
    columns = getattr(feed, "columns", None)
    return columns.timezone if columns is not None else "UTC"


def clean(
    parsed: pl.DataFrame,
    *,
    feed_as_of: datetime,
    now: datetime,
    freshness: timedelta,
    written_by: datetime | None = None,
    written_after: datetime | None = None,
    timezone: str = "UTC",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a parsed feed into `(kept, rejected)`: `CLEAN_SCHEMA` and `REJECTED_SCHEMA`.

    A kept row's ``as_of`` (its freshness) is its ``updated_at`` (read in `timezone` when it
    has no offset), never later than `written_by` (the body cannot say more than it knew when
    it was written) nor `now`; without one, `feed_as_of`. Its ``written_at`` (what drop-ship
    units its figure may include) is that same time for a row with ``updated_at``, else
    `written_after` (None: unknown).
    """
    code = pl.col("code").str.strip_chars()
    quantity_text = pl.col("quantity").str.strip_chars()
    updated_text = pl.col("updated_at").str.strip_chars()
    staged = parsed.with_columns(
        code=pl.when(code != "").then(code),
        _quantity=quantity_text.cast(pl.Float64, strict=False),
        _updated_text=pl.when(updated_text != "").then(updated_text),
    )
    staged = staged.with_columns(_updated=parse_times(staged["_updated_text"], timezone))
    # a code listed more than once among the rows that have one and no defect (a cut-off last
    # line that repeats a code is not a second opinion on it)
    # (a ragged row still names its code first: a second opinion on it all the same)
    countable = (pl.col("defect").is_null() | (pl.col("defect") == "ragged_line")) & pl.col(
        "code"
    ).is_not_null()
    duplicated = countable & pl.when(countable).then(pl.col("code")).is_duplicated()
    quantity = pl.col("_quantity")
    reason = (
        pl.when(pl.col("defect").is_not_null())
        .then(pl.col("defect"))
        .when(pl.col("code").is_null())
        .then(pl.lit("missing_code"))
        .when(duplicated)
        .then(pl.lit("duplicate_code"))
        .when(quantity.is_null() | ~quantity.is_finite())
        .then(pl.lit("unparsable_quantity"))
        .when(quantity < 0)
        .then(pl.lit("negative_quantity"))
        .when(pl.col("_updated_text").is_not_null() & pl.col("_updated").is_null())
        .then(pl.lit("unparsable_updated_at"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    staged = staged.with_columns(reason=reason)
    latest = min(written_by or now, now)
    stamped = pl.when(pl.col("_updated").is_not_null()).then(
        pl.min_horizontal(pl.col("_updated"), pl.lit(latest, UTC_TIME))
    )
    kept = staged.filter(pl.col("reason").is_null()).select(
        "line",
        "code",
        pl.col("_quantity").alias("feed_quantity"),
        stamped.fill_null(pl.lit(feed_as_of, UTC_TIME)).alias("as_of"),
        stamped.fill_null(pl.lit(written_after, UTC_TIME)).alias("written_at"),
    )
    kept = kept.with_columns(fresh=pl.col("as_of") >= pl.lit(now - freshness, UTC_TIME)).select(
        list(CLEAN_SCHEMA)
    )
    rejected = staged.filter(pl.col("reason").is_not_null())
    rejected = rejected.with_columns(
        _copies=pl.when(pl.col("reason") == "duplicate_code").then(
            (pl.col("reason") == "duplicate_code").sum().over("code")
        )
    )
    detail = (
        pl.when(pl.col("reason").is_in(list(_DEFECT_DETAIL)))
        .then(pl.col("reason").replace_strict(_DEFECT_DETAIL, default=None))
        .when(pl.col("reason") == "missing_code")
        .then(pl.lit("the row has no product code"))
        .when(pl.col("reason") == "duplicate_code")
        .then(
            pl.format(
                "code {} appears {} times in the feed: none of its rows is used",
                pl.col("code"),
                pl.col("_copies"),
            )
        )
        .when(pl.col("reason") == "unparsable_quantity")
        .then(pl.format("quantity '{}' is not a number", pl.col("quantity").fill_null("")))
        .when(pl.col("reason") == "negative_quantity")
        .then(pl.format("quantity {} is negative", pl.col("quantity").str.strip_chars()))
        .otherwise(
            pl.format("updated_at '{}' is not a date-time", pl.col("_updated_text").fill_null(""))
        )
    )
    rejected = rejected.select(
        "line",
        "code",
        pl.when(pl.col("_quantity").is_finite()).then(pl.col("_quantity")).alias("quantity"),
        "reason",
        detail.alias("detail"),
        "raw",
    )
    return kept, rejected.cast(REJECTED_SCHEMA)  # type: ignore[arg-type]


class CleanRead(NamedTuple):
    """A feed as read, cleaned: its parse, the kept and rejected rows (`clean`), and the time a
    row without its own is true as of."""

    feed_as_of: datetime
    parsed: pl.DataFrame
    kept: pl.DataFrame
    rejected: pl.DataFrame


def clean_read(
    read: FeedRead,
    feed: object,
    *,
    freshness_hours: float,
    now: datetime,
    written_after: datetime | None = None,
) -> CleanRead:
    """`clean` over a feed as read (none read: no rows), with its times: `written_after`
    where the caller knows better than the read (else the read's)."""
    feed_as_of = read.feed_as_of or read.fetched_at or now
    parsed = read.parsed if read.parsed is not None else empty_parsed()
    kept, rejected = clean(
        parsed,
        feed_as_of=feed_as_of,
        now=now,
        freshness=timedelta(hours=freshness_hours),
        written_by=read.written_by,
        written_after=written_after or read.written_after,
        timezone=feed_timezone(feed),
    )
    return CleanRead(feed_as_of, parsed, kept, rejected)


def quarantine_rows(
    rejected: pl.DataFrame,
    *,
    feed: str,
    source: str,
    as_of: datetime,
    warehouse: str | None = None,
) -> pl.DataFrame:
    """Rejected rows (`REJECTED_SCHEMA`, plus optional ``sku``/``product_id``) as quarantine
    rows (`SUPPLY_QUARANTINE_SCHEMA`)."""
    sku = pl.col("sku") if "sku" in rejected.columns else pl.lit(None, pl.Utf8)
    product = pl.col("product_id") if "product_id" in rejected.columns else pl.lit(None, pl.Int64)
    return rejected.select(
        pl.lit(source).alias("source"),
        pl.col("line").alias("record_id"),
        product.cast(pl.Int64).alias("product_id"),
        sku.cast(pl.Utf8).alias("sku"),
        pl.lit(None, pl.Int64).alias("location_id"),
        pl.lit(warehouse, pl.Utf8).alias("warehouse"),
        pl.col("quantity").cast(pl.Float64),
        "reason",
        "detail",
        pl.lit(as_of, UTC_TIME).alias("as_of"),
        pl.lit(feed).alias("feed"),
        "code",
        "raw",
    ).cast(SUPPLY_QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def feed_problem_row(
    reason: str, detail: str, excerpt: str, *, feed: str, source: str, as_of: datetime
) -> pl.DataFrame:
    """One quarantine row for a feed that could not be read at all (its reason, the end of
    its body as `raw`)."""
    rejected = pl.DataFrame(
        [
            {
                "line": None,
                "code": None,
                "quantity": None,
                "reason": reason,
                "detail": detail,
                "raw": excerpt,
            }
        ],
        schema=REJECTED_SCHEMA,
    )
    return quarantine_rows(rejected, feed=feed, source=source, as_of=as_of)


def empty_quarantine() -> pl.DataFrame:
    """A quarantine without rows."""
    return pl.DataFrame(schema=SUPPLY_QUARANTINE_SCHEMA)
