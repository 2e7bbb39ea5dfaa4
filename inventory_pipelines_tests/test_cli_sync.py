"""`inventory-sync sandbox up`, then `inventory-sync sync`: what a cron-only user runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "inventory_pipelines.cli"]


@pytest.fixture
def sandbox_up(tmp_path):
    env = {**os.environ, "INVENTORY_DATA_DIR": str(tmp_path / "tables")}
    env.pop("ODOO_API_KEY", None)
    proc = subprocess.Popen(
        [*CLI, "sandbox", "up", "--port-base", "0", "--skus", "60"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    first = json.loads(proc.stdout.readline())
    yield first, env, tmp_path
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not (tmp_path / "sandbox-env.json").exists()


def sync(env) -> dict:
    out = subprocess.run(
        [*CLI, "sync", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sandbox_up_prints_every_service_then_sync_publishes_and_a_resync_sends_nothing(
    sandbox_up,
):
    first, env, _ = sandbox_up
    assert set(first["channels"]) == {"shopify", "woocommerce", "amazon", "pos", "b2b"}
    assert first["odoo"]["url"].startswith("http://127.0.0.1:")
    assert all(c["url"].startswith("http://127.0.0.1:") for c in first["channels"].values())
    summary = sync(env)
    assert summary["success"], summary
    for figures in summary["channels"].values():
        assert {"sent", "unchanged", "failed", "api_calls"} <= set(figures)
        assert figures["failed"] == 0
    assert sum(f["sent"] for f in summary["channels"].values()) > 0
    again = sync(env)
    assert {c: f["api_calls"] for c, f in again["channels"].items()} == dict.fromkeys(
        summary["channels"], 0
    )
    dlq = subprocess.run([*CLI, "dlq", "list", "--json"], env=env, capture_output=True, text=True)
    assert dlq.returncode == 0 and json.loads(dlq.stdout) == []
