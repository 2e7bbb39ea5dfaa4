"""The fast refresh of SKUs that changed in Odoo: the same assets as a full run, over a SKU
subset (``resources.sku_scope.config.skus``), from the snapshot to every channel.

The change sensor and the push path request it at fast-path priority; the batch schedule
requests it at batch priority over the dirty SKUs it claimed (the claim's token in the run's
`DIRTY_CLAIM_TAG`).
"""

import dagster as dg

from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    CHANNEL_STOCK,
    FAST_PATH_PRIORITY,
    FEED_WAREHOUSES,
    INCOMING_PURCHASES,
    LOCATIONS,
    POLICY,
    PRODUCT_IDENTITY,
    PRODUCTS,
    PUBLISHED,
    QUARANTINE,
    SKU_VELOCITY,
    STEPS_IN_ONE_PROCESS,
    STOCK_MOVES,
    STOCK_QUANTS,
    UNRESERVED_DEMAND,
)

#: what a change of stock in Odoo touches: the SKUs' products and quants, their canonical rows,
#: their allocation and their publish on every channel
#: a fast run reads, for its SKUs, what the allocation takes from Odoo in the same run: the
#: quants, the purchase lines still to come (a receipt validated moves units from one to the
#: other, never counted twice) and the deliveries Odoo has not reserved
CHANGED_SKUS_SELECTION = dg.AssetSelection.assets(
    PRODUCTS,
    STOCK_QUANTS,
    INCOMING_PURCHASES,
    UNRESERVED_DEMAND,
    *([STOCK_MOVES] if FEED_WAREHOUSES else []),  # what left a 3PL warehouse since its feed
    CANONICAL,
    QUARANTINE,
    CHANNEL_ALLOCATION,
    PUBLISHED,
)
#: what started a run (a sensor or schedule name, "push"...)
TRIGGER_TAG = "inventory/trigger"
#: a batch run's claim on dirty SKUs in the ledger: settled when the run is over
DIRTY_CLAIM_TAG = "inventory/dirty_claim"

refresh_changed_skus = dg.define_asset_job(
    "refresh_changed_skus",
    executor_def=STEPS_IN_ONE_PROCESS,
    selection=CHANGED_SKUS_SELECTION,
    tags={"dagster/priority": str(FAST_PATH_PRIORITY)},
    description="Re-read a SKU subset from Odoo and take it to every channel in one run (the "
    "fast path of a stock change): products, quants, canonical rows, allocation and publish, "
    "the same assets as a full run, every channel's decreases before any increase.",
)


def missing_refresh_inputs(store: TableStore) -> list[str]:
    """The tables `refresh_changed_skus` reads but does not write that are not there yet (a
    full refresh makes them: `refresh_inventory`, then `publish_channels`)."""
    wanted = [(LOCATIONS, None), (SKU_VELOCITY, None)] + [
        (key, channel)
        for key in (PRODUCT_IDENTITY, CHANNEL_STOCK)
        for channel in POLICY.channels.names()
    ]
    return [
        "/".join(key) + (f"[{channel}]" if channel else "")
        for key, channel in wanted
        if not store.exists(key, channel)
    ]


@dg.definitions
def defs() -> dg.Definitions:
    """The stream's jobs."""
    return dg.Definitions(jobs=[refresh_changed_skus])
