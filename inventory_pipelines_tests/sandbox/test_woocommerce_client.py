"""Fidelity: the PyPI ``woocommerce`` client (not written here) against the emulator.

Over plain HTTP the client signs every request with OAuth 1.0a query parameters
(HMAC-SHA256), so these tests also prove the emulator verifies real signatures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from woocommerce import API

from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox


@pytest.fixture
def woo() -> Iterator[WooCommerceSandbox]:
    """A store of its own per test (tests write stock)."""
    with WooCommerceSandbox(products=130, seed=11) as sandbox:
        yield sandbox


def _client(woo: WooCommerceSandbox, secret: str | None = None) -> API:
    return API(
        url=woo.url,
        consumer_key=woo.consumer_key,
        consumer_secret=secret or woo.consumer_secret,
        version="wc/v3",
        timeout=10,
    )


def _all_products(api: API) -> list[dict[str, Any]]:
    first = api.get("products", params={"per_page": 50, "page": 1})
    assert first.status_code == 200, first.text
    rows = first.json()
    for page in range(2, int(first.headers["X-WP-TotalPages"]) + 1):
        rows.extend(api.get("products", params={"per_page": 50, "page": page}).json())
    return rows


def test_client_pages_through_every_product(woo: WooCommerceSandbox) -> None:
    api = _client(woo)
    rows = _all_products(api)
    assert len(rows) == len(woo.state.products()) == 130
    assert len({r["id"] for r in rows}) == 130
    assert int(api.get("products").headers["X-WP-Total"]) == 130


def test_client_reads_variations_of_variable_products(woo: WooCommerceSandbox) -> None:
    api = _client(woo)
    variable = [r for r in _all_products(api) if r["type"] == "variable"]
    assert variable
    parent = variable[0]
    response = api.get(f"products/{parent['id']}/variations")
    assert response.status_code == 200
    assert sorted(v["id"] for v in response.json()) == sorted(parent["variations"])
    assert all(v["sku"].startswith(("SKU-", "WC-")) or v["sku"] == "" for v in response.json())


def test_client_batch_update_sets_stock(woo: WooCommerceSandbox) -> None:
    api = _client(woo)
    simple = [r for r in _all_products(api) if r["type"] == "simple"][:3]
    body = {"update": [{"id": r["id"], "manage_stock": True, "stock_quantity": 0} for r in simple]}
    response = api.post("products/batch", body)
    assert response.status_code == 200, response.text
    assert [r["stock_quantity"] for r in response.json()["update"]] == [0, 0, 0]
    for row in simple:
        again = api.get(f"products/{row['id']}").json()
        assert again["stock_quantity"] == 0
        assert again["stock_status"] in ("outofstock", "onbackorder")
        assert woo.state.items[row["id"]].stock_quantity == 0


def test_client_variation_batch_update(woo: WooCommerceSandbox) -> None:
    api = _client(woo)
    parent = next(r for r in _all_products(api) if r["type"] == "variable")
    first = parent["variations"][0]
    response = api.post(
        f"products/{parent['id']}/variations/batch",
        {"update": [{"id": first, "manage_stock": True, "stock_quantity": 42}]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["update"][0]["stock_quantity"] == 42
    assert woo.state.items[first].stock_quantity == 42


def test_client_with_a_wrong_secret_is_refused(woo: WooCommerceSandbox) -> None:
    response = _client(woo, secret="cs_wrong").get("products")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "woocommerce_rest_authentication_error"
    assert body["data"] == {"status": 401}
    assert woo.consumer_secret not in response.text
