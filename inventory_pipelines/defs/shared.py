"""What several Dagster definitions share: asset keys, the channel partitions, run priorities.

Domain modules import these from here, never from each other, so the graph's seams are in one
place. The policy is loaded once, when the code location loads: a broken rules folder fails
the location before any run starts.
"""

from collections.abc import Mapping, Sequence

import dagster as dg

from inventory_pipelines.rules import load_policy

POLICY = load_policy()
#: the warehouses whose on-hand comes from their 3PL's feed (stock_source feed or both): a run
#: that builds their canonical rows reads Odoo's done moves first (what left since the feed)
FEED_WAREHOUSES = [w.code for w in POLICY.warehouses.warehouses if w.stock_source != "odoo"]

# -- asset keys --------------------------------------------------------------------------------
PRODUCTS = ["odoo", "products"]
LOCATIONS = ["odoo", "locations"]
STOCK_QUANTS = ["odoo", "stock_quants"]
STOCK_MOVES = ["odoo", "stock_moves"]
CANONICAL = ["inventory", "canonical_inventory"]
QUARANTINE = ["inventory", "quarantine"]
SKU_VELOCITY = ["rules", "sku_velocity"]
CHANNEL_ALLOCATION = ["inventory", "channel_allocation"]
CHANNEL_STOCK = ["reconciliation", "channel_stock"]
PRODUCT_IDENTITY = ["inventory", "product_identity"]
IDENTITY_PROBLEMS = ["inventory", "identity_problems"]
PUBLISHED = ["inventory", "published_channel_state"]
CHANNEL_ORDERS = ["orders", "channel_orders"]
ODOO_ORDER_SYNC = ["orders", "odoo_order_sync"]
DRIFT = ["reconciliation", "drift"]
DRIFT_HISTORY = ["reconciliation", "drift_history"]
UNRESERVED_DEMAND = ["odoo", "unreserved_demand"]
INCOMING_PURCHASES = ["odoo", "incoming_purchases"]
VENDOR_STOCK = ["supply", "vendor_stock"]
SUPPLY_QUARANTINE = ["supply", "quarantine"]
THREEPL_STOCK = ["supply", "threepl_stock"]
THREEPL_QUARANTINE = ["supply", "threepl_quarantine"]
THREEPL_DRIFT = ["reconciliation", "threepl_drift"]

# -- channels ----------------------------------------------------------------------------------
channel_partitions = dg.StaticPartitionsDefinition(POLICY.channels.names())

# -- suppliers: drop-ship vendors (vendors.yml) and 3PL warehouses with a feed (warehouses.yml) ---
#: what *Materialize all* means for one run over channels: every asset but the supply feeds,
#: whose partitions are vendors and 3PL warehouses (a run covers one kind of partition; their
#: own schedules read them, and the channel runs read what they stored last)
CHANNEL_GRAPH = dg.AssetSelection.all() - dg.AssetSelection.groups("supply")
vendor_partitions = dg.StaticPartitionsDefinition(POLICY.vendors.codes())
threepl_partitions = dg.StaticPartitionsDefinition(POLICY.warehouses.with_feed())

#: Channel assets run every selected channel in one run (Materialize all, a schedule, the
#: CLI): the publish step then takes every channel's plan at once, so no channel is sent an
#: increase before every channel's decreases are acknowledged (DESIGN.md section 7).
CHANNELS_IN_ONE_RUN = dg.BackfillPolicy.single_run()

#: The pool every publishing step takes a slot of: the deployment limits it (deploy/), so two
#: runs never split a channel's rate budget blindly; other channel steps are not limited.
PUBLISHING_POOL = "channel_publishing"

# -- run priorities (`dagster/priority`, higher first in the queued run coordinator) ------------
#: The executor of every job: a run's steps in the run's own process. A step in a process of its
#: own costs a new interpreter with Dagster and Polars (about 3 s a step on 2 cores; 63 s
#: instead of 15 s for `refresh_inventory`), which the fast path cannot afford; runs still run
#: side by side, and the steps of this graph are a chain anyway.
STEPS_IN_ONE_PROCESS = dg.in_process_executor

FAST_PATH_PRIORITY = 10
BATCH_PRIORITY = 0


def channels_of(context: dg.AssetExecutionContext) -> list[str]:
    """The channel partitions a run covers, in the order of `channels.yml` (one or many)."""
    keys = set(context.partition_keys)
    return [name for name in POLICY.channels.names() if name in keys]


def summed(
    by_channel: Mapping[str, Mapping[str, object]], keys: Sequence[str] | None = None
) -> dict[str, int | float]:
    """Per-channel figures summed over the run's channels: `keys` (0 where a channel has none),
    or every number the figures hold."""
    totals: dict[str, int | float] = dict.fromkeys(keys, 0) if keys is not None else {}
    for figures in by_channel.values():
        for key, value in figures.items():
            wanted = key in totals if keys is not None else True
            if wanted and isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
    return totals


def channel_range_tags(channels: Sequence[str]) -> dict[str, str]:
    """Run tags that make one run cover `channels` (a contiguous run of `channels.yml`)."""
    names = POLICY.channels.names()
    positions = sorted(names.index(c) for c in channels)
    if positions != list(range(positions[0], positions[-1] + 1)):
        raise ValueError(f"channels {list(channels)} are not contiguous in channels.yml")
    return {
        "dagster/asset_partition_range_start": names[positions[0]],
        "dagster/asset_partition_range_end": names[positions[-1]],
    }


def contiguous_runs(channels: Sequence[str]) -> list[list[str]]:
    """`channels` split into runs of neighbours in `channels.yml` (one run when all are asked)."""
    names = POLICY.channels.names()
    runs: list[list[str]] = []
    for name in sorted(set(channels), key=names.index):
        if runs and names.index(runs[-1][-1]) + 1 == names.index(name):
            runs[-1].append(name)
        else:
            runs.append([name])
    return runs
