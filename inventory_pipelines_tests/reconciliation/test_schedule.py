"""The nightly reconciliation: its job covers the whole graph, drift before the publish, and its
schedule follows `automation.yml`."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg
import pytest
import yaml

from inventory_pipelines.defs.reconciliation.schedules import (
    nightly_reconciliation,
    reconcile_all,
    reconciliation_schedule,
)
from inventory_pipelines.defs.shared import (
    BATCH_PRIORITY,
    CANONICAL,
    CHANNEL_ALLOCATION,
    CHANNEL_ORDERS,
    CHANNEL_STOCK,
    DRIFT,
    DRIFT_HISTORY,
    POLICY,
    PRODUCTS,
    PUBLISHED,
    STOCK_QUANTS,
    channel_range_tags,
)
from inventory_pipelines.rules import default_rules_dir, load_policy


def loaded() -> dg.Definitions:
    from inventory_pipelines.definitions import defs

    return defs()


def test_the_nightly_schedule_runs_reconcile_all_over_every_channel_at_the_rules_time():
    settings = POLICY.automation.schedules.reconciliation
    schedule = nightly_reconciliation
    assert schedule.job_name == "reconcile_all"
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        settings.cron,
        settings.timezone,
    )
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING  # on in `make run`
    tick = datetime(2026, 3, 2, 2, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick)
    [request] = nightly_reconciliation.evaluate_tick(context).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == POLICY.channels.names()[0]
    assert request.tags["dagster/asset_partition_range_end"] == POLICY.channels.names()[-1]
    assert request.run_key == f"reconcile_all:{tick.isoformat()}"
    assert request.tags.items() >= channel_range_tags(POLICY.channels.names()).items()
    assert reconcile_all.tags["dagster/priority"] == str(BATCH_PRIORITY)


def test_the_schedule_follows_another_rules_folder_and_is_off_when_disabled(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), folder)
    automation = yaml.safe_load((folder / "automation.yml").read_text())
    automation["schedules"]["reconciliation"] = {
        "enabled": False,
        "cron": "30 3 * * 1-5",
        "timezone": "Europe/Paris",
    }
    (folder / "automation.yml").write_text(yaml.safe_dump(automation))
    schedule = reconciliation_schedule(load_policy(folder).automation.schedules.reconciliation)
    assert schedule.default_status is dg.DefaultScheduleStatus.STOPPED
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 3 * * 1-5", "Europe/Paris")


@pytest.mark.slow  # loads the whole code location
def test_the_job_runs_the_whole_graph_and_the_drift_before_the_publish():
    definitions = loaded()
    assert definitions.resolve_schedule_def("nightly_reconciliation").job_name == "reconcile_all"
    job = definitions.resolve_job_def("reconcile_all")
    selected = job.asset_layer.selected_asset_keys
    wanted = [PRODUCTS, STOCK_QUANTS, CANONICAL, CHANNEL_STOCK, CHANNEL_ORDERS]
    wanted += [CHANNEL_ALLOCATION, DRIFT, PUBLISHED]
    assert {dg.AssetKey(k) for k in wanted} <= selected
    assert dg.AssetKey(DRIFT_HISTORY) not in selected  # written by the drift, not a step
    graph = definitions.resolve_asset_graph()
    assert dg.AssetKey(DRIFT) in graph.get(dg.AssetKey(PUBLISHED)).parent_keys
    assert dg.AssetKey(CHANNEL_ORDERS) in graph.get(dg.AssetKey(DRIFT)).parent_keys


@pytest.mark.slow  # loads the whole code location
def test_paths_that_do_not_select_the_drift_still_publish():
    definitions = loaded()
    for name in ("publish_channels", "refresh_ordered_skus", "refresh_changed_skus"):
        selected = definitions.resolve_job_def(name).asset_layer.selected_asset_keys
        assert dg.AssetKey(PUBLISHED) in selected and dg.AssetKey(DRIFT) not in selected, name
