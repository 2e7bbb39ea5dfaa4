"""The Shopify emulator: catalog, GraphQL reads, inventorySetQuantities rules, cost, faults."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inventory_pipelines.sandbox.shopify import ShopifySandbox, build_shop, gid
from inventory_pipelines.sandbox.shopify.models import ean13

SEED = 7
FIRST_LOCATION = gid("Location", 60_000_000_001)
SECOND_LOCATION = gid("Location", 60_000_000_002)

SET_QUANTITIES = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup {
      id reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { code field message }
  }
}
"""


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopifySandbox]:
    """A running shop shared by the read-only tests."""
    with ShopifySandbox(skus=120, seed=SEED) as sandbox:
        yield sandbox


@pytest.fixture
def fresh_shop() -> Iterator[ShopifySandbox]:
    """A shop of its own for a test that writes, throttles or injects faults."""
    with ShopifySandbox(skus=40, seed=SEED) as sandbox:
        yield sandbox


def post(
    shop: ShopifySandbox,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    version: str = "2026-04",
    token: str | None = None,
) -> httpx.Response:
    """POST one GraphQL request to the shop."""
    headers = {"X-Shopify-Access-Token": shop.access_token if token is None else token}
    return httpx.post(
        f"{shop.url}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=10,
    )


def gql(
    shop: ShopifySandbox, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """POST and decode, asserting HTTP 200."""
    response = post(shop, query, variables, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def stocked_item(shop: ShopifySandbox, index: int = 0) -> tuple[str, int]:
    """An inventory item gid with a level at the first location, and its available quantity."""
    item_ids = sorted(shop.state.variant_by_item)
    item_id = item_ids[index]
    return gid("InventoryItem", item_id), shop.state.quantity(item_id)


def set_input(*quantities: dict[str, Any], name: str = "available") -> dict[str, Any]:
    """An ``InventorySetQuantitiesInput``."""
    return {
        "name": name,
        "reason": "correction",
        "referenceDocumentUri": "logistics://test/1",
        "quantities": list(quantities),
    }


def quantity(item: str, value: int, expected: int | None, location: str = FIRST_LOCATION) -> dict:
    """One ``InventoryQuantityInput``."""
    return {
        "inventoryItemId": item,
        "locationId": location,
        "quantity": value,
        "changeFromQuantity": expected,
    }


# -- catalog -------------------------------------------------------------------------------------


def test_catalog_is_deterministic_for_a_seed() -> None:
    def fingerprint(seed: int) -> list[tuple]:
        state = build_shop(80, seed)
        return [
            (v.sku, v.barcode, v.inventory_item_id, state.levels.get((v.inventory_item_id, loc)))
            for v in state.variants.values()
            for loc in state.locations
        ]

    assert fingerprint(3) == fingerprint(3)
    assert fingerprint(3) != fingerprint(4)


def test_catalog_uses_the_odoo_sku_and_barcode_format_with_dirt() -> None:
    state = build_shop(400, SEED)
    skus = [v.sku for v in state.variants.values() if v.sku]
    assert all(len(s) == 10 and s.startswith("SKU-") for s in skus)
    numbers = {int(s[4:]) for s in skus}
    assert len(numbers) < 400  # some SKUs are missing from the shop
    assert any(v.sku is None for v in state.variants.values())  # unmapped variants
    for variant in state.variants.values():
        if variant.sku and variant.barcode:
            assert variant.barcode == ean13(200_000_000_000 + int(variant.sku[4:]))


def test_levels_keep_on_hand_equal_to_available_plus_committed(shop: ShopifySandbox) -> None:
    body = gql(
        shop,
        """{ inventoryItems(first: 30) { edges { node { id
             inventoryLevels(first: 5) { edges { node { location { id }
               quantities(names: ["available", "on_hand", "committed"]) { name quantity } } } }
           } } } }""",
    )
    seen_committed = False
    for edge in body["data"]["inventoryItems"]["edges"]:
        levels = edge["node"]["inventoryLevels"]["edges"]
        assert levels[0]["node"]["location"]["id"] == FIRST_LOCATION
        for level in levels:
            q = {e["name"]: e["quantity"] for e in level["node"]["quantities"]}
            assert q["on_hand"] == q["available"] + q["committed"]
            seen_committed |= q["committed"] > 0
    assert seen_committed


# -- auth and reads --------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "shpat_wrong"])
def test_a_missing_or_wrong_token_is_401(shop: ShopifySandbox, token: str) -> None:
    response = post(shop, "{ shop { name } }", token=token)
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


def test_relay_paging_visits_every_variant_once(shop: ShopifySandbox) -> None:
    query = """query($after: String) { productVariants(first: 25, after: $after) {
        edges { cursor node { id sku barcode title inventoryItem { id } } }
        pageInfo { hasNextPage endCursor } } }"""
    ids: list[str] = []
    after = None
    while True:
        page = gql(shop, query, {"after": after})["data"]["productVariants"]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(ids) == len(set(ids)) == len(shop.state.variants)


def test_product_variants_filter_by_sku(shop: ShopifySandbox) -> None:
    sku = next(v.sku for v in shop.state.variants.values() if v.sku)
    query = "query($q: String) { productVariants(first: 5, query: $q) { nodes { sku } } }"
    body = gql(shop, query, {"q": f"sku:{sku}"})
    assert body["data"]["productVariants"]["nodes"] == [{"sku": sku}]


def test_a_connection_without_first_or_last_is_an_error(shop: ShopifySandbox) -> None:
    body = gql(shop, "{ locations { nodes { id } } }")
    assert "first or last" in body["errors"][0]["message"]


def test_a_syntax_error_is_answered_with_errors_only(shop: ShopifySandbox) -> None:
    body = gql(shop, "{ locations(first: 1) { nodes { id }")
    assert body["errors"] and "data" not in body


# -- inventorySetQuantities ----------------------------------------------------------------------


def test_set_quantities_applies_and_reports_changes(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    on_hand = fresh_shop.state.quantity(item, "on_hand")
    body = gql(
        fresh_shop,
        SET_QUANTITIES,
        {"input": set_input(quantity(item, before + 7, before)), "key": "k-apply"},
    )
    payload = body["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    changes = {c["name"]: c for c in payload["inventoryAdjustmentGroup"]["changes"]}
    assert changes["available"]["delta"] == 7
    assert changes["available"]["quantityAfterChange"] == before + 7
    assert changes["on_hand"]["quantityAfterChange"] == on_hand + 7
    assert changes["available"]["item"]["id"] == item
    assert fresh_shop.state.quantity(item) == before + 7


def test_a_stale_item_fails_the_whole_mutation(fresh_shop: ShopifySandbox) -> None:
    first, first_qty = stocked_item(fresh_shop, 0)
    second, second_qty = stocked_item(fresh_shop, 1)
    fresh_shop.state.sell(second, 1)
    body = gql(
        fresh_shop,
        SET_QUANTITIES,
        {
            "input": set_input(
                quantity(first, first_qty + 3, first_qty),
                quantity(second, second_qty + 3, second_qty),
            ),
            "key": "k-stale",
        },
    )
    payload = body["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert payload["userErrors"] == [
        {
            "code": "CHANGE_FROM_QUANTITY_STALE",
            "field": ["input", "quantities", "1", "changeFromQuantity"],
            "message": payload["userErrors"][0]["message"],
        }
    ]
    assert fresh_shop.state.quantity(first) == first_qty
    assert fresh_shop.state.quantity(second) == second_qty - 1


def test_a_null_change_from_quantity_skips_the_check(fresh_shop: ShopifySandbox) -> None:
    item, _ = stocked_item(fresh_shop)
    fresh_shop.state.sell(item, 2)
    body = gql(
        fresh_shop, SET_QUANTITIES, {"input": set_input(quantity(item, 5, None)), "key": "k-null"}
    )
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert fresh_shop.state.quantity(item) == 5


def test_change_from_quantity_is_required_from_2026_04(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    entry = {"inventoryItemId": item, "locationId": FIRST_LOCATION, "quantity": 1}
    body = gql(fresh_shop, SET_QUANTITIES, {"input": set_input(entry), "key": "k-missing"})
    assert "changeFromQuantity" in body["errors"][0]["message"]
    assert body["data"]["inventorySetQuantities"] is None
    assert fresh_shop.state.quantity(item) == before


def test_compare_quantity_is_gone_from_2026_04(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    entry = {**quantity(item, 1, None), "compareQuantity": before}
    body = gql(fresh_shop, SET_QUANTITIES, {"input": set_input(entry), "key": "k-gone"})
    assert "compareQuantity" in body["errors"][0]["message"]
    assert "data" not in body


def test_older_versions_check_compare_quantity(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    mutation = """mutation($input: InventorySetQuantitiesInput!) {
        inventorySetQuantities(input: $input) { userErrors { code field } } }"""
    entry = {"inventoryItemId": item, "locationId": FIRST_LOCATION, "quantity": 1}
    stale = gql(
        fresh_shop,
        mutation,
        {"input": set_input({**entry, "compareQuantity": before + 1})},
        version="2025-01",
    )
    errors = stale["data"]["inventorySetQuantities"]["userErrors"]
    assert errors[0]["code"] == "COMPARE_QUANTITY_STALE"
    ignored = {**set_input({**entry, "compareQuantity": before + 1}), "ignoreCompareQuantity": True}
    applied = gql(fresh_shop, mutation, {"input": ignored}, version="2025-01")
    assert applied["data"]["inventorySetQuantities"]["userErrors"] == []
    assert fresh_shop.state.quantity(item) == 1


def test_the_idempotent_directive_is_required_from_2026_04(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    mutation = """mutation($input: InventorySetQuantitiesInput!) {
        inventorySetQuantities(input: $input) { userErrors { code } } }"""
    body = gql(fresh_shop, mutation, {"input": set_input(quantity(item, 1, before))})
    assert "@idempotent" in body["errors"][0]["message"]
    assert fresh_shop.state.quantity(item) == before


def test_an_idempotent_retry_returns_the_first_result_and_applies_once(
    fresh_shop: ShopifySandbox,
) -> None:
    item, before = stocked_item(fresh_shop)
    variables = {"input": set_input(quantity(item, before + 4, before)), "key": "k-replay"}
    first = gql(fresh_shop, SET_QUANTITIES, variables)
    again = gql(fresh_shop, SET_QUANTITIES, variables)
    assert again["data"] == first["data"]
    assert fresh_shop.state.quantity(item) == before + 4
    assert fresh_shop.state.applied_mutations == 1


def test_an_idempotency_key_reused_with_other_input_is_a_mismatch(
    fresh_shop: ShopifySandbox,
) -> None:
    item, before = stocked_item(fresh_shop)
    gql(fresh_shop, SET_QUANTITIES, {"input": set_input(quantity(item, 9, before)), "key": "k"})
    body = gql(fresh_shop, SET_QUANTITIES, {"input": set_input(quantity(item, 3, 9)), "key": "k"})
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert fresh_shop.state.quantity(item) == 9


def test_at_most_250_quantities_per_mutation(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    entries = [quantity(item, 1, None)] * 251
    body = gql(fresh_shop, SET_QUANTITIES, {"input": set_input(*entries), "key": "k-251"})
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert fresh_shop.state.quantity(item) == before


def _unstocked_item(shop: ShopifySandbox) -> str:
    second = 60_000_000_002
    item_id = next(
        i for i in sorted(shop.state.variant_by_item) if (i, second) not in shop.state.levels
    )
    return gid("InventoryItem", item_id)


@pytest.mark.parametrize(
    ("code", "make"),
    [
        ("INVALID_INVENTORY_ITEM", lambda s, i: quantity(gid("InventoryItem", 1), 1, None)),
        ("INVALID_LOCATION", lambda s, i: quantity(i, 1, None, gid("Location", 1))),
        (
            "ITEM_NOT_STOCKED_AT_LOCATION",
            lambda s, i: quantity(_unstocked_item(s), 1, None, SECOND_LOCATION),
        ),
        ("INVALID_QUANTITY_NEGATIVE", lambda s, i: quantity(i, -1, None)),
        ("INVALID_QUANTITY_TOO_HIGH", lambda s, i: quantity(i, 1_000_000_001, None)),
    ],
)
def test_invalid_items_are_user_errors_and_nothing_applies(
    fresh_shop: ShopifySandbox, code: str, make: Any
) -> None:
    item, before = stocked_item(fresh_shop)
    valid = quantity(item, before + 1, before)
    body = gql(
        fresh_shop,
        SET_QUANTITIES,
        {"input": set_input(valid, make(fresh_shop, item)), "key": f"k-{code}"},
    )
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == [code]
    assert errors[0]["field"][:3] == ["input", "quantities", "1"]
    assert fresh_shop.state.quantity(item) == before


# -- cost and throttling ---------------------------------------------------------------------------


def test_every_answer_carries_the_cost_and_refunds_unused_points(
    fresh_shop: ShopifySandbox,
) -> None:
    body = gql(fresh_shop, "{ locations(first: 10) { edges { node { id } } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 12  # 2 + 10 nodes asked
    assert cost["actualQueryCost"] == 4  # 2 + 2 locations returned
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 1000.0
    assert status["restoreRate"] == 100.0
    assert 996 <= status["currentlyAvailable"] <= 1000


def test_a_mutation_costs_ten(fresh_shop: ShopifySandbox) -> None:
    item, _ = stocked_item(fresh_shop)
    body = gql(
        fresh_shop, SET_QUANTITIES, {"input": set_input(quantity(item, 1, None)), "key": "k-cost"}
    )
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10


def test_throttled_when_the_bucket_lacks_the_cost(fresh_shop: ShopifySandbox) -> None:
    fresh_shop.state.bucket.configure(restore_rate=0.001, currently_available=5)
    item, before = stocked_item(fresh_shop)
    body = gql(
        fresh_shop, SET_QUANTITIES, {"input": set_input(quantity(item, 1, None)), "key": "k-thr"}
    )
    assert body["errors"] == [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
    assert "data" not in body
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10
    assert cost["throttleStatus"]["currentlyAvailable"] == 5
    assert fresh_shop.throttled_count == 1
    assert fresh_shop.state.quantity(item) == before


def test_a_query_above_the_single_query_maximum_is_refused(shop: ShopifySandbox) -> None:
    body = gql(
        shop,
        """query($loc: ID!) { productVariants(first: 250) { edges { node { id inventoryItem { id
             inventoryLevel(locationId: $loc) { quantities(names: ["available"]) { quantity } }
           } } } } }""",
        {"loc": FIRST_LOCATION},
    )
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


# -- faults and control ---------------------------------------------------------------------------


def test_fail_next_answers_the_scripted_status_then_recovers(fresh_shop: ShopifySandbox) -> None:
    fresh_shop.faults.fail_next(2, 503)
    statuses = [post(fresh_shop, "{ shop { name } }").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert fresh_shop.request_count == 3


def test_an_injected_429_carries_retry_after(fresh_shop: ShopifySandbox) -> None:
    fresh_shop.faults.retry_after = 2
    fresh_shop.faults.fail_next(1, 429)
    response = post(fresh_shop, "{ shop { name } }")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"


def test_an_outage_drops_connections_until_it_ends(fresh_shop: ShopifySandbox) -> None:
    fresh_shop.faults.outage = "close"
    with pytest.raises(httpx.TransportError):
        post(fresh_shop, "{ shop { name } }")
    fresh_shop.faults.outage = True
    assert post(fresh_shop, "{ shop { name } }").status_code == 503
    fresh_shop.faults.outage = None
    assert post(fresh_shop, "{ shop { name } }").status_code == 200


def test_the_control_api_is_neither_faulted_nor_counted(fresh_shop: ShopifySandbox) -> None:
    fresh_shop.faults.outage = True
    item, before = stocked_item(fresh_shop)
    sold = httpx.post(
        f"{fresh_shop.url}/sandbox/sell", json={"inventory_item_id": item, "quantity": 3}
    )
    assert sold.status_code == 200
    state = httpx.get(f"{fresh_shop.url}/sandbox/state").json()
    assert state["orders"] == 1
    assert fresh_shop.request_count == 0
    assert fresh_shop.state.quantity(item) == before - 3
    httpx.post(f"{fresh_shop.url}/sandbox/faults/reset")
    assert fresh_shop.faults.outage is None


def test_a_sale_commits_stock_and_shows_as_an_order(fresh_shop: ShopifySandbox) -> None:
    item, before = stocked_item(fresh_shop)
    on_hand = fresh_shop.state.quantity(item, "on_hand")
    order = fresh_shop.state.sell(item, 2)
    assert fresh_shop.state.quantity(item) == before - 2
    assert fresh_shop.state.quantity(item, "on_hand") == on_hand
    body = gql(
        fresh_shop,
        """{ orders(first: 10, query: "updated_at:>=2000-01-01") { nodes { id name updatedAt
             lineItems(first: 5) { nodes { sku quantity } } } } }""",
    )
    (node,) = body["data"]["orders"]["nodes"]
    assert node["id"] == gid("Order", order.id)
    assert node["lineItems"]["nodes"][0]["quantity"] == 2


def test_the_module_serves_and_prints_its_credentials_first() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inventory_pipelines.sandbox.shopify",
            "--port",
            "0",
            "--skus",
            "20",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        credentials = json.loads(process.stdout.readline())
        response = httpx.post(
            credentials["graphql_url"],
            json={"query": "{ shop { myshopifyDomain } }"},
            headers={"X-Shopify-Access-Token": credentials["access_token"]},
        )
        assert response.json()["data"]["shop"]["myshopifyDomain"] == credentials["shop"]
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_an_error_rate_of_one_fails_every_api_request(fresh_shop: ShopifySandbox) -> None:
    fresh_shop.faults.set_error_rate(1.0, (500, 502))
    statuses = {post(fresh_shop, "{ shop { name } }").status_code for _ in range(6)}
    assert statuses <= {500, 502}


def test_the_control_api_configures_the_bucket_and_resets_the_shop(
    fresh_shop: ShopifySandbox,
) -> None:
    item, before = stocked_item(fresh_shop)
    fresh_shop.state.sell(item, 1)
    status = httpx.post(
        f"{fresh_shop.url}/sandbox/throttle",
        json={"maximum_available": 50, "restore_rate": 5, "currently_available": 20},
    ).json()
    assert status == {"maximumAvailable": 50.0, "currentlyAvailable": 20, "restoreRate": 5.0}
    summary = httpx.post(f"{fresh_shop.url}/sandbox/reset", json={}).json()
    assert summary["orders"] == 0
    assert fresh_shop.state.quantity(item) == before
