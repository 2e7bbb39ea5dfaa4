"""The subset of the Shopify Admin GraphQL schema the emulator serves, per API version.

Names and shapes follow shopify.dev's Admin API reference. From ``2026-04`` the
``InventoryQuantityInput`` carries ``changeFromQuantity`` and no longer ``compareQuantity``,
and ``InventorySetQuantitiesInput`` loses ``ignoreCompareQuantity``; before, both exist
(``changeFromQuantity`` too, so a client can migrate early).
"""

from __future__ import annotations

from functools import lru_cache

from graphql import GraphQLSchema, build_schema

from .models import CHANGE_FROM_VERSION, api_version_at_least

_COMMON = """
directive @idempotent(key: String!) on FIELD

scalar DateTime
scalar URL

interface Node {
  id: ID!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type Location implements Node {
  id: ID!
  name: String!
  isActive: Boolean!
}

type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

type Product implements Node {
  id: ID!
  title: String!
}

type ProductVariant implements Node {
  id: ID!
  title: String!
  displayName: String!
  sku: String
  barcode: String
  inventoryQuantity: Int
  product: Product!
  inventoryItem: InventoryItem!
}

type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection {
  edges: [ProductVariantEdge!]!
  nodes: [ProductVariant!]!
  pageInfo: PageInfo!
}

type InventoryQuantity {
  id: ID!
  name: String!
  quantity: Int!
  updatedAt: DateTime
}

type InventoryLevel implements Node {
  id: ID!
  location: Location!
  item: InventoryItem!
  quantities(names: [String!]!): [InventoryQuantity!]!
  updatedAt: DateTime!
}

type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection {
  edges: [InventoryLevelEdge!]!
  nodes: [InventoryLevel!]!
  pageInfo: PageInfo!
}

type InventoryItem implements Node {
  id: ID!
  sku: String
  tracked: Boolean!
  variant: ProductVariant!
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String): InventoryLevelConnection!
}

type InventoryItemEdge { cursor: String! node: InventoryItem! }
type InventoryItemConnection {
  edges: [InventoryItemEdge!]!
  nodes: [InventoryItem!]!
  pageInfo: PageInfo!
}

type LineItem {
  id: ID!
  sku: String
  quantity: Int!
  variant: ProductVariant
}

type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Order implements Node {
  id: ID!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  lineItems(first: Int, after: String, last: Int, before: String): LineItemConnection!
}

type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type InventoryChange {
  name: String!
  delta: Int!
  quantityAfterChange: Int
  item: InventoryItem
  location: Location
}

type InventoryAdjustmentGroup implements Node {
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]):
    [InventoryChange!]!
}

enum InventorySetQuantitiesUserErrorCode {
  INVALID_INVENTORY_ITEM
  INVALID_LOCATION
  ITEM_NOT_STOCKED_AT_LOCATION
  INVALID_QUANTITY_NEGATIVE
  INVALID_QUANTITY_TOO_HIGH
  INVALID_NAME
  INVALID_REASON
  INVALID_REFERENCE_DOCUMENT
  NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR
  COMPARE_QUANTITY_STALE
  CHANGE_FROM_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH
}

type InventorySetQuantitiesUserError {
  code: InventorySetQuantitiesUserErrorCode
  field: [String!]
  message: String!
}

type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}

type QueryRoot {
  shop: Shop!
  location(id: ID): Location
  locations(first: Int, after: String, last: Int, before: String, query: String):
    LocationConnection!
  productVariants(first: Int, after: String, last: Int, before: String, query: String):
    ProductVariantConnection!
  inventoryItem(id: ID!): InventoryItem
  inventoryItems(first: Int, after: String, last: Int, before: String, query: String):
    InventoryItemConnection!
  orders(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean):
    OrderConnection!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
}

type Shop {
  name: String!
  myshopifyDomain: String!
}

type Mutation {
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
}

schema {
  query: QueryRoot
  mutation: Mutation
}
"""

_INPUT_2026_04 = """
input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  changeFromQuantity: Int
}

input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  quantities: [InventoryQuantityInput!]!
}
"""

_INPUT_LEGACY = """
input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  compareQuantity: Int
  changeFromQuantity: Int
}

input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean
  quantities: [InventoryQuantityInput!]!
}
"""


def sdl_for(api_version: str) -> str:
    """The SDL text served at ``api_version``."""
    modern = api_version_at_least(api_version, CHANGE_FROM_VERSION)
    return _COMMON + (_INPUT_2026_04 if modern else _INPUT_LEGACY)


@lru_cache(maxsize=4)
def _schema(modern: bool) -> GraphQLSchema:
    return build_schema(_COMMON + (_INPUT_2026_04 if modern else _INPUT_LEGACY))


def schema_for(api_version: str) -> GraphQLSchema:
    """The executable schema (built once per shape) for ``api_version``."""
    return _schema(api_version_at_least(api_version, CHANGE_FROM_VERSION))
