"""Webhook secrets kept in a file rotate without restarting the receiver: the file is read
again whenever it changes, and during a rotation it may hold the new and the old secret."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inventory_pipelines.channels.factory import ChannelConfigError
from inventory_pipelines.local_keys import SANDBOX_KEYS
from inventory_pipelines.orders.receiver import SecretFile, WebhookChannel, create_app
from inventory_pipelines.orders.setup import webhook_channels
from inventory_pipelines.rules import load_policy
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines_tests.security.test_webhook_signatures import (
    NOW,
    WINDOW_S,
    ledger,  # noqa: F401 (a fixture)
    post,
    shopify_delivery,
    sign,
    stored,
)

OLD, NEW = "the-secret-before-the-rotation", "the-secret-after-the-rotation"


def signed_with(secret: str, order_id: int) -> tuple[bytes, dict[str, str]]:
    body, headers = shopify_delivery(order_id, delivery=f"d-{order_id}")
    headers["X-Shopify-Hmac-Sha256"] = sign(secret, body)
    return body, headers


def write(path: Path, *secrets: str) -> None:
    """Replace the file as a secret volume does (a new file moved into place)."""
    tmp = path.with_suffix(".new")
    tmp.write_text("".join(f"{s}\n" for s in secrets))
    os.replace(tmp, path)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "shopify-webhook-secret"
    write(path, OLD)
    return path


@pytest.fixture
def receiver(ledger: Any, secret_file: Path) -> Iterator[str]:  # noqa: F811
    channel = WebhookChannel("shopify", "shopify", "", replay_window_s=WINDOW_S,
                             secret_file=SecretFile(secret_file))  # fmt: skip
    app = create_app(ledger, {"shopify": channel}, clock=lambda: NOW)
    server, thread, sock = start_server(app, "127.0.0.1", 0, "receiver")
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop_server(server, thread, sock)


def test_a_secret_rotated_in_its_file_is_used_without_a_restart(
    receiver: str,
    ledger: Any,  # noqa: F811
    secret_file: Path,
) -> None:
    assert post(receiver, "shopify", signed_with(OLD, 1)).status_code == 200
    assert post(receiver, "shopify", signed_with(NEW, 2)).status_code == 401

    write(secret_file, NEW, OLD)  # the rotation: the channel may sign with either for a while
    assert post(receiver, "shopify", signed_with(NEW, 3)).status_code == 200
    assert post(receiver, "shopify", signed_with(OLD, 4)).status_code == 200

    write(secret_file, NEW)  # the old one retired
    assert post(receiver, "shopify", signed_with(OLD, 5)).status_code == 401
    assert post(receiver, "shopify", signed_with(NEW, 6)).status_code == 200
    assert stored(ledger) == ["shopify/1", "shopify/3", "shopify/4", "shopify/6"]


def test_a_file_that_disappears_or_empties_keeps_the_last_secrets(
    receiver: str,
    ledger: Any,  # noqa: F811
    secret_file: Path,
) -> None:
    """A secret volume is swapped, not edited in place; between the two, nothing verified a
    moment ago is refused."""
    secret_file.unlink()
    assert post(receiver, "shopify", signed_with(OLD, 1)).status_code == 200
    secret_file.write_text("\n")
    assert post(receiver, "shopify", signed_with(OLD, 2)).status_code == 200
    assert stored(ledger) == ["shopify/1", "shopify/2"]


@pytest.mark.bad_input
def test_webhook_channels_reads_the_secret_file_variable(tmp_path: Path, secret_file: Path,
                                                         monkeypatch) -> None:  # fmt: skip
    monkeypatch.setenv("INVENTORY_ENV", "prod")
    env = {"INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET_FILE": str(secret_file)}
    channels, missing = webhook_channels(env, load_policy())
    assert list(channels) == ["shopify"] and missing == ["woocommerce"]
    assert channels["shopify"].secrets() == (OLD,)
    assert OLD not in repr(channels["shopify"])

    env = {"INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET_FILE": str(tmp_path / "absent")}
    with pytest.raises(ChannelConfigError) as refused:
        webhook_channels(env, load_policy())
    assert "INVENTORY_CHANNEL_SHOPIFY_WEBHOOK_SECRET_FILE" in str(refused.value)
    assert "cannot be read" in str(refused.value)


def test_outside_local_a_sandbox_key_in_the_file_verifies_nothing(secret_file: Path) -> None:
    sandbox_key = sorted(SANDBOX_KEYS)[0]
    write(secret_file, sandbox_key, NEW)
    assert SecretFile(secret_file, refuse_sandbox_keys=True).read() == (NEW,)
    assert SecretFile(secret_file).read() == (sandbox_key, NEW)
