"""The webhook receiver, served by uvicorn on the loopback, writing to a real ledger."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inventory_pipelines.ledger import create_engine, dlq, inbox, migrate
from inventory_pipelines.orders.receiver import WebhookChannel, create_app
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines_tests.pg import LEDGER_BACKENDS, migrated_ledger

SHOPIFY_SECRET = "shopify-app-secret-for-tests"
WOO_SECRET = "woo-webhook-secret-for-tests"


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_order(order_id: int, quantity: int = 2) -> dict[str, Any]:
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": "ada@example.com",
        "created_at": "2026-11-27T10:00:00Z",
        "updated_at": "2026-11-27T10:00:00Z",
        "cancelled_at": None,
        "fulfillment_status": None,
        "currency": "EUR",
        "customer": {"first_name": "Ada", "last_name": "Lovelace"},
        "line_items": [
            {"id": 1, "variant_id": 11, "sku": "SKU-000001", "quantity": quantity, "price": "9.90"},
            {"id": 2, "variant_id": 12, "sku": "SKU-000002", "quantity": 1, "price": "4.50"},
        ],
    }


def shopify_headers(body: bytes, topic: str = "orders/create", delivery: str = "d-1") -> dict:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET, body),
        "X-Shopify-Shop-Domain": "sandbox.myshopify.com",
        "X-Shopify-Webhook-Id": delivery,
    }


def woo_order(order_id: int, status: str = "processing") -> dict[str, Any]:
    return {
        "id": order_id,
        "number": str(order_id),
        "status": status,
        "currency": "EUR",
        "date_created_gmt": "2026-11-27T10:00:00",
        "date_modified_gmt": "2026-11-27T10:05:00",
        "billing": {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
        "line_items": [
            {
                "id": 5,
                "product_id": 40,
                "variation_id": 41,
                "sku": "SKU-000003",
                "quantity": 3,
                "price": 2.5,
            },
        ],
    }


def woo_headers(body: bytes, topic: str = "order.created", delivery: str = "1") -> dict:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign(WOO_SECRET, body),
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-Source": "http://woo.example/",
    }


@pytest.fixture
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A migrated ledger on SQLite, or on each backend for the tests marked `on_both_ledgers`."""
    with migrated_ledger(request, getattr(request, "param", "sqlite"), tmp_path) as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


#: what the receiver writes (stored once, counted duplicates, concurrent redeliveries, ids and
#: units) is shown on SQLite and PostgreSQL; what it refuses before writing, on SQLite
on_both_ledgers = pytest.mark.parametrize("ledger", LEDGER_BACKENDS, indirect=True)


@pytest.fixture
def receiver(ledger: Any) -> Iterator[tuple[str, Any]]:
    channels = {
        "shopify": WebhookChannel("shopify", "shopify", SHOPIFY_SECRET),
        "b2b-shop": WebhookChannel("b2b-shop", "woocommerce", WOO_SECRET, units_per_item=6),
    }
    app = create_app(ledger, channels)
    server, thread, sock = start_server(app, "127.0.0.1", 0, "receiver")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield url, app
    stop_server(server, thread, sock)


def rows(ledger: Any) -> list[inbox.InboxRow]:
    with ledger.connect() as conn:
        return inbox.rows(conn)


@on_both_ledgers
def test_a_signed_order_is_stored_once_and_redeliveries_are_counted(receiver, ledger) -> None:
    url, _ = receiver
    body = json.dumps(shopify_order(4001)).encode()
    first = httpx.post(f"{url}/webhooks/shopify", content=body, headers=shopify_headers(body))
    again = httpx.post(
        f"{url}/webhooks/shopify", content=body, headers=shopify_headers(body, delivery="d-2")
    )
    assert (first.status_code, first.json()) == (200, {"stored": 1, "duplicates": 0})
    assert (again.status_code, again.json()) == (200, {"stored": 0, "duplicates": 1})
    [row] = rows(ledger)
    assert (row.channel, row.external_id, row.event, row.route) == (
        "shopify",
        "4001",
        "created",
        "webhook",
    )
    assert row.duplicates == 1
    assert row.payload["number"] == "#4001" and row.payload["customer_email"] == "ada@example.com"
    assert [(x["sku"], x["quantity"]) for x in row.payload["lines"]] == [
        ("SKU-000001", 2),
        ("SKU-000002", 1),
    ]
    with ledger.connect() as conn:
        assert inbox.pending_by_sku(conn, None) == {"SKU-000001": 2, "SKU-000002": 1}


@pytest.mark.parametrize("problem", ["missing", "wrong secret", "tampered body", "empty"])
@pytest.mark.bad_input
def test_a_bad_or_missing_signature_is_401_and_stores_nothing(receiver, ledger, problem) -> None:
    url, app = receiver
    body = json.dumps(shopify_order(4002)).encode()
    headers = shopify_headers(body)
    if problem == "missing":
        del headers["X-Shopify-Hmac-Sha256"]
    elif problem == "wrong secret":
        headers["X-Shopify-Hmac-Sha256"] = base64.b64encode(
            hmac.new(b"not-the-secret", body, hashlib.sha256).digest()
        ).decode()
    elif problem == "tampered body":
        body = body.replace(b'"quantity": 2', b'"quantity": 200')
    else:
        headers["X-Shopify-Hmac-Sha256"] = ""
    answer = httpx.post(f"{url}/webhooks/shopify", content=body, headers=headers)
    assert answer.status_code == 401 and answer.json() == {"error": "invalid signature"}
    assert rows(ledger) == []
    with ledger.connect() as conn:
        assert inbox.pending_by_sku(conn, None) == {}
    assert app.state.stats.rejected_signature == 1


@pytest.mark.bad_input
def test_a_signed_body_that_is_not_json_is_400_and_stored_nowhere(receiver, ledger) -> None:
    url, _ = receiver
    body = b'{"id": "no line items and no closing brace"'
    answers = [
        httpx.post(f"{url}/webhooks/shopify", content=body, headers=shopify_headers(body))
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [400, 400]  # the retry is refused the same way
    assert "not JSON" in answers[0].json()["error"]
    assert rows(ledger) == []
    with ledger.connect() as conn:
        assert dlq.list_open(conn) == []


def _with(order: dict[str, Any], path: str, value: Any) -> bytes:
    """`order` with the field at `path` (dots; digits index lists) set to `value`, as the
    raw JSON text a channel would send (so 10**40 stays an integer literal)."""
    *parents, last = path.split(".")
    target: Any = order
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    marker = "__value__"
    if last.isdigit():
        target[int(last)] = marker
    else:
        target[last] = marker
    return json.dumps(order).replace(f'"{marker}"', value).encode()


# what was seen (issue #11): each signed, each answered 422 and stored nowhere
REFUSED = [
    ("id", "null", "id: an order id is a non-empty string or a positive integer"),
    ("id", '{"nested": 1}', "id: an order id is a non-empty string or a positive integer"),
    ("id", '""', "id: the order id is empty"),
    ("id", '"   "', "id: the order id is empty"),
    ("id", "true", "id: an order id is a non-empty string or a positive integer"),
    ("id", str(10**40), "id: a number with a fraction or an exponent is not an order id"),
    ("id", str(2**64 + 1), "id: a number with a fraction or an exponent is not an order id"),
    ("id", "-5", "id: an integer order id is from 1 to"),
    ("line_items.0.quantity", "2.9", "a fraction is refused"),
    ("line_items.0.quantity", "true", "line_items.0.quantity: a quantity is a JSON number"),
    ("line_items.0.quantity", '"2"', "line_items.0.quantity: a quantity is a JSON number"),
    ("line_items.0.quantity", str(10**30), "line_items.0.quantity: a quantity is from 0 to"),
    ("line_items.0.quantity", str(2**63), "line_items.0.quantity: a quantity is from 0 to"),
    ("line_items.0.quantity", "-1", "line_items.0.quantity: a quantity is from 0 to"),
    ("line_items.0.quantity", "0", "quantity 0 (an order line needs 1 unit or more)"),
    ("line_items.0", "null", "line_items.0: Input should be a valid dictionary"),
    ("line_items", '"all of them"', "line_items: Input should be a valid list"),
]


@pytest.mark.parametrize("channel", ["shopify", "b2b-shop"])
@pytest.mark.bad_input
def test_a_signed_order_its_model_refuses_is_422_stored_nowhere_and_logged_without_personal_data(
    receiver, ledger, caplog, channel
) -> None:
    url, _ = receiver
    order, headers = (
        (shopify_order, shopify_headers) if channel == "shopify" else (woo_order, woo_headers)
    )
    for n, (field, value, said) in enumerate(REFUSED):
        caplog.clear()
        bad = _with(order(5000 + n), field, value)
        good = json.dumps(order(6000 + n)).encode()
        with caplog.at_level(logging.DEBUG):
            answers = [
                httpx.post(f"{url}/webhooks/{channel}", content=body, headers=headers(body))
                for body in (bad, good, bad)
            ]
        assert [a.status_code for a in answers] == [422, 200, 422], field
        assert said in answers[0].json()["error"], (field, value)
        assert said in caplog.text  # the log says what is wrong...
        for personal in ("ada@example.com", "Lovelace", "grace@example.com", "Hopper"):
            assert personal not in caplog.text  # ...and nothing of the buyer
            assert personal not in answers[0].text
    # only the good orders were stored, and nothing was parked
    assert sorted(r.external_id for r in rows(ledger)) == [
        str(6000 + n) for n in range(len(REFUSED))
    ]
    with ledger.connect() as conn:
        assert dlq.list_open(conn) == []


@on_both_ledgers
def test_ids_are_kept_as_text_so_big_and_string_ids_never_collide(receiver, ledger) -> None:
    url, _ = receiver
    ids = [2**63 - 1, 2**63 - 2, "A-17", " A-18 "]
    for n, order_id in enumerate(ids):
        body = json.dumps({**shopify_order(1), "id": order_id}).encode()
        answer = httpx.post(
            f"{url}/webhooks/shopify", content=body, headers=shopify_headers(body, delivery=str(n))
        )
        assert answer.json() == {"stored": 1, "duplicates": 0}
    assert sorted(r.external_id for r in rows(ledger)) == sorted(
        [str(2**63 - 1), str(2**63 - 2), "A-17", "A-18"]
    )


@on_both_ledgers
def test_a_whole_quantity_written_as_a_float_is_read_as_that_whole_number(receiver, ledger) -> None:
    url, _ = receiver
    body = _with(shopify_order(4020), "line_items.0.quantity", "3.0")
    answer = httpx.post(f"{url}/webhooks/shopify", content=body, headers=shopify_headers(body))
    assert answer.json() == {"stored": 1, "duplicates": 0}
    with ledger.connect() as conn:
        assert inbox.pending_by_sku(conn, None) == {"SKU-000001": 3, "SKU-000002": 1}


def test_a_cancellation_reads_its_lines_with_no_unit_needed(receiver, ledger) -> None:
    url, _ = receiver
    order = {**shopify_order(4030, quantity=0), "cancelled_at": "2026-11-27T11:00:00Z"}
    body = json.dumps(order).encode()
    headers = shopify_headers(body, topic="orders/cancelled")
    answer = httpx.post(f"{url}/webhooks/shopify", content=body, headers=headers)
    assert answer.json() == {"stored": 1, "duplicates": 0}


@on_both_ledgers
def test_cancellations_and_refunds_are_their_own_events(receiver, ledger) -> None:
    url, _ = receiver
    order = shopify_order(4003)
    created = json.dumps(order).encode()
    cancelled = json.dumps({**order, "cancelled_at": "2026-11-27T11:00:00Z"}).encode()
    refund = json.dumps(
        {
            "id": 900,
            "order_id": 4003,
            "created_at": "2026-11-28T09:00:00Z",
            "refund_line_items": [
                {
                    "line_item_id": 1,
                    "quantity": 1,
                    "restock_type": "return",
                    "line_item": {"sku": "SKU-000001"},
                }
            ],
        }
    ).encode()
    for body, topic in [
        (created, "orders/create"),
        (cancelled, "orders/cancelled"),
        (refund, "refunds/create"),
    ]:
        answer = httpx.post(
            f"{url}/webhooks/shopify", content=body, headers=shopify_headers(body, topic)
        )
        assert answer.json() == {"stored": 1, "duplicates": 0}
    assert [(r.event, r.kind) for r in rows(ledger)] == [
        ("created", "created"),
        ("cancelled", "cancelled"),
        ("refund:900", "returned"),
    ]
    assert rows(ledger)[2].payload["lines"][0]["quantity"] == 1


@on_both_ledgers
def test_woocommerce_pings_orders_and_status_changes(receiver, ledger) -> None:
    url, _ = receiver
    ping = httpx.post(
        f"{url}/webhooks/b2b-shop",
        content=b"webhook_id=7",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (ping.status_code, ping.json()) == (200, {"ping": True})
    assert rows(ledger) == []
    created = json.dumps(woo_order(77)).encode()
    answer = httpx.post(f"{url}/webhooks/b2b-shop", content=created, headers=woo_headers(created))
    assert answer.json() == {"stored": 1, "duplicates": 0}
    # an update that neither cancels nor refunds carries no order event
    paid = json.dumps(woo_order(77, "completed")).encode()
    answer = httpx.post(
        f"{url}/webhooks/b2b-shop", content=paid, headers=woo_headers(paid, "order.updated", "2")
    )
    assert answer.json() == {"stored": 0, "duplicates": 0}
    cancelled = json.dumps(woo_order(77, "cancelled")).encode()
    answer = httpx.post(
        f"{url}/webhooks/b2b-shop",
        content=cancelled,
        headers=woo_headers(cancelled, "order.updated", "3"),
    )
    assert answer.json() == {"stored": 1, "duplicates": 0}
    stored = rows(ledger)
    assert [(r.event, r.delivery_id) for r in stored] == [("created", "1"), ("cancelled", "3")]
    assert stored[0].payload["lines"][0]["listing_id"] == "variation:40:41"
    with ledger.connect() as conn:  # 3 packs of 6 on this channel: 18 base units pending
        assert inbox.pending_by_sku(conn, None) == {"SKU-000003": 18}
    unsigned = httpx.post(
        f"{url}/webhooks/b2b-shop",
        content=created,
        headers={**woo_headers(created), "X-WC-Webhook-Signature": sign("wrong", created)},
    )
    assert unsigned.status_code == 401


@pytest.mark.bad_input
def test_an_unknown_channel_is_404(receiver) -> None:
    url, _ = receiver
    assert httpx.post(f"{url}/webhooks/nowhere", content=b"{}").status_code == 404


@on_both_ledgers
@pytest.mark.bad_input
def test_concurrent_redeliveries_store_each_order_once(receiver, ledger) -> None:
    """30 orders, each delivered three times by three threads at once."""
    url, _ = receiver
    bodies = [json.dumps(shopify_order(6000 + n)).encode() for n in range(30)]
    start = threading.Barrier(3)
    answers: list[dict] = []
    errors: list[BaseException] = []

    def deliver(worker: int) -> None:
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                start.wait()
                for body in bodies:
                    headers = shopify_headers(body, delivery=f"w{worker}")
                    answers.append(
                        client.post("/webhooks/shopify", content=body, headers=headers).json()
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(a["stored"] for a in answers) == 30
    assert sum(a["duplicates"] for a in answers) == 60
    assert sorted(int(r.external_id) for r in rows(ledger)) == list(range(6000, 6030))


@pytest.mark.bad_input
def test_a_ledger_that_cannot_be_written_answers_503_so_the_channel_retries(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    with engine.begin() as conn:  # a ledger without its inbox table: every write fails
        conn.exec_driver_sql("DROP TABLE order_inbox")
    app = create_app(engine, {"shopify": WebhookChannel("shopify", "shopify", SHOPIFY_SECRET)})
    server, thread, sock = start_server(app, "127.0.0.1", 0, "receiver")
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        body = json.dumps(shopify_order(7001)).encode()
        answer = httpx.post(f"{base}/webhooks/shopify", content=body, headers=shopify_headers(body))
        assert answer.status_code == 503
        # the health check says so too: it probes the write path, not just a read
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 503 and health.json()["ok"] is False
    finally:
        stop_server(server, thread, sock)
        engine.dispose()


def test_the_secret_never_shows_in_repr_or_logs(receiver, caplog) -> None:
    url, _ = receiver
    caplog.set_level(logging.DEBUG)
    body = json.dumps(shopify_order(4009)).encode()
    httpx.post(
        f"{url}/webhooks/shopify", content=body, headers={"X-Shopify-Topic": "orders/create"}
    )
    channel = WebhookChannel("shopify", "shopify", SHOPIFY_SECRET)
    assert SHOPIFY_SECRET not in repr(channel)
    assert SHOPIFY_SECRET not in caplog.text


@pytest.mark.bad_input
def test_a_huge_body_is_refused_after_the_limit_is_read_not_after_the_whole_body(
    receiver, ledger
) -> None:
    """300 MiB streamed without a length: the receiver answers 413 once it has read past its
    limit (5 MiB) and pulls nothing more of the body (the ASGI receive calls are counted)."""
    url, app = receiver
    chunk = b"x" * (1024 * 1024)
    pulled = 0
    answers: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < 300}

    async def send(message: dict) -> None:
        answers.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/shopify",
        "raw_path": b"/webhooks/shopify",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert answers[0]["status"] == 413
    assert pulled <= 6, f"{pulled} MiB were read for a 5 MiB limit"
    assert rows(ledger) == []
    # a declared length over the limit is answered before any of the body arrives
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {10 * 1024 * 1024}\r\n\r\n".encode()
        )
        assert raw.recv(64).startswith(b"HTTP/1.1 413")
