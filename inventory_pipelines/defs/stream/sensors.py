"""The Odoo change sensor: what changed in Odoo reaches the channels, now or at the next batch.

Every `change_sensor.interval_s` (`automation.yml`) the sensor asks Odoo what changed since its
cursor (`odoo/changes.py`: quants, done moves, products, templates, with an overlap window):
one call when nothing did (Odoo 17+). Each changed SKU is then routed (`routing.py`):
critical ones go into `refresh_changed_skus` runs now, every channel in one run, at most
`max_skus_per_run` SKUs a run and `FAST_RUNS_PER_EVALUATION` runs an evaluation (the rest of
the critical SKUs are marked dirty); the others are marked dirty in the ledger for the batch
(`schedules.py`). Before the first full refresh (the tables a SKU refresh reads and does not
write are not there yet) every changed SKU is marked dirty: a fast run could only fail. The
dirty marks are written before the cursor moves on, so a crash in
between only marks them again.

The cursor (JSON) holds the high-water stamp and the ids already read inside the overlap
window; each run key names the window it came from. The Odoo client is kept between
evaluations (its version, login and circuit breaker with it), so a quiet Odoo costs one call
an evaluation and an Odoo that is down is not flooded: the breaker fails the evaluation at
once, and the next one tries again from the same cursor.

While a table a SKU refresh reads is missing (a fresh `make run`, a lost data plane), the sensor
also requests one `reconcile_all` run an hour, so the loop closes without anyone clicking; and
when the rules the allocation applies changed since it last ran (a warehouse set offline or on
hold), one refresh of every SKU on every channel at fast-path priority.

`requeue_failed_refreshes` marks the SKUs of a fast refresh that failed dirty, so the batch
takes them: a fast path that fails loses nothing either.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import dagster as dg

from inventory_pipelines import settings
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.inventory.allocation import ALLOCATION_RULES
from inventory_pipelines.defs.reconciliation.schedules import reconcile_all
from inventory_pipelines.defs.resources import LedgerResource, OdooResource
from inventory_pipelines.defs.shared import (
    CHANNEL_ALLOCATION,
    FAST_PATH_PRIORITY,
    POLICY,
    channel_range_tags,
)
from inventory_pipelines.defs.stream.jobs import (
    DIRTY_CLAIM_TAG,
    TRIGGER_TAG,
    missing_refresh_inputs,
    refresh_changed_skus,
)
from inventory_pipelines.defs.stream.routing import read_known, route
from inventory_pipelines.ledger import dirty
from inventory_pipelines.odoo import OdooAuthenticationError, OdooClient
from inventory_pipelines.odoo.changes import ChangeCursor, Changes, read_changes
from inventory_pipelines.stream.handoff import hand_over

SENSOR = POLICY.automation.change_sensor
#: records read per leg (quants, moves, products, templates) per evaluation at most; more is
#: read at the next evaluation (the cursor stays where the read was cut)
READ_CAP = 2_000
#: fast refresh runs one evaluation may request; further critical SKUs are marked dirty
FAST_RUNS_PER_EVALUATION = 4
#: Dagster's sensor daemon wakes every 5 s at best and evaluates a sensor only once its minimum
#: interval has passed since its last tick began. With the minimum equal to the wake-up period,
#: a tick that began a little late in its loop makes the next loop skip it: measured under
#: `make run`, 10 s between ticks as often as 5 s. The sensor's minimum is its interval less
#: this slack, so it is evaluated on every wake-up at 5 s (and near `interval_s` above that).
DAEMON_SLACK_S = 2


def minimum_interval_s(interval_s: int) -> int:
    """The sensor's `minimum_interval_seconds` for `change_sensor.interval_s`."""
    return max(1, interval_s - DAEMON_SLACK_S)


_CLIENTS: dict[tuple[object, ...], OdooClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(odoo: OdooResource) -> tuple[tuple[object, ...], OdooClient]:
    """The client kept for this configuration (one per code-server process)."""
    key = (
        odoo.url,
        odoo.db,
        odoo.login,
        hashlib.sha256(odoo.api_key.encode()).hexdigest(),
        odoo.protocol,
        odoo.timeout_s,
        odoo.max_attempts,
        odoo.environment,
    )
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = odoo.client()
        return key, client


def _forget(key: tuple[object, ...]) -> None:
    with _CLIENTS_LOCK:
        client = _CLIENTS.pop(key, None)
    if client is not None:
        client.close()


def read_odoo_changes(odoo: OdooResource, cursor: ChangeCursor | None) -> Changes:
    """What changed since `cursor`, with the kept client. A refused login drops it (a restored
    or re-keyed Odoo gets a new login next time); an Odoo that is down keeps it, and with it
    the circuit breaker that stops the next evaluations from calling."""
    key, client = _client(odoo)
    try:
        return read_changes(client, cursor, overlap_s=SENSOR.overlap_s, max_records=READ_CAP)
    except OdooAuthenticationError:
        _forget(key)
        raise


def fast_run_requests(
    critical: dict[str, str], window: tuple[str, str], cursor: str
) -> list[dg.RunRequest]:
    """Runs of `refresh_changed_skus` over the critical SKUs, every channel in each run.

    A run key names the window read and digests the cursor that read produced (it holds the
    ids read) with the run's SKUs: an evaluation retried from the same cursor asks for the same
    runs, and a later change of the same SKUs in the same window (a late commit) gets a run of
    its own.
    """
    size = SENSOR.fast_path.max_skus_per_run
    skus = list(critical)
    requests = []
    for index, start in enumerate(range(0, len(skus), size)):
        chunk = sorted(skus[start : start + size])
        digest = hashlib.sha256("\n".join([cursor, *chunk]).encode()).hexdigest()[:12]
        requests.append(
            dg.RunRequest(
                run_key=f"odoo-change:{window[0]}..{window[1]}:{index}:{digest}".replace(" ", "T"),
                job_name=refresh_changed_skus.name,
                run_config={"resources": {"sku_scope": {"config": {"skus": chunk}}}},
                tags={
                    TRIGGER_TAG: "odoo_change_sensor",
                    "inventory/fast_path": "true",
                    "dagster/priority": str(FAST_PATH_PRIORITY),
                    **channel_range_tags(POLICY.channels.names()),
                },
            )
        )
    return requests


def _in_flight(instance: dg.DagsterInstance, tags: dict[str, str]) -> bool:
    """Whether a run with `tags` is queued, starting or running."""
    runs = instance.get_run_records(
        dg.RunsFilter(
            tags=tags,
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    return bool(runs)


def bootstrap_requests(
    store: TableStore, now: datetime, instance: dg.DagsterInstance | None = None
) -> list[dg.RunRequest]:
    """Before the first full refresh, or once the data plane lost a table a SKU refresh needs
    (a new machine, a restored backup), one `reconcile_all` run over every channel, at most
    one an hour (its run key): the loop closes on a fresh `make run` without anyone clicking,
    and converges again from a lost data plane."""
    if not missing_refresh_inputs(store):
        return []
    if instance is not None and _in_flight(instance, {"inventory/bootstrap": "true"}):
        return []  # one at a time: the next is asked for once this one ended
    return [
        dg.RunRequest(
            run_key=f"bootstrap:{now:%Y-%m-%dT%H}",
            job_name=reconcile_all.name,
            tags={
                TRIGGER_TAG: "odoo_change_sensor",
                "inventory/bootstrap": "true",
                **channel_range_tags(POLICY.channels.names()),
            },
        )
    ]


#: the allocation's code version: a digest of the rule files it applies (warehouses' status,
#: channels' shares and buffers, policies, suppressions)
ALLOCATION_VERSION = f"rules-{POLICY.version_of(*ALLOCATION_RULES)}"


def _active_suppressions(at: datetime) -> str:
    """Which suppression windows of the rules cover `at` (their indices), as text."""
    active = [i for i, w in enumerate(POLICY.suppressions.suppressions) if w.active_at(at)]
    return "-".join(map(str, active)) or "none"


def rules_change_requests(
    instance: dg.DagsterInstance, now: datetime | None = None
) -> list[dg.RunRequest]:
    """When the rules the allocation applies changed since its last materialization (a
    warehouse set offline or on hold, a share, a buffer, a suppression: the code location was
    reloaded with them), or a time-boxed suppression began or ended since then: one
    `refresh_changed_skus` run over every SKU and every channel at fast-path priority, one at
    a time, asked for again the next hour if it failed. Availability is re-routed on every
    channel now, not at the next full run."""
    event = instance.get_latest_materialization_event(dg.AssetKey(CHANNEL_ALLOCATION))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return []  # never allocated: the bootstrap's
    now = now or datetime.now(UTC)
    seen = (materialization.tags or {}).get("dagster/code_version")
    allocated_at = datetime.fromtimestamp(event.timestamp, UTC)
    windows = _active_suppressions(now)
    if windows != _active_suppressions(allocated_at):
        # a time-boxed suppression began or ended since the last allocation: same rules,
        # another answer
        seen = f"{seen}+suppressions"
    if seen is None or seen == ALLOCATION_VERSION:
        return []
    if _in_flight(instance, {"inventory/rules_changed": f"{seen} -> {ALLOCATION_VERSION}"}):
        return []
    # the key names the allocation it supersedes (rules that go back and forth re-route each
    # time) and the hour (a re-route that failed is asked for again the next hour)
    return [
        dg.RunRequest(
            run_key=f"rules:{ALLOCATION_VERSION}:{windows}:{event.timestamp:.3f}:{now:%Y-%m-%dT%H}",
            job_name=refresh_changed_skus.name,
            run_config={"resources": {"sku_scope": {"config": {"skus": None}}}},
            tags={
                TRIGGER_TAG: "odoo_change_sensor",
                "inventory/rules_changed": f"{seen} -> {ALLOCATION_VERSION}",
                "inventory/fast_path": "true",
                "dagster/priority": str(FAST_PATH_PRIORITY),
                **channel_range_tags(POLICY.channels.names()),
            },
        )
    ]


def _with(bootstrap: list[dg.RunRequest], result: dg.SensorResult | dg.SkipReason):
    """`result`, with the bootstrap run requested too when there is one."""
    if not bootstrap:
        return result
    if isinstance(result, dg.SkipReason):
        return dg.SensorResult(run_requests=bootstrap)
    return dg.SensorResult(
        run_requests=[*bootstrap, *(result.run_requests or [])], cursor=result.cursor
    )


@dg.sensor(
    name="odoo_change_sensor",
    jobs=[refresh_changed_skus, reconcile_all],
    minimum_interval_seconds=minimum_interval_s(SENSOR.interval_s),
    default_status=dg.DefaultSensorStatus.RUNNING
    if SENSOR.enabled
    else dg.DefaultSensorStatus.STOPPED,
    description="Reads what changed in Odoo (quants, done moves, products) since its cursor: "
    "critical SKUs (fast-moving, low stock, just ordered) are refreshed on every channel now, "
    "the others marked dirty for the batch. One Odoo call when nothing changed.",
)
def odoo_change_sensor(
    context: dg.SensorEvaluationContext, odoo: OdooResource, ledger: LedgerResource
):
    """Read the changes since the cursor, route them, return the fast runs and the cursor
    (and the full run that bootstraps the tables, while they are missing)."""
    store = TableStore(settings.data_uri())
    now = datetime.now(UTC)
    extra = bootstrap_requests(store, now, context.instance) or rules_change_requests(
        context.instance, now
    )
    return _with(extra, _evaluate(context, odoo, ledger, store))


def _evaluate(
    context: dg.SensorEvaluationContext,
    odoo: OdooResource,
    ledger: LedgerResource,
    store: TableStore,
) -> dg.SensorResult | dg.SkipReason:
    cursor = ChangeCursor.from_json(context.cursor)
    changes = read_odoo_changes(odoo, cursor)
    new_cursor = changes.cursor.to_json()
    if changes.baseline:
        return dg.SensorResult(
            skip_reason=f"started at Odoo's newest stamp {changes.cursor.high_water}: what "
            "changed before is the full refresh's",
            cursor=new_cursor,
        )
    if cursor is not None and new_cursor == cursor.to_json():
        return dg.SkipReason(
            f"nothing changed in Odoo since {changes.window[0]} ({changes.calls} call(s))"
        )
    changed = {sku: set(legs) for sku, legs in changes.skus.items()}
    if not changed:
        return dg.SensorResult(
            skip_reason=f"{sum(len(r) for r in changes.records.values())} record(s) changed, "
            "none of a product with an internal reference",
            cursor=new_cursor,
        )
    known = read_known(store, changed, changes.records.get("quants", []), changes.product_ids)
    for former in known.former_skus - changed.keys():
        changed[former] = {"products"}
    now = datetime.now(UTC)
    with ledger.engine() as engine, engine.connect() as conn:
        since = now - timedelta(seconds=SENSOR.fast_path.ordered_within_s)
        ordered = dirty.ordered_since(conn, changed, since)
        routed = route(changed, known, ordered, SENSOR.fast_path)
        # before the first full refresh a fast run could only fail: its SKUs wait, dirty
        room = 0 if missing_refresh_inputs(store) else SENSOR.fast_path.max_skus_per_run
        room *= FAST_RUNS_PER_EVALUATION
        fast = dict(list(routed.critical.items())[:room])
        overflow = {
            sku: f"{reason}; {'fast path full' if room else 'no full refresh yet'}"
            for sku, reason in list(routed.critical.items())[room:]
        }
        dirty.mark(conn, {**routed.dirty, **overflow}, now=now)
    # a receiver that executes fast runs itself starts them seconds sooner than the run queue
    why_not = hand_over(sorted(fast), "odoo_change_sensor") if fast else "no critical SKU"
    requests = [] if why_not is None else fast_run_requests(fast, changes.window, new_cursor)
    where = "handed to the receiver" if why_not is None else f"in {len(requests)} fast run(s)"
    summary = (
        f"{len(changed)} SKU(s) changed in Odoo ({changes.window[0]} .. {changes.window[1]}, "
        f"{changes.calls} call(s){', more to read' if changes.truncated else ''}): "
        f"{len(fast)} critical {where}, {len(routed.dirty) + len(overflow)} marked dirty"
    )
    context.log.info(summary)
    if not requests:
        return dg.SensorResult(skip_reason=summary, cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


@dg.run_failure_sensor(
    name="requeue_failed_refreshes",
    monitored_jobs=[refresh_changed_skus],
    default_status=dg.DefaultSensorStatus.RUNNING
    if SENSOR.enabled
    else dg.DefaultSensorStatus.STOPPED,
    description="A fast refresh of changed SKUs that failed marks its SKUs dirty, so the next "
    "batch takes them.",
)
def requeue_failed_refreshes(context: dg.RunFailureSensorContext, ledger: LedgerResource) -> None:
    """Mark the failed run's SKUs dirty (a batch run's own claim is released by the batch)."""
    _requeue(context, context.dagster_run, ledger, "failed")


@dg.run_status_sensor(
    name="requeue_canceled_refreshes",
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=[refresh_changed_skus],
    default_status=dg.DefaultSensorStatus.RUNNING
    if SENSOR.enabled
    else dg.DefaultSensorStatus.STOPPED,
    description="A fast refresh of changed SKUs that was canceled (by an operator, or by run "
    "monitoring) marks its SKUs dirty, so the next batch takes them.",
)
def requeue_canceled_refreshes(context: dg.RunStatusSensorContext, ledger: LedgerResource) -> None:
    """As `requeue_failed_refreshes`, for a canceled run."""
    _requeue(context, context.dagster_run, ledger, "canceled")


def _requeue(context, run, ledger: LedgerResource, ended: str) -> None:
    """The SKUs of a fast refresh that ended without success, marked dirty for the batch (a
    run over every SKU, a rules re-route, is asked for again by the sensor instead)."""
    if DIRTY_CLAIM_TAG in (run.tags or {}):
        return
    skus = (
        (run.run_config or {}).get("resources", {}).get("sku_scope", {}).get("config", {}) or {}
    ).get("skus") or []
    if not skus:
        return
    with ledger.engine() as engine, engine.connect() as conn:
        dirty.mark(conn, dict.fromkeys(skus, f"fast refresh {ended} (run {run.run_id[:8]})"))
    context.log.info(f"run {run.run_id}: {len(skus)} SKU(s) marked dirty for the next batch")


@dg.definitions
def defs() -> dg.Definitions:
    """The Odoo change sensor and the requeue of failed and canceled fast refreshes."""
    return dg.Definitions(
        sensors=[odoo_change_sensor, requeue_failed_refreshes, requeue_canceled_refreshes]
    )
