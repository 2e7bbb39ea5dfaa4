"""`orders/channel_orders` and `orders/odoo_order_sync`, per channel, and the inbox sensor.

- `orders/channel_orders` polls the channel's orders API from its cursor into the ledger's
  inbox (webhooks land there too, through `inventory-sync webhooks serve`) and shows the
  channel's inbox: every order event, its route, duplicates and status.
- `orders/odoo_order_sync` takes the channel's inbox rows into Odoo exactly once (create and
  confirm, cancel under the policy, park what cannot go in) and shows what each order
  became. Parked orders fail the partition, red in the UI, until `inventory-sync dlq`
  settles them.
- `orders_inbox_sensor` watches the inbox: new rows start an ingestion run for their
  channel, then a refresh of the ordered SKUs on every channel (closing the loop: the other
  channels learn about the sale within one run). The refresh only lowers quantities; raising
  one waits for the next full sync, when every channel's sales of the moment are in.
"""

import socket
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from inventory_pipelines.defs.inventory.allocation import CHANNEL_ALLOCATION, channel_partitions
from inventory_pipelines.defs.io_manager import SORT_BY
from inventory_pipelines.defs.odoo.assets import POLICY
from inventory_pipelines.defs.resources import ChannelsResource, OdooResource
from inventory_pipelines.ledger import create_engine, default_url, dlq, inbox, migrate
from inventory_pipelines.orders.events import inbox_event
from inventory_pipelines.orders.ingest import Ingestor, channel_setups

CHANNEL_ORDERS = ["orders", "channel_orders"]
ODOO_ORDER_SYNC = ["orders", "odoo_order_sync"]
PUBLISHED = ["inventory", "published_channel_state"]
# Staleness follows the order policy only: a change of shares in channels.yml says nothing
# about orders already taken (the units and the shipping warehouse it also gives are read at
# run time).
ORDER_RULES = ("orders.yml",)
#: how far back the inbox view reaches for rows already settled (open rows always show)
INBOX_VIEW_DAYS = 30

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
    kinds={"polars", "parquet"},
    code_version="1",
    metadata={SORT_BY: ["id"]},
    description="The channel's order events in the ledger's inbox (polled and by webhook): "
    "orders, cancellations and returns, each stored once, with duplicates counted.",
)
def channel_orders(context: dg.AssetExecutionContext, channels: ChannelsResource) -> dg.Output:
    """Poll the channel's orders since its cursor into the inbox; show the channel's inbox."""
    channel = POLICY.channels.get(context.partition_key)
    engine = channels.ledger()
    figures = {"polled": 0, "stored": 0, "duplicates": 0}
    try:
        with engine.connect() as conn:
            cursor = inbox.get_cursor(conn, channel.name)
        with channels.connector(channel.name, channel.kind.value) as connector:
            try:
                page = connector.read_orders(cursor)
            except NotImplementedError:
                page = None
        if page is not None:
            events = [
                inbox_event(channel.name, order, "poll", units_per_item=channel.uom.units)
                for order in page.orders
            ]
            with engine.connect() as conn:
                received = inbox.receive(conn, events)
                inbox.set_cursor(conn, channel.name, page.cursor)
            figures = {
                "polled": len(events),
                "stored": received.stored,
                "duplicates": received.duplicates,
                "cursor": page.cursor or "",
            }
        with engine.connect() as conn:
            frame = inbox_frame(inbox.rows(conn, channel=channel.name))
            counts = inbox.counts(conn, channel.name)
    finally:
        engine.dispose()
    return dg.Output(
        frame,
        metadata={
            **figures,
            "order_api": page is not None,
            "inbox": {k: int(v) for k, v in counts.items()},
            "waiting": counts.get("new", 0) + counts.get("claimed", 0),
        },
    )


@dg.asset(
    key=ODOO_ORDER_SYNC,
    group_name="orders",
    partitions_def=channel_partitions,
    kinds={"polars", "parquet", "odoo"},
    code_version=f"rules-{POLICY.version_of(*ORDER_RULES)}",
    deps=[dg.AssetKey(CHANNEL_ORDERS)],
    metadata={SORT_BY: ["external_id"]},
    description="What each channel order became in Odoo: sale.order id and state. "
    "Materializing it takes the channel's inbox into Odoo, exactly once.",
)
def odoo_order_sync(
    context: dg.AssetExecutionContext, odoo: OdooResource, channels: ChannelsResource
):
    """Ingest the channel's waiting inbox rows into Odoo; show the order-to-Odoo mapping."""
    channel = context.partition_key
    engine = channels.ledger()
    worker = f"{socket.gethostname()}:{context.run.run_id}"
    try:
        with odoo.client() as client:
            summary = Ingestor(engine, client, channel_setups(POLICY), worker=worker).run(
                channel=channel
            )
        with engine.connect() as conn:
            mapped = inbox.mappings(conn, channel)
            parked = [d for d in dlq.list_open(conn, channel) if d.kind == "order"]
            waiting = inbox.counts(conn, channel)
    finally:
        engine.dispose()
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
    metadata = {
        **{k: v for k, v in summary.as_dict().items() if k != "errors"},
        "open_order_dead_letters": len(parked),
        "waiting": waiting.get("new", 0),
    }
    if summary.errors:
        metadata["errors"] = "\n".join(summary.errors)
    if parked or summary.released:
        yield dg.Output(frame, metadata=metadata)
        raise dg.Failure(
            f"{channel}: {len(parked)} order(s) parked in the dead-letter queue, "
            f"{summary.released} waiting for Odoo; see `inventory-sync dlq list --channel "
            f"{channel}`",
            metadata=metadata,
        )
    yield dg.Output(frame, metadata=metadata)


ingest_orders = dg.define_asset_job(
    "ingest_orders",
    selection=dg.AssetSelection.assets(ODOO_ORDER_SYNC),
    partitions_def=channel_partitions,
    description="Take one channel's inbox into Odoo (a partition).",
)

refresh_ordered_skus = dg.define_asset_job(
    "refresh_ordered_skus",
    selection=dg.AssetSelection.assets(CHANNEL_ALLOCATION, PUBLISHED),
    partitions_def=channel_partitions,
    description="Re-allocate and publish a SKU subset on one channel (the sensor's fast path).",
)


@dg.sensor(
    name="orders_inbox_sensor",
    jobs=[ingest_orders, refresh_ordered_skus],
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New inbox rows: ingest them into Odoo, then refresh their SKUs on every channel.",
)
def orders_inbox_sensor(context: dg.SensorEvaluationContext):
    """One ingestion run per channel with new rows, then a refresh of the ordered SKUs on every
    channel. The cursor is the last inbox id seen."""
    since = int(context.cursor or 0)
    url = default_url()
    migrate(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            new = inbox.rows(conn, since_id=since, limit=5000)
    finally:
        engine.dispose()
    if not new:
        return dg.SkipReason(f"no inbox row after id {since}")
    last = max(r.id for r in new)
    requests = [
        dg.RunRequest(
            run_key=f"ingest:{channel}:{last}",
            job_name="ingest_orders",
            partition_key=channel,
            tags={"inventory/trigger": "orders_inbox_sensor"},
        )
        for channel in sorted({r.channel for r in new})
    ]
    skus = sorted({x["sku"] for r in new for x in r.payload.get("lines", []) if x.get("sku")})
    if skus:
        requests += [
            dg.RunRequest(
                run_key=f"refresh:{channel}:{last}",
                job_name="refresh_ordered_skus",
                partition_key=channel,
                run_config={
                    "resources": {"sku_scope": {"config": {"skus": skus}}},
                    # the fast path only lowers: an increase computed before every channel's
                    # sales are in the inbox could offer units already sold elsewhere
                    "ops": {"inventory__published_channel_state": {"config": {"increases": False}}},
                },
                tags={"inventory/trigger": "orders_inbox_sensor", "inventory/fast_path": "true"},
            )
            for channel in POLICY.channels.names()
        ]
    return dg.SensorResult(run_requests=requests, cursor=str(last))


@dg.definitions
def defs() -> dg.Definitions:
    """The order assets, their jobs and the inbox sensor."""
    return dg.Definitions(
        assets=[channel_orders, odoo_order_sync],
        jobs=[ingest_orders, refresh_ordered_skus],
        sensors=[orders_inbox_sensor],
    )
