"""Jobs a person launches from the UI (or a schedule runs): the snapshot, then the channels."""

import dagster as dg

from inventory_pipelines.defs.shared import (
    BATCH_PRIORITY,
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    STEPS_IN_ONE_PROCESS,
)

BATCH_TAGS = {"dagster/priority": str(BATCH_PRIORITY)}

refresh_inventory = dg.define_asset_job(
    "refresh_inventory",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.groups("odoo", "inventory", "rules")
    - dg.AssetSelection.assets(CHANNEL_ALLOCATION),
    tags=BATCH_TAGS,
    description="Read the Odoo snapshot, rebuild canonical inventory and the SQL models.",
)

allocate_channels = dg.define_asset_job(
    "allocate_channels",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.assets(CHANNEL_ALLOCATION),
    tags=BATCH_TAGS,
    description="Apply the rules to canonical inventory for the chosen channels (partitions).",
)

publish_channels = dg.define_asset_job(
    "publish_channels",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=dg.AssetSelection.groups("channels")
    | dg.AssetSelection.assets(CHANNEL_ALLOCATION, CHANNEL_ORDERS),
    tags=BATCH_TAGS,
    description="Read the chosen channels back, poll their orders, map their listings, allocate "
    "and publish: one run for all the chosen channels, every decrease before any increase.",
)


@dg.definitions
def defs() -> dg.Definitions:
    """The jobs."""
    return dg.Definitions(jobs=[refresh_inventory, allocate_channels, publish_channels])
