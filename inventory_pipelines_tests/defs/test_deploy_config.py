"""deploy/dagster.yaml: valid for Dagster, and it limits publishing only."""

from pathlib import Path

import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config_schema

from inventory_pipelines.defs.shared import PUBLISHING_POOL

DEPLOY = Path(__file__).parents[2] / "deploy" / "dagster.yaml"


def test_the_instance_config_validates_against_dagsters_schema():
    config = yaml.safe_load(DEPLOY.read_text())
    result = validate_config(dagster_instance_config_schema(), config)
    assert result.success, [e.message for e in result.errors]


def test_only_the_publishing_step_is_limited_and_no_partitioned_run_is():
    config = yaml.safe_load(DEPLOY.read_text())
    limits = config["concurrency"]["runs"].get("tag_concurrency_limits") or []
    assert not [x for x in limits if x["key"] == "dagster/partition"]
    assert config["concurrency"]["pools"]["default_limit"] == 1

    from inventory_pipelines.definitions import defs

    graph = defs().resolve_asset_graph()
    pools = {
        key.to_user_string(): graph.get(key).pools
        for key in graph.get_all_asset_keys()
        if graph.get(key).pools
    }
    assert pools == {"inventory/published_channel_state": {PUBLISHING_POOL}}


def test_batch_runs_leave_run_slots_for_the_fast_path():
    from inventory_pipelines.definitions import defs
    from inventory_pipelines.defs.shared import BATCH_PRIORITY, FAST_PATH_PRIORITY

    config = yaml.safe_load(DEPLOY.read_text())["concurrency"]["runs"]
    [batch] = [x for x in config["tag_concurrency_limits"] if x["key"] == "dagster/priority"]
    assert batch["value"] == str(BATCH_PRIORITY)
    assert batch["limit"] < config["max_concurrent_runs"]
    jobs = {j.name: j for j in defs().resolve_all_job_defs()}
    batch_jobs = {"refresh_inventory", "allocate_channels", "publish_channels", "reconcile_all"}
    fast_jobs = {"refresh_changed_skus", "refresh_ordered_skus", "ingest_orders"}
    for name in batch_jobs:
        assert jobs[name].tags["dagster/priority"] == str(BATCH_PRIORITY), name
    for name in fast_jobs:
        assert jobs[name].tags["dagster/priority"] == str(FAST_PATH_PRIORITY), name
