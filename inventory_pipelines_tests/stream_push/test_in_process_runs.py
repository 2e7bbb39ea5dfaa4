"""Fast runs executed in the receiver's process (``push.runs_in: receiver``).

Odoo and one emulator per channel, the code location loaded from its module as the receiver
loads it (resources from the environment), a persistent Dagster instance in a temp folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.utils import make_new_run_id

from inventory_pipelines.channels.factory import connector_from_env
from inventory_pipelines.dataplane import TableStore
from inventory_pipelines.defs.runner import run_sync
from inventory_pipelines.defs.shared import CHANNEL_ALLOCATION, POLICY, PRODUCT_IDENTITY
from inventory_pipelines.defs.stream.in_process import (
    RUNNER_TAG,
    InProcessRunExecutor,
    ReceiverRunsUnsafeError,
)
from inventory_pipelines.ledger import migrate
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream.runs import FastRun
from inventory_pipelines_tests.emulators import running_sandbox

pytestmark = pytest.mark.slow

CHANNELS = tuple(POLICY.channels.names())
SKU = "SKU-000012"


@pytest.fixture
def stack(monkeypatch, tmp_path: Path) -> Iterator[OdooSandbox]:
    with running_sandbox(monkeypatch, skus=40, listings=40) as (odoo, _):
        ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        migrate(ledger_url)
        for key, value in {
            "INVENTORY_ENV": "local",
            "ODOO_URL": odoo.url,
            "ODOO_DB": odoo.db,
            "ODOO_LOGIN": odoo.login,
            "ODOO_API_KEY": odoo.api_key,
            "INVENTORY_LEDGER_URL": ledger_url,
            "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
            "INVENTORY_CATALOG": str(tmp_path / "warehouse.duckdb"),
        }.items():
            monkeypatch.setenv(key, value)
        yield odoo


def _home(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def _shown(listings: dict[str, str]) -> dict[str, int | None]:
    out = {}
    for name in CHANNELS:
        kind = POLICY.channels.get(name).kind.value
        with connector_from_env(name, kind) as connector:
            found = {x.listing_id: x.quantity for page in connector.read_listings() for x in page}
        out[name] = found.get(listings[name])
    return out


def test_a_fast_run_executed_in_the_receiver_reaches_every_channel_as_a_run_of_the_location(
    stack: OdooSandbox, tmp_path: Path
) -> None:
    assert run_sync()["success"]
    store = TableStore(tmp_path / "tables")
    listings = {
        n: store.read(PRODUCT_IDENTITY, n).filter(pl.col("sku") == SKU)["listing_id"].item()
        for n in CHANNELS
    }
    before = _shown(listings)
    stack.state.move_stock(SKU, "MAIN/Stock", 75)
    with dg.instance_for_test(temp_dir=str(_home(tmp_path / "home"))) as instance:
        executor = InProcessRunExecutor(instance)
        executor.warm("refresh_changed_skus")
        run_id = executor.submit(FastRun((SKU,), CHANNELS))

        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == "refresh_changed_skus"
        assert run.tags["inventory/trigger"] == "odoo_push"
        assert run.tags[RUNNER_TAG].startswith("receiver@")
        assert run.tags["dagster/asset_partition_range_start"] == CHANNELS[0]
        # this code location's run: the UI and the run-status sensors find it by its origin
        origin = run.remote_job_origin
        assert origin is not None
        assert origin.repository_origin.code_location_origin.location_name == "inventory_pipelines"
        assert origin.repository_origin.repository_name == "__repository__"
    targets = {
        n: store.read(CHANNEL_ALLOCATION, n, skus=[SKU])["publishable"].item() for n in CHANNELS
    }
    after = _shown(listings)
    assert after == targets
    assert after != before


def test_runs_left_unfinished_by_a_stopped_receiver_are_marked_failed(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(_home(tmp_path / "home"))) as instance:
        executor = InProcessRunExecutor(instance)
        mine, other = (
            instance.add_run(
                dg.DagsterRun(
                    job_name="refresh_changed_skus",
                    run_id=make_new_run_id(),
                    tags={RUNNER_TAG: runner},
                    status=dg.DagsterRunStatus.STARTED,
                )
            )
            for runner in (executor.runner, "receiver@elsewhere")
        )
        assert executor.fail_unfinished() == [mine.run_id]
        assert instance.get_run_by_id(mine.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(other.run_id).status == dg.DagsterRunStatus.STARTED


class WorkerCheckingLauncher(DefaultRunLauncher):
    """A launcher whose workers run monitoring checks (as the Kubernetes launcher's are)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True


def test_an_instance_whose_monitoring_checks_launcher_workers_is_refused(tmp_path: Path) -> None:
    monitoring = {"run_monitoring": {"enabled": True}}
    with dg.instance_for_test(
        temp_dir=str(_home(tmp_path / "a")), overrides=monitoring
    ) as instance:
        InProcessRunExecutor(instance)  # the default launcher's workers are not checked
    checking = {
        **monitoring,
        "run_launcher": {"module": __name__, "class": "WorkerCheckingLauncher"},
    }
    home = str(_home(tmp_path / "b"))
    with (
        dg.instance_for_test(temp_dir=home, overrides=checking) as instance,
        pytest.raises(ReceiverRunsUnsafeError, match=r"push\.runs_in: instance"),
    ):
        InProcessRunExecutor(instance)
