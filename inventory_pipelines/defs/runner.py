"""`inventory-sync sync`: the whole graph once, in process, with a summary per channel."""

from typing import Any

import dagster as dg

from inventory_pipelines.defs.odoo.assets import POLICY
from inventory_pipelines.defs.resources import build_resources

PUBLISHED = dg.AssetKey(["inventory", "published_channel_state"])
PUBLISH_OP = "inventory__published_channel_state"
FIGURES = ("sent", "unchanged", "failed", "throttled", "api_calls", "dead_lettered")
SUMMED = ("sent", "failed", "throttled", "api_calls", "dead_lettered")


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
    chosen = channels or POLICY.channels.names()
    first_pass: dict[str, dict[str, Any]] = {}
    # Pass 1: every channel's zero-outs and decreases. Pass 2: the rest. So no channel shows an
    # increase before every channel's decreases are acknowledged (DESIGN.md section 7).
    for channel in chosen:
        first = dg.materialize(
            assets,
            selection=sorted(partitioned),
            partition_key=channel,
            resources=resources,
            instance=instance,
            run_config={"ops": {PUBLISH_OP: {"config": {"increases": False}}}},
            raise_on_error=False,
        )
        if not first.success:
            summary["success"] = False
            summary["channels"][channel] = {"ok": False, "error": _failures(first)}
        first_pass[channel] = _published_figures(first)
    for channel in chosen:
        if channel in summary["channels"]:
            continue
        result = dg.materialize(
            assets,
            selection=[PUBLISHED],
            partition_key=channel,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        figures = _published_figures(result)
        before = first_pass.get(channel, {})
        for key in SUMMED:
            figures[key] = (figures.get(key) or 0) + (before.get(key) or 0)
        # what the first pass acknowledged shows as unchanged in the second
        figures["unchanged"] = max(
            0, (figures.get("unchanged") or 0) - (before.get("acknowledged") or 0)
        )
        figures.pop("acknowledged", None)
        figures["ok"] = result.success
        if not result.success:
            figures["error"] = _failures(result)
            summary["success"] = False
        summary["channels"][channel] = figures
    return summary


def _published_figures(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    figures: dict[str, Any] = dict.fromkeys(FIGURES)
    for event in result.get_asset_materialization_events():
        if event.asset_key == PUBLISHED:
            metadata = event.materialization.metadata
            keys = (*FIGURES, "acknowledged")
            figures.update({k: metadata[k].value for k in keys if k in metadata})
    return figures


def _failures(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            cause = error.cause or error if error else None
            messages.append(f"{event.step_key}: {cause.message.strip() if cause else 'failed'}")
    return "; ".join(messages)
