"""Fidelity: the PyPI ShopifyAPI client (not written here) talks to the emulator."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator

import pytest
import shopify

from inventory_pipelines.sandbox.shopify import ShopifySandbox, gid

VERSION = "2026-04"


@pytest.fixture
def session() -> Iterator[ShopifySandbox]:
    """A shop with a ShopifyAPI session activated on it (and cleared afterwards)."""
    with ShopifySandbox(skus=30, seed=11) as shop:
        api_session = shopify.Session(shop.state.shop, VERSION, shop.access_token)
        shopify.ShopifyResource.activate_session(api_session)
        # the session builds https://<shop>/admin/api/<version>; point it at the loopback
        shopify.ShopifyResource.set_site(f"{shop.url}/admin/api/{VERSION}")
        try:
            yield shop
        finally:
            shopify.ShopifyResource.clear_session()


LEVELS = """
query Levels($first: Int!) {
  inventoryItems(first: $first) {
    edges {
      node {
        id
        sku
        inventoryLevels(first: 5) {
          edges { node { location { id } quantities(names: ["available", "on_hand"]) {
            name quantity } } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SET = """
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) @idempotent(key: "fidelity-key-1") {
    inventoryAdjustmentGroup { reason changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}
"""


def test_shopifyapi_reads_inventory_levels(session: ShopifySandbox) -> None:
    answer = json.loads(shopify.GraphQL().execute(LEVELS, {"first": 10}))
    edges = answer["data"]["inventoryItems"]["edges"]
    assert len(edges) == 10
    node = edges[0]["node"]
    assert node["id"].startswith("gid://shopify/InventoryItem/")
    level = node["inventoryLevels"]["edges"][0]["node"]
    assert {q["name"] for q in level["quantities"]} == {"available", "on_hand"}
    assert answer["data"]["inventoryItems"]["pageInfo"]["hasNextPage"] is True
    assert answer["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 1000.0


def test_shopifyapi_sets_quantities_idempotently(session: ShopifySandbox) -> None:
    item_id = min(session.state.variant_by_item)
    before = session.state.quantity(item_id)
    variables = {
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "logistics://fidelity/1",
            "quantities": [
                {
                    "inventoryItemId": gid("InventoryItem", item_id),
                    "locationId": gid("Location", session.state.location_ids()[0]),
                    "quantity": before + 2,
                    "changeFromQuantity": before,
                }
            ],
        }
    }
    graphql = shopify.GraphQL()
    first = json.loads(graphql.execute(SET, variables))
    again = json.loads(graphql.execute(SET, variables))
    payload = first["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    assert {"name": "available", "delta": 2, "quantityAfterChange": before + 2} in payload[
        "inventoryAdjustmentGroup"
    ]["changes"]
    assert again["data"] == first["data"]
    assert session.state.quantity(item_id) == before + 2


def test_shopifyapi_sees_a_stale_compare(session: ShopifySandbox) -> None:
    item_id = min(session.state.variant_by_item)
    before = session.state.quantity(item_id)
    session.state.sell(item_id, 1)
    variables = {
        "input": {
            "name": "available",
            "reason": "correction",
            "quantities": [
                {
                    "inventoryItemId": gid("InventoryItem", item_id),
                    "locationId": gid("Location", session.state.location_ids()[0]),
                    "quantity": 0,
                    "changeFromQuantity": before,
                }
            ],
        }
    }
    answer = json.loads(shopify.GraphQL().execute(SET, variables))
    errors = answer["data"]["inventorySetQuantities"]["userErrors"]
    assert errors[0]["code"] == "CHANGE_FROM_QUANTITY_STALE"


def test_shopifyapi_gets_401_with_a_wrong_token(session: ShopifySandbox) -> None:
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = "shpat_wrong"
    with pytest.raises(urllib.error.HTTPError) as raised:
        shopify.GraphQL().execute("{ shop { name } }")
    assert raised.value.code == 401
