"""Supply beyond the shelf as the allocation sees it: vendor stock and incoming purchases.

Pure Polars, like the engine. Each function turns one supply table into per-SKU columns the
engine joins onto its wide frame, with the text that names the source of every unit (the
vendor and its feed's age, the purchase order and its planned date), so `explain` can say
where a number came from.

- `supply/vendor_stock` (one row per vendor and SKU): `quantity` is what the vendor may sell us
  after its buffer, already 0 when its feed is stale; `fresh` and `as_of` say how old it is.
- `odoo/incoming_purchases` (one row per purchase order line): `quantity` units not yet
  received into `warehouse`, planned for `date_planned`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import polars as pl

from inventory_pipelines.rules.channels import Incoming

#: the columns of `supply/vendor_stock` the allocation reads
VENDOR_STOCK_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "vendor": pl.Utf8,
    "sku": pl.Utf8,
    "quantity": pl.Float64,
    "fresh": pl.Boolean,
    "as_of": pl.Datetime("us", "UTC"),
}
#: the columns of `odoo/incoming_purchases` the allocation reads
INCOMING_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "purchase_order": pl.Utf8,
    "line_id": pl.Int64,
    "vendor": pl.Utf8,
    "sku": pl.Utf8,
    "warehouse": pl.Utf8,
    "quantity": pl.Float64,
    "date_planned": pl.Datetime("us", "UTC"),
    "receipt_state": pl.Utf8,
}
#: receipt states whose units will not arrive (any more) through this line
CLOSED_RECEIPTS = ("done", "cancel", "cancelled")
#: the columns of the drop-ship pending rows (see :func:`dropship_pending`)
DROPSHIP_PENDING_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "sku": pl.Utf8,
    "units": pl.Float64,
    "reserved_at": pl.Datetime("us", "UTC"),
}


class SupplyFrameError(ValueError):
    """A supply table handed to the allocation lacks a column it needs."""


def _conformed(
    frame: pl.DataFrame | pl.LazyFrame,
    columns: Mapping[str, pl.DataType | type[pl.DataType]],
    what: str,
) -> pl.LazyFrame:
    """`frame` with exactly `columns`, cast to their types; timestamps as UTC (a naive one is
    taken to be UTC already)."""
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    missing = [c for c in columns if c not in schema]
    if missing:
        raise SupplyFrameError(
            f"{what} lacks column(s) {', '.join(missing)}; it needs {', '.join(columns)}"
        )
    exprs = []
    for name, dtype in columns.items():
        have = schema[name]
        if isinstance(have, pl.Datetime):
            expr = pl.col(name)
            expr = (
                expr.dt.convert_time_zone("UTC")
                if have.time_zone
                else expr.dt.replace_time_zone("UTC")
            )
            exprs.append(expr.cast(dtype))
        else:
            exprs.append(pl.col(name).cast(dtype))
    return lazy.select(exprs)


def units_text(expr: pl.Expr) -> pl.Expr:
    """`12` for whole units, `2.5` otherwise."""
    return (
        pl.when(expr == expr.floor())
        .then(expr.cast(pl.Int64).cast(pl.Utf8))
        .otherwise(expr.round(3).cast(pl.Utf8))
    )


def _age_text(as_of: pl.Expr, now: datetime) -> pl.Expr:
    """How long before `now` `as_of` was: `40 min`, `3.5 h` or `2.0 d`."""
    seconds = (pl.lit(now).cast(pl.Datetime("us", "UTC")) - as_of).dt.total_seconds()
    return (
        pl.when(seconds < 3600)
        .then(pl.format("{} min", (seconds / 60).floor().cast(pl.Int64)))
        .when(seconds < 48 * 3600)
        .then(pl.format("{} h", (seconds / 3600).round(1)))
        .otherwise(pl.format("{} d", (seconds / 86400).round(1)))
    )


def vendor_units(
    vendor_stock: pl.DataFrame | pl.LazyFrame, skus: pl.LazyFrame, now: datetime
) -> pl.LazyFrame:
    """sku, vendor (units the drop-ship vendors offer together), vendor_sources (each vendor,
    its units and its feed's date and age; a stale feed says so and counts 0), for `skus`.

    Optional columns of `supply/vendor_stock` make the text richer: `feed_quantity` (what the
    feed said, before the vendor's buffer) and `reason` (why a quantity is 0).
    """
    frame = vendor_stock.lazy()
    names = frame.collect_schema().names()
    extra = {
        name: dtype
        for name, dtype in (("feed_quantity", pl.Float64), ("reason", pl.Utf8))
        if name in names
    }
    rows = (
        _conformed(frame, {**VENDOR_STOCK_COLUMNS, **extra}, "supply/vendor_stock")
        .join(skus.select("sku"), on="sku", how="semi")
        .with_columns(
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in (("feed_quantity", pl.Float64), ("reason", pl.Utf8))
            if name not in extra
        )
    )
    fresh = pl.col("fresh").fill_null(False)
    units = pl.when(fresh).then(pl.col("quantity").fill_null(0.0).clip(lower_bound=0.0))
    units = units.otherwise(0.0)
    # a feed has one date for all its rows: its text is made once per date, not per row
    dates = (
        rows.select("as_of")
        .unique()
        .drop_nulls()
        .with_columns(
            _feed=pl.format(
                "feed of {}, {} old",
                pl.col("as_of").dt.strftime("%Y-%m-%d %H:%M UTC"),
                _age_text(pl.col("as_of"), now),
            )
        )
    )
    rows = rows.join(dates, on="as_of", how="left")
    feed = pl.col("_feed")
    buffered = (
        pl.when(pl.col("feed_quantity").is_not_null() & (pl.col("feed_quantity") != units))
        .then(
            pl.format(
                "{} in the feed less the vendor's buffer, ", units_text(pl.col("feed_quantity"))
            )
        )
        .otherwise(pl.lit(""))
    )
    why = pl.col("reason").fill_null(pl.lit("feed stale"))
    text = (
        pl.when(fresh & pl.col("as_of").is_not_null())
        .then(pl.format("{} {} ({}{})", pl.col("vendor"), units_text(units), buffered, feed))
        .when(pl.col("as_of").is_not_null())
        .then(pl.format("{} 0 ({}, {})", pl.col("vendor"), why, feed))
        .otherwise(
            pl.format(
                "{} 0 ({})", pl.col("vendor"), pl.col("reason").fill_null(pl.lit("no usable feed"))
            )
        )
    )
    return (
        rows.with_columns(_units=units, _text=text)
        .sort("sku", "vendor")
        .group_by("sku")
        .agg(
            pl.col("_units").sum().alias("vendor"),
            pl.col("_text").str.join("; ").alias("vendor_sources"),
        )
    )


def incoming_units(
    incoming: pl.DataFrame | pl.LazyFrame,
    skus: pl.LazyFrame,
    now: datetime,
    rule: Incoming,
    warehouses: Iterable[str],
) -> pl.LazyFrame:
    """sku, units, sources: `rule.percent` of the units of purchase lines into `warehouses`
    still to be received and planned within `rule.within_days` of `now` (before or after),
    rounded down to whole units; sources names each line (order, vendor, units, warehouse,
    planned date), earliest first."""
    window = timedelta(days=rule.within_days)
    lines = (
        _conformed(incoming, INCOMING_COLUMNS, "odoo/incoming_purchases")
        .join(skus.select("sku"), on="sku", how="semi")
        .filter(
            pl.col("warehouse").is_in(list(warehouses)),
            pl.col("quantity") > 0,
            ~pl.col("receipt_state").fill_null("").is_in(CLOSED_RECEIPTS),
            pl.col("date_planned").is_between(
                pl.lit(now - window).cast(pl.Datetime("us", "UTC")),
                pl.lit(now + window).cast(pl.Datetime("us", "UTC")),
            ),
        )
    )
    text = pl.format(
        "{} ({}) {} into {} planned {}",
        pl.col("purchase_order"),
        pl.col("vendor").fill_null("vendor unknown"),
        units_text(pl.col("quantity")),
        pl.col("warehouse"),
        pl.col("date_planned").dt.strftime("%Y-%m-%d %H:%M UTC"),
    )
    return (
        lines.with_columns(_text=text)
        .sort("sku", "date_planned", "purchase_order", "line_id")
        .group_by("sku")
        .agg(
            pl.col("quantity").sum().alias("_lines"),
            pl.col("_text").str.join("; ").alias("sources"),
        )
        .select(
            "sku",
            # whole units: a share of a unit is not on offer (the epsilon keeps 29.999999 at 30)
            ((pl.col("_lines") * rule.percent / 100 + 1e-9).floor()).alias("units"),
            pl.format(
                "{} of {} units: ", pl.lit(f"{rule.percent:g}%"), units_text(pl.col("_lines"))
            )
            .add(pl.col("sources"))
            .alias("sources"),
        )
    )


def dropship_pending(
    rows: pl.DataFrame, vendor_stock: pl.DataFrame | pl.LazyFrame | None
) -> pl.DataFrame:
    """sku, pending_dropship: units ordered on the drop-ship route that the vendors' feeds
    may not show yet.

    `rows` (sku, units, reserved_at): the ledger's open drop-ship units, `reserved_at` when the
    order went into Odoo (null: not yet). A unit counts until every fresh feed of a vendor of
    its SKU was written after that moment (the vendor has had the purchase order Odoo raised;
    its buffer covers one slower to book it): a row's ``written_at`` where the table has it
    (null, unknown, keeps the unit counting), else its ``as_of``; with no fresh feed for the
    SKU it counts on.
    """
    lazy = _conformed(rows, DROPSHIP_PENDING_COLUMNS, "drop-ship pending rows")
    if vendor_stock is not None:
        has_written = "written_at" in vendor_stock.lazy().collect_schema()
        columns = dict(VENDOR_STOCK_COLUMNS)
        if has_written:
            columns["written_at"] = pl.Datetime("us", "UTC")
        written = pl.col("written_at" if has_written else "as_of")
        oldest = (
            _conformed(vendor_stock, columns, "supply/vendor_stock")
            .filter(pl.col("fresh").fill_null(False))
            .group_by("sku")
            .agg(
                pl.when(written.is_null().any())
                .then(None)
                .otherwise(written.min())
                .alias("_feeds_as_of")
            )
        )
        lazy = lazy.join(oldest, on="sku", how="left")
    else:
        lazy = lazy.with_columns(_feeds_as_of=pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    counting = (
        pl.col("reserved_at").is_null()
        | pl.col("_feeds_as_of").is_null()
        | (pl.col("reserved_at") > pl.col("_feeds_as_of"))
    )
    return (
        lazy.filter(counting)
        .group_by("sku")
        .agg(pl.col("units").sum().alias("pending_dropship"))
        .sort("sku")
        .collect()
    )
