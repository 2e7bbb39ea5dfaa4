"""The orders' poll runs on its own: the net under the webhooks (a delivery refused or lost)."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from inventory_pipelines.defs.shared import FAST_PATH_PRIORITY, POLICY


def test_every_channels_orders_are_polled_on_the_rules_schedule_in_one_run() -> None:
    from inventory_pipelines.definitions import defs

    definitions = defs()
    schedule = definitions.resolve_schedule_def("poll_channel_orders")
    settings = POLICY.automation.schedules.orders_poll
    assert schedule.cron_schedule == settings.cron
    assert schedule.execution_timezone == settings.timezone
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = definitions.resolve_job_def("poll_orders")
    assert [k.to_user_string() for k in job.asset_layer.executable_asset_keys] == [
        "orders/channel_orders"
    ]
    assert job.tags["dagster/priority"] == str(FAST_PATH_PRIORITY)
    when = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(instance=instance, scheduled_execution_time=when) as ctx,
    ):
        request = schedule.evaluate_tick(ctx).run_requests[0]
    assert request.run_key == f"poll_orders:{when.isoformat()}"
    channels = POLICY.channels.names()
    assert request.tags["dagster/asset_partition_range_start"] == channels[0]
    assert request.tags["dagster/asset_partition_range_end"] == channels[-1]
