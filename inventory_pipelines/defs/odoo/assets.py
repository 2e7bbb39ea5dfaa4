"""The Odoo snapshot: products, locations and stock quants, read over the external API."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from inventory_pipelines.defs.checks import preview, schema_check_result, schema_check_spec
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, SkuScope
from inventory_pipelines.defs.resources import OdooResource, RulesResource
from inventory_pipelines.defs.shared import (
    FEED_WAREHOUSES,
    LOCATIONS,
    POLICY,
    PRODUCTS,
    STOCK_MOVES,
    STOCK_QUANTS,
)
from inventory_pipelines.inventory.locations import assign_location_roles
from inventory_pipelines.inventory.schemas import LocationsSchema, ProductsSchema, StockQuantsSchema
from inventory_pipelines.odoo import snapshot
from inventory_pipelines.odoo.moves import read_done_moves

# How much delivery history the velocity tiers look at.
MOVES_HISTORY_DAYS = 90


@dg.asset(
    key=PRODUCTS,
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["product_id"]},
    check_specs=[schema_check_spec(PRODUCTS, ProductsSchema)],
    description="product.product with template and UoM: sku, barcode, uom, factor to the base "
    "unit, storable, active. Archived products included (they can still hold stock).",
)
def products(context: dg.AssetExecutionContext, odoo: OdooResource, sku_scope: SkuScope):
    """Read the product catalog (or the SKU subset of a partial refresh)."""
    with odoo.client() as client:
        frame = snapshot.read_products(client, skus=sku_scope.skus)
        version = client.version
    yield dg.Output(
        frame,
        metadata={
            "odoo_version": version.serie,
            "without_sku": frame.filter(pl.col("sku").is_null()).height,
            "archived": frame.filter(~pl.col("active")).height,
            "not_storable": frame.filter(~pl.col("storable")).height,
            "preview": preview(frame),
        },
    )
    yield schema_check_result(PRODUCTS, ProductsSchema, frame)


@dg.asset(
    key=LOCATIONS,
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    code_version=f"rules-{POLICY.version_of('warehouses.yml')}",
    metadata={SORT_BY: ["location_id"]},
    check_specs=[schema_check_spec(LOCATIONS, LocationsSchema)],
    description="stock.location with its warehouse and the role the rules give it: stock, "
    "hold (QC, damaged, quarantine) or transit (bound for a warehouse).",
)
def locations(context: dg.AssetExecutionContext, odoo: OdooResource, rules: RulesResource):
    """Read every location and tag it with its role from `dbt_like_rules/warehouses.yml`."""
    with odoo.client() as client:
        raw = snapshot.read_locations(client)
    frame = assign_location_roles(raw, rules.policy().warehouses)
    yield dg.Output(
        frame,
        metadata={
            "by_role": dg.MetadataValue.json(
                dict(frame.group_by("role").len().sort("role").iter_rows())
            ),
            "preview": preview(frame),
        },
    )
    yield schema_check_result(LOCATIONS, LocationsSchema, frame)


@dg.asset(
    key=STOCK_QUANTS,
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    ins={"products": dg.AssetIn(key=PRODUCTS)},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["quant_id"]},
    check_specs=[schema_check_spec(STOCK_QUANTS, StockQuantsSchema)],
    description="stock.quant rows in internal and transit locations: product, location, lot, "
    "quantity and reserved quantity in the product's UoM, write_date.",
)
def stock_quants(
    context: dg.AssetExecutionContext,
    odoo: OdooResource,
    sku_scope: SkuScope,
    products: pl.DataFrame,
):
    """Read the quants (of the subset's products in a partial refresh), tagged with their SKU."""
    product_ids = products["product_id"].to_list() if sku_scope.is_partial() else None
    read_at = datetime.now(UTC)
    with odoo.client() as client:
        quants = snapshot.read_quants(client, product_ids=product_ids)
    frame = quants.join(
        products.select("product_id", "sku"), on="product_id", how="left"
    ).with_columns(read_at=pl.lit(read_at).cast(pl.Datetime("us", "UTC")))
    yield dg.Output(
        frame,
        metadata={
            "quants_per_s": round(
                frame.height / max((datetime.now(UTC) - read_at).total_seconds(), 1e-9)
            ),
            "preview": preview(frame),
        },
    )
    yield schema_check_result(STOCK_QUANTS, StockQuantsSchema, frame)


@dg.asset(
    key=STOCK_MOVES,
    # with 3PL feed warehouses, the moves are read after the quants: a delivery validated in
    # between is then in both (taken off twice: under-sold for a run), never in neither
    deps=[STOCK_QUANTS] if FEED_WAREHOUSES else [],
    group_name="odoo",
    kinds={"odoo", "polars", "parquet"},
    ins={"products": dg.AssetIn(key=PRODUCTS), "locations": dg.AssetIn(key=LOCATIONS)},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["move_id"]},
    description=f"Done stock.move rows of the last {MOVES_HISTORY_DAYS} days, with the SKU, "
    "the quantity in base units and the usage of the source and destination locations: "
    "the delivery history that velocity tiers are computed from.",
)
def stock_moves(
    context: dg.AssetExecutionContext,
    odoo: OdooResource,
    sku_scope: SkuScope,
    products: pl.DataFrame,
    locations: pl.DataFrame,
) -> pl.DataFrame:
    """Read the recent done moves (of the subset's products in a partial refresh)."""
    since = datetime.now(UTC) - timedelta(days=MOVES_HISTORY_DAYS)
    product_ids = products["product_id"].to_list() if sku_scope.is_partial() else None
    with odoo.client() as client:
        moves = read_done_moves(client, since, product_ids=product_ids)
    usage = locations.select("location_id", "usage")
    return (
        moves.join(products.select("product_id", "sku", "factor"), on="product_id", how="left")
        .with_columns(quantity=pl.col("quantity") * pl.col("factor").fill_null(1.0))
        .drop("factor")
        .join(usage.rename({"usage": "source_usage"}), on="location_id", how="left")
        .join(
            usage.rename({"location_id": "location_dest_id", "usage": "destination_usage"}),
            on="location_dest_id",
            how="left",
        )
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The Odoo snapshot assets."""
    return dg.Definitions(assets=[products, locations, stock_quants, stock_moves])
