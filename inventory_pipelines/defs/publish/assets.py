"""Channel catalogs, product identity and the published channel state, per channel partition."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl
import sqlalchemy as sa

from inventory_pipelines.defs.checks import preview
from inventory_pipelines.defs.inventory.allocation import (
    CHANNEL_ALLOCATION,
    channel_partitions,
    sellable_skus,
)
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, SkuScope
from inventory_pipelines.defs.odoo.assets import POLICY, PRODUCTS
from inventory_pipelines.defs.resources import ChannelsResource
from inventory_pipelines.inventory.identity import map_listings
from inventory_pipelines.ledger import dlq
from inventory_pipelines.ledger.schema import published_state
from inventory_pipelines.publishing.publisher import ChannelPlan, plan_targets, publish_round

CHANNEL_STOCK = ["reconciliation", "channel_stock"]
PRODUCT_IDENTITY = ["inventory", "product_identity"]
IDENTITY_PROBLEMS = ["inventory", "identity_problems"]
PUBLISHED = ["inventory", "published_channel_state"]

LISTINGS_SCHEMA = {
    "channel": pl.Utf8,
    "listing_id": pl.Utf8,
    "sku": pl.Utf8,
    "barcode": pl.Utf8,
    "quantity": pl.Int64,
    "read_at": pl.Datetime("us", "UTC"),
}


@dg.asset(
    key=CHANNEL_STOCK,
    group_name="channels",
    partitions_def=channel_partitions,
    kinds={"polars", "parquet"},
    metadata={SORT_BY: ["listing_id"]},
    description="The channel's catalog read back: each listing with its SKU, barcode and the "
    "quantity the channel shows now.",
)
def channel_stock(context: dg.AssetExecutionContext, channels: ChannelsResource) -> pl.DataFrame:
    """Read every listing of the channel and the quantity it shows."""
    channel = POLICY.channels.get(context.partition_key)
    read_at = datetime.now(UTC)
    with channels.connector(channel.name, channel.kind.value) as connector:
        rows = [
            {
                "channel": channel.name,
                "listing_id": listing.listing_id,
                "sku": listing.sku,
                "barcode": listing.barcode,
                "quantity": listing.quantity,
                "read_at": read_at,
            }
            for page in connector.read_listings()
            for listing in page
        ]
        calls = getattr(connector, "api_calls", None)
    frame = pl.DataFrame(rows, schema=LISTINGS_SCHEMA)
    context.add_output_metadata({"listings": frame.height, "api_calls": calls})
    return frame


@dg.multi_asset(
    outs={
        "product_identity": dg.AssetOut(
            key=PRODUCT_IDENTITY,
            metadata={SCOPE_COLUMN: "sku", SORT_BY: ["sku"]},
            kinds={"polars", "parquet"},
            description="Which listing carries which SKU on the channel, and how it was "
            "matched (override in mappings.yml, SKU, or a unique barcode).",
        ),
        "identity_problems": dg.AssetOut(
            key=IDENTITY_PROBLEMS,
            metadata={SORT_BY: ["problem", "sku", "listing_id"]},
            kinds={"polars", "parquet"},
            description="SKUs and listings that could not be matched with certainty: unmapped, "
            "ambiguous by SKU or barcode, overrides naming unknown listings. Never guessed.",
        ),
    },
    ins={"products": dg.AssetIn(key=PRODUCTS), "channel_stock": dg.AssetIn(key=CHANNEL_STOCK)},
    partitions_def=channel_partitions,
    group_name="channels",
    code_version=f"rules-{POLICY.version_of('mappings.yml')}",
    check_specs=[
        dg.AssetCheckSpec(
            "every_sku_mapped",
            asset=dg.AssetKey(PRODUCT_IDENTITY),
            description="Every sellable SKU has exactly one listing (WARN: reported, not a block).",
        )
    ],
)
def product_identity(
    context: dg.AssetExecutionContext, products: pl.DataFrame, channel_stock: pl.DataFrame
):
    """Match the channel's listings to Odoo products; report what cannot be matched."""
    channel = context.partition_key
    catalog = products.filter(pl.col("sku").is_not_null()).join(
        sellable_skus(products), on="sku", how="semi"
    )
    mapping, problems = map_listings(
        channel, catalog.select("sku", "barcode"), channel_stock, POLICY.mappings
    )
    counts = dict(problems.group_by("problem").len().iter_rows())
    yield dg.Output(mapping, output_name="product_identity", metadata={"mapped": mapping.height})
    yield dg.Output(
        problems,
        output_name="identity_problems",
        metadata={"by_problem": dg.MetadataValue.json(counts), "preview": preview(problems)},
    )
    sku_problems = problems.filter(pl.col("sku").is_not_null()).height
    yield dg.AssetCheckResult(
        check_name="every_sku_mapped",
        asset_key=dg.AssetKey(PRODUCT_IDENTITY),
        passed=sku_problems == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"skus_with_problems": sku_problems, **{k: int(v) for k, v in counts.items()}},
    )


class PublishConfig(dg.Config):
    """`increases: false` sends only zero-outs and decreases (the first pass of a multi-channel
    sync, so that no channel gets an increase before every channel's decreases are through)."""

    increases: bool = True


@dg.asset(
    key=PUBLISHED,
    group_name="channels",
    partitions_def=channel_partitions,
    kinds={"polars", "parquet"},
    ins={
        "channel_allocation": dg.AssetIn(key=CHANNEL_ALLOCATION),
        "product_identity": dg.AssetIn(key=PRODUCT_IDENTITY),
        "channel_stock": dg.AssetIn(key=CHANNEL_STOCK),
    },
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["listing_id"]},
    description="What each listing's channel acknowledged: quantity, when, request id. "
    "Materializing it publishes the allocation: only changed quantities, through the outbox.",
)
def published_channel_state(
    context: dg.AssetExecutionContext,
    config: PublishConfig,
    channels: ChannelsResource,
    sku_scope: SkuScope,
    channel_allocation: pl.DataFrame,
    product_identity: pl.DataFrame,
    channel_stock: pl.DataFrame,
):
    """Publish the channel's allocation, exactly once, and return the acknowledged state."""
    channel = POLICY.channels.get(context.partition_key)
    engine = channels.ledger()
    targets = plan_targets(channel_allocation, product_identity)
    shown = {
        listing: int(quantity)
        for listing, quantity in channel_stock.select("listing_id", "quantity").iter_rows()
        if quantity is not None
    }
    started = datetime.now(UTC)
    with channels.connector(channel.name, channel.kind.value) as connector:
        plan = ChannelPlan(channel.name, connector, targets, shown)
        summary = publish_round(
            engine, [plan], f"{context.run.run_id}:{channel.name}", increases=config.increases
        )[channel.name]
    with engine.connect() as conn:
        query = sa.select(published_state).where(published_state.c.channel == channel.name)
        if sku_scope.is_partial():
            query = query.where(published_state.c.sku.in_(sku_scope.skus or []))
        rows = [dict(r._mapping) for r in conn.execute(query)]
        open_letters = len(dlq.list_open(conn, channel.name))
    engine.dispose()
    frame = pl.DataFrame(
        rows,
        schema={
            "channel": pl.Utf8,
            "listing_id": pl.Utf8,
            "sku": pl.Utf8,
            "quantity": pl.Int64,
            "acknowledged_at": pl.Datetime("us", "UTC"),
            "request_id": pl.Utf8,
        },
    )
    figures = summary.as_dict()
    yield dg.Output(
        frame,
        metadata={
            **{k: v for k, v in figures.items() if v is not None},
            "open_dead_letters": open_letters,
            "allocation_to_ack_s": round((datetime.now(UTC) - started).total_seconds(), 3),
        },
    )
    if summary.dead_lettered or summary.pending_left:
        raise dg.Failure(
            description=(
                f"{channel.name}: {summary.dead_lettered} update(s) dead-lettered, "
                f"{summary.pending_left} still pending. Inspect with `inventory-sync dlq list "
                f"--channel {channel.name}`, replay with `inventory-sync dlq replay`, then "
                "re-materialize this partition."
            ),
            metadata=figures,
        )


@dg.definitions
def defs() -> dg.Definitions:
    """The publishing assets."""
    return dg.Definitions(assets=[channel_stock, product_identity, published_channel_state])
