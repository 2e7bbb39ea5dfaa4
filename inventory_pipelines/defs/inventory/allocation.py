"""`inventory/channel_allocation`: the policy applied per channel, every step explained.

Beyond canonical inventory it reads the supply tables when they are materialized: the drop-ship
vendors' stock (`supply/vendor_stock`, every declared vendor's partition) and the purchase
lines still to be received (`odoo/incoming_purchases`). A table not materialized yet (a fresh
machine, no vendor declared) is no supply: drop-ship and incoming steps are then 0 and say so.
They are read from the data plane rather than as inputs so that their absence is not a failure.
`odoo/incoming_purchases` is a dep (a run with both reads the lines first); the vendors' stock
is not: partitioned by vendor, it cannot share a run with the channel-partitioned allocation
(Dagster refuses a job over two partitionings, and every `.upstream()` selection of the
allocation would be one), so the allocation takes the vendors' latest materializations.
"""

import dataclasses
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from inventory_pipelines.allocation.engine import (
    allocate,
    fence_sales_frame,
    fence_signature,
    pending_frame,
)
from inventory_pipelines.allocation.overrides import overrides_frame
from inventory_pipelines.allocation.supply import DROPSHIP_PENDING_COLUMNS, dropship_pending
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.checks import preview, schema_check_result, schema_check_spec
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, ParquetIOManager
from inventory_pipelines.defs.resources import LedgerResource, RulesResource
from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    CHANNELS_IN_ONE_RUN,
    INCOMING_PURCHASES,
    POLICY,
    PRODUCTS,
    SKU_VELOCITY,
    UNRESERVED_DEMAND,
    channel_partitions,
    channels_of,
)
from inventory_pipelines.inventory.identity import sellable_skus
from inventory_pipelines.inventory.schemas import ChannelAllocationSchema, ring_fence_breaches
from inventory_pipelines.ledger import fences, inbox, overrides
from inventory_pipelines.rules import Policy

RING_FENCE_CHECK = "ring_fenced_within_pool"
#: how the rule of a (channel, sku) an override or a stop set begins
OVERRIDE_RULE = r"^(override|emergency stop) #"
# The rule files the allocation depends on: a change to any of them makes it stale.
ALLOCATION_RULES = ("warehouses.yml", "channels.yml", "policies.yml", "suppressions.yml")
VENDOR_STOCK = ("supply", "vendor_stock")


def ledger_inputs(
    ledger: LedgerResource,
    policy: Policy,
    canonical: pl.DataFrame,
    vendor_stock: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, datetime, datetime]:
    """What the allocation takes from the ledger (see `fences.allocation_inputs`): the pending
    units (not reserved in the snapshot `canonical` was computed from; those on the drop-ship
    route apart, in `pending_dropship`, until the vendors' feeds are dated after them), each
    channel's own-stock sales since the fences were based, that epoch, and when they were read
    (taken just before the read: nothing the ledger learned after it is in the figures)."""
    as_of = canonical["as_of"].min() if "as_of" in canonical.columns and canonical.height else None
    read_at = datetime.now(UTC)
    with ledger.engine() as engine, engine.connect() as conn:
        units, sold, epoch = fences.allocation_inputs(conn, fence_signature(policy), as_of)
        rows = inbox.pending_dropship_rows(conn)
    dropship = dropship_pending(
        pl.DataFrame(rows, schema=DROPSHIP_PENDING_COLUMNS, orient="row"), vendor_stock
    )
    pending = pending_frame(units).join(dropship, on="sku", how="full", coalesce=True)
    pending = pending.with_columns(pl.col("pending", "pending_dropship").fill_null(0.0))
    return pending, fence_sales_frame(sold), epoch, read_at


def supply_inputs(
    store: TableStore, policy: Policy, skus: list[str] | None, now: datetime | None = None
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """The declared vendors' stock and the purchase lines still to be received, as far as
    they are materialized (None: not at all), for `skus` (None: every SKU).

    A vendor's rows are judged fresh again at `now`: a partition its schedule stopped reading
    goes stale here when its feed passes the vendor's `freshness_hours`, not only when a run
    reads the feed again (then it counts 0, and says so)."""
    now = now or datetime.now(UTC)
    declared = set(policy.vendors.codes())
    present = [v for v in store.partitions(VENDOR_STOCK) if v in declared]
    vendor_stock = (
        pl.concat(
            [_judged(store.read(VENDOR_STOCK, v, skus=skus), policy, v, now) for v in present],
            how="diagonal_relaxed",
        )
        if present
        else None
    )
    incoming = (
        store.read(INCOMING_PURCHASES, None, skus=skus)
        if store.exists(INCOMING_PURCHASES)
        else None
    )
    return vendor_stock, incoming


def _judged(rows: pl.DataFrame, policy: Policy, vendor: str, now: datetime) -> pl.DataFrame:
    """`rows` of one vendor with `fresh` false where its feed is older than the vendor's
    freshness limit at `now` (its `reason` says so)."""
    hours = policy.vendors.get(vendor).freshness_hours
    limit = now - timedelta(hours=hours)
    aged = pl.col("fresh") & pl.col("as_of").is_not_null() & (pl.col("as_of") < limit)
    reason = pl.format(
        f"feed stale: as of {{}}, older than {hours:g} h when allocated",
        pl.col("as_of").dt.strftime("%Y-%m-%d %H:%M UTC"),
    )
    return rows.with_columns(
        reason=pl.when(aged).then(reason).otherwise(pl.col("reason"))
        if "reason" in rows.columns
        else pl.when(aged).then(reason),
        quantity=pl.when(aged).then(0.0).otherwise(pl.col("quantity")),
        fresh=pl.col("fresh") & ~aged.fill_null(False),
    )


def with_unreserved_demand(pending: pl.DataFrame, demand: pl.DataFrame | None) -> pl.DataFrame:
    """`pending` plus the units Odoo sold and has not reserved (`odoo/unreserved_demand`,
    summed over warehouses). An order the ledger marked reserved stops counting there once a
    snapshot is newer than its confirmation, but Odoo reserves nothing while the shelf is empty
    (a sale ahead of incoming stock): from that snapshot on its units are counted here instead,
    until Odoo reserves them. Counted like the ledger's pending units: own stock first, then
    drop-ship, then incoming."""
    if demand is None or demand.is_empty():
        return pending
    per_sku = demand.group_by("sku").agg(pl.col("quantity").sum().alias("_odoo"))
    return (
        pending.join(per_sku, on="sku", how="full", coalesce=True)
        .with_columns(
            pl.col("pending").fill_null(0.0) + pl.col("_odoo").fill_null(0.0),
            pl.col("pending_dropship").fill_null(0.0),
        )
        .drop("_odoo")
    )


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
    deps=[
        # after the channels' orders are polled: their units are pending before it is computed
        dg.AssetKey(CHANNEL_ORDERS),
        # after the purchase lines are read, when a run has both (read from the data plane)
        dg.AssetKey(list(INCOMING_PURCHASES)),
        # after Odoo's unreserved deliveries are read (they count as pending)
        dg.AssetKey(list(UNRESERVED_DEMAND)),
    ],
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
    io_manager: dg.ResourceParam[ParquetIOManager],
):
    """Apply `dbt_like_rules/` to canonical inventory for the run's channels, with the
    drop-ship vendors' stock and the incoming purchases where channels may sell them, less the
    units channels sold that Odoo had not reserved when the stock snapshot was taken (the
    pending ledger), each ring-fenced channel out of its own fence, and the approved manual
    overrides and emergency stops that apply now (step 6, read from the ledger)."""
    chosen = channels_of(context)
    universe = sellable_skus(products).join(
        sku_velocity.select("sku", "velocity_tier"), on="sku", how="left"
    )
    policy = rules.policy()
    now = datetime.now(UTC)
    vendor_stock, incoming = supply_inputs(
        TableStore(io_manager.base_dir), policy, io_manager.sku_scope.skus, now
    )
    pending, sales, epoch, read_at = ledger_inputs(
        ledger, policy, canonical_inventory, vendor_stock
    )
    store = TableStore(io_manager.base_dir)
    if store.exists(UNRESERVED_DEMAND):
        demand = store.read(UNRESERVED_DEMAND, None, skus=io_manager.sku_scope.skus)
        pending = with_unreserved_demand(pending, demand)
    applying = override_inputs(ledger, now)
    everything = allocate(
        canonical_inventory,
        policy,
        now,
        skus=universe,
        pending=pending,
        sales=sales,
        overrides=applying,
        vendor_stock=vendor_stock,
        incoming=incoming,
    )
    breaches = ring_fence_breaches(everything)
    frame = everything.filter(pl.col("channel").is_in(chosen)).with_columns(
        pl.col("channel").cast(pl.Utf8),
        # the publisher lowers a target that meets a sale we had not heard of by what this
        # allocation did not count yet (publishing.publisher.ChannelPlan.ledger_read_at)
        ledger_read_at=pl.lit(read_at, dtype=pl.Datetime("us", "UTC")),
        # the fences' epoch it was computed under: a whole catalog published from it settles
        # the channel under those shares (ledger.fences.unsettled)
        fence_epoch=pl.lit(epoch, dtype=pl.Datetime("us", "UTC")),
    )
    yield dg.Output(
        frame,
        metadata={
            "rules_version": policy.version,
            "channels": ", ".join(chosen),
            "skus": frame["sku"].n_unique(),
            "pending_units": float(pending["pending"].sum()),
            "pending_dropship_units": float(pending["pending_dropship"].sum()),
            "pending_skus": pending.height,
            "vendor_stock_rows": 0 if vendor_stock is None else vendor_stock.height,
            "incoming_purchase_lines": 0 if incoming is None else incoming.height,
            "dropship_units": float(frame["dropship"].sum()),
            "incoming_units": float(frame["incoming"].sum()),
            "fence_epoch": epoch.isoformat(),
            "ledger_read_at": read_at.isoformat(),
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
