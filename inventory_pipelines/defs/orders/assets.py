"""`orders/channel_orders` and `orders/odoo_order_sync`, per channel, and the inbox sensor.

- `orders/channel_orders` polls the channel's orders API from its cursor into the ledger's
  inbox (webhooks land there too, through `inventory-sync webhooks serve`) and shows the
  channel's inbox: every order event, its route, duplicates and status.
- `orders/odoo_order_sync` takes the channel's inbox rows into Odoo exactly once (create and
  confirm, cancel under the policy, park what cannot go in) and shows what each order
  became.
- Parked orders never stop a channel: both assets materialize what they did, and their
  check `no_parked_orders` (ERROR, not blocking: nothing downstream waits on it) fails red in
  the UI while the channel has open order dead letters, naming them and the commands that
  settle them (`inventory-sync dlq show ID`, `dlq discard ID --reason ...`); the next
  materialization after they are settled passes it. Odoo down fails `odoo_order_sync`
  (nothing is yielded): its rows wait in the inbox.
- `orders_inbox_sensor` watches the inbox: new rows start an ingestion run for their
  channel, then one refresh of the ordered SKUs on every channel (closing the loop: the other
  channels learn about the sale within one run). The refresh raises as well as lowers: a
  ring-fenced channel's quantity comes out of its own fence, so no increase can offer units
  sold elsewhere (DESIGN.md section 3).
- One run may cover several channels (Materialize all, the CLI): each asset then handles every
  channel of the run, and its check gives one verdict naming each channel with parked orders.
"""

import socket
import warnings
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.dataplane.dead_letters import export_dead_letters
from inventory_pipelines.defs.io_manager import SORT_BY, ParquetIOManager
from inventory_pipelines.defs.resources import (
    ChannelsResource,
    LedgerResource,
    OdooResource,
    RulesResource,
)
from inventory_pipelines.defs.shared import (
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    CHANNEL_STOCK,
    CHANNELS_IN_ONE_RUN,
    FAST_PATH_PRIORITY,
    ODOO_ORDER_SYNC,
    POLICY,
    PUBLISHED,
    STEPS_IN_ONE_PROCESS,
    channel_partitions,
    channel_range_tags,
    channels_of,
    summed,
)
from inventory_pipelines.ledger import dlq, fences, inbox
from inventory_pipelines.orders.dropship import SnapshotSupply
from inventory_pipelines.orders.events import take_in
from inventory_pipelines.orders.ingest import Ingestor, channel_setups
from inventory_pipelines.rules import Channel

# Staleness follows the order policy only: a change of shares in channels.yml says nothing
# about orders already taken (the units and the shipping warehouse it also gives are read at
# run time).
ORDER_RULES = ("orders.yml",)
#: how far back the inbox view reaches for rows already settled (open rows always show)
INBOX_VIEW_DAYS = 30
PARKED_CHECK = "no_parked_orders"
#: how many open letters a check names one by one (the rest are counted)
NAMED_LETTERS = 20


def parked_check_spec(key: Sequence[str]) -> dg.AssetCheckSpec:
    """ERROR, not blocking: a parked order is reported in red, nothing downstream waits."""
    # Checks per partition are a preview in Dagster 1.13; without them a channel's latest
    # result would be overwritten by any other channel's run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            PARKED_CHECK,
            asset=dg.AssetKey(list(key)),
            partitions_def=channel_partitions,
            blocking=False,
            description="No order of the channel waits in the dead-letter queue: each one "
            "parked is named with the command that settles it.",
        )


def _subject(letter: dlq.DeadLetter) -> str:
    payload = letter.payload if isinstance(letter.payload, dict) else {}
    if payload.get("external_id"):
        return f"order {payload['external_id']} {payload.get('event')}"
    return f"webhook delivery {payload.get('delivery_id') or '(no id)'}"


def parked_check_result(
    key: Sequence[str], letters_by_channel: Mapping[str, Sequence[dlq.DeadLetter]]
) -> dg.AssetCheckResult:
    """The check's verdict on the run's channels' open order dead letters."""
    letters = [x for channel_letters in letters_by_channel.values() for x in channel_letters]
    ids = [letter.id for letter in letters]
    if not letters:
        return dg.AssetCheckResult(
            check_name=PARKED_CHECK,
            asset_key=dg.AssetKey(list(key)),
            passed=True,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"open_order_dead_letters": 0},
        )
    first = ids[0]
    parts = []
    for channel, channel_letters in letters_by_channel.items():
        if not channel_letters:
            continue
        named = [f"#{x.id} ({_subject(x)}: {x.error})" for x in channel_letters[:NAMED_LETTERS]]
        if len(channel_letters) > NAMED_LETTERS:
            named.append(f"and {len(channel_letters) - NAMED_LETTERS} more")
        parts.append(
            f"{channel}: {len(channel_letters)} order(s) parked in the dead-letter queue: "
            + ", ".join(named)
            + f" (`inventory-sync dlq list --channel {channel}` lists them all)"
        )
    description = (
        "; ".join(parts) + f". See one with `inventory-sync dlq show {first}`; settle it with "
        f'`inventory-sync dlq discard {first} --reason "..."`, or `inventory-sync dlq replay '
        f"{first}` once its cause is fixed. Once they are settled, the next materialization "
        "passes this check."
    )
    rows = "\n".join(
        f"| {x.id} | {x.channel} | {_subject(x)} | {x.error.replace('|', '/')} | "
        f"`inventory-sync dlq discard {x.id} --reason ...` |"
        for x in letters[:NAMED_LETTERS]
    )
    return dg.AssetCheckResult(
        check_name=PARKED_CHECK,
        asset_key=dg.AssetKey(list(key)),
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "open_order_dead_letters": len(letters),
            "dead_letter_ids": dg.MetadataValue.json(ids),
            "letters": dg.MetadataValue.md(
                "| id | channel | what | why | settle |\n|---|---|---|---|---|\n" + rows
            ),
            "show": f"inventory-sync dlq show {first}",
        },
    )


INBOX_SCHEMA = {
    "id": pl.Int64,
    "channel": pl.Utf8,
    "external_id": pl.Utf8,
    "event": pl.Utf8,
    "kind": pl.Utf8,
    "route": pl.Utf8,
    "status": pl.Utf8,
    "attempts": pl.Int64,
    "duplicates": pl.Int64,
    "received_at": pl.Datetime("us", "UTC"),
    "skus": pl.List(pl.Utf8),
    "units": pl.Int64,
    "error": pl.Utf8,
}


def inbox_frame(rows: list[inbox.InboxRow]) -> pl.DataFrame:
    """The inbox rows as a table (settled rows older than INBOX_VIEW_DAYS left out)."""
    horizon = datetime.now(UTC) - timedelta(days=INBOX_VIEW_DAYS)
    kept = [r for r in rows if r.status in ("new", "claimed") or r.received_at >= horizon]
    return pl.DataFrame(
        [
            {
                "id": r.id,
                "channel": r.channel,
                "external_id": r.external_id,
                "event": r.event,
                "kind": r.kind,
                "route": r.route,
                "status": r.status,
                "attempts": r.attempts,
                "duplicates": r.duplicates,
                "received_at": r.received_at,
                "skus": sorted({x["sku"] for x in r.payload.get("lines", []) if x.get("sku")}),
                "units": sum(int(x.get("quantity") or 0) for x in r.payload.get("lines", [])),
                "error": r.error,
            }
            for r in kept
        ],
        schema=INBOX_SCHEMA,
        orient="row",
    )


@dg.asset(
    key=CHANNEL_ORDERS,
    group_name="orders",
    partitions_def=channel_partitions,
    backfill_policy=CHANNELS_IN_ONE_RUN,
    kinds={"polars", "parquet"},
    code_version="1",
    # polled after the catalog is read back: every sale the read-back shows is then in the
    # inbox before the allocation is computed, so the publish can trust the read-back
    deps=[dg.AssetKey(CHANNEL_STOCK)],
    metadata={SORT_BY: ["id"]},
    check_specs=[parked_check_spec(CHANNEL_ORDERS)],
    description="The channel's order events in the ledger's inbox (polled and by webhook): "
    "orders, cancellations and returns, each stored once, with duplicates counted. An event "
    "that cannot be processed is parked in the dead-letter queue and polling moves past it.",
)
def channel_orders(
    context: dg.AssetExecutionContext,
    channels: ChannelsResource,
    ledger: LedgerResource,
    rules: RulesResource,
    io_manager: dg.ResourceParam[ParquetIOManager],
):
    """Poll the run's channels' orders since their cursors into the inbox (parking what cannot
    be processed); show their inboxes."""
    frames, figures, parked = [], {}, {}
    with ledger.engine() as engine:
        for name in channels_of(context):
            channel = rules.policy().channels.get(name)
            frame, figures[name], parked[name] = _poll(context, engine, channels, channel)
            frames.append(frame)
        with engine.connect() as conn:
            export_dead_letters(TableStore(io_manager.base_dir), conn)  # for the analysts
    total = summed(figures, _COUNTED)
    yield dg.Output(
        pl.concat(frames, how="vertical_relaxed"),
        metadata={
            **total,
            "open_order_dead_letters": sum(len(x) for x in parked.values()),
            "channels": dg.MetadataValue.json(figures),
        },
    )
    yield parked_check_result(CHANNEL_ORDERS, parked)


_COUNTED = ("polled", "stored", "duplicates", "parked", "waiting")


def _poll(
    context: dg.AssetExecutionContext, engine, channels: ChannelsResource, channel: Channel
) -> tuple[pl.DataFrame, dict[str, object], list[dlq.DeadLetter]]:
    figures: dict[str, object] = {"polled": 0, "stored": 0, "duplicates": 0, "parked": 0}
    with engine.connect() as conn:
        cursor = inbox.get_cursor(conn, channel.name)
    polled_at = datetime.now(UTC)
    with channels.connector(channel.name, channel.kind.value) as connector:
        try:
            page = connector.read_orders(cursor)
        except NotImplementedError:
            page = None
    if page is not None:
        with engine.connect() as conn:
            intake = take_in(
                conn,
                channel.name,
                page.orders,
                "poll",
                units_per_item=channel.uom.units,
                unreadable=page.unreadable,
            )
            inbox.set_cursor(conn, channel.name, page.cursor)
            # every sale the last read-back showed is heard of now: drops before it are explained
            explained = fences.explain_drops_after_poll(conn, channel.name, polled_at)
        figures = {
            "polled": len(page.orders) + len(page.unreadable),
            **intake.as_dict(),
            "cursor": page.cursor or "",
            "drops_explained": explained,
        }
        if intake.parked:
            context.log.warning(
                f"{channel.name}: parked dead letter(s) {list(intake.parked)}; "
                f"see `inventory-sync dlq show {intake.parked[0]}`"
            )
    with engine.connect() as conn:
        frame = inbox_frame(inbox.rows(conn, channel=channel.name))
        counts = inbox.counts(conn, channel.name)
        parked = dlq.list_open(conn, channel.name, kind="order")
    figures.update(
        {
            "order_api": page is not None,
            "inbox": {k: int(v) for k, v in counts.items()},
            "waiting": counts.get("new", 0) + counts.get("claimed", 0),
            "open_order_dead_letters": len(parked),
        }
    )
    return frame, figures, parked


@dg.asset(
    key=ODOO_ORDER_SYNC,
    group_name="orders",
    partitions_def=channel_partitions,
    backfill_policy=CHANNELS_IN_ONE_RUN,
    kinds={"polars", "parquet", "odoo"},
    code_version=f"rules-{POLICY.version_of(*ORDER_RULES)}",
    deps=[dg.AssetKey(CHANNEL_ORDERS)],
    metadata={SORT_BY: ["external_id"]},
    check_specs=[parked_check_spec(ODOO_ORDER_SYNC)],
    description="What each channel order became in Odoo: sale.order id and state. "
    "Materializing it takes the channel's inbox into Odoo, exactly once; an order that "
    "cannot go in is parked and the others go on.",
)
def odoo_order_sync(
    context: dg.AssetExecutionContext,
    odoo: OdooResource,
    ledger: LedgerResource,
    rules: RulesResource,
    io_manager: dg.ResourceParam[ParquetIOManager],
):
    """Ingest the run's channels' waiting inbox rows into Odoo; show the order-to-Odoo mapping."""
    chosen = channels_of(context)
    worker = f"{socket.gethostname()}:{context.run.run_id}"
    figures: dict[str, dict[str, object]] = {}
    parked: dict[str, list[dlq.DeadLetter]] = {}
    mapped, errors, waiting = [], [], 0
    policy = rules.policy()
    with ledger.engine() as engine, odoo.client() as client:
        # drop-ship channels split what their own stock cannot cover onto the drop-ship route
        supply = SnapshotSupply(policy, engine, TableStore(io_manager.base_dir))
        ingestor = Ingestor(engine, client, channel_setups(policy), worker=worker, supply=supply)
        for channel in chosen:
            summary = ingestor.run(channel=channel)
            with engine.connect() as conn:
                mapped += inbox.mappings(conn, channel)
                parked[channel] = dlq.list_open(conn, channel, kind="order")
                left = inbox.counts(conn, channel).get("new", 0)
            waiting += left
            errors += [f"{channel}: {e}" for e in summary.errors]
            figures[channel] = {
                **{k: v for k, v in summary.as_dict().items() if k != "errors"},
                "open_order_dead_letters": len(parked[channel]),
                "waiting": left,
            }
        with engine.connect() as conn:
            export_dead_letters(TableStore(io_manager.base_dir), conn)  # for the analysts
    metadata = {**summed(figures), "channels": dg.MetadataValue.json(figures)}
    if errors:
        # Odoo is unavailable: fail before any output; the rows wait in the inbox
        raise dg.Failure(
            f"Odoo unavailable, {waiting} order event(s) wait in the inbox; re-materialize "
            "when Odoo answers again.\n" + "\n".join(errors),
            metadata=metadata,
        )
    frame = pl.DataFrame(
        [
            {
                "channel": m.channel,
                "external_id": m.external_id,
                "client_order_ref": m.client_order_ref,
                "sale_order_id": m.odoo_order_id,
                "odoo_state": m.odoo_state,
                "updated_at": m.updated_at,
            }
            for m in mapped
        ],
        schema={
            "channel": pl.Utf8,
            "external_id": pl.Utf8,
            "client_order_ref": pl.Utf8,
            "sale_order_id": pl.Int64,
            "odoo_state": pl.Utf8,
            "updated_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    yield dg.Output(frame, metadata=metadata)
    yield parked_check_result(ODOO_ORDER_SYNC, parked)


ingest_orders = dg.define_asset_job(
    "ingest_orders",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.assets(ODOO_ORDER_SYNC),
    tags={"dagster/priority": str(FAST_PATH_PRIORITY)},
    description="Take the chosen channels' inboxes into Odoo.",
)

refresh_ordered_skus = dg.define_asset_job(
    "refresh_ordered_skus",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.assets(CHANNEL_ALLOCATION, PUBLISHED),
    tags={"dagster/priority": str(FAST_PATH_PRIORITY)},
    description="Re-allocate and publish a SKU subset on every channel in one run (the fast "
    "path): every channel's decreases before any increase, each channel out of its own fence.",
)


poll_orders = dg.define_asset_job(
    "poll_orders",
    selection=dg.AssetSelection.assets(CHANNEL_ORDERS),
    executor_def=STEPS_IN_ONE_PROCESS,
    tags={"dagster/priority": str(FAST_PATH_PRIORITY)},
    description="Poll the chosen channels' orders into the inbox (the net under the webhooks); "
    "the inbox sensor takes what is new into Odoo and onto every channel.",
)

_POLL = POLICY.automation.schedules.orders_poll


@dg.schedule(
    name="poll_channel_orders",
    job=poll_orders,
    cron_schedule=_POLL.cron,
    execution_timezone=_POLL.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING
    if _POLL.enabled
    else dg.DefaultScheduleStatus.STOPPED,
    description="Every channel's orders polled (automation.yml: schedules.orders_poll): an "
    "order whose webhook was refused, lost or never sent reaches the inbox all the same.",
)
def poll_channel_orders(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One run over every channel, keyed by its scheduled time."""
    when = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"poll_orders:{when.isoformat()}" if when else None,
        tags={
            "inventory/trigger": "poll_channel_orders",
            **channel_range_tags(POLICY.channels.names()),
        },
    )


@dg.sensor(
    name="orders_inbox_sensor",
    jobs=[ingest_orders, refresh_ordered_skus],
    minimum_interval_seconds=15,
    # on wherever a daemon runs (`make run` included); switch it off in the UI (Automation)
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New inbox rows: ingest them into Odoo, then refresh their SKUs on every channel.",
)
def orders_inbox_sensor(context: dg.SensorEvaluationContext, ledger: LedgerResource):
    """One ingestion run per channel with new rows, then one refresh of the ordered SKUs over
    every channel. The cursor is the last inbox id seen."""
    since = int(context.cursor or 0)
    with ledger.engine() as engine, engine.connect() as conn:
        new = inbox.rows(conn, since_id=since, limit=5000)
    if not new:
        return dg.SkipReason(f"no inbox row after id {since}")
    last = max(r.id for r in new)
    trigger = {"inventory/trigger": "orders_inbox_sensor"}
    requests = [
        dg.RunRequest(
            run_key=f"ingest:{channel}:{last}",
            job_name="ingest_orders",
            partition_key=channel,
            tags=trigger,
        )
        for channel in sorted({r.channel for r in new})
    ]
    skus = sorted({x["sku"] for r in new for x in r.payload.get("lines", []) if x.get("sku")})
    if skus:
        requests.append(
            dg.RunRequest(
                run_key=f"refresh:{last}",
                job_name="refresh_ordered_skus",
                run_config={"resources": {"sku_scope": {"config": {"skus": skus}}}},
                tags={
                    **trigger,
                    "inventory/fast_path": "true",
                    **channel_range_tags(POLICY.channels.names()),
                },
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=str(last))


@dg.definitions
def defs() -> dg.Definitions:
    """The order assets, their jobs and the inbox sensor."""
    return dg.Definitions(
        assets=[channel_orders, odoo_order_sync],
        jobs=[ingest_orders, refresh_ordered_skus, poll_orders],
        sensors=[orders_inbox_sensor],
        schedules=[poll_channel_orders],
    )
