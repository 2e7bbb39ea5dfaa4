"""An order the channel's model refuses that carries a credential never stops polling.

A polled WooCommerce page (served by a mock transport: the emulator's orders carry no extra
fields) with a good order and one the model refuses (half a unit) that also carries a
``payment_token`` and an ``api_key`` meta entry: the good order is stored, the bad one parked
with the credential masked (the token is nowhere in the ledger), the cursor moves on. Before,
the dead-letter queue refused the raw order's credential key and rolled the whole intake back.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.engine import Engine

from inventory_pipelines.channels.woocommerce import WooCommerceConnector
from inventory_pipelines.ledger import audit, create_engine, dlq, inbox, migrate
from inventory_pipelines.orders.events import take_in

CHANNEL = "woocommerce"
TOKEN = "tok_live_123"


def woo_order(order_id: int, quantity: Any, modified: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "status": "processing",
        "date_modified_gmt": modified,
        "billing": {"email": "ada@example.com", "first_name": "Ada"},
        "line_items": [{"product_id": 40, "variation_id": 0, "sku": "SKU-1", "quantity": quantity}],
        **extra,
    }


CREDENTIALS = {
    "payment_token": TOKEN,
    "meta_data": [{"key": "api_key", "value": "x"}, {"id": 1, "api_key": TOKEN}],
}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "ledger.sqlite"
    migrate(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


def poll(orders: list[dict[str, Any]]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/orders")
        return httpx.Response(200, content=orjson.dumps(orders), headers={"x-wp-totalpages": "1"})

    connector = WooCommerceConnector(
        "http://127.0.0.1:9", "ck_x", "cs_x", transport=httpx.MockTransport(answer)
    )
    try:
        return connector.read_orders(None)
    finally:
        connector.close()


@pytest.mark.bad_input
def test_a_refused_order_carrying_a_credential_is_parked_masked_and_polling_goes_on(
    ledger: tuple[Engine, Path],
) -> None:
    engine, path = ledger
    good = woo_order(4010, 2, "2026-03-01T10:00:00", payment_token=TOKEN)
    bad = woo_order(4011, 2.5, "2026-03-01T11:00:00", **CREDENTIALS)
    page = poll([good, bad])
    assert [e.external_id for e in page.orders] == ["4010"]
    assert [x.external_id for x in page.unreadable] == ["4011"]

    # what the poll step does: take the page in, then move the cursor
    with engine.connect() as conn:
        intake = take_in(conn, CHANNEL, page.orders, "poll", unreadable=page.unreadable)
        inbox.set_cursor(conn, CHANNEL, page.cursor)
    assert (intake.stored, len(intake.parked)) == (1, 1)

    with engine.connect() as conn:
        assert [r.external_id for r in inbox.rows(conn)] == ["4010"]
        assert inbox.get_cursor(conn, CHANNEL) == "2026-03-01T11:00:00"
        [letter] = dlq.list_open(conn, CHANNEL)
    order = letter.payload["order"]
    assert letter.payload["external_id"] == "4011" and "payment_token" not in order
    # a credential key goes (the queue refuses the key whatever its value); so does the value
    # of a key/value pair naming one (WooCommerce's meta_data), its name kept
    assert order["meta_data"] == [{"key": "api_key"}, {"id": 1}]
    # the rest of the order as the channel sent it
    assert order["line_items"] == bad["line_items"] and order["billing"] == bad["billing"]
    audit.ensure_no_secrets(letter.payload)
    with sqlite3.connect(path) as raw:
        dump = "\n".join(raw.iterdump())
    assert TOKEN not in dump

    # the overlap re-reads the same order: a duplicate of its letter, not a second one
    repoll = poll([good, bad])
    with engine.connect() as conn:
        again = take_in(conn, CHANNEL, repoll.orders, "poll", unreadable=repoll.unreadable)
        assert (again.stored, again.parked, again.duplicates) == (0, (), 2)
        assert len(dlq.list_open(conn, CHANNEL)) == 1


def test_masked_leaves_out_credential_entries_at_any_depth_and_keeps_the_rest() -> None:
    value = {"a": 1, "Password": {"x": 1}, "n": [{"API-Key": "k", "b": [None, "t"]}], "t": ("s",)}
    assert audit.masked(value) == {"a": 1, "n": [{"b": [None, "t"]}], "t": ["s"]}
    audit.ensure_no_secrets(audit.masked(value))
    assert value["Password"] == {"x": 1}  # a copy
    assert audit.masked([1, "token"]) == [1, "token"]
