"""`inventory-sync sync`: the whole graph once, in process, with a summary per channel."""

from typing import Any

import dagster as dg

from inventory_pipelines.defs.odoo.assets import POLICY
from inventory_pipelines.defs.resources import build_resources

PUBLISHED = dg.AssetKey(["inventory", "published_channel_state"])
FIGURES = ("sent", "unchanged", "failed", "throttled", "api_calls", "dead_lettered")


def run_sync(channels: list[str] | None = None) -> dict[str, Any]:
    """Materialize the unpartitioned graph, then every channel's partition; return the figures."""
    from inventory_pipelines.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    assets = list(definitions.assets or [])
    resources = build_resources()
    instance = dg.DagsterInstance.ephemeral()
    partitioned = {k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def}
    unpartitioned = [k for k in graph.get_all_asset_keys() if k not in partitioned]
    base = dg.materialize(
        assets,
        selection=unpartitioned,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    summary: dict[str, Any] = {"success": base.success, "channels": {}}
    if not base.success:
        summary["error"] = _failures(base)
        return summary
    for channel in channels or POLICY.channels.names():
        result = dg.materialize(
            assets,
            selection=sorted(partitioned),
            partition_key=channel,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        figures: dict[str, Any] = dict.fromkeys(FIGURES)
        for event in result.get_asset_materialization_events():
            if event.asset_key == PUBLISHED:
                metadata = event.materialization.metadata
                figures.update({k: metadata[k].value for k in FIGURES if k in metadata})
        figures["ok"] = result.success
        if not result.success:
            figures["error"] = _failures(result)
            summary["success"] = False
        summary["channels"][channel] = figures
    return summary


def _failures(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            cause = error.cause or error if error else None
            messages.append(f"{event.step_key}: {cause.message.strip() if cause else 'failed'}")
    return "; ".join(messages)
