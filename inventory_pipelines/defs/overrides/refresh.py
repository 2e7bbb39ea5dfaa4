"""The fast refresh of some SKUs on every channel, run in this process (`inventory-sync
override` when no Dagster webserver answers): `refresh_changed_skus`'s assets over a SKU scope,
with the environment's resources, as `inventory-sync sync` runs the whole graph."""

from typing import Any

import dagster as dg

from inventory_pipelines import settings
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.resources import build_resources
from inventory_pipelines.defs.runner import _failures, _published_figures
from inventory_pipelines.defs.shared import POLICY, channel_range_tags
from inventory_pipelines.defs.stream.jobs import (
    CHANGED_SKUS_SELECTION,
    TRIGGER_TAG,
    missing_refresh_inputs,
)

#: Dagster's console log at warnings only: the command prints its own lines
QUIET_LOG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def refresh_skus(skus: list[str], trigger: str = "override") -> dict[str, Any]:
    """Refresh `skus` from Odoo to every channel in one in-process run; `{"success", "error",
    "channels"}` with the publish figures per channel."""
    missing = missing_refresh_inputs(TableStore(settings.data_uri()))
    if missing:
        return {
            "success": False,
            "error": f"no full refresh yet ({', '.join(missing)} missing): run "
            "`inventory-sync sync` once",
            "channels": {},
        }
    from inventory_pipelines.definitions import defs

    result = dg.materialize(
        list(defs().assets or []),
        selection=CHANGED_SKUS_SELECTION,
        resources=build_resources(),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"resources": {"sku_scope": {"config": {"skus": sorted(skus)}}}, **QUIET_LOG},
        tags={
            TRIGGER_TAG: trigger,
            "inventory/fast_path": "true",
            **channel_range_tags(POLICY.channels.names()),
        },
        raise_on_error=False,
    )
    return {
        "success": result.success,
        "error": None if result.success else _failures(result),
        "channels": _published_figures(result),
    }
