"""The Amazon sandbox's Login with Amazon and Listings endpoints, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inventory_pipelines.sandbox.amazon import AmazonSandbox, AmazonState

SKUS = 60
SEED = 7
LISTINGS = "/listings/2021-08-01/items"


class SpApi:
    """A bare SP-API client for the tests: fetches a token and sends it on every call."""

    def __init__(self, sandbox: AmazonSandbox) -> None:
        self.sandbox = sandbox
        self.creds = sandbox.credentials()
        self.http = httpx.Client(base_url=sandbox.url, timeout=10)
        self.token = token(self.http, self.creds).json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"x-amz-access-token": self.token, **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def item_path(self, sku: str) -> str:
        return f"{LISTINGS}/{self.creds['seller_id']}/{sku}"

    def patch(self, sku: str, quantity: Any, **body: Any) -> httpx.Response:
        payload = {
            "productType": "PRODUCT",
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                }
            ],
            **body,
        }
        params = {"marketplaceIds": self.creds["marketplace_id"]}
        return self.request("PATCH", self.item_path(sku), params=params, json=payload)


def token(http: httpx.Client, creds: dict[str, Any], **override: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": creds["refresh_token"],
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        **override,
    }
    return http.post("/auth/o2/token", data=form)


@pytest.fixture(scope="module")
def amazon() -> Iterator[AmazonSandbox]:
    """A sandbox with fast quotas, shared by the module (tests reset what they change)."""
    with AmazonSandbox(skus=SKUS, seed=SEED, rate_scale=100) as sandbox:
        yield sandbox


@pytest.fixture
def api(amazon: AmazonSandbox) -> Iterator[SpApi]:
    client = SpApi(amazon)
    yield client
    client.http.close()
    amazon.faults.reset()


def first_sku(state: AmazonState) -> str:
    return next(sku for sku, item in state.listings.items() if item.quantity is not None)


# -- Login with Amazon ----------------------------------------------------------------------------


def test_refresh_token_grant_returns_a_bearer_token(amazon: AmazonSandbox) -> None:
    with httpx.Client(base_url=amazon.url) as http:
        answer = token(http, amazon.credentials())
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600


@pytest.mark.parametrize(
    ("override", "status", "error"),
    [
        ({"refresh_token": "Atzr|wrong"}, 400, "invalid_grant"),
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ],
)
def test_bad_credentials_get_an_lwa_error(
    amazon: AmazonSandbox, override: dict[str, str], status: int, error: str
) -> None:
    with httpx.Client(base_url=amazon.url) as http:
        answer = token(http, amazon.credentials(), **override)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "error_description" in answer.json()


def test_sp_api_without_a_token_is_403_unauthorized(api: SpApi) -> None:
    sku = first_sku(api.sandbox.state)
    answer = api.http.get(
        api.item_path(sku), params={"marketplaceIds": api.creds["marketplace_id"]}
    )
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == "Unauthorized"


def test_an_expired_token_is_refused_and_a_new_one_works(api: SpApi) -> None:
    sku = first_sku(api.sandbox.state)
    params = {"marketplaceIds": api.creds["marketplace_id"]}
    assert api.request("GET", api.item_path(sku), params=params).status_code == 200
    api.sandbox.state.advance(3601)
    expired = api.request("GET", api.item_path(sku), params=params)
    assert expired.status_code == 403
    assert "expired" in expired.json()["errors"][0]["details"]
    api.token = token(api.http, api.creds).json()["access_token"]
    assert api.request("GET", api.item_path(sku), params=params).status_code == 200


# -- listings -------------------------------------------------------------------------------------


def test_get_listing_includes_summaries_and_fulfillment_availability(api: SpApi) -> None:
    sku = first_sku(api.sandbox.state)
    params = {
        "marketplaceIds": api.creds["marketplace_id"],
        "includedData": "summaries,fulfillmentAvailability",
    }
    answer = api.request("GET", api.item_path(sku), params=params)
    assert answer.status_code == 200
    assert answer.headers["x-amzn-RateLimit-Limit"]
    body = answer.json()
    assert body["sku"] == sku
    assert body["summaries"][0]["marketplaceId"] == api.creds["marketplace_id"]
    quantity = api.sandbox.state.listings[sku].quantity
    assert body["fulfillmentAvailability"] == [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}
    ]


def test_patch_replaces_the_quantity_and_is_accepted(api: SpApi) -> None:
    sku = first_sku(api.sandbox.state)
    answer = api.patch(sku, 42)
    assert answer.status_code == 200
    body = answer.json()
    assert body["sku"] == sku
    assert body["status"] == "ACCEPTED"
    assert body["issues"] == []
    assert body["submissionId"]
    assert api.sandbox.state.listings[sku].quantity == 42


def test_a_negative_quantity_is_invalid_with_an_issue_and_not_applied(api: SpApi) -> None:
    sku = first_sku(api.sandbox.state)
    before = api.sandbox.state.listings[sku].quantity
    answer = api.patch(sku, -3)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "INVALID"
    assert body["issues"][0]["severity"] == "ERROR"
    assert body["issues"][0]["attributeNames"] == ["fulfillment_availability"]
    assert api.sandbox.state.listings[sku].quantity == before


def test_patching_an_unknown_sku_is_404_with_the_sp_api_error_shape(api: SpApi) -> None:
    missing = api.sandbox.state.missing_skus[0]
    answer = api.patch(missing, 1)
    assert answer.status_code == 404
    error = answer.json()["errors"][0]
    assert error["code"] == "NOT_FOUND"
    assert missing in error["message"]


def test_a_patch_without_product_type_is_400(api: SpApi) -> None:
    answer = api.patch(first_sku(api.sandbox.state), 1, productType="")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "InvalidInput"


def test_search_listings_pages_through_the_whole_catalog(api: SpApi) -> None:
    seen: list[str] = []
    page_token: str | None = None
    while True:
        params: dict[str, Any] = {
            "marketplaceIds": api.creds["marketplace_id"],
            "includedData": "summaries,fulfillmentAvailability",
            "pageSize": 20,
        }
        if page_token:
            params["pageToken"] = page_token
        answer = api.request("GET", f"{LISTINGS}/{api.creds['seller_id']}", params=params)
        assert answer.status_code == 200
        body = answer.json()
        assert body["numberOfResults"] == len(api.sandbox.state.listings)
        seen.extend(item["sku"] for item in body["items"])
        page_token = body["pagination"].get("nextToken")
        if not page_token:
            break
    assert seen == sorted(api.sandbox.state.listings)


def test_search_listings_refuses_a_page_size_over_20(api: SpApi) -> None:
    params = {"marketplaceIds": api.creds["marketplace_id"], "pageSize": 21}
    answer = api.request("GET", f"{LISTINGS}/{api.creds['seller_id']}", params=params)
    assert answer.status_code == 400


def test_the_catalog_is_deterministic_by_seed_with_missing_skus() -> None:
    one, two = AmazonState(skus=300, seed=3), AmazonState(skus=300, seed=3)
    assert one.quantities() == two.quantities()
    assert one.missing_skus and all(sku not in one.listings for sku in one.missing_skus)
    assert sorted([*one.listings, *one.missing_skus]) == [f"SKU-{n:06d}" for n in range(1, 301)]
    assert one.quantities() != AmazonState(skus=300, seed=4).quantities()


# -- quotas ---------------------------------------------------------------------------------------


def test_an_empty_bucket_answers_429_quota_exceeded() -> None:
    rates = {"patchListingsItem": (0.001, 2)}
    with AmazonSandbox(skus=20, seed=SEED, rates=rates) as sandbox:
        api = SpApi(sandbox)
        sku = first_sku(sandbox.state)
        statuses = [api.patch(sku, 5).status_code for _ in range(4)]
        refused = api.patch(sku, 5)
        api.http.close()
    assert statuses == [200, 200, 429, 429]
    assert refused.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
            }
        ]
    }
    assert "x-amzn-RateLimit-Limit" not in refused.headers


def test_the_quotas_control_scales_or_lifts_every_quota() -> None:
    rates = {"patchListingsItem": (0.001, 1)}
    with AmazonSandbox(skus=20, seed=SEED, rates=rates) as sandbox:
        api = SpApi(sandbox)
        sku = first_sku(sandbox.state)
        control = f"{sandbox.url}/sandbox/quotas"
        assert [api.patch(sku, 5).status_code for _ in range(2)] == [200, 429]
        lifted = httpx.post(control, json={"enabled": False}).json()
        assert lifted["enabled"] is False
        assert [api.patch(sku, 5).status_code for _ in range(3)] == [200, 200, 200]
        scaled = httpx.post(control, json={"enabled": True, "rate_scale": 10}).json()
        assert scaled["rates"]["patchListingsItem"] == [0.01, 1]
        assert [api.patch(sku, 5).status_code for _ in range(2)] == [200, 429]
        assert httpx.get(control).json() == scaled
        api.http.close()
