"""Fault injection and the request counter, through the Python API and the HTTP control API."""

from __future__ import annotations

import time
import xmlrpc.client
from typing import Any

import httpx
import odoorpc
import pytest

from inventory_pipelines.sandbox.odoo import OdooSandbox

VERSION_CALL = {
    "jsonrpc": "2.0",
    "method": "call",
    "id": 1,
    "params": {"service": "common", "method": "version", "args": []},
}


def _rpc(odoo: OdooSandbox, client: httpx.Client) -> int:
    return client.post(f"{odoo.url}/jsonrpc", json=VERSION_CALL).status_code


def _control(odoo: OdooSandbox, action: str, body: Any = None) -> Any:
    if body is None:
        response = httpx.get(f"{odoo.url}/sandbox/{action}")
    else:
        response = httpx.post(f"{odoo.url}/sandbox/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_latency_delays_rpc_requests(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.faults.set_latency(0.2)
    with httpx.Client() as client:
        started = time.perf_counter()
        assert _rpc(fresh_odoo, client) == 200
        assert time.perf_counter() - started >= 0.2
        started = time.perf_counter()
        _control(fresh_odoo, "health")
        assert time.perf_counter() - started < 0.2


def test_error_rate_answers_some_requests_with_5xx(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.faults.set_error_rate(0.5)
    with httpx.Client() as client:
        statuses = [_rpc(fresh_odoo, client) for _ in range(30)]
    assert {500, 503} <= set(statuses) and 200 in statuses
    fresh_odoo.faults.set_error_rate(1.0, statuses=[502])
    with httpx.Client() as client:
        assert {_rpc(fresh_odoo, client) for _ in range(5)} == {502}


def test_outage_with_503_and_recovery(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.faults.set_outage(True)
    with httpx.Client() as client:
        assert _rpc(fresh_odoo, client) == 503
        fresh_odoo.faults.set_outage(False)
        assert _rpc(fresh_odoo, client) == 200


def test_outage_that_drops_connections(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.faults.set_outage("close")
    # A dropped connection surfaces as a closed stream or, when the peer resets it, a read error.
    with httpx.Client() as client, pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post(f"{fresh_odoo.url}/jsonrpc", json=VERSION_CALL)
    with pytest.raises(ConnectionError):
        xmlrpc.client.ServerProxy(f"{fresh_odoo.url}/xmlrpc/2/common").version()
    with pytest.raises(ConnectionError):
        odoorpc.ODOO("127.0.0.1", port=fresh_odoo.port)
    assert _control(fresh_odoo, "health") == {"ok": True}


def test_fail_next_fails_exactly_n_requests(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.faults.fail_next(2, status=500)
    with httpx.Client() as client:
        assert [_rpc(fresh_odoo, client) for _ in range(3)] == [500, 500, 200]


def test_request_counter_counts_failures_but_not_control_calls(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.reset_request_count()
    fresh_odoo.faults.fail_next(1)
    with httpx.Client() as client:
        _rpc(fresh_odoo, client)
        _rpc(fresh_odoo, client)
    _control(fresh_odoo, "state")
    assert fresh_odoo.request_count == 2
    assert _control(fresh_odoo, "requests") == {"count": 2}
    assert _control(fresh_odoo, "requests/reset", {}) == {"count": 2}
    assert fresh_odoo.request_count == 0


def test_odoorpc_login_costs_three_requests(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.reset_request_count()
    client = odoorpc.ODOO("127.0.0.1", port=fresh_odoo.port)
    client.login(fresh_odoo.db, fresh_odoo.login, fresh_odoo.password)
    assert fresh_odoo.request_count == 3  # version_info, common.login, context_get


def test_faults_through_the_control_api(fresh_odoo: OdooSandbox) -> None:
    settings = _control(fresh_odoo, "faults", {"latency": 0.05, "outage": "503"})
    assert settings["latency"] == 0.05 and settings["outage"] == "503"
    with httpx.Client() as client:
        assert _rpc(fresh_odoo, client) == 503
        _control(fresh_odoo, "faults/reset", {})
        _control(fresh_odoo, "faults/fail_next", {"count": 1, "status": 503})
        assert [_rpc(fresh_odoo, client) for _ in range(2)] == [503, 200]


def test_stock_through_the_control_api(fresh_odoo: OdooSandbox) -> None:
    moved = _control(
        fresh_odoo,
        "stock/move",
        {"product": "SKU-000002", "location": "MAIN/Stock/Shelf 2", "qty": 7},
    )
    quant = fresh_odoo.state.call(
        "stock.quant", "read", [[moved["quant_id"]], ["quantity", "write_date"]]
    )[0]
    assert quant["quantity"] == moved["quantity"]
    _control(
        fresh_odoo, "stock/set_quantity_silently", {"quant_id": moved["quant_id"], "quantity": 1234}
    )
    after = fresh_odoo.state.call(
        "stock.quant", "read", [[moved["quant_id"]], ["quantity", "write_date"]]
    )[0]
    assert after == {"id": moved["quant_id"], "quantity": 1234, "write_date": quant["write_date"]}
    bad = httpx.post(
        f"{fresh_odoo.url}/sandbox/stock/move",
        json={"product": "NOPE", "location": "MAIN/Stock", "qty": 1},
    )
    assert bad.status_code == 400


def test_reset_regenerates_the_demo_data(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.state.move_stock("SKU-000001", "MAIN/Stock", 1000)
    summary = _control(fresh_odoo, "reset", {"skus": 30})
    assert summary["records"]["product.product"] < 60
    assert fresh_odoo.skus == 30
    assert fresh_odoo.state.call("stock.move", "search_count", [[("is_inventory", "=", True)]]) == 0


def test_fault_settings_are_assignable_attributes(fresh_odoo: OdooSandbox) -> None:
    fresh_odoo.faults.outage = True
    assert fresh_odoo.faults.outage == "503"
    with httpx.Client() as client:
        assert _rpc(fresh_odoo, client) == 503
        fresh_odoo.faults.outage = None
        fresh_odoo.faults.error_rate = 1.0
        assert _rpc(fresh_odoo, client) in (500, 503)
        fresh_odoo.faults.reset()
        assert _rpc(fresh_odoo, client) == 200
