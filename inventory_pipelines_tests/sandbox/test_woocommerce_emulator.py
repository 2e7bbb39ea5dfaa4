"""The WooCommerce emulator: auth, paging, batches, stock rules, rate limit, faults, control."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox, WooState
from inventory_pipelines.sandbox.woocommerce.responses import oauth_signature


@pytest.fixture(scope="module")
def store() -> Iterator[WooCommerceSandbox]:
    """A store shared by the read-only tests of this module."""
    with WooCommerceSandbox(products=80, seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def woo() -> Iterator[WooCommerceSandbox]:
    """A store of its own for a test that writes or injects faults."""
    with WooCommerceSandbox(products=40, seed=3) as sandbox:
        yield sandbox


def _basic(woo: WooCommerceSandbox) -> httpx.BasicAuth:
    return httpx.BasicAuth(woo.consumer_key, woo.consumer_secret)


def _get(woo: WooCommerceSandbox, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{woo.api_url}/{path}", params=params, auth=_basic(woo))


def _oauth_params(
    woo: WooCommerceSandbox,
    method: str,
    path: str,
    secret: str,
    algorithm: str = "HMAC-SHA1",
    **extra: str,
) -> dict[str, str]:
    params = {
        **extra,
        "oauth_consumer_key": woo.consumer_key,
        "oauth_timestamp": str(int(time.time())),
        "oauth_nonce": f"nonce-{time.monotonic_ns()}",
        "oauth_signature_method": algorithm,
    }
    url = f"{woo.api_url}/{path}"
    params["oauth_signature"] = oauth_signature(
        method, url, params, secret, params["oauth_signature_method"]
    )
    return params


# -- catalog ---------------------------------------------------------------------------------------


def test_catalog_is_deterministic_per_seed() -> None:
    first, again, other = WooState(50, seed=5), WooState(50, seed=5), WooState(50, seed=6)
    skus = [i.sku for i in first.items.values()]
    assert skus == [i.sku for i in again.items.values()]
    assert skus != [i.sku for i in other.items.values()]


def test_catalog_has_simple_variable_unmapped_and_skuless_items() -> None:
    state = WooState(300, seed=1)
    types = {i.type for i in state.items.values()}
    assert types == {"simple", "variable", "variation"}
    skus = [i.sku for i in state.items.values() if i.type != "variable"]
    assert "SKU-000001" in skus
    assert "" in skus and any(s.startswith("WC-") for s in skus)
    assert any(m["key"] == "_barcode" for i in state.items.values() for m in i.meta_data)


def test_stock_status_is_derived_from_quantity_and_backorders() -> None:
    state = WooState(5, seed=0)
    item = next(i for i in state.items.values() if i.type == "simple")
    state.update(item.id, {"manage_stock": True, "stock_quantity": 3, "backorders": "no"})
    assert state.stock_status(item) == "instock"
    state.update(item.id, {"stock_quantity": 0})
    assert state.stock_status(item) == "outofstock"
    state.update(item.id, {"backorders": "notify"})
    assert state.stock_status(item) == "onbackorder"


# -- authentication --------------------------------------------------------------------------------


def test_basic_auth_is_accepted_and_a_wrong_secret_refused(store: WooCommerceSandbox) -> None:
    assert _get(store, "products").status_code == 200
    bad = httpx.get(f"{store.api_url}/products", auth=httpx.BasicAuth(store.consumer_key, "x"))
    assert bad.status_code == 401
    assert bad.json()["code"] == "woocommerce_rest_authentication_error"


def test_query_string_keys_are_accepted(store: WooCommerceSandbox) -> None:
    params = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret}
    assert httpx.get(f"{store.api_url}/products", params=params).status_code == 200
    params["consumer_secret"] = "cs_wrong"
    assert httpx.get(f"{store.api_url}/products", params=params).status_code == 401


def test_no_credentials_is_401(store: WooCommerceSandbox) -> None:
    response = httpx.get(f"{store.api_url}/products")
    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_cannot_view"


@pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "HMAC-SHA256"])
def test_oauth_signature_is_verified(store: WooCommerceSandbox, algorithm: str) -> None:
    good = _oauth_params(store, "GET", "products", store.consumer_secret, algorithm, per_page="5")
    response = httpx.get(f"{store.api_url}/products", params=good)
    assert response.status_code == 200 and len(response.json()) == 5
    bad = _oauth_params(store, "GET", "products", "cs_wrong", algorithm, per_page="5")
    refused = httpx.get(f"{store.api_url}/products", params=bad)
    assert refused.status_code == 401
    assert "signature" in refused.json()["message"]


def test_oauth_nonce_cannot_be_replayed(store: WooCommerceSandbox) -> None:
    params = _oauth_params(store, "GET", "products", store.consumer_secret)
    assert httpx.get(f"{store.api_url}/products", params=params).status_code == 200
    replay = httpx.get(f"{store.api_url}/products", params=params)
    assert replay.status_code == 401 and "nonce" in replay.json()["message"]


def test_oauth_signature_covers_the_query(store: WooCommerceSandbox) -> None:
    params = _oauth_params(store, "GET", "products", store.consumer_secret, per_page="5")
    params["per_page"] = "6"
    assert httpx.get(f"{store.api_url}/products", params=params).status_code == 401


# -- reading ---------------------------------------------------------------------------------------


def test_paging_headers_and_links(store: WooCommerceSandbox) -> None:
    response = _get(store, "products", per_page=30, page=2)
    assert response.headers["X-WP-Total"] == "80"
    assert response.headers["X-WP-TotalPages"] == "3"
    assert len(response.json()) == 30
    links = response.headers["Link"]
    assert 'page=1>; rel="prev"' in links and 'page=3>; rel="next"' in links
    assert store.consumer_secret not in links
    assert _get(store, "products", per_page=30, page=9).json() == []


def test_per_page_above_100_is_invalid(store: WooCommerceSandbox) -> None:
    response = _get(store, "products", per_page=101)
    assert response.status_code == 400
    assert response.json()["code"] == "rest_invalid_param"


def test_pages_cover_the_catalog_once(store: WooCommerceSandbox) -> None:
    ids = [r["id"] for p in (1, 2, 3) for r in _get(store, "products", per_page=30, page=p).json()]
    assert len(ids) == len(set(ids)) == 80


def test_variations_and_unknown_product(store: WooCommerceSandbox) -> None:
    parent = next(i for i in store.state.products() if i.type == "variable")
    rows = _get(store, f"products/{parent.id}/variations", orderby="id", order="asc").json()
    assert [r["id"] for r in rows] == parent.variation_ids
    assert all(r["parent_id"] == parent.id for r in rows)
    missing = _get(store, "products/999999")
    assert missing.status_code == 404
    assert missing.json()["code"] == "woocommerce_rest_product_invalid_id"


# -- writing ---------------------------------------------------------------------------------------


def test_batch_of_more_than_100_items_is_413(woo: WooCommerceSandbox) -> None:
    simple = next(i for i in woo.state.products() if i.type == "simple")
    before = woo.state.items[simple.id].stock_quantity
    body = {"update": [{"id": simple.id, "stock_quantity": 1234}] * 60, "delete": [12] * 41}
    response = httpx.post(f"{woo.api_url}/products/batch", json=body, auth=_basic(woo))
    assert response.status_code == 413
    assert response.json()["code"] == "woocommerce_rest_request_entity_too_large"
    assert woo.state.items[simple.id].stock_quantity == before
    ok = httpx.post(
        f"{woo.api_url}/products/batch", json={"update": body["update"][:100]}, auth=_basic(woo)
    )
    assert ok.status_code == 200


def test_batch_reports_errors_per_item(woo: WooCommerceSandbox) -> None:
    simple = next(i for i in woo.state.products() if i.type == "simple")
    body = {
        "update": [
            {"id": simple.id, "manage_stock": True, "stock_quantity": 9},
            {"id": 999999, "stock_quantity": 1},
            {"id": simple.id, "stock_quantity": "many"},
        ]
    }
    answer = httpx.post(f"{woo.api_url}/products/batch", json=body, auth=_basic(woo)).json()
    first, unknown, invalid = answer["update"]
    assert first["stock_quantity"] == 9 and first["stock_status"] == "instock"
    assert unknown["error"]["code"] == "woocommerce_rest_product_invalid_id"
    assert invalid["error"]["code"] == "rest_invalid_param"
    assert woo.state.items[simple.id].stock_quantity == 9


def test_batch_create_and_delete(woo: WooCommerceSandbox) -> None:
    body = {"create": [{"name": "New", "sku": "NEW-1", "manage_stock": True, "stock_quantity": 4}]}
    created = httpx.post(f"{woo.api_url}/products/batch", json=body, auth=_basic(woo)).json()
    new_id = created["create"][0]["id"]
    assert woo.state.find_sku("NEW-1") is not None
    duplicate = httpx.post(f"{woo.api_url}/products/batch", json=body, auth=_basic(woo)).json()
    assert duplicate["create"][0]["error"]["code"] == "product_invalid_sku"
    deleted = httpx.post(
        f"{woo.api_url}/products/batch", json={"delete": [new_id]}, auth=_basic(woo)
    ).json()
    assert deleted["delete"][0]["id"] == new_id and new_id not in woo.state.items


def test_sell_lowers_stock_and_lists_the_order(woo: WooCommerceSandbox) -> None:
    item = next(i for i in woo.state.products() if i.type == "simple" and i.manage_stock)
    before = item.stock_quantity or 0
    control = httpx.post(f"{woo.url}/sandbox/sell", json={"id": item.id, "quantity": 2})
    assert control.status_code == 200
    assert woo.state.items[item.id].stock_quantity == before - 2
    orders = _get(woo, "orders", status="processing", modified_after="2020-01-01T00:00:00")
    assert orders.headers["X-WP-Total"] == "1"
    assert orders.json()[0]["line_items"][0]["quantity"] == 2
    assert _get(woo, "orders", modified_after="2999-01-01T00:00:00").json() == []
    order_id = orders.json()[0]["id"]
    httpx.post(f"{woo.url}/sandbox/order_status", json={"id": order_id, "status": "cancelled"})
    assert woo.state.items[item.id].stock_quantity == before


# -- rate limit, faults, control -------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(woo: WooCommerceSandbox) -> None:
    woo.faults.set_rate_limit(0.01, burst=2)
    with httpx.Client(auth=_basic(woo)) as client:
        statuses = [client.get(f"{woo.api_url}/products").status_code for _ in range(4)]
        throttled = client.get(f"{woo.api_url}/products")
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["data"]["status"] == 429
    assert woo.throttled_count >= 3 and woo.request_count == 5
    assert httpx.get(f"{woo.url}/sandbox/state").status_code == 200  # control is never throttled


def test_faults_outage_fail_next_and_recovery(woo: WooCommerceSandbox) -> None:
    woo.faults.fail_next(1, 502)
    assert _get(woo, "products").status_code == 502
    assert _get(woo, "products").status_code == 200
    httpx.post(f"{woo.url}/sandbox/faults", json={"outage": True})
    assert _get(woo, "products").status_code == 503
    woo.faults.set_outage("close")
    with pytest.raises(httpx.TransportError):
        _get(woo, "products")
    httpx.post(f"{woo.url}/sandbox/faults/reset")
    assert _get(woo, "products").status_code == 200
    assert woo.request_count == 5
    assert woo.reset_request_count() == 5 and woo.request_count == 0


def test_error_rate_answers_some_requests_with_5xx(woo: WooCommerceSandbox) -> None:
    woo.faults.set_error_rate(0.5)
    with httpx.Client(auth=_basic(woo)) as client:
        statuses = {client.get(f"{woo.api_url}/products").status_code for _ in range(30)}
    assert 200 in statuses and statuses & {500, 503}


def test_control_reset_regenerates_the_catalog(woo: WooCommerceSandbox) -> None:
    summary = httpx.post(f"{woo.url}/sandbox/reset", json={"products": 10}).json()
    assert summary["products"] == 10
    assert httpx.get(f"{woo.url}/sandbox/state").json()["products"] == 10


def test_module_prints_credentials_first() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory_pipelines.sandbox.woocommerce", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        credentials = orjson.loads(process.stdout.readline())
        assert set(credentials) == {"url", "consumer_key", "consumer_secret"}
        auth = httpx.BasicAuth(credentials["consumer_key"], credentials["consumer_secret"])
        response = httpx.get(f"{credentials['url']}/wp-json/wc/v3/products", auth=auth)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
