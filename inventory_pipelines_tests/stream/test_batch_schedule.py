"""The batch schedule: claims the dirty SKUs, requests their refresh at batch priority, and
settles each claim from its run's status in the Dagster instance."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from inventory_pipelines.defs.odoo.assets import products
from inventory_pipelines.defs.resources import LedgerResource, OdooResource
from inventory_pipelines.defs.shared import BATCH_PRIORITY, FAST_PATH_PRIORITY, POLICY
from inventory_pipelines.defs.stream.jobs import DIRTY_CLAIM_TAG
from inventory_pipelines.defs.stream.schedules import VANISHED_AFTER, batch_sync, settle_claims
from inventory_pipelines.defs.stream.sensors import fast_run_requests, requeue_failed_refreshes
from inventory_pipelines.ledger import create_engine, dirty, migrate
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines_tests.defs.resources import sandbox_resources
from inventory_pipelines_tests.stream.support import write_refresh_inputs

pytestmark = pytest.mark.slow  # a persistent Dagster instance per test (about 1 s), runs in process

TICK = datetime(2026, 6, 1, 10, 15, tzinfo=UTC)


class Batch:
    """The ledger and a Dagster instance, and the schedule evaluated on them."""

    def __init__(self, ledger_url: str, instance: dg.DagsterInstance) -> None:
        self.ledger_url = ledger_url
        self.instance = instance  # persistent: a schedule's context needs a reference to it
        self.engine = create_engine(ledger_url)

    def mark(self, *skus: str) -> None:
        with self.engine.connect() as conn:
            dirty.mark(conn, dict.fromkeys(skus, "odoo: quants"))

    def tick(self, at: datetime):
        # closed after the tick, as the daemon does: the instance it opened is let go of
        with dg.build_schedule_context(
            instance=self.instance,
            scheduled_execution_time=at,
            resources={"ledger": LedgerResource(url=self.ledger_url)},
        ) as context:
            return batch_sync(context)

    def held(self) -> dict[str, str | None]:
        with self.engine.connect() as conn:
            return {r.sku: r.claim for r in dirty.rows(conn)}


@pytest.fixture
def batch(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path / "tables"))
    write_refresh_inputs(tmp_path / "tables")  # a full refresh has run
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    with dg.instance_for_test() as instance:
        batch = Batch(url, instance)
        yield batch
        batch.engine.dispose()


def skus_of(request: dg.RunRequest) -> list[str]:
    return request.run_config["resources"]["sku_scope"]["config"]["skus"]


def test_the_batch_claims_the_dirty_skus_and_requests_their_refresh_at_batch_priority(
    batch,
) -> None:
    assert isinstance(batch.tick(TICK), dg.SkipReason)  # nothing dirty
    batch.mark("SKU-B", "SKU-A")
    [request] = batch.tick(TICK)
    assert skus_of(request) == ["SKU-A", "SKU-B"]
    assert request.tags[DIRTY_CLAIM_TAG] == request.run_key
    assert request.tags["dagster/priority"] == str(BATCH_PRIORITY) < str(FAST_PATH_PRIORITY)
    names = POLICY.channels.names()
    assert request.tags["dagster/asset_partition_range_start"] == names[0]
    assert request.tags["dagster/asset_partition_range_end"] == names[-1]
    assert batch.held() == {"SKU-A": request.run_key, "SKU-B": request.run_key}
    # the same tick evaluated again (a retried tick) asks for the same run
    [again] = batch.tick(TICK)
    assert (again.run_key, skus_of(again)) == (request.run_key, skus_of(request))
    # what is marked later goes into the next tick's run; a claimed SKU is not taken twice
    batch.mark("SKU-C")
    [later] = batch.tick(TICK + timedelta(minutes=15))
    assert skus_of(later) == ["SKU-C"] and later.run_key != request.run_key


def test_before_the_first_full_refresh_the_batch_waits_and_keeps_the_dirty_skus(
    batch, tmp_path
) -> None:
    shutil.rmtree(tmp_path / "tables")  # a fresh machine: nothing materialized yet
    batch.mark("SKU-A")
    waiting = batch.tick(TICK)
    assert isinstance(waiting, dg.SkipReason)
    assert "first full refresh" in waiting.skip_message
    assert "inventory/product_identity[shopify]" in waiting.skip_message
    assert batch.held() == {"SKU-A": None}


def test_the_schedule_runs_by_default_on_the_cron_of_automation_yml() -> None:
    settings = POLICY.automation.schedules.batch
    assert batch_sync.cron_schedule == settings.cron
    assert batch_sync.execution_timezone == settings.timezone
    assert batch_sync.default_status == dg.DefaultScheduleStatus.RUNNING
    assert batch_sync.job_name == "refresh_changed_skus"


def run_with_claim(batch: Batch, odoo, tmp_path: Path, request: dg.RunRequest, url: str):
    """The batch run's first step (reading the claimed SKUs' products from Odoo) under the
    request's run config and tags, in the instance."""
    resources = sandbox_resources(odoo, tmp_path, batch.ledger_url)
    resources["odoo"] = OdooResource(
        url=url, db=odoo.db, login=odoo.login, api_key=odoo.api_key, max_attempts=1
    )
    return dg.materialize(
        [products],
        resources=resources,
        run_config=request.run_config,
        tags=request.tags,
        instance=batch.instance,
        raise_on_error=False,
    )


def test_a_failed_batch_run_releases_its_claim_and_a_successful_one_clears_it(
    batch, tmp_path
) -> None:
    batch.mark("SKU-000001", "SKU-000002")
    [first] = batch.tick(TICK)
    with OdooSandbox(version=17, skus=10, seed=1, port=0) as odoo:
        failed = run_with_claim(batch, odoo, tmp_path, first, "http://127.0.0.1:9")  # Odoo down
        assert not failed.success
        # the next tick releases the claim and takes the SKUs again, nothing lost
        [retry] = batch.tick(TICK + timedelta(minutes=15))
        assert skus_of(retry) == ["SKU-000001", "SKU-000002"]
        assert set(batch.held().values()) == {retry.run_key}
        batch.mark("SKU-000002")  # changed again while the run is under way
        succeeded = run_with_claim(batch, odoo, tmp_path, retry, odoo.url)
        assert succeeded.success
        [last] = batch.tick(TICK + timedelta(minutes=30))
    # cleared, but for the SKU marked after the claim: it is refreshed once more
    assert skus_of(last) == ["SKU-000002"]
    assert batch.held() == {"SKU-000002": last.run_key}


def test_a_claim_whose_run_never_came_is_released(batch) -> None:
    batch.mark("SKU-A")
    [request] = batch.tick(TICK)  # the run is never launched (the daemon died)
    with batch.engine.connect() as conn:
        [claim] = dirty.claims(conn)
        early = settle_claims(batch.instance, conn, now=claim.claimed_at + timedelta(seconds=30))
        assert early == {"cleared": 0, "released": 0}  # its run may still be on its way
        late = settle_claims(batch.instance, conn, now=claim.claimed_at + VANISHED_AFTER)
        assert late == {"cleared": 0, "released": 1}
    assert batch.held() == {"SKU-A": None}
    assert request.run_key not in set(batch.held().values())


def test_a_fast_refresh_that_fails_marks_its_skus_dirty_for_the_batch(batch, tmp_path) -> None:
    fast = fast_run_requests(
        {"SKU-000003": "ordered"}, ("2026-06-01 10:00:00", "2026-06-01 10:00:05"), "{}"
    )
    with OdooSandbox(version=17, skus=10, seed=1, port=0) as odoo:
        failed = run_with_claim(batch, odoo, tmp_path, fast[0], "http://127.0.0.1:9")
    assert not failed.success
    run = batch.instance.get_run_by_id(failed.run_id)
    [failure] = [
        e.dagster_event
        for e in batch.instance.all_logs(failed.run_id)
        if e.dagster_event is not None and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
    ]
    context = dg.build_run_status_sensor_context(
        sensor_name="requeue_failed_refreshes",
        dagster_instance=batch.instance,
        dagster_run=run,
        dagster_event=failure,
        resources={"ledger": LedgerResource(url=batch.ledger_url)},
    ).for_run_failure()
    requeue_failed_refreshes(context)
    assert batch.held() == {"SKU-000003": None}
    [request] = batch.tick(TICK)
    assert skus_of(request) == ["SKU-000003"]
