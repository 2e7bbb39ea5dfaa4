"""The generic signed HTTP channel emulator: signatures, batches, replays, CAS, faults."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from inventory_pipelines.sandbox.generic import GenericChannelSandbox, GenericState, sign


@pytest.fixture
def portal() -> Iterator[GenericChannelSandbox]:
    """A portal of its own per test, with a small maximum batch."""
    with GenericChannelSandbox(listings=60, seed=4, max_batch=10) as sandbox:
        yield sandbox


def _headers(secret: str, body: bytes, stamp: float | None = None) -> dict[str, str]:
    return {
        "X-Timestamp": str(int(time.time() if stamp is None else stamp)),
        "X-Signature": sign(secret, body),
        "Content-Type": "application/json",
    }


def _post_stock(
    portal: GenericChannelSandbox,
    batch_id: str,
    updates: list[dict[str, Any]],
    secret: str | None = None,
) -> httpx.Response:
    body = orjson.dumps({"batch_id": batch_id, "updates": updates})
    headers = {**_headers(secret or portal.secret, body), "Idempotency-Key": batch_id}
    return httpx.post(f"{portal.url}/stock", content=body, headers=headers)


def test_listings_are_deterministic_and_paged(portal: GenericChannelSandbox) -> None:
    assert [x.sku for x in GenericState(40, seed=2).listings.values()] == [
        x.sku for x in GenericState(40, seed=2).listings.values()
    ]
    headers = _headers(portal.secret, b"")
    first = httpx.get(f"{portal.url}/listings", params={"per_page": 25}, headers=headers).json()
    assert len(first["items"]) == 25 and first["next_page"] == 2
    last = httpx.get(
        f"{portal.url}/listings", params={"per_page": 25, "page": 3}, headers=headers
    ).json()
    assert len(last["items"]) == 10 and last["next_page"] is None
    assert set(first["items"][0]) == {"listing_id", "sku", "barcode", "quantity"}


def test_bad_signature_is_401(portal: GenericChannelSandbox) -> None:
    response = _post_stock(portal, "b1", [{"listing_id": "L-000001", "quantity": 1}], "wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert portal.state.batches == {}


def test_timestamp_skew_beyond_300_s_is_refused(portal: GenericChannelSandbox) -> None:
    headers = _headers(portal.secret, b"", stamp=time.time() - 301)
    response = httpx.get(f"{portal.url}/listings", headers=headers)
    assert response.status_code == 401 and response.json()["error"] == "stale_timestamp"


def test_stock_batch_results_per_item(portal: GenericChannelSandbox) -> None:
    current = portal.state.listings["L-000002"].quantity
    updates = [
        {"listing_id": "L-000001", "quantity": 7},
        {"listing_id": "L-000002", "quantity": 8, "expected": current + 1},
        {
            "listing_id": "L-000003",
            "quantity": 9,
            "expected": portal.state.listings["L-000003"].quantity,
        },
        {"listing_id": "NOPE", "quantity": 1},
        {"listing_id": "L-000004", "quantity": -1},
    ]
    results = _post_stock(portal, "b1", updates).json()["results"]
    assert [r["status"] for r in results] == ["ok", "stale", "ok", "unknown", "invalid"]
    assert results[1]["quantity"] == current
    assert portal.state.listings["L-000001"].quantity == 7
    assert portal.state.listings["L-000002"].quantity == current


def test_replay_returns_the_first_answer(portal: GenericChannelSandbox) -> None:
    updates = [{"listing_id": "L-000001", "quantity": 5, "expected": None}]
    first = _post_stock(portal, "b1", updates)
    portal.state.sell("L-000001", 2)
    replay = _post_stock(portal, "b1", updates)
    assert replay.json()["results"] == first.json()["results"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert portal.state.listings["L-000001"].quantity == 3  # not written again
    conflict = _post_stock(portal, "b1", [{"listing_id": "L-000001", "quantity": 6}])
    assert conflict.status_code == 409


def test_idempotency_key_must_equal_batch_id(portal: GenericChannelSandbox) -> None:
    body = orjson.dumps({"batch_id": "b1", "updates": []})
    headers = {**_headers(portal.secret, body), "Idempotency-Key": "other"}
    assert httpx.post(f"{portal.url}/stock", content=body, headers=headers).status_code == 400


def test_batch_above_the_maximum_is_413(portal: GenericChannelSandbox) -> None:
    updates = [{"listing_id": f"L-{n:06d}", "quantity": 1} for n in range(1, 12)]
    response = _post_stock(portal, "big", updates)
    assert response.status_code == 413 and response.json()["error"] == "batch_too_large"
    assert _post_stock(portal, "ok", updates[:10]).status_code == 200


def test_rate_limit_faults_and_counter(portal: GenericChannelSandbox) -> None:
    portal.faults.set_rate_limit(0.01, burst=1)
    statuses = [_post_stock(portal, f"b{n}", []).status_code for n in range(3)]
    assert statuses[0] == 200 and 429 in statuses
    httpx.post(f"{portal.url}/sandbox/faults/reset")
    portal.faults.fail_next(1, 500)
    assert _post_stock(portal, "x", []).status_code == 500
    portal.faults.set_outage(True)
    assert _post_stock(portal, "y", []).status_code == 503
    assert httpx.get(f"{portal.url}/sandbox/requests").json()["count"] == 5


def test_control_sell_and_reset(portal: GenericChannelSandbox) -> None:
    before = portal.state.listings["L-000005"].quantity
    sold = httpx.post(f"{portal.url}/sandbox/sell", json={"listing_id": "L-000005"}).json()
    assert sold["quantity"] == max(0, before - 1)
    assert httpx.post(f"{portal.url}/sandbox/reset", json={"listings": 5}).json()["listings"] == 5


def test_module_prints_credentials_first() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory_pipelines.sandbox.generic", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        credentials = orjson.loads(process.stdout.readline())
        assert set(credentials) == {"url", "secret", "max_batch"}
        headers = _headers(credentials["secret"], b"")
        assert httpx.get(f"{credentials['url']}/listings", headers=headers).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
