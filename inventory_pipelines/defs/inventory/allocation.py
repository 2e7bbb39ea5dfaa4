"""`inventory/channel_allocation`: the policy applied per channel, every step explained."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from inventory_pipelines.allocation.engine import allocate, pending_frame
from inventory_pipelines.defs.checks import preview, schema_check_result, schema_check_spec
from inventory_pipelines.defs.inventory.assets import CANONICAL
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY
from inventory_pipelines.defs.odoo.assets import POLICY, PRODUCTS
from inventory_pipelines.defs.resources import ChannelsResource
from inventory_pipelines.inventory.schemas import ChannelAllocationSchema, ring_fence_breaches
from inventory_pipelines.ledger import inbox

CHANNEL_ALLOCATION = ["inventory", "channel_allocation"]
SKU_VELOCITY = ["rules", "sku_velocity"]
RING_FENCE_CHECK = "ring_fenced_within_pool"
# The rule files the allocation depends on: a change to any of them makes it stale.
ALLOCATION_RULES = ("warehouses.yml", "channels.yml", "policies.yml", "suppressions.yml")

channel_partitions = dg.StaticPartitionsDefinition(POLICY.channels.names())


def sellable_skus(products: pl.DataFrame) -> pl.DataFrame:
    """The SKUs a channel may be told about: active, storable, with one product per SKU."""
    return (
        products.filter(pl.col("sku").is_not_null())
        .filter(~pl.col("sku").is_duplicated())
        .filter(pl.col("active") & pl.col("storable"))
        .select("sku", *(["category"] if "category" in products.columns else []))
    )


def pending_units(channels: ChannelsResource, canonical: pl.DataFrame) -> pl.DataFrame:
    """sku, pending: units accepted by channels and not reserved in the snapshot `canonical`
    was computed from (a reservation made after its `as_of` is not in it yet)."""
    as_of = canonical["as_of"].min() if "as_of" in canonical.columns and canonical.height else None
    engine = channels.ledger()
    try:
        with engine.connect() as conn:
            units = inbox.pending_by_sku(conn, as_of)
    finally:
        engine.dispose()
    return pending_frame(units)


@dg.asset(
    key=CHANNEL_ALLOCATION,
    group_name="inventory",
    partitions_def=channel_partitions,
    kinds={"polars", "parquet"},
    code_version=f"rules-{POLICY.version_of(*ALLOCATION_RULES)}",
    ins={
        "canonical_inventory": dg.AssetIn(key=CANONICAL),
        "products": dg.AssetIn(key=PRODUCTS),
        "sku_velocity": dg.AssetIn(key=SKU_VELOCITY),
    },
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["sku"]},
    check_specs=[
        schema_check_spec(CHANNEL_ALLOCATION, ChannelAllocationSchema),
        dg.AssetCheckSpec(
            RING_FENCE_CHECK,
            asset=dg.AssetKey(CHANNEL_ALLOCATION),
            blocking=True,
            description="Ring-fenced channels together are never offered more than the pool.",
        ),
    ],
    description="One row per (channel, sku): pool, pending, net, allocated, buffered, "
    "thresholded, suppressed, publishable (channel units) and the rule behind each step.",
)
def channel_allocation(
    context: dg.AssetExecutionContext,
    canonical_inventory: pl.DataFrame,
    products: pl.DataFrame,
    sku_velocity: pl.DataFrame,
    channels: ChannelsResource,
):
    """Apply `dbt_like_rules/` to canonical inventory for one channel, less the units channels
    sold that Odoo had not reserved when the stock snapshot was taken (the pending ledger)."""
    channel = context.partition_key
    universe = sellable_skus(products).join(
        sku_velocity.select("sku", "velocity_tier"), on="sku", how="left"
    )
    pending = pending_units(channels, canonical_inventory)
    everything = allocate(
        canonical_inventory, POLICY, datetime.now(UTC), skus=universe, pending=pending
    )
    breaches = ring_fence_breaches(everything)
    frame = everything.filter(pl.col("channel") == channel).with_columns(
        pl.col("channel").cast(pl.Utf8)
    )
    yield dg.Output(
        frame,
        metadata={
            "rules_version": POLICY.version,
            "skus": frame.height,
            "pending_units": float(pending["pending"].sum()),
            "pending_skus": pending.height,
            "skus_published_above_zero": frame.filter(pl.col("publishable") > 0).height,
            "publishable_units": float(frame["publishable_units"].sum()),
            "suppressed_skus": frame.filter(
                pl.col("suppressed_rule").cast(pl.Utf8) != "no suppression active"
            ).height,
            "preview": preview(frame.select("sku", "pool", "net", "allocated", "publishable")),
        },
    )
    yield schema_check_result(CHANNEL_ALLOCATION, ChannelAllocationSchema, frame)
    yield dg.AssetCheckResult(
        check_name=RING_FENCE_CHECK,
        asset_key=dg.AssetKey(CHANNEL_ALLOCATION),
        passed=breaches.is_empty(),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"breaches": breaches.height, "sample": preview(breaches)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The channel allocation asset."""
    return dg.Definitions(assets=[channel_allocation])
