"""`inventory-sync sync`: the whole graph once, in process, with a summary per channel.

It runs what *Materialize all* runs: every asset (but the supply feeds, which their own
schedule reads per vendor and 3PL warehouse), and every chosen channel in one run (the
channel assets take all their partitions at once), so the rules that span channels (every
decrease before any increase) are the graph's, not this runner's.
"""

import uuid
from collections.abc import Callable
from typing import Any

import dagster as dg

from inventory_pipelines.defs.progress import Progress, listener
from inventory_pipelines.defs.resources import build_resources
from inventory_pipelines.defs.shared import (
    CHANNEL_GRAPH,
    POLICY,
    PUBLISHED,
    channel_range_tags,
    contiguous_runs,
)

PUBLISH_OP = "inventory__published_channel_state"
FIGURES = ("sent", "unchanged", "channel_edits", "failed", "throttled", "api_calls")
FIGURES += ("dead_lettered", "pending_left")
SYNC_JOB = "inventory_sync"
#: Dagster's console log, off: the CLI shows its own progress (`--debug` keeps the log)
QUIET_LOG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_sync(
    channels: list[str] | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Materialize the whole graph for `channels` (all by default); return the figures.

    Channels that are not neighbours in `channels.yml` run as several runs of neighbours (a
    run covers a range of partitions), each first with its decreases only. `on_progress` is
    told each run's and each step's start and end; `quiet` turns Dagster's console log off.
    """
    from inventory_pipelines.definitions import defs

    definitions = defs()
    assets = list(definitions.assets or [])
    resources = build_resources()
    instance = dg.DagsterInstance.ephemeral()
    chosen = channels or POLICY.channels.names()
    unknown = sorted(set(chosen) - set(POLICY.channels.names()))
    if unknown:
        raise ValueError(
            f"unknown channel(s) {', '.join(unknown)}: channels.yml has "
            f"{', '.join(POLICY.channels.names())}"
        )
    summary: dict[str, Any] = {"success": True, "channels": {}}
    groups = contiguous_runs(chosen)
    # every asset but the supply feeds (partitioned by vendor and 3PL warehouse, not channel:
    # their schedule reads them, and the allocation reads what it stored last)
    whole = dg.define_asset_job(SYNC_JOB, selection=CHANNEL_GRAPH)
    job = dg.Definitions(assets=assets, resources=resources, jobs=[whole]).resolve_job_def(SYNC_JOB)

    def materialize(group: list[str], run_config: dict[str, Any], label: str):
        run_id = str(uuid.uuid4())  # known before the run starts, to listen to its events
        if on_progress is not None:
            steps = len(job.graph.nodes)
            instance.add_event_listener(run_id, listener(on_progress, steps=steps, label=label))
        return job.execute_in_process(
            run_config={**run_config, **(QUIET_LOG if quiet else {})},
            instance=instance,
            tags=channel_range_tags(group),
            raise_on_error=False,
            run_id=run_id,
        )

    before: dict[str, dict[str, Any]] = {}
    if len(groups) > 1:
        # several runs: each first takes its stock off (zero-outs and decreases only), so no
        # run's increases go out before another run's decreases are planned
        for group in groups:
            first = materialize(
                group,
                {"ops": {PUBLISH_OP: {"config": {"increases": False}}}},
                f"{', '.join(group)}: zero-outs and decreases first",
            )
            before.update(_published_figures(first))
    for group in groups:
        result = materialize(group, {}, ", ".join(group))
        figures = _published_figures(result)
        for channel, first_figures in before.items():
            if channel in figures:
                for key in ("sent", "channel_edits", "api_calls"):
                    figures[channel][key] = (figures[channel].get(key) or 0) + (
                        first_figures.get(key) or 0
                    )
        error = None if result.success else _failures(result)
        summary["success"] = summary["success"] and result.success
        if error and "error" not in summary:
            summary["error"] = error
        for channel in group:
            entry = dict(figures.get(channel) or dict.fromkeys(FIGURES))
            entry["ok"] = result.success
            if error:
                entry["error"] = error
            summary["channels"][channel] = entry
    return summary


def _published_figures(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Per channel figures of the publish step (from its materialization, or its failure)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey(PUBLISHED):
            return _pick(event.materialization.metadata)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            metadata = event.step_failure_data.user_failure_data
            if metadata is not None and "channels" in (metadata.metadata or {}):
                return _pick(metadata.metadata)
    return {}


def _pick(metadata: dict[str, Any]) -> dict[str, dict[str, Any]]:
    channels = metadata["channels"].value if "channels" in metadata else {}
    return {name: {k: f.get(k) for k in FIGURES} for name, f in channels.items()}


def _failures(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            cause = error.cause or error if error else None
            messages.append(f"{event.step_key}: {cause.message.strip() if cause else 'failed'}")
    return "; ".join(messages)
