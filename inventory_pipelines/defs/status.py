"""What the Dagster instance knows of each channel, for `inventory-sync status`.

The ledger says what the channels acknowledged; the instance adds what only runs know: when
each channel's partition of `inventory/published_channel_state` was last materialized (a
publish with nothing to send acknowledges nothing, yet ran), the change-to-ack latency that
publish measured, and the figures of the channel's last `reconciliation/drift`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from inventory_pipelines.defs.reconciliation.assets import FIGURES as DRIFT_FIGURES
from inventory_pipelines.defs.shared import DRIFT, PUBLISHED

LATENCY = ("change_to_ack_p50_s", "change_to_ack_p95_s", "change_to_ack_count")
#: the per channel publish figures kept from the materialization (as `inventory-sync sync`)
PUBLISH_FIGURES = ("sent", "unchanged", "channel_edits", "failed", "dead_lettered")
PUBLISH_FIGURES += ("pending_left",)


def instance_facts(channels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per channel: `last_publish_run` and `drift` from the instance at $DAGSTER_HOME, each
    None when that partition was never materialized there."""
    instance = dg.DagsterInstance.get()
    try:
        return {
            channel: {
                "last_publish_run": _publish(instance, channel),
                "drift": _drift(instance, channel),
            }
            for channel in channels
        }
    finally:
        instance.dispose()


def _latest(instance: dg.DagsterInstance, key: list[str], channel: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[channel]), limit=1
    ).records
    return records[0] if records else None


def _values(record) -> dict[str, Any]:
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization is not None else {}
    return {key: value.value for key, value in metadata.items()}


def _when(record) -> dict[str, Any]:
    return {"at": datetime.fromtimestamp(record.timestamp, UTC), "run_id": record.run_id}


def _publish(instance: dg.DagsterInstance, channel: str) -> dict[str, Any] | None:
    record = _latest(instance, PUBLISHED, channel)
    if record is None:
        return None
    values = _values(record)
    own = (values.get("channels") or {}).get(channel) or {}
    return {
        **_when(record),
        **{key: values.get(key) for key in LATENCY},
        **{key: own.get(key) for key in PUBLISH_FIGURES},
    }


def _drift(instance: dg.DagsterInstance, channel: str) -> dict[str, Any] | None:
    record = _latest(instance, DRIFT, channel)
    if record is None:
        return None
    values = _values(record)
    return {**_when(record), **{key: values.get(key) for key in DRIFT_FIGURES}}
