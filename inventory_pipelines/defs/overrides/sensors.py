"""`override_expiry`: an override whose time ran out leaves the channels within a minute.

The allocation stops applying an override the moment its time runs out, but a channel shows
the override's quantity until a run refreshes that SKU. Every `INTERVAL_S` this sensor records
the overrides whose time ran out as expired (audited, once, by whoever sees it first: this
sensor or the allocation) and asks for a `refresh_changed_skus` run over the SKUs of every
override that applied until it ran out since its cursor (a stop's pattern matched against
the SKUs the data plane knows), at fast-path priority. The cursor is the end of the window
read; the first evaluation reads back `FIRST_WINDOW`. Revocations and approvals are taken to
the channels by the CLI that made them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from inventory_pipelines import settings
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.resources import LedgerResource
from inventory_pipelines.defs.shared import FAST_PATH_PRIORITY, POLICY, channel_range_tags
from inventory_pipelines.defs.stream.jobs import (
    TRIGGER_TAG,
    missing_refresh_inputs,
    refresh_changed_skus,
)
from inventory_pipelines.ledger import overrides
from inventory_pipelines.overrides.targets import known_skus, skus_of

INTERVAL_S = 30
FIRST_WINDOW = timedelta(hours=1)
NAME = "override_expiry"


def expiry_requests(ran_out: list[overrides.Override], store: TableStore) -> list[dg.RunRequest]:
    """One fast refresh (or more, `max_skus_per_run` each) per override that ran out."""
    if not ran_out or missing_refresh_inputs(store):
        return []  # nothing ran out, or no SKU refresh can run before the first full one
    known = known_skus(store)
    size = max(1, POLICY.automation.change_sensor.fast_path.max_skus_per_run)
    requests = []
    for override in ran_out:
        skus = sorted(set(skus_of(override.kind, override.sku, known)))
        for index, start in enumerate(range(0, len(skus), size)):
            requests.append(
                dg.RunRequest(
                    run_key=f"override-ran-out:{override.id}:{index}",
                    job_name=refresh_changed_skus.name,
                    run_config={
                        "resources": {"sku_scope": {"config": {"skus": skus[start : start + size]}}}
                    },
                    tags={
                        TRIGGER_TAG: NAME,
                        "inventory/override": str(override.id),
                        "inventory/fast_path": "true",
                        "dagster/priority": str(FAST_PATH_PRIORITY),
                        **channel_range_tags(POLICY.channels.names()),
                    },
                )
            )
    return requests


@dg.sensor(
    name=NAME,
    jobs=[refresh_changed_skus],
    minimum_interval_seconds=INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records manual overrides and emergency stops whose time ran out as expired "
    "(audited) and refreshes their SKUs on every channel, so the rules apply again.",
)
def override_expiry(context: dg.SensorEvaluationContext, ledger: LedgerResource):
    """Expire what ran out, and refresh the SKUs of what applied until it ran out."""
    now = datetime.now(UTC)
    since = datetime.fromisoformat(context.cursor) if context.cursor else now - FIRST_WINDOW
    with ledger.engine() as engine, engine.connect() as conn:
        expired = overrides.expire_due(conn, actor=NAME, source="dagster", now=now)
        ran_out = overrides.ran_out_between(conn, since, now)
    requests = expiry_requests(ran_out, TableStore(settings.data_uri()))
    summary = (
        f"{len(expired)} override(s) recorded as expired; {len(ran_out)} ran out since "
        f"{since.isoformat()}, {len(requests)} fast refresh run(s)"
    )
    context.log.info(summary)
    if not requests:
        return dg.SensorResult(skip_reason=summary, cursor=now.isoformat())
    return dg.SensorResult(run_requests=requests, cursor=now.isoformat())


@dg.definitions
def defs() -> dg.Definitions:
    """The override expiry sensor."""
    return dg.Definitions(sensors=[override_expiry])
