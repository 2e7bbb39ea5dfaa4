"""A drop-ship vendor's stock from its feed: cleaned, mapped to our SKUs, judged for
freshness, buffered (a pure function of frames: `vendor_stock`).

Mapping: the vendor's code is our product through Odoo's `product.supplierinfo` rows of the
vendor's partner (`vendors.yml` ``odoo_partner``), as `odoo/supply.py::read_supplierinfo`
reads them (`SUPPLIERINFO_SCHEMA`). Where Odoo lists one code several times for one product
(price breaks by quantity) the row of lowest ``sequence`` applies. Quarantined, besides the
cleaning's reasons (`supply/rows.py`):

- ``unknown_code``: no supplierinfo row of the vendor has that code;
- ``ambiguous_code``: the vendor's code belongs to several of our products (a supplierinfo on
  a template with variants): never guessed;
- ``duplicate_sku``: two codes of the feed are one product of ours: none of them is used
  (as with a duplicate code).

The output (`VENDOR_STOCK_SCHEMA`) has one row per SKU the vendor supplies (every SKU its
supplierinfo lists, in the feed or not): ``feed_quantity`` (what the vendor says; 0 when it
says nothing usable), ``quantity`` (after the buffer; 0 when not fresh), ``fresh``, ``as_of``
(when the figure was true: its freshness), ``written_at`` (the figure was written after this:
the drop-ship units reserved in Odoo before it may be in it; null when that is unknown),
``lead_time_days`` (the larger of the rules' and the supplierinfo's delay), ``source`` and
``reason`` (why the quantity is 0 when it is not the vendor's figure: stale, not in the
feed, quarantined, no usable feed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from inventory_pipelines.rules.channels import SafetyBuffer
from inventory_pipelines.rules.vendors import Vendor
from inventory_pipelines.supply.model import BODY_PROBLEMS, FeedRead
from inventory_pipelines.supply.rows import (
    REJECTED_SCHEMA,
    UTC_TIME,
    clean_read,
    feed_problem_row,
    quarantine_rows,
)

SUPPLIERINFO_SCHEMA: dict[str, pl.DataType] = {
    "vendor_id": pl.Int64(),
    "vendor": pl.Utf8(),
    "vendor_code": pl.Utf8(),
    "sku": pl.Utf8(),
    "product_id": pl.Int64(),
    "min_qty": pl.Float64(),
    "delay_days": pl.Int64(),
    "sequence": pl.Int64(),
}

VENDOR_STOCK_SCHEMA: dict[str, pl.DataType] = {
    "vendor": pl.Utf8(),
    "sku": pl.Utf8(),
    "product_id": pl.Int64(),
    "vendor_code": pl.Utf8(),
    "feed_quantity": pl.Float64(),
    "quantity": pl.Float64(),
    "fresh": pl.Boolean(),
    "as_of": UTC_TIME,
    "written_at": UTC_TIME,
    "lead_time_days": pl.Int64(),
    "source": pl.Utf8(),
    "reason": pl.Utf8(),
}


def buffered(quantity: pl.Expr, buffer: SafetyBuffer) -> pl.Expr:
    """`quantity` less the buffer (units, or a percentage of it), never below 0."""
    held = quantity * (buffer.percent / 100) if buffer.percent is not None else buffer.units
    return (quantity - held).clip(lower_bound=0.0)


#: the order Odoo ranks a product's vendors in (the first applies)
RANK = ("sequence", "product_id")


def vendor_rows(supplierinfo: pl.DataFrame, partner: str) -> pl.DataFrame:
    """The supplierinfo rows of the vendor `partner`, typed, codes trimmed (empty: none),
    each marked when its code (`_code_repeated`) or its SKU (`_sku_repeated`) is on other rows
    too: most are not, and only those few are ever grouped (one hashing pass per column over
    a catalog of a million rows, not one per question)."""
    code = pl.col("vendor_code").str.strip_chars()
    return (
        supplierinfo.cast(SUPPLIERINFO_SCHEMA)  # type: ignore[arg-type]
        .filter(pl.col("vendor") == partner)
        .with_columns(vendor_code=pl.when(code != "").then(code))
        .with_columns(
            _code_repeated=pl.col("vendor_code").is_duplicated(),
            _sku_repeated=pl.col("sku").is_duplicated(),
        )
    )


def vendor_codes(rows: pl.DataFrame) -> pl.DataFrame:
    """Per code of a vendor's supplierinfo `rows` (`vendor_rows`): its SKU, product and delay
    (the lowest sequence); whether it names more than one of our products (`ambiguous`:
    several SKUs, or a price on a template of several variants, which has no SKU; `all_skus`
    then lists them); and whether its SKU is also another code's (`shared_sku`)."""
    rows = rows.filter(pl.col("vendor_code").is_not_null())
    # a code on one row (most of them) is its own answer; the others are grouped
    rows = rows.with_columns(_repeated=pl.col("_code_repeated") | pl.col("sku").is_null())
    several = rows.filter(pl.col("_repeated")).sort(*RANK, nulls_last=True, maintain_order=True)
    judged = several.group_by("vendor_code", maintain_order=True).agg(
        pl.col("sku").drop_nulls().first(),
        pl.col("product_id").drop_nulls().first(),
        pl.col("delay_days").first(),
        (pl.col("sku").is_null().any() | (pl.col("sku").drop_nulls().n_unique() > 1)).alias(
            "ambiguous"
        ),
        pl.concat_str(
            pl.col("sku").drop_nulls().unique(maintain_order=True).str.join(", "),
            pl.when(pl.col("sku").is_null().any())
            .then(pl.lit("a template of several variants"))
            .otherwise(pl.lit("")),
            separator="; ",
        )
        .str.strip_chars("; ")
        .alias("all_skus"),
    )
    single = rows.filter(~pl.col("_repeated")).select(
        "vendor_code",
        "sku",
        "product_id",
        "delay_days",
        pl.lit(False).alias("ambiguous"),
        pl.lit(None, pl.Utf8).alias("all_skus"),
    )
    codes = pl.concat([single, judged.select(single.columns)])
    # a SKU on several supplierinfo rows may have several codes: only those are compared
    shared = rows.filter(pl.col("_sku_repeated") & pl.col("sku").is_not_null())["sku"]
    return codes.with_columns(
        shared_sku=~pl.col("ambiguous") & pl.col("sku").is_in(shared.unique().implode()),
        all_skus=pl.when(pl.col("ambiguous")).then(pl.col("all_skus")),
    )


def vendor_skus(rows: pl.DataFrame) -> pl.DataFrame:
    """Every SKU in a vendor's supplierinfo `rows` (`vendor_rows`), with its first code and
    delay (lowest sequence; a row with a code before one without)."""
    rows = rows.filter(pl.col("sku").is_not_null())
    repeated = pl.col("_sku_repeated")
    several = (
        rows.filter(repeated)
        .sort(pl.col("vendor_code").is_null(), *RANK, nulls_last=True, maintain_order=True)
        .unique(subset="sku", keep="first", maintain_order=True)
    )
    return pl.concat([rows.filter(~repeated), several]).select(
        "sku", "product_id", "vendor_code", "delay_days"
    )


def vendor_stock(
    read: FeedRead, supplierinfo: pl.DataFrame, vendor: Vendor, *, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`(vendor_stock, quarantine)` for one vendor from its feed as read (see the module)."""
    freshness = timedelta(hours=vendor.freshness_hours)
    feed_as_of, parsed, kept, rejected = clean_read(
        read, vendor.feed, freshness_hours=vendor.freshness_hours, now=now
    )
    rows = vendor_rows(supplierinfo, vendor.odoo_partner)
    codes = vendor_codes(rows)
    joined = kept.join(codes, left_on="code", right_on="vendor_code", how="left")
    has_supplierinfo = codes.height > 0
    unknown_detail = (
        pl.format(
            "code {} is not a product code of {} in Odoo's product.supplierinfo",
            pl.col("code"),
            pl.lit(vendor.odoo_partner),
        )
        if has_supplierinfo
        else pl.lit(
            f"Odoo has no product.supplierinfo with a product code for the partner "
            f"{vendor.odoo_partner!r} (vendors.yml odoo_partner of {vendor.code})"
        )
    )
    # two codes of the feed that are one product of ours: only possible for a SKU the
    # supplierinfo gives several codes (`shared_sku`), so only those rows are compared
    shared = joined.filter(pl.col("shared_sku").fill_null(False))
    twice = shared.filter(pl.col("sku").is_duplicated())["line"]
    mapping_reason = (
        pl.when(pl.col("ambiguous").is_null())
        .then(pl.lit("unknown_code"))
        .when(pl.col("ambiguous"))
        .then(pl.lit("ambiguous_code"))
        .when(pl.col("line").is_in(twice.implode()))
        .then(pl.lit("duplicate_sku"))
    )
    joined = joined.with_columns(_reason=mapping_reason)
    unmapped = joined.filter(pl.col("_reason").is_not_null())
    raw_of = parsed.filter(pl.col("line").is_in(unmapped["line"].implode())).select("line", "raw")
    unmapped = unmapped.join(raw_of, on="line", how="left")
    codes_of_sku = (
        unmapped.filter(pl.col("_reason") == "duplicate_sku")
        .group_by("sku")
        .agg(pl.col("code").sort().str.join(", ").alias("_codes"))
    )
    unmapped = unmapped.join(codes_of_sku, on="sku", how="left").select(
        "line",
        "code",
        pl.col("feed_quantity").alias("quantity"),
        pl.col("_reason").alias("reason"),
        pl.when(pl.col("_reason") == "unknown_code")
        .then(unknown_detail)
        .when(pl.col("_reason") == "ambiguous_code")
        .then(
            pl.format(
                "code {} names several of our products in Odoo's supplierinfo ({}): not guessed",
                pl.col("code"),
                pl.col("all_skus"),
            )
        )
        .otherwise(
            pl.format(
                "SKU {} is the product of codes {} in this feed: none of them is used",
                pl.col("sku"),
                pl.col("_codes"),
            )
        )
        .alias("detail"),
        "raw",
        pl.when(pl.col("_reason") == "duplicate_sku").then(pl.col("sku")).alias("sku"),
        pl.when(pl.col("_reason") == "duplicate_sku")
        .then(pl.col("product_id"))
        .alias("product_id"),
    )
    stale_reason = pl.format(
        "stale: true as of {}, older than {} h (vendors.yml freshness_hours of {})",
        pl.col("as_of").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pl.lit(f"{vendor.freshness_hours:g}"),
        pl.lit(vendor.code),
    )
    mapped = joined.filter(pl.col("_reason").is_null()).select(
        pl.lit(vendor.code).alias("vendor"),
        "sku",
        "product_id",
        pl.col("code").alias("vendor_code"),
        "feed_quantity",
        pl.when(pl.col("fresh"))
        .then(buffered(pl.col("feed_quantity"), vendor.buffer))
        .otherwise(0.0)
        .alias("quantity"),
        "fresh",
        "as_of",
        "written_at",
        pl.max_horizontal(pl.lit(vendor.lead_time_days), pl.col("delay_days").fill_null(0))
        .cast(pl.Int64)
        .alias("lead_time_days"),
        pl.lit(read.source).alias("source"),
        pl.when(~pl.col("fresh")).then(stale_reason).otherwise(None).alias("reason"),
    )
    # every other SKU the vendor supplies: 0, and why
    why_not = (
        pl.concat([rejected.select("code", "reason"), unmapped.select("code", "reason")])
        .group_by("code")
        .agg(pl.col("reason").unique().sort().str.join(", ").alias("_why"))
        .rename({"code": "vendor_code"})
    )
    feed_fresh = feed_as_of >= now - freshness
    if read.parsed is None:
        no_feed = read.problem.describe() if read.problem else "no feed was ever read"
        absent_reason = pl.lit(f"no usable feed: {no_feed}")
    else:
        absent_reason = (
            pl.when(pl.col("_why").is_not_null())
            .then(pl.format("quarantined ({})", pl.col("_why")))
            .when(pl.col("vendor_code").is_null())
            .then(pl.lit("no product code for it in Odoo's supplierinfo of the vendor"))
            .otherwise(pl.lit("not in the feed"))
        )
    absent = (
        vendor_skus(rows)
        .join(mapped.select("sku"), on="sku", how="anti")
        .join(why_not, on="vendor_code", how="left")
        .select(
            pl.lit(vendor.code).alias("vendor"),
            "sku",
            "product_id",
            "vendor_code",
            pl.lit(0.0).alias("feed_quantity"),
            pl.lit(0.0).alias("quantity"),
            pl.lit(read.parsed is not None and feed_fresh).alias("fresh"),
            pl.lit(feed_as_of, UTC_TIME).alias("as_of"),
            pl.lit(read.written_after, UTC_TIME).alias("written_at"),
            pl.max_horizontal(pl.lit(vendor.lead_time_days), pl.col("delay_days").fill_null(0))
            .cast(pl.Int64)
            .alias("lead_time_days"),
            pl.lit(read.source).alias("source"),
            absent_reason.alias("reason"),
        )
    )
    # in no particular order: the IO manager writes it sorted by SKU
    stock = pl.concat([mapped.cast(VENDOR_STOCK_SCHEMA), absent.cast(VENDOR_STOCK_SCHEMA)])  # type: ignore[arg-type]
    feed = read.feed
    # a rejected row names the SKU its code maps to, where it maps to exactly one
    of_rejected = codes.filter(
        ~pl.col("ambiguous") & pl.col("vendor_code").is_in(rejected["code"].drop_nulls().implode())
    )
    named = rejected.join(
        of_rejected.select("vendor_code", "sku", "product_id"),
        left_on="code",
        right_on="vendor_code",
        how="left",
    )
    quarantine = [
        quarantine_rows(named, feed=feed, source=read.source, as_of=feed_as_of),
        quarantine_rows(
            unmapped.cast({**REJECTED_SCHEMA, "sku": pl.Utf8, "product_id": pl.Int64}),  # type: ignore[dict-item]
            feed=feed,
            source=read.source,
            as_of=feed_as_of,
        ),
    ]
    problem = read.problem
    if problem is not None and problem.reason in BODY_PROBLEMS:
        quarantine.append(
            feed_problem_row(
                problem.reason,
                problem.detail,
                problem.excerpt or "",
                feed=feed,
                source=read.source,
                as_of=now,
            )
        )
    return stock, pl.concat(quarantine).sort("record_id", nulls_last=True)
