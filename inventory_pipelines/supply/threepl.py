"""A 3PL warehouse's stock from its feed, and what that stock does to the warehouse's
canonical rows (pure functions of frames).

3PLs speak our SKUs: the feed's code is our SKU (Odoo's `default_code`), matched to
`odoo/products` directly; a code that is no product of ours is quarantined as
``unknown_sku``, one that names several products (a `default_code` used twice in Odoo) as
``ambiguous_code``. Quantities are in the product's base unit. Besides, the cleaning's
reasons apply (`supply/rows.py`: duplicates, negatives, unparsable values, a cut-off line).

`apply_threepl_stock` turns a warehouse's ``stock_source`` (`warehouses.yml`) into its
canonical rows:

- ``odoo``: unchanged (the feed is only compared: `reconciliation/threepl.py`);
- ``feed``: ``on_hand`` is the 3PL's quantity (0 for a SKU its feed does not list, and for
  every SKU while its feed is stale or unread), less what Odoo saw leave the warehouse since
  the feed was written; Odoo's reservations, quality hold and transit stay; a SKU only the
  3PL holds gets a row;
- ``both``: ``on_hand`` is the lower of Odoo's and the 3PL's (less the same shipments): only
  what both see is sold.

``available`` is then max(0, on_hand - reserved) again, and ``odoo_on_hand`` keeps Odoo's own
figure, so the 3PL drift can still be measured on the result.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from inventory_pipelines.inventory.canonical import CANONICAL_SCHEMA, QUANTITY_DECIMALS
from inventory_pipelines.rules.warehouses import StockSource, Warehouse, WarehouseRules
from inventory_pipelines.supply.model import BODY_PROBLEMS, FeedRead
from inventory_pipelines.supply.rows import (
    REJECTED_SCHEMA,
    UTC_TIME,
    clean_read,
    feed_problem_row,
    quarantine_rows,
)

THREEPL_STOCK_SCHEMA: dict[str, pl.DataType] = {
    "warehouse": pl.Utf8(),
    "sku": pl.Utf8(),
    "product_id": pl.Int64(),
    "feed_quantity": pl.Float64(),
    "quantity": pl.Float64(),
    "fresh": pl.Boolean(),
    "as_of": UTC_TIME,
    "written_at": UTC_TIME,
    "uom": pl.Utf8(),
    "source": pl.Utf8(),
    "reason": pl.Utf8(),
}

#: the canonical frame `apply_threepl_stock` returns: the canonical columns and Odoo's on-hand
APPLIED_SCHEMA: dict[str, pl.DataType] = {**CANONICAL_SCHEMA, "odoo_on_hand": pl.Float64()}


def _unknown_written(first_fetch: datetime | None, warehouse: Warehouse) -> datetime | None:
    """Since when a 3PL's shipments are taken off a feed whose writing time is unknown (a
    server without Last-Modified, a first body): one freshness window before its first fetch.
    What shipped after the 3PL wrote the file but before we read it is in neither the file nor
    Odoo's reservations; a file older than that window is as good as stale."""
    if first_fetch is None:
        return None
    return first_fetch - timedelta(hours=warehouse.freshness_hours)


def threepl_stock(
    read: FeedRead, products: pl.DataFrame, warehouse: Warehouse, *, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`(threepl_stock, quarantine)` for one 3PL warehouse from its feed as read."""
    feed_as_of, parsed, kept, rejected = clean_read(
        read,
        warehouse.feed,
        freshness_hours=warehouse.freshness_hours,
        now=now,
        written_after=read.written_after or _unknown_written(read.written_by, warehouse),
    )
    catalog = (
        products.lazy()
        .filter(pl.col("sku").is_not_null())
        .group_by("sku")
        .agg(
            pl.col("product_id").first(),
            pl.col("base_uom").first().alias("uom"),
            pl.len().alias("_products"),
        )
        .collect()
    )
    joined = kept.join(catalog, left_on="code", right_on="sku", how="left").with_columns(
        sku=pl.col("code")
    )
    reason = (
        pl.when(pl.col("_products").is_null())
        .then(pl.lit("unknown_sku"))
        .when(pl.col("_products") > 1)
        .then(pl.lit("ambiguous_code"))
    )
    joined = joined.with_columns(_reason=reason)
    unmapped = joined.filter(pl.col("_reason").is_not_null())
    raw_of = parsed.filter(pl.col("line").is_in(unmapped["line"].implode())).select("line", "raw")
    unmapped = unmapped.join(raw_of, on="line", how="left").select(
        "line",
        "code",
        pl.col("feed_quantity").alias("quantity"),
        pl.col("_reason").alias("reason"),
        pl.when(pl.col("_reason") == "unknown_sku")
        .then(pl.format("SKU {} is no product in Odoo (3PL feeds use our SKUs)", pl.col("code")))
        .otherwise(
            pl.format("SKU {} is the default_code of {} products in Odoo", "code", "_products")
        )
        .alias("detail"),
        "raw",
    )
    stale_reason = pl.format(
        "stale: true as of {}, older than {} h (warehouses.yml freshness_hours of {})",
        pl.col("as_of").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pl.lit(f"{warehouse.freshness_hours:g}"),
        pl.lit(warehouse.code),
    )
    stock = (
        joined.filter(pl.col("_reason").is_null())
        .select(
            pl.lit(warehouse.code).alias("warehouse"),
            "sku",
            "product_id",
            "feed_quantity",
            pl.when(pl.col("fresh")).then(pl.col("feed_quantity")).otherwise(0.0).alias("quantity"),
            "fresh",
            "as_of",
            "written_at",
            "uom",
            pl.lit(read.source).alias("source"),
            pl.when(~pl.col("fresh")).then(stale_reason).otherwise(None).alias("reason"),
        )
        .cast(THREEPL_STOCK_SCHEMA)  # type: ignore[arg-type]
        .sort("sku")
    )
    quarantine = [
        quarantine_rows(
            rejected, feed=read.feed, source=read.source, as_of=feed_as_of, warehouse=warehouse.code
        ),
        quarantine_rows(
            unmapped.cast(REJECTED_SCHEMA),  # type: ignore[arg-type]
            feed=read.feed,
            source=read.source,
            as_of=feed_as_of,
            warehouse=warehouse.code,
        ),
    ]
    if read.problem is not None and read.problem.reason in BODY_PROBLEMS:
        quarantine.append(
            feed_problem_row(
                read.problem.reason,
                read.problem.detail,
                read.problem.excerpt or "",
                feed=read.feed,
                source=read.source,
                as_of=now,
            ).with_columns(warehouse=pl.lit(warehouse.code))
        )
    return stock, pl.concat(quarantine).sort("record_id", nulls_last=True)


#: what left a warehouse, per done move (`shipments`)
SHIPMENTS_SCHEMA: dict[str, pl.DataType] = {
    "warehouse": pl.Utf8(),
    "sku": pl.Utf8(),
    "quantity": pl.Float64(),
    "date": UTC_TIME,
}


def shipments(moves: pl.DataFrame, locations: pl.DataFrame, warehouses: list[str]) -> pl.DataFrame:
    """The done moves (`odoo/stock_moves`: base units, with the SKU) that took stock out of one
    of `warehouses`: from an internal location of it to any location outside it (a customer, a
    transit, another warehouse, a scrap); `SHIPMENTS_SCHEMA`."""
    where = locations.select("location_id", pl.col("warehouse_code").alias("_from"))
    to = locations.select(
        pl.col("location_id").alias("location_dest_id"), pl.col("warehouse_code").alias("_to")
    )
    return (
        moves.lazy()
        .filter(pl.col("state") == "done", pl.col("source_usage") == "internal")
        .join(where.lazy(), on="location_id", how="inner")
        .filter(pl.col("_from").is_in(warehouses))
        .join(to.lazy(), on="location_dest_id", how="left")
        .filter(pl.col("_to").is_null() | (pl.col("_to") != pl.col("_from")))
        .select(pl.col("_from").alias("warehouse"), "sku", "quantity", "date")
        .collect()
        .cast(SHIPMENTS_SCHEMA)  # type: ignore[arg-type]
    )


def apply_threepl_stock(
    canonical: pl.DataFrame,
    threepl: pl.DataFrame,
    warehouses: WarehouseRules,
    shipped: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The canonical inventory with each 3PL warehouse's on-hand taken from its feed as its
    ``stock_source`` says (module docstring); `APPLIED_SCHEMA`, sorted by (sku, warehouse).

    `shipped` (`SHIPMENTS_SCHEMA`, from `shipments`): what Odoo saw leave the warehouse. What
    left after a feed row was written is taken off that row's quantity: the 3PL's figure
    still counts it, and Odoo no longer reserves it, so it would be sold again until the next
    feed (a shipment the figure already counted is taken off twice: one feed's worth of
    under-selling, never an oversell)."""
    canonical = canonical.with_columns(
        odoo_on_hand=pl.col("odoo_on_hand") if "odoo_on_hand" in canonical.columns else "on_hand"
    ).select(list(APPLIED_SCHEMA))
    sources = {
        w.code: w.stock_source for w in warehouses.warehouses if w.stock_source != StockSource.ODOO
    }
    if not sources:
        return canonical.cast(APPLIED_SCHEMA).sort("sku", "warehouse")  # type: ignore[arg-type]
    touched = list(sources)
    by_feed = [code for code, source in sources.items() if source is StockSource.FEED]
    feed = threepl.filter(pl.col("warehouse").is_in(touched))
    # a partition written before `written_at` existed: one freshness window before its as_of
    window = pl.col("warehouse").replace_strict(
        {w.code: w.freshness_hours for w in warehouses.warehouses}, default=24.0
    )
    unknown = pl.col("as_of") - pl.duration(hours=1) * window
    written = (
        pl.coalesce(pl.col("written_at"), unknown) if "written_at" in feed.columns else unknown
    )
    feed = feed.select(
        "warehouse",
        "sku",
        pl.col("product_id").alias("_feed_product"),
        pl.col("uom").alias("_feed_uom"),
        pl.col("as_of").alias("_feed_as_of"),
        written.alias("_written"),
        pl.col("quantity").alias("_feed"),
    )
    if shipped is not None and shipped.height:
        since = (
            feed.select("warehouse", "sku", "_written")
            .join(shipped.cast(SHIPMENTS_SCHEMA), on=["warehouse", "sku"], how="inner")  # type: ignore[arg-type]
            .filter(pl.col("date") > pl.col("_written"))
            .group_by("warehouse", "sku")
            .agg(pl.col("quantity").sum().alias("_shipped"))
        )
        feed = (
            feed.join(since, on=["warehouse", "sku"], how="left")
            .with_columns(
                _feed=(pl.col("_feed") - pl.col("_shipped").fill_null(0.0)).clip(lower_bound=0.0)
            )
            .drop("_shipped")
        )
    feed = feed.drop("_written")
    mine = canonical.filter(pl.col("warehouse").is_in(touched))
    merged = mine.join(feed, on=["sku", "warehouse"], how="full", coalesce=True)
    odoo = pl.col("odoo_on_hand").fill_null(0.0)
    reported = pl.col("_feed").fill_null(0.0)
    on_hand = (
        pl.when(pl.col("warehouse").is_in(by_feed))
        .then(reported)
        .otherwise(pl.min_horizontal(odoo, reported))
    )
    merged = (
        merged.with_columns(
            # a SKU only the 3PL holds gets a row where the feed is the stock and it has some
            _keep=pl.col("on_hand").is_not_null()
            | (pl.col("warehouse").is_in(by_feed) & (reported > 0)),
            product_id=pl.coalesce("product_id", "_feed_product"),
            uom=pl.coalesce("uom", "_feed_uom"),
            as_of=pl.coalesce("as_of", "_feed_as_of"),
        )
        .filter(pl.col("_keep"))
        .with_columns(
            on_hand=on_hand.round(QUANTITY_DECIMALS),
            odoo_on_hand=odoo,
            reserved=pl.col("reserved").fill_null(0.0),
            quality_hold=pl.col("quality_hold").fill_null(0.0),
            in_transit=pl.col("in_transit").fill_null(0.0),
        )
        .with_columns(
            available=pl.max_horizontal(pl.col("on_hand") - pl.col("reserved"), pl.lit(0.0)).round(
                QUANTITY_DECIMALS
            )
        )
        .select(list(APPLIED_SCHEMA))
    )
    untouched = canonical.filter(~pl.col("warehouse").is_in(touched))
    return pl.concat([untouched.cast(APPLIED_SCHEMA), merged.cast(APPLIED_SCHEMA)]).sort(  # type: ignore[arg-type]
        "sku", "warehouse"
    )
