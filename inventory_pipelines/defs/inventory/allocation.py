"""`inventory/channel_allocation`: the policy applied per channel, every step explained."""

import dataclasses
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from inventory_pipelines.allocation.engine import (
    allocate,
    fence_sales_frame,
    fence_signature,
    pending_frame,
)
from inventory_pipelines.allocation.overrides import overrides_frame
from inventory_pipelines.defs.checks import preview, schema_check_result, schema_check_spec
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY
from inventory_pipelines.defs.resources import LedgerResource, RulesResource
from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    CHANNELS_IN_ONE_RUN,
    POLICY,
    PRODUCTS,
    SKU_VELOCITY,
    channel_partitions,
    channels_of,
)
from inventory_pipelines.inventory.identity import sellable_skus
from inventory_pipelines.inventory.schemas import ChannelAllocationSchema, ring_fence_breaches
from inventory_pipelines.ledger import fences, overrides
from inventory_pipelines.rules import Policy

RING_FENCE_CHECK = "ring_fenced_within_pool"
#: how the rule of a (channel, sku) an override or a stop set begins
OVERRIDE_RULE = r"^(override|emergency stop) #"
# The rule files the allocation depends on: a change to any of them makes it stale.
ALLOCATION_RULES = ("warehouses.yml", "channels.yml", "policies.yml", "suppressions.yml")


def ledger_inputs(
    ledger: LedgerResource, policy: Policy, canonical: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, datetime]:
    """What the allocation takes from the ledger (see `fences.allocation_inputs`): the pending
    units (not reserved in the snapshot `canonical` was computed from), each channel's sales
    since the fences were based, and that epoch."""
    as_of = canonical["as_of"].min() if "as_of" in canonical.columns and canonical.height else None
    with ledger.engine() as engine, engine.connect() as conn:
        units, sold, epoch = fences.allocation_inputs(conn, fence_signature(policy), as_of)
    return pending_frame(units), fence_sales_frame(sold), epoch


def override_inputs(ledger: LedgerResource, now: datetime) -> pl.DataFrame:
    """The approved overrides and stops that apply at `now`, as the engine takes them; those
    whose time ran out are recorded as expired on the way (audited, once)."""
    with ledger.engine() as engine, engine.connect() as conn:
        overrides.expire_due(conn, actor="inventory/channel_allocation", source="dagster", now=now)
        applying = overrides.active(conn, now)
    return overrides_frame(dataclasses.asdict(o) for o in applying)


@dg.asset(
    key=CHANNEL_ALLOCATION,
    group_name="inventory",
    partitions_def=channel_partitions,
    backfill_policy=CHANNELS_IN_ONE_RUN,
    # after the channels' orders are polled: their units are pending before it is computed
    deps=[dg.AssetKey(CHANNEL_ORDERS)],
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
    ledger: LedgerResource,
    rules: RulesResource,
):
    """Apply `dbt_like_rules/` to canonical inventory for the run's channels, less the units
    channels sold that Odoo had not reserved when the stock snapshot was taken (the pending
    ledger), each ring-fenced channel out of its own fence, and the approved manual overrides
    and emergency stops that apply now (step 6, read from the ledger)."""
    chosen = channels_of(context)
    universe = sellable_skus(products).join(
        sku_velocity.select("sku", "velocity_tier"), on="sku", how="left"
    )
    policy = rules.policy()
    pending, sales, epoch = ledger_inputs(ledger, policy, canonical_inventory)
    now = datetime.now(UTC)
    applying = override_inputs(ledger, now)
    everything = allocate(
        canonical_inventory,
        policy,
        now,
        skus=universe,
        pending=pending,
        sales=sales,
        overrides=applying,
    )
    breaches = ring_fence_breaches(everything)
    frame = everything.filter(pl.col("channel").is_in(chosen)).with_columns(
        pl.col("channel").cast(pl.Utf8)
    )
    yield dg.Output(
        frame,
        metadata={
            "rules_version": policy.version,
            "channels": ", ".join(chosen),
            "skus": frame["sku"].n_unique(),
            "pending_units": float(pending["pending"].sum()),
            "pending_skus": pending.height,
            "fence_epoch": epoch.isoformat(),
            "fence_sold_units": float(sales["sold"].sum()),
            "skus_published_above_zero": frame.filter(pl.col("publishable") > 0).height,
            "publishable_units": float(frame["publishable_units"].sum()),
            "suppressed_skus": frame.filter(
                pl.col("suppressed_rule").cast(pl.Utf8) != "no suppression active"
            ).height,
            "overrides_applying": applying.height,
            "overridden_rows": frame.filter(
                pl.col("suppressed_rule").cast(pl.Utf8).str.contains(OVERRIDE_RULE)
            ).height,
            "preview": preview(
                frame.select("channel", "sku", "pool", "net", "allocated", "publishable")
            ),
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
