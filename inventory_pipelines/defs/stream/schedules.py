"""The tiered batch: the dirty SKUs, refreshed on every channel at batch priority.

`batch_sync` runs on `schedules.batch` of `automation.yml` (cron and time zone). Each tick:

1. settles the claims earlier ticks left, from their runs' status in the Dagster instance: a
   run that succeeded clears its SKUs (but for those marked again since the claim), one that
   failed or was cancelled releases them, and so does a claim whose run never came to be
   (`VANISHED_AFTER` after the claim: the tick that claimed was lost before its run was made,
   or the run was deleted);
2. claims the dirty SKUs, oldest first, `SKUS_PER_RUN` per run and at most `RUNS_PER_TICK`
   runs (the rest waits for the next tick), each claim under its run's key;
3. requests `refresh_changed_skus` over each claim, every channel in one run, with
   `dagster/priority` = BATCH_PRIORITY: in the queued run coordinator (`deploy/dagster.yaml`)
   fast-path runs go first, so under load the batch waits and the fast path goes through.

Nothing dirty: a skip. Before the first full refresh (the tables the refresh reads and does
not write are not there yet) a skip that says so, the dirty SKUs kept. A dirty SKU is never
lost: it leaves the ledger only when a run that covered it after its last mark succeeded.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta

import dagster as dg
from sqlalchemy.engine import Connection

from inventory_pipelines import settings
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.resources import LedgerResource
from inventory_pipelines.defs.shared import BATCH_PRIORITY, POLICY, channel_range_tags
from inventory_pipelines.defs.stream.jobs import (
    DIRTY_CLAIM_TAG,
    TRIGGER_TAG,
    missing_refresh_inputs,
    refresh_changed_skus,
)
from inventory_pipelines.ledger import dirty

BATCH = POLICY.automation.schedules.batch
SKUS_PER_RUN = 5_000
RUNS_PER_TICK = 4
#: a claim with no run this long after it was made is released
VANISHED_AFTER = timedelta(minutes=2)

_FINISHED = {
    dg.DagsterRunStatus.SUCCESS: True,
    dg.DagsterRunStatus.FAILURE: False,
    dg.DagsterRunStatus.CANCELED: False,
}


def settle_claims(
    instance: dg.DagsterInstance,
    conn: Connection,
    *,
    keep: AbstractSet[str] = frozenset(),
    now: datetime | None = None,
) -> dict[str, int]:
    """Settle every claim whose run is over or vanished (but the tokens in `keep`); returns
    the SKUs cleared and released."""
    now = now or datetime.now(UTC)
    totals = {"cleared": 0, "released": 0}
    for claim in dirty.claims(conn):
        if claim.token in keep:
            continue
        runs = instance.get_runs(
            filters=dg.RunsFilter(tags={DIRTY_CLAIM_TAG: claim.token}), limit=1
        )
        if runs:
            succeeded = _FINISHED.get(runs[0].status)
            if succeeded is None:
                continue  # queued or running: settled at a later tick
        elif now - claim.claimed_at < VANISHED_AFTER:
            continue
        else:
            succeeded = False
        settled = dirty.settle(conn, claim.token, succeeded=succeeded)
        totals["cleared"] += settled.cleared
        totals["released"] += settled.released
    return totals


def batch_tokens(scheduled: datetime) -> list[str]:
    """The claim tokens (= run keys) of one tick."""
    stamp = scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [f"batch_sync:{stamp}:{n}" for n in range(RUNS_PER_TICK)]


@dg.schedule(
    name="batch_sync",
    cron_schedule=BATCH.cron,
    execution_timezone=BATCH.timezone,
    job=refresh_changed_skus,
    default_status=dg.DefaultScheduleStatus.RUNNING
    if BATCH.enabled
    else dg.DefaultScheduleStatus.STOPPED,
    description="Refresh the dirty SKUs (changed in Odoo, not critical) on every channel, at "
    "batch priority; settles the claims of earlier ticks from their runs' status.",
)
def batch_sync(context: dg.ScheduleEvaluationContext, ledger: LedgerResource):
    """Settle earlier claims, claim the dirty SKUs and request one run per claim."""
    scheduled = context.scheduled_execution_time or datetime.now(UTC)
    tokens = batch_tokens(scheduled)
    requests, claimed = [], 0
    missing = missing_refresh_inputs(TableStore(settings.data_uri()))
    with ledger.engine() as engine, engine.connect() as conn:
        settled = settle_claims(context.instance, conn, keep=set(tokens))
        if missing:
            waiting = dirty.count(conn)["unclaimed"]
            return dg.SkipReason(
                f"{waiting} dirty SKU(s) wait for the first full refresh (run refresh_inventory, "
                f"then publish_channels): {', '.join(missing[:4])}"
                f"{' ...' if len(missing) > 4 else ''} not materialized yet"
            )
        for token in tokens:
            skus = dirty.claim(conn, token, limit=SKUS_PER_RUN)
            if not skus:
                break
            requests.append(
                dg.RunRequest(
                    run_key=token,
                    run_config={"resources": {"sku_scope": {"config": {"skus": skus}}}},
                    tags={
                        TRIGGER_TAG: "batch_sync",
                        DIRTY_CLAIM_TAG: token,
                        "dagster/priority": str(BATCH_PRIORITY),
                        **channel_range_tags(POLICY.channels.names()),
                    },
                )
            )
            claimed += len(skus)
        waiting = dirty.count(conn)["unclaimed"]
    context.log.info(
        f"batch: {claimed} dirty SKU(s) in {len(requests)} run(s), {waiting} left for the next "
        f"tick; earlier claims: {settled['cleared']} cleared, {settled['released']} released"
    )
    if not requests:
        return dg.SkipReason(
            f"no dirty SKU (earlier claims: {settled['cleared']} cleared, "
            f"{settled['released']} released)"
        )
    return requests


@dg.definitions
def defs() -> dg.Definitions:
    """The batch schedule."""
    return dg.Definitions(schedules=[batch_sync])
