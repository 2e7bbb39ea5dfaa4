"""Product identity: which channel listing carries which SKU (DESIGN.md section 5).

The mapping is built from a channel's catalog by SKU, then by barcode, with the overrides of
`mappings.yml` first. What cannot be matched with certainty is reported, never guessed: a SKU
with no listing, a listing no product claims, a SKU or barcode that points at several.
"""

from __future__ import annotations

import polars as pl

from inventory_pipelines.rules.mappings import MappingRules

MAPPING_SCHEMA = {
    "channel": pl.Utf8,
    "sku": pl.Utf8,
    "listing_id": pl.Utf8,
    "matched_by": pl.Utf8,
    "pack_size": pl.Int64,
}
PROBLEM_SCHEMA = {
    "channel": pl.Utf8,
    "sku": pl.Utf8,
    "listing_id": pl.Utf8,
    "problem": pl.Utf8,
    "detail": pl.Utf8,
}


def sellable_skus(products: pl.DataFrame) -> pl.DataFrame:
    """The SKUs a channel may be told about: active, storable, with one product per SKU."""
    return (
        products.filter(pl.col("sku").is_not_null())
        .filter(~pl.col("sku").is_duplicated())
        .filter(pl.col("active") & pl.col("storable"))
        .select("sku", *(["category"] if "category" in products.columns else []))
    )


def map_listings(
    channel: str,
    products: pl.DataFrame,
    listings: pl.DataFrame,
    overrides: MappingRules,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return `(mapping, problems)` for one channel.

    `products`: sku, barcode (the sellable products). `listings`: listing_id, sku, barcode (the
    channel's catalog). Each SKU and each listing appears at most once in the mapping.
    """
    forced = pl.DataFrame(
        [
            {"sku": m.sku, "listing_id": m.listing_id, "pack_size": m.pack_size}
            for m in overrides.mappings
            if m.channel == channel
        ],
        schema={"sku": pl.Utf8, "listing_id": pl.Utf8, "pack_size": pl.Int64},
    )
    known_listings = listings.select("listing_id")
    bad_overrides = forced.join(known_listings, on="listing_id", how="anti").select(
        "sku",
        "listing_id",
        problem=pl.lit("override_unknown_listing"),
        detail=pl.lit("mappings.yml names a listing the channel's catalog does not have"),
    )
    forced = forced.join(known_listings, on="listing_id", how="semi").with_columns(
        matched_by=pl.lit("override")
    )
    # What overrides settle is out of the automatic matching on both sides.
    open_products = products.select("sku", "barcode").join(forced, on="sku", how="anti")
    open_listings = listings.select("listing_id", "sku", "barcode").join(
        forced, on="listing_id", how="anti"
    )

    by_sku = open_products.select("sku").join(
        open_listings.filter(pl.col("sku").is_not_null()).select("listing_id", "sku"),
        on="sku",
        how="inner",
    )
    sku_counts = by_sku.group_by("sku").agg(pl.len().alias("n"))
    ambiguous_sku = by_sku.join(sku_counts.filter(pl.col("n") > 1), on="sku").select(
        "sku",
        "listing_id",
        problem=pl.lit("ambiguous_sku"),
        detail=pl.lit("several listings carry this SKU"),
    )
    by_sku = by_sku.join(sku_counts.filter(pl.col("n") == 1), on="sku").select(
        "sku", "listing_id", matched_by=pl.lit("sku")
    )

    rest_products = open_products.join(by_sku, on="sku", how="anti").join(
        ambiguous_sku.select("sku").unique(), on="sku", how="anti"
    )
    rest_listings = open_listings.join(by_sku, on="listing_id", how="anti").join(
        ambiguous_sku.select("listing_id"), on="listing_id", how="anti"
    )
    by_barcode = (
        rest_products.filter(pl.col("barcode").is_not_null())
        .select("sku", "barcode")
        .join(
            rest_listings.filter(pl.col("barcode").is_not_null()).select("listing_id", "barcode"),
            on="barcode",
            how="inner",
        )
    )
    # A barcode is only an identity when exactly one product and one listing share it, and it
    # must not shadow a product that has the barcode but was already mapped by SKU.
    product_barcodes = products.filter(pl.col("barcode").is_not_null()).group_by("barcode").len()
    listing_barcodes = (
        rest_listings.filter(pl.col("barcode").is_not_null()).group_by("barcode").len()
    )
    unique_barcodes = (
        product_barcodes.filter(pl.col("len") == 1)
        .select("barcode")
        .join(listing_barcodes.filter(pl.col("len") == 1).select("barcode"), on="barcode")
    )
    ambiguous_barcode = by_barcode.join(unique_barcodes, on="barcode", how="anti").select(
        "sku",
        "listing_id",
        problem=pl.lit("ambiguous_barcode"),
        detail=pl.format("barcode {} is shared; map it in mappings.yml", pl.col("barcode")),
    )
    by_barcode = by_barcode.join(unique_barcodes, on="barcode").select(
        "sku", "listing_id", matched_by=pl.lit("barcode")
    )

    mapping = pl.concat(
        [
            forced.select("sku", "listing_id", "matched_by", "pack_size"),
            by_sku.with_columns(pack_size=pl.lit(None, dtype=pl.Int64)),
            by_barcode.with_columns(pack_size=pl.lit(None, dtype=pl.Int64)),
        ],
        how="vertical_relaxed",
    ).with_columns(channel=pl.lit(channel))
    reported = pl.concat([ambiguous_sku, ambiguous_barcode, bad_overrides], how="vertical_relaxed")
    unmapped_skus = (
        products.select("sku")
        .join(mapping, on="sku", how="anti")
        .join(reported.select("sku"), on="sku", how="anti")
        .select(
            "sku",
            listing_id=pl.lit(None, dtype=pl.Utf8),
            problem=pl.lit("unmapped_sku"),
            detail=pl.lit("no listing on the channel carries this SKU or its barcode"),
        )
    )
    unmapped_listings = (
        listings.select("listing_id")
        .join(mapping, on="listing_id", how="anti")
        .join(reported.select("listing_id"), on="listing_id", how="anti")
        .select(
            sku=pl.lit(None, dtype=pl.Utf8),
            listing_id="listing_id",
            problem=pl.lit("unmapped_listing"),
            detail=pl.lit("no sellable product matches this listing"),
        )
    )
    problems = pl.concat(
        [reported, unmapped_skus, unmapped_listings], how="vertical_relaxed"
    ).with_columns(channel=pl.lit(channel))
    return (
        mapping.select(list(MAPPING_SCHEMA)).cast(MAPPING_SCHEMA).sort("sku"),
        problems.select(list(PROBLEM_SCHEMA))
        .cast(PROBLEM_SCHEMA)
        .sort("problem", "sku", "listing_id"),
    )
