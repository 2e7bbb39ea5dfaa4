"""deploy/dagster.yaml as Dagster itself reads it: a real instance, its storage on SQLite.

Only `storage` is swapped (PostgreSQL is the daemon test's business); the run coordinator, the
default run launcher of the compose deployment, run retries, run monitoring and the concurrency
limits are the file's own. Dagster checks more when it loads an instance than its config schema
does (`defs/test_deploy_config.py`): it refuses pools beside run limits set on the run
coordinator, and resume attempts its run launcher cannot make.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.events import RunFailureReason
from dagster._core.execution.retries import auto_reexecution_should_retry_run
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, ROOT_RUN_ID_TAG

from inventory_pipelines.defs.shared import BATCH_PRIORITY

DEPLOY_INSTANCE = Path(__file__).parents[2] / "deploy" / "dagster.yaml"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[DagsterInstance]:
    """The deploy instance, with runs, events and schedules in SQLite under tmp_path."""
    config = yaml.safe_load(DEPLOY_INSTANCE.read_text())
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with DagsterInstance.from_config(str(tmp_path)) as loaded:
        yield loaded


def _failed_run(instance: DagsterInstance, parent: DagsterRun | None = None) -> DagsterRun:
    """A failed run; with a parent, a re-execution of it, tagged as Dagster tags its retries."""
    if parent is None:
        return instance.add_run(
            DagsterRun(job_name="publish_channels", status=DagsterRunStatus.FAILURE)
        )
    root = parent.root_run_id or parent.run_id
    retry = DagsterRun(
        job_name="publish_channels",
        status=DagsterRunStatus.FAILURE,
        parent_run_id=parent.run_id,
        root_run_id=root,
        tags={PARENT_RUN_ID_TAG: parent.run_id, ROOT_RUN_ID_TAG: root},
    )
    return instance.add_run(retry)


@pytest.mark.slow
def test_the_deploy_instance_loads_and_queues_monitors_and_pools_as_it_says(instance):
    assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
    limits = instance.get_concurrency_config()
    assert limits.run_queue_config.max_concurrent_runs == 8
    assert limits.run_queue_config.tag_concurrency_limits == [
        {"key": "dagster/priority", "value": str(BATCH_PRIORITY), "limit": 5}
    ]
    assert limits.pool_config.default_pool_limit == 1
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_start_timeout_seconds == 180
    assert instance.run_monitoring_cancel_timeout_seconds == 180
    assert instance.run_monitoring_max_resume_run_attempts == 0
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 300


@pytest.mark.slow
def test_a_run_whose_worker_died_is_retried_twice_and_a_run_whose_step_failed_never(instance):
    assert instance.run_retries_enabled
    died = RunFailureReason.UNEXPECTED_TERMINATION
    first = _failed_run(instance)
    assert auto_reexecution_should_retry_run(instance, first, died)
    assert auto_reexecution_should_retry_run(instance, first, RunFailureReason.START_TIMEOUT)
    assert not auto_reexecution_should_retry_run(instance, first, RunFailureReason.STEP_FAILURE)

    second = _failed_run(instance, parent=first)
    assert auto_reexecution_should_retry_run(instance, second, died)
    third = _failed_run(instance, parent=second)
    assert not auto_reexecution_should_retry_run(instance, third, died)
