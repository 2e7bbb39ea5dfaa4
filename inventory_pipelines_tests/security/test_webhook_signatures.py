"""Webhook signatures and the replay window, against the receiver on a real loopback server.

A signature is the base64 HMAC-SHA256 of the raw body: anything but the exact one (another
secret's, a truncated one, the right one of another body, hex instead of base64) is 401 and
stores nothing. A signed delivery whose event is older than the channel's replay window
(`orders.yml` `webhooks.replay_window_s`, 300 s shipped) is 400 and stored nowhere, judged by
the instant its signed body carries: an unsigned header can make a delivery older, never a
replay younger. A redelivery inside the window is a duplicate for the inbox.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from inventory_pipelines.ledger import create_engine, dlq, inbox, migrate
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.orders.setup import webhook_channels
from inventory_pipelines.rules import default_rules_dir, load_policy
from inventory_pipelines.sandbox.serving import start_server, stop_server

SHOPIFY_SECRET = "shopify-secret-for-the-signature-tests"
WOO_SECRET = "woo-secret-for-the-signature-tests"
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
WINDOW_S = 300.0


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def stamp(age_s: float) -> str:
    return (NOW - timedelta(seconds=age_s)).isoformat().replace("+00:00", "Z")


def shopify_delivery(
    order_id: int, age_s: float = 5, triggered_age_s: float | None = None, delivery: str = "d-1"
) -> tuple[bytes, dict[str, str]]:
    """An orders/create delivery whose order was created `age_s` seconds before NOW."""
    body = json.dumps(
        {
            "id": order_id,
            "name": f"#{order_id}",
            "email": "ada@example.com",
            "created_at": stamp(age_s),
            "updated_at": stamp(age_s),
            "customer": {"first_name": "Ada", "last_name": "Lovelace"},
            "line_items": [{"id": 1, "sku": "SKU-000001", "quantity": 2, "price": "9.90"}],
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body),
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Triggered-At": stamp(age_s if triggered_age_s is None else triggered_age_s),
    }
    return body, headers


def woo_delivery(order_id: int, age_s: float = 5) -> tuple[bytes, dict[str, str]]:
    """An order.created delivery whose order was last modified `age_s` seconds before NOW."""
    gmt = (NOW - timedelta(seconds=age_s)).replace(tzinfo=None).isoformat()
    body = json.dumps(
        {
            "id": order_id,
            "status": "processing",
            "date_created_gmt": gmt,
            "date_modified_gmt": gmt,
            "billing": {"email": "grace@example.com", "first_name": "Grace"},
            "line_items": [{"product_id": 40, "sku": "SKU-000003", "quantity": 3}],
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": sign(WOO_SECRET, body),
        "X-WC-Webhook-Delivery-ID": f"w-{order_id}",
    }
    return body, headers


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def receiver(ledger: Any) -> Iterator[tuple[str, Any]]:
    """The receiver at NOW, both channels with the shipped 300 s window."""
    channels = {
        "shopify": WebhookChannel("shopify", "shopify", SHOPIFY_SECRET, replay_window_s=WINDOW_S),
        "woocommerce": WebhookChannel(
            "woocommerce", "woocommerce", WOO_SECRET, replay_window_s=WINDOW_S
        ),
    }
    app = create_app(ledger, channels, clock=lambda: NOW)
    server, thread, sock = start_server(app, "127.0.0.1", 0, "receiver")
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    stop_server(server, thread, sock)


def stored(ledger: Any) -> list[str]:
    with ledger.connect() as conn:
        return [f"{r.channel}/{r.external_id}" for r in inbox.rows(conn)]


def letters(ledger: Any) -> list[Any]:
    with ledger.connect() as conn:
        return dlq.list_open(conn)


def post(url: str, channel: str, delivery: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = delivery
    return httpx.post(f"{url}/webhooks/{channel}", content=body, headers=headers)


# -- signatures -------------------------------------------------------------------------------


def _forge(forgery: str, body: bytes) -> str:
    right = sign(SHOPIFY_SECRET, body)
    if forgery == "another secret":
        return sign("a-guessed-secret", body)
    if forgery == "truncated":
        return right[:-4]
    if forgery == "one character off":
        return right[:-2] + ("A" if right[-2] != "A" else "B") + right[-1]
    if forgery == "signature of another body":
        return sign(SHOPIFY_SECRET, body.replace(b'"quantity": 2', b'"quantity": 20'))
    if forgery == "hex instead of base64":
        return hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).hexdigest()
    if forgery == "the right one twice":
        return right + right
    raise AssertionError(forgery)


@pytest.mark.parametrize(
    "forgery",
    [
        "another secret",
        "truncated",
        "one character off",
        "signature of another body",
        "hex instead of base64",
        "the right one twice",
    ],
)
@pytest.mark.bad_input
def test_anything_but_the_exact_signature_is_401_and_stores_nothing(
    receiver, ledger, forgery
) -> None:
    url, app = receiver
    body, headers = shopify_delivery(5001)
    headers["X-Shopify-Hmac-Sha256"] = _forge(forgery, body)
    answer = post(url, "shopify", (body, headers))
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid signature"})
    assert stored(ledger) == [] and letters(ledger) == []
    assert app.state.stats.rejected_signature == 1


@pytest.mark.bad_input
def test_a_woocommerce_delivery_signed_with_the_shopify_secret_is_401(receiver, ledger) -> None:
    url, _ = receiver
    body, headers = woo_delivery(5002)
    headers["X-WC-Webhook-Signature"] = sign(SHOPIFY_SECRET, body)
    assert post(url, "woocommerce", (body, headers)).status_code == 401
    assert stored(ledger) == []


# -- the replay window ------------------------------------------------------------------------


def test_a_fresh_signed_delivery_is_stored(receiver, ledger) -> None:
    url, _ = receiver
    assert post(url, "shopify", shopify_delivery(5101, age_s=5)).json() == {
        "stored": 1,
        "duplicates": 0,
    }
    assert post(url, "woocommerce", woo_delivery(5102, age_s=5)).json() == {
        "stored": 1,
        "duplicates": 0,
    }
    assert stored(ledger) == ["shopify/5101", "woocommerce/5102"]


def test_a_delivery_at_the_edge_of_the_window_is_stored_and_one_second_past_it_is_not(
    receiver, ledger
) -> None:
    url, _ = receiver
    assert post(url, "shopify", shopify_delivery(5201, age_s=WINDOW_S)).status_code == 200
    assert post(url, "shopify", shopify_delivery(5202, age_s=WINDOW_S + 1)).status_code == 400
    assert stored(ledger) == ["shopify/5201"]


@pytest.mark.bad_input
def test_an_old_signed_delivery_is_refused_with_its_reason_stored_nowhere_and_logged_without_personal_data(  # noqa: E501
    receiver, ledger, caplog
) -> None:
    caplog.set_level(logging.INFO)
    url, app = receiver
    answers = [post(url, "shopify", shopify_delivery(5301, age_s=3600)) for _ in range(2)]
    assert [a.status_code for a in answers] == [400, 400]  # a retry is refused the same way
    reason = answers[0].json()["error"]
    assert reason.startswith("stale delivery: its event is of 2026-12-01T11:00:00+00:00, 3600 s")
    assert "300 s replay window of shopify" in reason and "polling" in reason
    assert stored(ledger) == [] and letters(ledger) == []
    assert app.state.stats.stale == 2
    logged = caplog.text
    assert "webhook for shopify refused (400), delivery d-1: stale delivery" in logged
    for personal in ("ada@example.com", "Ada", "Lovelace", "SKU-000001", "9.90"):
        assert personal not in logged, personal


def test_a_woocommerce_delivery_is_judged_by_the_modification_time_it_signs(
    receiver, ledger
) -> None:
    url, _ = receiver
    assert post(url, "woocommerce", woo_delivery(5401, age_s=WINDOW_S + 60)).status_code == 400
    assert post(url, "woocommerce", woo_delivery(5402, age_s=60)).status_code == 200
    assert stored(ledger) == ["woocommerce/5402"]


@pytest.mark.bad_input
def test_a_fresh_unsigned_trigger_header_does_not_make_an_old_signed_body_young(
    receiver, ledger
) -> None:
    """X-Shopify-Triggered-At is outside the HMAC: a replay with a new one is still old."""
    url, _ = receiver
    replay = shopify_delivery(5501, age_s=3600, triggered_age_s=0)
    assert post(url, "shopify", replay).status_code == 400
    assert stored(ledger) == []


@pytest.mark.bad_input
def test_an_old_trigger_header_refuses_a_late_retry_even_of_a_young_body(receiver, ledger) -> None:
    """Shopify retries with the original trigger time: the older of the two instants counts."""
    url, _ = receiver
    late_retry = shopify_delivery(5502, age_s=10, triggered_age_s=3600)
    assert post(url, "shopify", late_retry).status_code == 400
    assert stored(ledger) == []


def test_a_redelivery_inside_the_window_is_a_duplicate_stored_once(receiver, ledger) -> None:
    url, _ = receiver
    first = post(url, "shopify", shopify_delivery(5601, age_s=5, delivery="d-9"))
    again = post(url, "shopify", shopify_delivery(5601, age_s=5, delivery="d-9"))
    assert (first.json(), again.json()) == (
        {"stored": 1, "duplicates": 0},
        {"stored": 0, "duplicates": 1},
    )
    assert stored(ledger) == ["shopify/5601"]


def test_the_window_is_the_channels_own_from_orders_yml(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("INVENTORY_ENV", "local")
    shipped = load_policy(default_rules_dir())
    channels, _ = webhook_channels(env={}, policy=shipped)
    assert {c.replay_window_s for c in channels.values()} == {300.0}

    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    orders = yaml.safe_load((rules / "orders.yml").read_text())
    orders["channels"]["shopify"] = {"webhooks": {"replay_window_s": 14400}}
    (rules / "orders.yml").write_text(yaml.safe_dump(orders))
    channels, _ = webhook_channels(env={}, policy=load_policy(rules))
    assert channels["shopify"].replay_window_s == 14400
    assert channels["woocommerce"].replay_window_s == 300


def test_a_longer_window_takes_what_the_shipped_one_refuses(ledger) -> None:
    channel = WebhookChannel("shopify", "shopify", SHOPIFY_SECRET, replay_window_s=14400)
    app = create_app(ledger, {"shopify": channel}, clock=lambda: NOW)
    server, thread, sock = start_server(app, "127.0.0.1", 0, "receiver")
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert post(url, "shopify", shopify_delivery(5701, age_s=3600)).status_code == 200
    finally:
        stop_server(server, thread, sock)
    assert stored(ledger) == ["shopify/5701"]
