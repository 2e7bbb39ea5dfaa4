"""The fast refresh of SKUs that changed in Odoo: the same assets as a full run, over a SKU
subset (``resources.sku_scope.config.skus``), from the snapshot to every channel."""

import dagster as dg

from inventory_pipelines.defs.shared import (
    CANONICAL,
    CHANNEL_ALLOCATION,
    FAST_PATH_PRIORITY,
    PRODUCTS,
    PUBLISHED,
    QUARANTINE,
    STOCK_QUANTS,
)

#: what a change of stock in Odoo touches: the SKUs' products and quants, their canonical rows,
#: their allocation and their publish on every channel
CHANGED_SKUS_SELECTION = dg.AssetSelection.assets(
    PRODUCTS, STOCK_QUANTS, CANONICAL, QUARANTINE, CHANNEL_ALLOCATION, PUBLISHED
)

refresh_changed_skus = dg.define_asset_job(
    "refresh_changed_skus",
    selection=CHANGED_SKUS_SELECTION,
    tags={"dagster/priority": str(FAST_PATH_PRIORITY)},
    description="Re-read a SKU subset from Odoo and take it to every channel in one run (the "
    "fast path of a stock change): products, quants, canonical rows, allocation and publish, "
    "the same assets as a full run, every channel's decreases before any increase.",
)


@dg.definitions
def defs() -> dg.Definitions:
    """The stream's jobs."""
    return dg.Definitions(jobs=[refresh_changed_skus])
