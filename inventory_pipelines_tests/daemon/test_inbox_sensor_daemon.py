"""The inbox sensor under the real Dagster daemon: an order in the inbox reaches Odoo.

A throwaway Dagster instance (DAGSTER_HOME in a temp folder), `dagster-daemon run` on the
project's workspace, the sensor on by default (as in `make run`); an order is written to the
ledger's inbox and the test waits for the daemon's run to put it into the Odoo sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from inventory_pipelines.ledger import create_engine, inbox, migrate
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.snapshot import read_products
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.settings import REPO_ROOT

BIN = Path(sys.executable).parent


def test_the_daemon_runs_ingestion_for_a_new_inbox_row(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(ledger_url)
    with OdooSandbox(version=17, skus=40, seed=5, port=0) as odoo:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "INVENTORY_ENV": "local",
            "INVENTORY_LEDGER_URL": ledger_url,
            "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
            "ODOO_URL": odoo.url,
            "ODOO_DB": odoo.db,
            "ODOO_LOGIN": odoo.login,
            "ODOO_API_KEY": odoo.api_key,
        }
        config = OdooConfig(url=odoo.url, db=odoo.db, login=odoo.login, secret=odoo.api_key)
        with OdooClient(config) as client:
            sku = next(
                r["sku"]
                for r in read_products(client).iter_rows(named=True)
                if r["sku"] and r["active"] and r["storable"] and (r["factor"] or 1) == 1
            )
        workspace = ["-w", str(REPO_ROOT / "workspace.yaml")]
        # the sensor is on by default: nothing to switch on, as in `make run`
        listed = subprocess.run(
            [str(BIN / "dagster"), "sensor", "list", "--running", *workspace],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert "orders_inbox_sensor" in listed.stdout, (listed.stdout + listed.stderr)[-3000:]
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", *workspace],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            engine = create_engine(ledger_url)
            with engine.connect() as conn:
                inbox.receive(
                    conn,
                    [
                        inbox.InboxEvent(
                            "shopify",
                            "31337",
                            "created",
                            "created",
                            "webhook",
                            {
                                "external_id": "31337",
                                "event": "created",
                                "kind": "created",
                                "lines": [
                                    {"listing_id": None, "sku": sku, "quantity": 1, "price": "5.00"}
                                ],
                                "updated_at": "2026-11-27T10:00:00Z",
                            },
                            pending={sku: 1},
                        )
                    ],
                )
            deadline = time.monotonic() + 240
            found = []
            # created (draft), then confirmed: two calls, so wait for the confirmed order
            while time.monotonic() < deadline and [o["state"] for o in found] != ["sale"]:
                time.sleep(2)
                with OdooClient(config) as client:
                    found = client.call(
                        "sale.order",
                        "search_read",
                        [[["client_order_ref", "=", "shopify/31337"]]],
                        {"fields": ["state"]},
                    )
            assert [o["state"] for o in found] == ["sale"], "the daemon did not ingest the order"
            with engine.connect() as conn:
                assert inbox.find(conn, "shopify", "31337", "created").status == "done"
            engine.dispose()
        finally:
            daemon.terminate()
            daemon.wait(60)
