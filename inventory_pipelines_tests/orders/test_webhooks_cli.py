"""`inventory-sync webhooks serve`: the receiver as an operator runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from inventory_pipelines.ledger import create_engine, inbox
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS, webhook_channels
from inventory_pipelines_tests.orders.test_receiver import shopify_order, sign


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_takes_the_sandbox_secrets_locally_and_stores_what_it_verifies(
    tmp_path: Path,
) -> None:
    port = free_port()
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    env = {
        **os.environ,
        "INVENTORY_ENV": "local",
        "INVENTORY_LEDGER_URL": ledger_url,
        "INVENTORY_DATA_DIR": str(tmp_path / "tables"),
    }
    env = {k: v for k, v in env.items() if not k.endswith("_WEBHOOK_SECRET")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inventory_pipelines.cli", "webhooks", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
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
            assert time.monotonic() < deadline and proc.poll() is None, "receiver did not start"
            time.sleep(0.2)
        now = datetime.now(UTC).isoformat()  # inside the replay window
        body = json.dumps({**shopify_order(8101), "created_at": now, "updated_at": now}).encode()
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": "x1",
            "X-Shopify-Hmac-Sha256": sign(SANDBOX_WEBHOOK_SECRETS["shopify"], body),
        }
        answer = httpx.post(f"{base}/webhooks/shopify", content=body, headers=headers)
        assert answer.json() == {"stored": 1, "duplicates": 0}
        forged = {**headers, "X-Shopify-Hmac-Sha256": sign("guess", body)}
        assert (
            httpx.post(f"{base}/webhooks/shopify", content=body, headers=forged).status_code == 401
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        [row] = inbox.rows(conn)
    engine.dispose()
    assert (row.external_id, row.duplicates) == ("8101", 0)


@pytest.mark.bad_input
def test_outside_the_local_environment_a_channel_needs_its_own_secret(monkeypatch) -> None:
    monkeypatch.setenv("INVENTORY_ENV", "prod")
    channels, missing = webhook_channels(env={"INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET": "s3"})
    assert set(channels) == {"shopify"} and missing == ["woocommerce"]
    assert channels["shopify"].secret == "s3"
