"""Jobs a person launches from the UI (or a schedule runs): the snapshot, then the allocation."""

import dagster as dg

from inventory_pipelines.defs.inventory.allocation import CHANNEL_ALLOCATION, channel_partitions

refresh_inventory = dg.define_asset_job(
    "refresh_inventory",
    selection=dg.AssetSelection.groups("odoo", "inventory", "rules")
    - dg.AssetSelection.assets(CHANNEL_ALLOCATION),
    description="Read the Odoo snapshot, rebuild canonical inventory and the SQL models.",
)

allocate_channels = dg.define_asset_job(
    "allocate_channels",
    selection=dg.AssetSelection.assets(CHANNEL_ALLOCATION),
    partitions_def=channel_partitions,
    description="Apply the rules to canonical inventory for one channel (a partition).",
)


@dg.definitions
def defs() -> dg.Definitions:
    """The jobs."""
    return dg.Definitions(jobs=[refresh_inventory, allocate_channels])
