"""The full reconciliation: the `reconcile_all` job and the `nightly_reconciliation` schedule.

`reconcile_all` runs the whole graph over every channel in one run, as *Materialize all* does:
the Odoo snapshot and the canonical inventory, the SQL models, the channels read back, their
orders polled and taken into Odoo, the allocation, `reconciliation/drift`, then the publish,
which corrects what drifted (the normal publish, with its guarantees: outbox, every decrease
before any increase, compare-and-set) and audits each correction with its cause. It runs at
batch priority. The schedule's cron and time zone come from `automation.yml`
(`schedules.reconciliation`): on wherever a daemon runs when `enabled`, else off (it can be
switched either way in the UI).
"""

import dagster as dg

from inventory_pipelines.defs.shared import (
    BATCH_PRIORITY,
    POLICY,
    STEPS_IN_ONE_PROCESS,
    channel_range_tags,
)
from inventory_pipelines.rules.automation import Schedule

#: every asset group of the code location: the whole graph
RECONCILIATION_GROUPS = ("odoo", "inventory", "rules", "channels", "orders", "reconciliation")
TRIGGER = {"inventory/trigger": "nightly_reconciliation"}

reconcile_all = dg.define_asset_job(
    "reconcile_all",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.groups(*RECONCILIATION_GROUPS),
    tags={"dagster/priority": str(BATCH_PRIORITY)},
    description="The full reconciliation: rebuild everything from the Odoo snapshot, read every "
    "channel back, poll and ingest its orders, allocate, measure the drift, then publish "
    "(correcting the drift, each correction audited with its cause), every channel in one run.",
)


def reconciliation_schedule(settings: Schedule) -> dg.ScheduleDefinition:
    """`nightly_reconciliation` at `settings.cron` in `settings.timezone`: one run of
    `reconcile_all` over every channel; running by default when `settings.enabled`."""

    @dg.schedule(
        name="nightly_reconciliation",
        job=reconcile_all,
        cron_schedule=settings.cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.enabled
        else dg.DefaultScheduleStatus.STOPPED,
        description="The full reconciliation over every channel (automation.yml: "
        "schedules.reconciliation).",
    )
    def nightly_reconciliation(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """One run over every channel, keyed by its scheduled time."""
        when = context.scheduled_execution_time
        return dg.RunRequest(
            run_key=f"reconcile_all:{when.isoformat()}" if when else None,
            tags={**TRIGGER, **channel_range_tags(POLICY.channels.names())},
        )

    return nightly_reconciliation


nightly_reconciliation = reconciliation_schedule(POLICY.automation.schedules.reconciliation)


@dg.definitions
def defs() -> dg.Definitions:
    """The reconciliation job and its schedule."""
    return dg.Definitions(jobs=[reconcile_all], schedules=[nightly_reconciliation])
