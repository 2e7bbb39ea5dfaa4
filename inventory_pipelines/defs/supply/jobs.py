"""The supply feeds read on a schedule: one run per drop-ship vendor and per 3PL warehouse.

The supply assets are partitioned by vendor and by 3PL warehouse, not by channel, so they are
not in the channel jobs (`reconcile_all`, `inventory-sync sync`: a run covers one kind of
partition); the allocation reads what these runs stored last. A feed that has not changed
answers 304 and costs nothing; one that cannot be read keeps its last good parse until it goes
stale, so a run here fails only when the code does, never for a feed.
"""

from typing import Any

import dagster as dg

from inventory_pipelines.defs.shared import (
    BATCH_PRIORITY,
    POLICY,
    STEPS_IN_ONE_PROCESS,
    SUPPLY_QUARANTINE,
    THREEPL_QUARANTINE,
    THREEPL_STOCK,
    VENDOR_STOCK,
    threepl_partitions,
    vendor_partitions,
)
from inventory_pipelines.rules.automation import Schedule

TAGS = {"dagster/priority": str(BATCH_PRIORITY)}

refresh_vendor_feeds = dg.define_asset_job(
    "refresh_vendor_feeds",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.assets(VENDOR_STOCK, SUPPLY_QUARANTINE),
    partitions_def=vendor_partitions,
    tags=TAGS,
    description="Read one drop-ship vendor's stock feed (a partition per vendor of vendors.yml).",
)

refresh_threepl_feeds = dg.define_asset_job(
    "refresh_threepl_feeds",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.assets(THREEPL_STOCK, THREEPL_QUARANTINE),
    partitions_def=threepl_partitions,
    tags=TAGS,
    description="Read one 3PL warehouse's stock feed (a partition per warehouse with a feed).",
)


def feed_schedule(
    name: str, job: Any, partitions: dg.StaticPartitionsDefinition, settings: Schedule
) -> dg.ScheduleDefinition:
    """`name` at `settings.cron` (automation.yml: schedules.supply_feeds): one run of `job` (an
    asset job over `partitions`) per partition, each keyed by the scheduled time (a tick
    evaluated twice requests nothing twice); running by default when `settings.enabled`."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=settings.cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.enabled
        else dg.DefaultScheduleStatus.STOPPED,
        description=f"{job.description} Every partition, on automation.yml's "
        "schedules.supply_feeds.",
    )
    def feeds(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        when = context.scheduled_execution_time
        stamp = when.isoformat() if when else "now"
        return [
            dg.RunRequest(run_key=f"{name}:{key}:{stamp}", partition_key=key)
            for key in partitions.get_partition_keys()
        ]

    return feeds


SETTINGS = POLICY.automation.schedules.supply_feeds
vendor_feeds = feed_schedule("vendor_feeds", refresh_vendor_feeds, vendor_partitions, SETTINGS)
threepl_feeds = feed_schedule("threepl_feeds", refresh_threepl_feeds, threepl_partitions, SETTINGS)


@dg.definitions
def defs() -> dg.Definitions:
    """The supply jobs and their schedules."""
    return dg.Definitions(
        jobs=[refresh_vendor_feeds, refresh_threepl_feeds],
        schedules=[vendor_feeds, threepl_feeds],
    )
