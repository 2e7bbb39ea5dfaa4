"""`inventory-sync webhooks serve` takes Odoo's hints beside the channels' order webhooks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream.setup import SANDBOX_ODOO_WEBHOOK_TOKEN
from inventory_pipelines_tests.stream_push.conftest import create_quant_webhook_rule, stocked_quant


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_odoo_with_the_sandbox_token_and_reads_the_quant_back(
    tmp_path: Path,
) -> None:
    port, dagster_port = _free_port(), _free_port()  # nothing listens on the second
    with OdooSandbox(version=17, skus=40, seed=5) as odoo:
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith("INVENTORY_") and k != "DAGSTER_HOME"
            },
            "INVENTORY_ENV": "local",
            "INVENTORY_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
            "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
            "INVENTORY_DAGSTER_URL": f"http://127.0.0.1:{dagster_port}",
            "ODOO_URL": odoo.url,
            "ODOO_DB": odoo.db,
            "ODOO_LOGIN": odoo.login,
            "ODOO_API_KEY": odoo.api_key,
        }
        stderr = (tmp_path / "stderr.txt").open("w+")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inventory_pipelines.cli",
                "webhooks",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stderr=stderr,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "did not start"
                time.sleep(0.2)
            create_quant_webhook_rule(odoo, f"{base}/odoo/{SANDBOX_ODOO_WEBHOOK_TOKEN}")
            hint = b'{"_model": "stock.quant", "_id": 1}'
            assert httpx.post(f"{base}/odoo/not-the-token-at-all", content=hint).status_code == 401

            _, sku, location, _ = stocked_quant(odoo)
            odoo.state.move_stock(sku, location, 2)
            [delivery] = odoo.state.automation.deliveries
            assert delivery.status == 202
            # read back after the commit wait, then the submission fails: the webserver is down
            deadline = time.monotonic() + 20
            while "the change sensor refreshes them" not in (tmp_path / "stderr.txt").read_text():
                assert time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            stderr.close()
    said = (tmp_path / "stderr.txt").read_text()
    assert f"odoo: POST http://127.0.0.1:{port}/odoo/{SANDBOX_ODOO_WEBHOOK_TOKEN}" in said
    assert "odoo push refused: bad or missing token" in said
    assert "not-the-token-at-all" not in said
    assert "the fast run for 1 SKU(s) was not submitted" in said
    # without an instance to run in, the receiver hands fast runs to the webserver, and says so
    assert "DAGSTER_HOME is not set, so fast runs go to the webserver" in said
