"""`reconciliation/drift` per channel partition, its checks, and the drift history per day.

Where drift sits in the graph: after the channels are read back (`reconciliation/channel_stock`),
their orders polled (`orders/channel_orders`) and the allocation computed, and before the
publish (`inventory/published_channel_state` depends on it). It must come before the publish:
its causes are read from the ledger as the channels left it (our last acknowledgements, the
dead letters, the drops), which the publish changes as it corrects them. The dependency is
only an order: on a path that does not select drift (the fast path, `publish_channels`) the
publish runs without it, and its checks never block (a channel that drifts is what the publish
is there to correct). When both run, the publish audits each drifting listing it corrected,
with its cause (`ledger/reconciliation.py`).

One run covers every channel it is asked for, like the other channel assets; each channel's
materialization carries its own figures (`drift_skus`, `drift_units`, `listings_compared`,
`drift_<cause>`), and each run's drift is added to `reconciliation/drift_history`, a Parquet
table partitioned by day that the analysts' catalog shows as `reconciliation.drift_history`.
"""

import warnings
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
from sqlalchemy import Connection, Engine

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.checks import SCHEMA_CHECK, preview, schema_check_result
from inventory_pipelines.defs.io_manager import SCOPE_COLUMN, SORT_BY, ParquetIOManager, SkuScope
from inventory_pipelines.defs.resources import LedgerResource, RulesResource
from inventory_pipelines.defs.shared import (
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    CHANNEL_STOCK,
    CHANNELS_IN_ONE_RUN,
    DRIFT,
    DRIFT_HISTORY,
    PRODUCT_IDENTITY,
    channel_partitions,
    channels_of,
)
from inventory_pipelines.ledger import fences, state
from inventory_pipelines.ledger import reconciliation as drift_audit
from inventory_pipelines.reconciliation import (
    CAUSES,
    LedgerFacts,
    Level,
    drift,
    expected_per_listing,
    sales_horizon,
    summarize,
    verdict,
)
from inventory_pipelines.reconciliation import history as drift_history
from inventory_pipelines.reconciliation.drift import (
    ACKNOWLEDGED_SCHEMA,
    DEAD_LETTERS_SCHEMA,
    DROPS_SCHEMA,
    SALES_SCHEMA,
)
from inventory_pipelines.reconciliation.schemas import DriftSchema
from inventory_pipelines.rules import Policy

THRESHOLD_CHECK = "drift_within_thresholds"
#: the stable numeric keys of each channel's drift materialization
FIGURES = ("listings_compared", "drift_skus", "drift_units", *(f"drift_{c}" for c in CAUSES))

history_spec = dg.AssetSpec(
    key=DRIFT_HISTORY,
    deps=[dg.AssetKey(DRIFT)],
    partitions_def=dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=1),
    group_name="reconciliation",
    kinds={"parquet", "duckdb"},
    description="Every drift observation, one Parquet partition per day (UTC): the rows of "
    "`reconciliation/drift` with the `day` and the `run_id` that saw them. Written by each "
    "materialization of `reconciliation/drift`; in DuckDB: `reconciliation.drift_history`.",
)


def _threshold_check_spec() -> dg.AssetCheckSpec:
    # Checks per partition are a preview in Dagster 1.13 (as the orders' parked check).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            THRESHOLD_CHECK,
            asset=dg.AssetKey(DRIFT),
            partitions_def=channel_partitions,
            blocking=False,
            description="Each channel's drifting SKUs against automation.yml's drift "
            "thresholds: WARN above warn_skus, ERROR above error_skus or error_percent of the "
            "listings compared. Never blocking: the publish after it corrects the drift.",
        )


def unreadable(channel_stock: pl.DataFrame) -> dict[str, str]:
    """Channel -> why its catalog could not be read in this run (its marker row)."""
    if "read_error" not in channel_stock.columns:
        return {}
    marked = channel_stock.filter(pl.col("read_error").is_not_null())
    return dict(marked.select("channel", "read_error").iter_rows())


def expected_at(context: dg.AssetExecutionContext, channel: str) -> datetime | None:
    """When the channel's allocation (the expected figure) was last materialized."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(CHANNEL_ALLOCATION), asset_partitions=[channel]
        ),
        limit=1,
    ).records
    return datetime.fromtimestamp(records[0].timestamp, UTC) if records else None


def ledger_facts(
    engine: Engine,
    policy: Policy,
    channels: Sequence[str],
    expected: pl.DataFrame,
    read_back: pl.DataFrame,
) -> LedgerFacts:
    """What the ledger knows of the channels that explains drift (see `LedgerFacts`): order
    units are converted to each channel's unit, and only those recent enough to matter read."""
    with engine.connect() as conn:
        acknowledged = (
            pl.concat(
                [_acknowledged_frame(conn, channel) for channel in channels],
                how="vertical",
            )
            if channels
            else pl.DataFrame(schema=ACKNOWLEDGED_SCHEMA)
        )
        since = sales_horizon(expected, read_back, acknowledged)
        per_item = {c: float(policy.channels.get(c).uom.units) for c in channels}
        sales = pl.DataFrame(
            [
                (channel, sku, units / per_item[channel], at)
                for channel, sku, units, at in (
                    drift_audit.channel_sales(conn, channels, since) if since else []
                )
            ],
            schema=SALES_SCHEMA,
            orient="row",
        )
        letters = pl.DataFrame(
            drift_audit.held_listings(conn, channels), schema=DEAD_LETTERS_SCHEMA, orient="row"
        )
        epoch = fences.latest_epoch(conn)
        based = epoch.started_at if epoch else datetime(1970, 1, 1, tzinfo=UTC)
        drops = pl.DataFrame(
            [
                (channel, sku, units)
                for (channel, sku), units in fences.unexplained_drops(conn, based).items()
                if channel in channels
            ],
            schema=DROPS_SCHEMA,
            orient="row",
        )
    return LedgerFacts(acknowledged, sales, letters, drops)


def _acknowledged_frame(conn: Connection, channel: str) -> pl.DataFrame:
    """What `channel` last acknowledged per listing, built column by column: a million
    acknowledgements share a few thousand instants, so each instant is turned into epoch
    microseconds once and the column is cast from integers (Polars converts Python datetimes
    one by one: seconds at catalog scale)."""
    found = state.acknowledged_with_time(conn, channel)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    micros: dict[datetime, int] = {}
    quantities, instants = [], []
    for quantity, at in found.values():
        quantities.append(quantity)
        instant = micros.get(at)
        if instant is None:
            instant = micros[at] = (at - epoch) // timedelta(microseconds=1)
        instants.append(instant)
    return pl.DataFrame(
        {
            "listing_id": pl.Series(list(found), dtype=pl.Utf8),
            "quantity": pl.Series(quantities, dtype=pl.Int64),
            "acknowledged_at": pl.Series(instants, dtype=pl.Int64),
        }
    ).select(
        pl.lit(channel, pl.Utf8).alias("channel"),
        "listing_id",
        "quantity",
        pl.col("acknowledged_at").cast(ACKNOWLEDGED_SCHEMA["acknowledged_at"]),
    )


def threshold_check_result(
    figures: dict[str, dict[str, int]], policy: Policy, not_read: dict[str, str]
) -> dg.AssetCheckResult:
    """One verdict for the run's channels: the worst of them, each channel named."""
    thresholds = policy.automation.drift
    levels, lines = {}, []
    for channel, counts in figures.items():
        if channel in not_read:
            level, reason = (
                Level.WARN,
                f"not compared: its catalog could not be read ({not_read[channel]})",
            )
        else:
            judged = verdict(counts["drift_skus"], counts["listings_compared"], thresholds)
            level, reason = judged.level, judged.reason
        levels[channel] = level.value
        lines.append(f"{channel}: {level.value.upper()}, {reason}")
    worst = Level.ERROR if Level.ERROR.value in levels.values() else Level.WARN
    return dg.AssetCheckResult(
        check_name=THRESHOLD_CHECK,
        asset_key=dg.AssetKey(DRIFT),
        passed=all(level == Level.OK.value for level in levels.values()),
        severity=dg.AssetCheckSeverity.ERROR
        if worst is Level.ERROR
        else dg.AssetCheckSeverity.WARN,
        description="; ".join(lines),
        metadata={
            "levels": dg.MetadataValue.json(levels),
            "drift_skus": sum(c["drift_skus"] for c in figures.values()),
            "warn_skus": thresholds.warn_skus,
            "error_skus": thresholds.error_skus,
            "error_percent": float(thresholds.error_percent),
        },
    )


@dg.asset(
    key=DRIFT,
    group_name="reconciliation",
    partitions_def=channel_partitions,
    backfill_policy=CHANNELS_IN_ONE_RUN,
    # after the run's orders are polled: a sale the read-back shows is known before it is judged
    deps=[dg.AssetKey(CHANNEL_ORDERS)],
    ins={
        "channel_allocation": dg.AssetIn(key=CHANNEL_ALLOCATION),
        "product_identity": dg.AssetIn(key=PRODUCT_IDENTITY),
        "channel_stock": dg.AssetIn(key=CHANNEL_STOCK),
    },
    kinds={"polars", "parquet"},
    metadata={SCOPE_COLUMN: "sku", SORT_BY: ["cause", "sku", "listing_id"]},
    check_specs=[
        dg.AssetCheckSpec(
            SCHEMA_CHECK,
            asset=dg.AssetKey(DRIFT),
            blocking=False,
            description=f"DriftSchema: {(DriftSchema.__doc__ or '').strip()}",
        ),
        _threshold_check_spec(),
    ],
    description="Per channel, every listing that shows something else than it should "
    "(expected: the allocation `explain` traces; actual: the channel's read-back), with its "
    "difference and its cause: unmapped_listing, dead_letter, stale_compare, pending_order, "
    "channel_edit or missed_update. Materialize it with the publish to correct the drift.",
)
def drift_asset(
    context: dg.AssetExecutionContext,
    ledger: LedgerResource,
    rules: RulesResource,
    sku_scope: SkuScope,
    io_manager: dg.ResourceParam[ParquetIOManager],
    channel_allocation: pl.DataFrame,
    product_identity: pl.DataFrame,
    channel_stock: pl.DataFrame,
):
    """Compare what the run's channels show with what they should, give each drift its cause,
    audit the drifts a publish can correct, and add the run's drift to the daily history.

    In a run over a SKU subset only those SKUs are measured (their rows replace theirs in the
    table, the check judges them against every listing read back) and no history is kept. The
    history is written to the data plane the IO manager writes every table to (`io_manager`).
    """
    chosen = channels_of(context)
    policy = rules.policy()
    not_read = {c: e for c, e in unreadable(channel_stock).items() if c in chosen}
    compared = [c for c in chosen if c not in not_read]
    now = datetime.now(UTC)

    def of_compared(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("channel").cast(pl.Utf8).is_in(compared))

    expected = expected_per_listing(
        of_compared(channel_allocation),
        of_compared(product_identity),
        {channel: expected_at(context, channel) for channel in compared},
    )
    read_back = of_compared(channel_stock)
    with ledger.engine() as engine:
        facts = ledger_facts(engine, policy, compared, expected, read_back)
        frame = drift(expected, read_back, facts, now=now, only_skus=sku_scope.skus)
        correctable = frame.filter(pl.col("cause") != "unmapped_listing")
        with engine.connect() as conn:
            drift_audit.record_drift(conn, correctable.to_dicts(), context.run.run_id)
    summary = summarize(frame, read_back, chosen)
    figures = {row.pop("channel"): row for row in summary.to_dicts()}
    for channel, counts in figures.items():
        context.add_asset_metadata(
            {**counts, **({"read_error": not_read[channel]} if channel in not_read else {})},
            partition_key=channel,
        )
    metadata: dict[str, object] = {
        "channels": dg.MetadataValue.json(figures),
        "preview": preview(
            frame.select("channel", "sku", "listing_id", "expected", "actual", "cause")
        ),
    }
    if sku_scope.is_partial():
        metadata["history"] = "not kept: a run over a SKU subset measures only its SKUs"
    else:
        store = TableStore(io_manager.base_dir)
        written = drift_history.append(store, frame, context.run.run_id, compared, now)
        for day, rows in written.items():
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=DRIFT_HISTORY,
                    partition=day.isoformat(),
                    metadata={
                        "rows_added": rows,
                        "run_id": context.run.run_id,
                        "path": dg.MetadataValue.path(
                            store.uri(drift_history.HISTORY_KEY, day.isoformat())
                        ),
                    },
                )
            )
        metadata["history_days"] = ", ".join(d.isoformat() for d in written)
    yield dg.Output(frame, metadata=metadata)
    yield schema_check_result(DRIFT, DriftSchema, frame)
    yield threshold_check_result(figures, policy, not_read)


@dg.definitions
def defs() -> dg.Definitions:
    """The drift asset and its daily history."""
    return dg.Definitions(assets=[drift_asset, history_spec])
