"""The Amazon sandbox's faults, request counter, control API, orders and CLI process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from inventory_pipelines.sandbox.amazon import AmazonSandbox

SEED = 7


@pytest.fixture
def amazon() -> Iterator[AmazonSandbox]:
    with AmazonSandbox(skus=30, seed=SEED, rate_scale=1000) as sandbox:
        yield sandbox


def access_token(http: httpx.Client, creds: dict[str, Any]) -> str:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": creds["refresh_token"],
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    }
    return http.post("/auth/o2/token", data=form).json()["access_token"]


@pytest.fixture
def http(amazon: AmazonSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=amazon.url, timeout=10) as client:
        client.headers["x-amz-access-token"] = access_token(client, amazon.credentials())
        yield client


def get_listing(http: httpx.Client, amazon: AmazonSandbox) -> httpx.Response:
    creds = amazon.credentials()
    sku = sorted(amazon.state.listings)[0]
    return http.get(
        f"/listings/2021-08-01/items/{creds['seller_id']}/{sku}",
        params={"marketplaceIds": creds["marketplace_id"]},
    )


def test_fail_next_answers_the_scripted_status_then_recovers(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    amazon.faults.fail_next(2, 500)
    statuses = [get_listing(http, amazon).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]


def test_an_outage_answers_503_with_an_error_body(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    amazon.faults.outage = "503"
    answer = get_listing(http, amazon)
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["code"] == "ServiceUnavailable"


def test_a_close_outage_drops_the_connection(amazon: AmazonSandbox, http: httpx.Client) -> None:
    amazon.faults.outage = "close"
    with pytest.raises(httpx.TransportError):
        get_listing(http, amazon)


def test_the_error_rate_fails_about_that_share_of_requests(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    amazon.faults.error_rate = 0.5
    failed = sum(get_listing(http, amazon).status_code >= 500 for _ in range(60))
    assert 10 <= failed <= 50


def test_latency_delays_but_does_not_fail_requests(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    amazon.faults.latency = 0.05
    assert get_listing(http, amazon).status_code == 200
    assert http.get("/sandbox/faults").json()["latency"] == 0.05


def test_requests_are_counted_but_control_calls_are_not(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    amazon.reset_request_count()
    amazon.faults.fail_next(1, 503)
    for _ in range(3):
        get_listing(http, amazon)
    http.get("/sandbox/state")
    assert amazon.request_count == 3


def test_control_api_sets_faults_even_during_an_outage(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    assert http.post("/sandbox/faults", json={"outage": "503"}).json()["outage"] == "503"
    assert get_listing(http, amazon).status_code == 503
    assert http.post("/sandbox/faults/reset").json()["outage"] is None
    assert get_listing(http, amazon).status_code == 200


def test_control_api_sells_and_the_listing_quantity_drops(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    sku, item = next((s, i) for s, i in amazon.state.listings.items() if (i.quantity or 0) > 2)
    before = item.quantity or 0
    order = http.post("/sandbox/sell", json={"sku": sku, "quantity": 2}).json()
    assert order["OrderStatus"] == "Unshipped"
    assert http.get("/sandbox/quantities").json()[sku] == before - 2
    http.post("/sandbox/cancel", json={"order_id": order["AmazonOrderId"]})
    assert amazon.state.listings[sku].quantity == before


def test_control_api_advances_feeds_and_expires_tokens(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    assert http.post("/sandbox/tokens/expire").json()["expired"] >= 1
    assert get_listing(http, amazon).status_code == 403
    assert http.post("/sandbox/feeds/advance", json={}).status_code == 200


def test_control_api_reset_regenerates_the_catalog(
    amazon: AmazonSandbox, http: httpx.Client
) -> None:
    summary = http.post("/sandbox/reset", json={"skus": 50, "seed": 1}).json()
    assert summary["skus"] == 50
    assert amazon.state.skus == 50


def test_orders_page_by_next_token_100_at_a_time() -> None:
    with (
        AmazonSandbox(skus=30, seed=SEED, rate_scale=1000, orders=250) as amazon,
        httpx.Client(base_url=amazon.url, timeout=10) as http,
    ):
        creds = amazon.credentials()
        http.headers["x-amz-access-token"] = access_token(http, creds)
        params: dict[str, str] = {
            "MarketplaceIds": creds["marketplace_id"],
            "LastUpdatedAfter": "2020-01-01T00:00:00Z",
        }
        pages: list[list[dict[str, Any]]] = []
        while True:
            answer = http.get("/orders/v0/orders", params=params)
            assert answer.status_code == 200, answer.text
            payload = answer.json()["payload"]
            pages.append(payload["Orders"])
            if "NextToken" not in payload:
                break
            params = {
                "MarketplaceIds": creds["marketplace_id"],
                "NextToken": payload["NextToken"],
            }
        order_id = pages[0][0]["AmazonOrderId"]
        items = http.get(f"/orders/v0/orders/{order_id}/orderItems").json()["payload"]
    assert [len(page) for page in pages] == [100, 100, 50]
    updated = [o["LastUpdateDate"] for page in pages for o in page]
    assert updated == sorted(updated)
    assert items["OrderItems"][0]["SellerSKU"].startswith("SKU-")


def test_get_orders_needs_a_date_filter(amazon: AmazonSandbox, http: httpx.Client) -> None:
    params = {"MarketplaceIds": amazon.credentials()["marketplace_id"]}
    answer = http.get("/orders/v0/orders", params=params)
    assert answer.status_code == 400


def test_the_module_prints_credentials_as_its_first_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory_pipelines.sandbox.amazon", "--port", "0", "--skus", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        creds = orjson.loads(process.stdout.readline())
        with httpx.Client(base_url=creds["url"], timeout=10) as http:
            assert (
                http.post(
                    creds["token_url"].removeprefix(creds["url"]),
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": creds["refresh_token"],
                        "client_id": creds["client_id"],
                        "client_secret": creds["client_secret"],
                    },
                ).status_code
                == 200
            )
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert {"seller_id", "marketplace_id", "endpoint"} <= set(creds)
