"""The Dagster instance on PostgreSQL, under the real daemon: a sensor's run, read back from it.

DAGSTER_HOME holds a `dagster.yaml` whose storage is deploy/dagster.yaml's, as it stands
(dagster-postgres for runs, event log and schedules, from DAGSTER_PG_*), pointed at a fresh
database of the throwaway cluster; the ledger is on PostgreSQL too. An order waits in the inbox;
`dagster-daemon run` on the project's workspace ticks the inbox sensor, whose ingestion run
puts the order into the Odoo sandbox. The run, its materialization and the sensor's cursor
are then read back from the PostgreSQL instance, and nothing was written to a SQLite file.

The sensor also requests a refresh of the ordered SKU on every channel; no channel runs here,
so that run is held in the queue (its fast-path tag has a limit of 0), and the automations
that would start runs of their own (the Odoo change sensor, the schedules) are switched off
in a copy of the rules (`automation.yml`), as an operator may.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.storage.dagster_run import RunsFilter
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from inventory_pipelines.ledger import create_engine, inbox
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.settings import REPO_ROOT

pytestmark = pytest.mark.slow  # a daemon, a code server and a run process: about a minute

BIN = Path(sys.executable).parent
DEADLINE_S = 240
ORDER = "31338"

#: the test's instance: deploy/dagster.yaml's storage as it stands, and a run queue that holds
#: the fast-path refresh (it would publish to every channel, and none runs here)
RUN_COORDINATOR = {
    "module": "dagster._core.run_coordinator",
    "class": "QueuedRunCoordinator",
    "config": {
        "dequeue_interval_seconds": 1,
        "tag_concurrency_limits": [{"key": "inventory/fast_path", "value": "true", "limit": 0}],
    },
}


def instance_yaml() -> str:
    """deploy/dagster.yaml's storage (dagster-postgres from DAGSTER_PG_*) and RUN_COORDINATOR."""
    deployed = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    assert "postgres" in deployed["storage"]
    return yaml.safe_dump(
        {
            "storage": deployed["storage"],
            "run_coordinator": RUN_COORDINATOR,
            "telemetry": {"enabled": False},
        }
    )


@pytest.fixture
def instance_env(pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The DAGSTER_PG_* variables for a fresh PostgreSQL database, set here and returned."""
    url = sa.make_url(pg_database_url)
    env = {
        "DAGSTER_PG_HOST": url.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_DB": url.database or "",
        "DAGSTER_PG_USER": url.username or "",
        "DAGSTER_PG_PASSWORD": url.password or "",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The project's rules with the automations that start runs of their own switched off."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "dbt_like_rules", rules)
    automation = yaml.safe_load((rules / "automation.yml").read_text())
    automation.setdefault("change_sensor", {})["enabled"] = False
    for schedule in automation.setdefault("schedules", {}).values():
        schedule["enabled"] = False
    (rules / "automation.yml").write_text(yaml.safe_dump(automation))
    return rules


@pytest.fixture
def odoo() -> Iterator[OdooSandbox]:
    with OdooSandbox(version=17, skus=40, seed=5, port=0) as sandbox:
        yield sandbox


def an_order(odoo: OdooSandbox) -> inbox.InboxEvent:
    """A Shopify order of one unit of a SKU Odoo sells by the unit."""
    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        sku = next(
            r["sku"]
            for r in read_products(client).iter_rows(named=True)
            if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
        )
    line = {"listing_id": None, "sku": sku, "quantity": 1, "price": "5.00"}
    payload = {
        "external_id": ORDER,
        "event": "created",
        "kind": "created",
        "lines": [line],
        "updated_at": "2026-11-27T10:00:00Z",
    }
    return inbox.InboxEvent(
        "shopify", ORDER, "created", "created", "webhook", payload, pending={sku: 1}
    )


def wait_for_ingestion(instance: dg.DagsterInstance, daemon: subprocess.Popen, log: Path):
    """The ingestion run, once it ended; fails on the daemon's death or at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    ended = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    while time.monotonic() < deadline:
        runs = instance.get_runs(RunsFilter(job_name="ingest_orders"))
        if runs and runs[0].status in ended:
            return runs[0]
        assert daemon.poll() is None, f"the daemon died:\n{log.read_text()[-3000:]}"
        time.sleep(1)
    raise AssertionError(f"no ingestion run ended in {DEADLINE_S} s:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("migrated_ledger_url", ["postgresql"], indirect=True)
def test_the_daemon_on_a_postgresql_instance_runs_the_sensors_ingestion(
    tmp_path: Path,
    pg_database_url: str,
    instance_env: dict[str, str],
    migrated_ledger_url: str,
    rules_dir: Path,
    odoo: OdooSandbox,
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml())
    env = {
        **os.environ,
        **instance_env,
        "DAGSTER_HOME": str(home),
        "INVENTORY_ENV": "local",
        "INVENTORY_LEDGER_URL": migrated_ledger_url,
        "INVENTORY_RULES_DIR": str(rules_dir),
        "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
        "ODOO_URL": odoo.url,
        "ODOO_DB": odoo.db,
        "ODOO_LOGIN": odoo.login,
        "ODOO_API_KEY": odoo.api_key,
    }
    ledger = create_engine(migrated_ledger_url)
    with ledger.connect() as conn:
        (row_id,) = inbox.receive(conn, [an_order(odoo)]).stored_ids
    log = tmp_path / "daemon.log"
    instance = dg.DagsterInstance.from_config(str(home))
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        run = wait_for_ingestion(instance, daemon, log)
        assert run.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-3000:]
        assert run.tags["dagster/sensor_name"] == "orders_inbox_sensor"
        assert run.tags["dagster/partition"] == "shopify"

        # runs, events and the sensor's state are in PostgreSQL
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        synced = instance.get_latest_materialization_event(
            dg.AssetKey(["orders", "odoo_order_sync"])
        )
        assert synced is not None and synced.run_id == run.run_id
        (sensor,) = [s for s in instance.all_instigator_state() if s.name == "orders_inbox_sensor"]
        assert sensor.instigator_data.cursor == str(row_id)
        (refresh,) = instance.get_runs(RunsFilter(job_name="refresh_ordered_skus"))
        assert refresh.status == dg.DagsterRunStatus.QUEUED  # held by its tag's limit of 0
    finally:
        daemon.terminate()
        daemon.wait(60)
        instance.dispose()

    instance_db = create_engine(pg_database_url)
    with instance_db.connect() as conn:
        stored = conn.execute(sa.text("SELECT run_id, status FROM runs")).all()
    instance_db.dispose()
    assert (run.run_id, "SUCCESS") in stored
    assert not [p for p in home.rglob("*") if p.suffix in (".db", ".sqlite")]

    config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
    with OdooClient(config) as client:
        found = client.call(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=", f"shopify/{ORDER}"]]],
            {"fields": ["state"]},
        )
    assert [o["state"] for o in found] == ["sale"]
    with ledger.connect() as conn:
        assert inbox.find(conn, "shopify", ORDER, "created").status == "done"
    ledger.dispose()
