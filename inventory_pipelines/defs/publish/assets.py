"""Channel catalogs, product identity and the published channel state, per channel partition.

One run may cover several channels (Materialize all, a schedule, `inventory-sync sync`): each
asset then handles every channel of the run, and the publish step takes every channel's plan
at once, so zero-outs and decreases of all channels go before any increase (DESIGN.md
section 7). A channel that cannot be read is left out of that run's publish, never the others.
"""

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import sqlalchemy as sa

from inventory_pipelines import settings
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.dataplane.dead_letters import export_dead_letters
from inventory_pipelines.defs.checks import preview
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, ParquetIOManager, SkuScope
from inventory_pipelines.defs.resources import ChannelsResource, LedgerResource, RulesResource
from inventory_pipelines.defs.shared import (
    CHANNEL_ALLOCATION,
    CHANNEL_STOCK,
    CHANNELS_IN_ONE_RUN,
    DRIFT,
    IDENTITY_PROBLEMS,
    POLICY,
    PRODUCT_IDENTITY,
    PRODUCTS,
    PUBLISHED,
    PUBLISHING_POOL,
    STOCK_QUANTS,
    channel_partitions,
    channels_of,
    summed,
)
from inventory_pipelines.inventory.identity import (
    MAPPING_SCHEMA,
    PROBLEM_SCHEMA,
    map_listings,
    sellable_skus,
)
from inventory_pipelines.ledger import dlq, fences, leases, outbox, reconciliation, state
from inventory_pipelines.ledger.schema import outbox as outbox_table
from inventory_pipelines.ledger.schema import published_state
from inventory_pipelines.publishing.publisher import (
    ChannelPlan,
    ChannelSummary,
    plan_targets,
    publish_round,
)
from inventory_pipelines.rules import Channel

LISTINGS_SCHEMA = {
    "channel": pl.Utf8,
    "listing_id": pl.Utf8,
    "sku": pl.Utf8,
    "barcode": pl.Utf8,
    "quantity": pl.Int64,
    "read_at": pl.Datetime("us", "UTC"),
    "read_error": pl.Utf8,
}
#: the publish figures summed over the run's channels (per channel ones are under `channels`)
TOTALS = ("sent", "unchanged", "channel_edits", "acknowledged", "stale", "replanned")
TOTALS += ("failed", "dead_lettered", "throttled", "api_calls", "batches", "pending_left")
TOTALS += ("increases_held",)


PUBLISHED_SCHEMA = {
    "channel": pl.Utf8,
    "listing_id": pl.Utf8,
    "sku": pl.Utf8,
    "quantity": pl.Int64,
    "acknowledged_at": pl.Datetime("us", "UTC"),
    "request_id": pl.Utf8,
}


def unreadable_channels(channel_stock: pl.DataFrame) -> dict[str, str]:
    """Channel -> why its catalog could not be read in this run (a marker row per channel)."""
    if "read_error" not in channel_stock.columns:
        return {}
    marked = channel_stock.filter(pl.col("read_error").is_not_null())
    return dict(marked.select("channel", "read_error").iter_rows())


def listings_of(channel_stock: pl.DataFrame, channel: str) -> pl.DataFrame:
    """The listings one channel showed in its read-back (marker rows left out)."""
    return channel_stock.filter((pl.col("channel") == channel) & pl.col("listing_id").is_not_null())


def _read_channel(channels: ChannelsResource, channel: Channel, read_at: datetime) -> pl.DataFrame:
    with channels.connector(channel.name, channel.kind.value) as connector:
        rows = [
            {
                "channel": channel.name,
                "listing_id": listing.listing_id,
                "sku": listing.sku,
                "barcode": listing.barcode,
                "quantity": listing.quantity,
                "read_at": read_at,
                "read_error": None,
            }
            for page in connector.read_listings()
            for listing in page
        ]
    return pl.DataFrame(rows, schema=LISTINGS_SCHEMA)


@dg.asset(
    key=CHANNEL_STOCK,
    group_name="channels",
    partitions_def=channel_partitions,
    backfill_policy=CHANNELS_IN_ONE_RUN,
    kinds={"polars", "parquet"},
    metadata={SORT_BY: ["listing_id"]},
    description="The channel's catalog read back: each listing with its SKU, barcode and the "
    "quantity the channel shows now. A channel that could not be read has one row with its "
    "`read_error` instead, and is left out of this run's publish.",
)
def channel_stock(
    context: dg.AssetExecutionContext,
    channels: ChannelsResource,
    ledger: LedgerResource,
    rules: RulesResource,
) -> pl.DataFrame:
    """Read every listing of the run's channels (concurrently) and the quantity each shows."""
    chosen = channels_of(context)
    read_at = datetime.now(UTC)
    frames: list[pl.DataFrame] = []
    errors: dict[str, str] = {}
    with ThreadPoolExecutor(max(1, len(chosen)), thread_name_prefix="read-back") as pool:
        policy = rules.policy()
        futures = {
            name: pool.submit(_read_channel, channels, policy.channels.get(name), read_at)
            for name in chosen
        }
        for name, future in futures.items():
            try:
                frames.append(future.result())
            except Exception as exc:  # one channel down must not stop the others
                errors[name] = f"{type(exc).__name__}: {exc}"
                context.log.error(f"{name}: the catalog could not be read: {errors[name]}")
    with ledger.engine() as engine, engine.connect() as conn:
        for frame in frames:
            if frame.height:
                fences.note_read_back(conn, frame["channel"][0], read_at)
    if len(errors) == len(chosen):
        raise dg.Failure(
            description="no channel could be read: "
            + "; ".join(f"{n}: {e}" for n, e in errors.items()),
        )
    markers = pl.DataFrame(
        [
            {"channel": n, "read_at": read_at, "read_error": e, "listing_id": None}
            for n, e in errors.items()
        ],
        schema=LISTINGS_SCHEMA,
    )
    frame = pl.concat([*frames, markers], how="vertical_relaxed")
    context.add_output_metadata(
        {
            "listings": frame.filter(pl.col("listing_id").is_not_null()).height,
            "unreadable": dg.MetadataValue.json(errors),
        }
    )
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
    backfill_policy=CHANNELS_IN_ONE_RUN,
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
    context: dg.AssetExecutionContext,
    rules: RulesResource,
    products: pl.DataFrame,
    channel_stock: pl.DataFrame,
):
    """Match the channels' listings to Odoo products; report what cannot be matched."""
    catalog = products.filter(pl.col("sku").is_not_null()).join(
        sellable_skus(products), on="sku", how="semi"
    )
    unreadable = unreadable_channels(channel_stock)
    mappings, problem_frames = [], []
    for channel in channels_of(context):
        if channel in unreadable:
            continue  # nothing is known of its catalog this run: map nothing, publish nothing
        mapping, problems = map_listings(
            channel,
            catalog.select("sku", "barcode"),
            listings_of(channel_stock, channel),
            rules.policy().mappings,
        )
        mappings.append(mapping)
        problem_frames.append(problems)
    mapping = pl.concat(mappings, how="vertical_relaxed") if mappings else _empty(PRODUCT_IDENTITY)
    problems = (
        pl.concat(problem_frames, how="vertical_relaxed")
        if problem_frames
        else _empty(IDENTITY_PROBLEMS)
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


def _empty(key: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema=MAPPING_SCHEMA if key == PRODUCT_IDENTITY else PROBLEM_SCHEMA)


class PublishConfig(dg.Config):
    """`increases: false` sends only zero-outs and decreases; the increases wait in the outbox
    for the next publish (an operator's way to take stock off channels first)."""

    increases: bool = True


def ledger_read_at(allocation: pl.DataFrame) -> datetime | None:
    """When the allocation of `allocation`'s rows read the ledger (the earliest, where runs of
    several SKU sets wrote them); None where it does not say (written before it did)."""
    return _earliest(allocation, "ledger_read_at")


def fence_epoch(allocation: pl.DataFrame) -> datetime | None:
    """The oldest fence epoch `allocation`'s rows were computed under; None where they do not
    say (written before they did)."""
    return _earliest(allocation, "fence_epoch")


def _earliest(allocation: pl.DataFrame, column: str) -> datetime | None:
    if column not in allocation.columns or not allocation.height:
        return None
    return allocation[column].min()


@dg.asset(
    key=PUBLISHED,
    group_name="channels",
    partitions_def=channel_partitions,
    backfill_policy=CHANNELS_IN_ONE_RUN,
    pool=PUBLISHING_POOL,
    kinds={"polars", "parquet"},
    # after the drift where a run measures it (the reconciliation), so its corrections are
    # audited with their causes; a run that does not select it publishes without it
    deps=[dg.AssetKey(DRIFT)],
    ins={
        "channel_allocation": dg.AssetIn(key=CHANNEL_ALLOCATION),
        "product_identity": dg.AssetIn(key=PRODUCT_IDENTITY),
        "channel_stock": dg.AssetIn(key=CHANNEL_STOCK),
    },
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["listing_id"]},
    freshness_policy=dg.FreshnessPolicy.time_window(
        warn_window=timedelta(minutes=POLICY.automation.freshness.published_warn_minutes),
        fail_window=timedelta(minutes=POLICY.automation.freshness.published_fail_minutes),
    ),
    description="What each listing's channel acknowledged: quantity, when, request id. "
    "Materializing it publishes the allocation of the run's channels in one round, planned "
    "against what each channel shows: only changed quantities, through the outbox, every "
    "channel's zero-outs and decreases before any increase.",
)
def published_channel_state(
    context: dg.AssetExecutionContext,
    config: PublishConfig,
    channels: ChannelsResource,
    ledger: LedgerResource,
    rules: RulesResource,
    sku_scope: SkuScope,
    io_manager: dg.ResourceParam[ParquetIOManager],
    channel_allocation: pl.DataFrame,
    product_identity: pl.DataFrame,
    channel_stock: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    """Publish the run's channels in one round, exactly once, and return what they show.

    Fails, naming what is stuck and the command that clears it, when a channel could not be
    read, has updates dead-lettered, or still has updates waiting after the round.
    """
    chosen = channels_of(context)
    unreadable = unreadable_channels(channel_stock)
    publishing = [c for c in chosen if c not in unreadable]
    started = datetime.now(UTC)
    with ledger.engine() as engine, ExitStack() as stack:
        plans = []
        for name in publishing:
            channel = rules.policy().channels.get(name)
            stock = listings_of(channel_stock, name)
            connector = stack.enter_context(channels.connector(name, channel.kind.value))
            allocation = channel_allocation.filter(pl.col("channel") == name)
            plans.append(
                ChannelPlan(
                    name,
                    connector,
                    plan_targets(allocation, product_identity.filter(pl.col("channel") == name)),
                    {
                        listing: int(quantity)
                        for listing, quantity in stock.select("listing_id", "quantity").iter_rows()
                        if quantity is not None
                    },
                    stock["read_at"].min() if stock.height else None,
                    units_per_item=float(channel.uom.units),
                    ledger_read_at=ledger_read_at(allocation),
                    fence_epoch=fence_epoch(allocation),
                    whole=not sku_scope.is_partial(),
                )
            )
        with engine.connect() as conn:
            acknowledged_before = _acknowledged_before(conn, plans, sku_scope.is_partial())
        try:
            summaries = publish_round(
                engine,
                plans,
                f"{context.run.run_id}",
                increases=config.increases,
                holder=leases.new_holder(f"run {context.run.run_id[:8]}"),
            )
        except (leases.ChannelBusyError, leases.LeaseLostError) as exc:
            raise dg.Failure(
                description=f"{exc}. Nothing is lost: what this run planned waits in the "
                "outbox and goes out with the channel's next publish (re-execute this run)."
            ) from exc
        with engine.connect() as conn:
            # what this run's drift (if it measured one) saw and this round corrected
            corrected = reconciliation.record_corrections(conn, f"{context.run.run_id}")
            latency = change_to_ack(conn, f"{context.run.run_id}", acknowledged_before)
            frame = _published_frame(conn, chosen, sku_scope)
            stuck = {
                name: problem
                for name in chosen
                if (problem := _stuck(conn, name, summaries.get(name), unreadable.get(name)))
            }
            export_dead_letters(TableStore(io_manager.base_dir), conn)  # for the analysts
    figures = {name: summary.as_dict() for name, summary in summaries.items()}
    held_for = sorted({c for summary in summaries.values() for c in summary.held_for})
    if held_for:
        context.log.warning(
            f"Increases held on {', '.join(sorted(summaries))}: {', '.join(held_for)} have not "
            "published their whole catalog since the fence shares changed, and may still offer "
            "their old shares. Decreases went out. Publish every channel partition (Materialize "
            "all, or `inventory-sync sync`) to send the increases."
        )
    metadata = {
        **summed(figures, TOTALS),
        "channels": dg.MetadataValue.json(figures),
        "drift_corrected": sum(n for causes in corrected.values() for n in causes.values()),
        "increases_held_for": ", ".join(held_for),
        **latency,
        "allocation_to_ack_s": round((datetime.now(UTC) - started).total_seconds(), 3),
    }
    if stuck:
        raise dg.Failure(
            description="\n".join(f"{name}: {problem}" for name, problem in stuck.items()),
            metadata=metadata,
        )
    return dg.Output(frame, metadata=metadata)


def _acknowledged_before(
    conn: sa.Connection, plans: Sequence[ChannelPlan], partial: bool
) -> dict[tuple[str, str], datetime]:
    """When each planned listing was last acknowledged, before this round (for
    `change_to_ack`): a partial run asks for its own listings only, a full run reads every
    channel's acknowledgements at once."""
    found: dict[tuple[str, str], datetime] = {}
    for plan in plans:
        if partial:
            for listing, published in state.get_many(
                conn, plan.channel, sorted(plan.targets)
            ).items():
                found[(plan.channel, listing)] = published.acknowledged_at
        else:
            for listing, (_, at) in state.acknowledged_with_time(conn, plan.channel).items():
                found[(plan.channel, listing)] = at
    return found


def change_to_ack(
    conn: sa.Connection,
    round_id: str,
    acknowledged_before: Mapping[tuple[str, str], datetime],
    store: TableStore | None = None,
) -> dict[str, float | int | None]:
    """Seconds from a stock change in Odoo to the channel's acknowledgement of the quantity
    that carries it, over this round's acknowledged updates (re-plans included): p50, p95 and
    how many. The change is the latest `write_date` of the SKU's quants in `odoo/stock_quants`;
    an update counts only when that change came after the listing's previous acknowledgement
    (the update carries it: a share or a buffer that changed carries no stock change)."""
    rows = conn.execute(
        sa.select(outbox_table.c.channel, outbox_table.c.listing_id, outbox_table.c.sku,
                  outbox_table.c.acknowledged_at)
        .where(
            sa.or_(outbox_table.c.round_id == round_id,
                   outbox_table.c.round_id.like(f"{round_id}:%")),
            outbox_table.c.status == "acknowledged",
        )
    ).all()  # fmt: skip
    figures: dict[str, float | int | None] = {
        "change_to_ack_p50_s": None,
        "change_to_ack_p95_s": None,
        "change_to_ack_count": 0,
    }
    skus = sorted({sku for _, _, sku, _ in rows if sku})
    store = store or TableStore(settings.data_uri())
    if not skus or not store.exists(STOCK_QUANTS):
        return figures
    quants = store.read(STOCK_QUANTS, skus=skus)
    if quants.is_empty() or "write_date" not in quants.columns:
        return figures
    changed = dict(quants.group_by("sku").agg(pl.col("write_date").max()).drop_nulls().iter_rows())
    seconds = []
    for channel, listing, sku, acked in rows:
        at = changed.get(sku)
        if at is None or acked is None:
            continue
        at, acked = _utc(at), _utc(acked)
        previous = acknowledged_before.get((channel, listing))
        if (previous is None or at > _utc(previous)) and acked >= at:
            seconds.append((acked - at).total_seconds())
    if seconds:
        ordered = sorted(seconds)
        figures.update(
            change_to_ack_p50_s=round(ordered[len(ordered) // 2], 3),
            change_to_ack_p95_s=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
            change_to_ack_count=len(ordered),
        )
    return figures


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _published_frame(conn: sa.Connection, chosen: list[str], sku_scope: SkuScope) -> pl.DataFrame:
    query = sa.select(published_state).where(published_state.c.channel.in_(chosen))
    if sku_scope.is_partial():
        query = query.where(published_state.c.sku.in_(sku_scope.skus or []))
    rows = [dict(r._mapping) for r in conn.execute(query)]
    return pl.DataFrame(rows, schema=PUBLISHED_SCHEMA)


def _stuck(
    conn: sa.Connection, channel: str, summary: ChannelSummary | None, read_error: str | None
) -> str | None:
    """What keeps `channel` from being settled, and the command that clears it; None if nothing."""
    if read_error is not None:
        return (
            f"not published: its catalog could not be read ({read_error}). Nothing was sent to "
            "it; when it answers again, re-materialize this partition or run "
            f"`inventory-sync sync --channel {channel}`."
        )
    problems = []
    if summary is not None and summary.circuit is not None:
        problems.append(
            f"circuit {summary.circuit.describe()}. Nothing more was sent to it; its updates "
            "wait in the outbox (none is dead-lettered for the outage) and the first publish "
            "after the next probe time sends them: re-materialize this partition then, or "
            "`inventory-sync sync`"
        )
    letters = dlq.list_open(conn, channel, kind="publish")
    if letters:
        ids = ", ".join(str(x.id) for x in letters[:10])
        problems.append(
            f"{len(letters)} open dead letter(s) ({ids}): see `inventory-sync dlq show ID`; "
            f"`inventory-sync dlq replay ID` and re-materialize this partition to send them "
            f"again, or `inventory-sync dlq discard ID --reason ...` to settle them (the next "
            f"full publish plans those listings again from what the channel shows)"
        )
    waiting = outbox.waiting(conn, channel) if summary and summary.pending_left else []
    if waiting:
        lines = []
        for w in waiting:
            why = (
                f"held behind a decrease of {w.sku} on {w.held_by}"
                if w.held_by
                else f"{w.status} after {w.attempts} attempt(s)"
                + (f": {w.last_error}" if w.last_error else "")
            )
            lines.append(f"{w.listing_id} ({w.sku}) {w.direction} to {w.quantity}, {why}")
        problems.append(
            f"{summary.pending_left} update(s) still waiting, e.g. "
            + "; ".join(lines)
            + ". They are sent first by the next publish of the channel: re-materialize this "
            "partition, or `inventory-sync sync`"
        )
    return " | ".join(problems) or None


@dg.definitions
def defs() -> dg.Definitions:
    """The publishing assets."""
    return dg.Definitions(assets=[channel_stock, product_identity, published_channel_state])
