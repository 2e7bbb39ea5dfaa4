"""GraphQL resolvers: the state of :mod:`.models` rendered in the Admin API's shapes.

Objects are dicts; a value that is a callable is a field with arguments (graphql-core's
default resolver calls it with ``info`` and the arguments), so nested fields are computed
only when a query asks for them. Execution happens under the state lock (see
:mod:`.responses`), so every answer is one consistent snapshot.
"""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from .models import (
    CHANGE_FROM_VERSION,
    AdjustmentGroup,
    Level,
    Location,
    Order,
    SetQuantitiesResult,
    ShopState,
    UserError,
    Variant,
    api_version_at_least,
    gid,
    parse_gid,
)

MAX_PAGE_SIZE = 250
Obj = dict[str, Any]


@dataclass
class Context:
    """What a request's resolvers need: the shop and the API version the client speaks."""

    state: ShopState
    api_version: str


def encode_cursor(key: int) -> str:
    """An opaque cursor for a position (base64 JSON, as Shopify's look)."""
    return base64.b64encode(orjson.dumps({"last_id": key})).decode()


def decode_cursor(cursor: str) -> int:
    """The position a cursor points at; a GraphQL error when it is not ours."""
    try:
        return int(orjson.loads(base64.b64decode(cursor))["last_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def connection(
    keys: Sequence[int],
    render: Callable[[int], Obj],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Obj:
    """A Relay connection over ``keys`` (sorted ascending), paged like Shopify's."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    size = first if first is not None else last
    assert size is not None
    if size < 0 or size > MAX_PAGE_SIZE:
        raise GraphQLError(f"The page size must be between 0 and {MAX_PAGE_SIZE}.")
    start, stop = 0, len(keys)
    if after is not None:
        start = bisect.bisect_right(keys, decode_cursor(after))
    if before is not None:
        stop = bisect.bisect_left(keys, decode_cursor(before))
    window = list(keys[start:stop])
    if first is not None:
        page = window[:first]
        has_next, has_previous = len(window) > first, start > 0
    else:
        page = window[-size:] if size else []
        has_next, has_previous = stop < len(keys), len(window) > size
    nodes = [render(key) for key in page]
    edges = [
        {"cursor": encode_cursor(key), "node": node} for key, node in zip(page, nodes, strict=True)
    ]
    return {
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


_TERM = re.compile(r"(\w+):(>=|<=|>|<)?(\"[^\"]*\"|'[^']*'|\S+)")


def search_terms(query: str | None) -> list[tuple[str, str, str]]:
    """``field:value`` terms of a Shopify search query (implicitly ANDed): (field, op, value)."""
    if not query:
        return []
    return [(f.lower(), op or "=", v.strip("\"'")) for f, op, v in _TERM.findall(query)]


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if actual is None:
        return False
    text = str(actual)
    if op == ">":
        return text > wanted
    if op == ">=":
        return text >= wanted
    if op == "<":
        return text < wanted
    if op == "<=":
        return text <= wanted
    if wanted.endswith("*"):
        return text.startswith(wanted[:-1])
    return text == wanted


class Renderer:
    """Turns model records into GraphQL objects for one request."""

    def __init__(self, context: Context) -> None:
        self.state = context.state
        self.context = context

    def location(self, location_id: int) -> Obj:
        loc: Location = self.state.locations[location_id]
        return {
            "__typename": "Location",
            "id": gid("Location", loc.id),
            "name": loc.name,
            "isActive": loc.is_active,
        }

    def variant(self, variant_id: int) -> Obj:
        v: Variant = self.state.variants[variant_id]
        return {
            "__typename": "ProductVariant",
            "id": gid("ProductVariant", v.id),
            "title": v.title,
            "displayName": v.display_name,
            "sku": v.sku,
            "barcode": v.barcode,
            "inventoryQuantity": sum(
                level.available for _, level in self.state.item_levels(v.inventory_item_id)
            ),
            "product": {
                "__typename": "Product",
                "id": gid("Product", v.product_id),
                "title": v.product_title,
            },
            "inventoryItem": lambda info: self.item(v.inventory_item_id),
        }

    def item(self, item_id: int) -> Obj:
        variant_id = self.state.variant_by_item[item_id]
        sku = self.state.variants[variant_id].sku

        def inventory_level(info: GraphQLResolveInfo, locationId: str) -> Obj | None:
            location_id = parse_gid(locationId, "Location")
            if location_id is None or (item_id, location_id) not in self.state.levels:
                return None
            return self.level(item_id, location_id)

        def inventory_levels(info: GraphQLResolveInfo, **paging: Any) -> Obj:
            keys = [loc for loc in self.state.locations if (item_id, loc) in self.state.levels]
            return connection(keys, lambda loc: self.level(item_id, loc), **paging)

        return {
            "__typename": "InventoryItem",
            "id": gid("InventoryItem", item_id),
            "sku": sku,
            "tracked": True,
            "variant": lambda info: self.variant(variant_id),
            "inventoryLevel": inventory_level,
            "inventoryLevels": inventory_levels,
        }

    def level(self, item_id: int, location_id: int) -> Obj:
        level: Level = self.state.levels[(item_id, location_id)]
        level_gid = f"{gid('InventoryLevel', location_id)}?inventory_item_id={item_id}"

        def quantities(info: GraphQLResolveInfo, names: list[str]) -> list[Obj]:
            return [
                {
                    "id": f"gid://shopify/InventoryQuantity/{location_id}"
                    f"?inventory_item_id={item_id}&name={name}",
                    "name": name,
                    "quantity": level.quantity(name),
                    "updatedAt": level.updated_at or None,
                }
                for name in names
            ]

        return {
            "__typename": "InventoryLevel",
            "id": level_gid,
            "location": lambda info: self.location(location_id),
            "item": lambda info: self.item(item_id),
            "quantities": quantities,
            "updatedAt": level.updated_at,
        }

    def order(self, order_id: int) -> Obj:
        order: Order = self.state.orders[order_id]

        def line_items(info: GraphQLResolveInfo, **paging: Any) -> Obj:
            def line(index: int) -> Obj:
                sku, item_id, quantity = order.lines[index]
                return {
                    "id": gid("LineItem", order.id * 100 + index),
                    "sku": sku,
                    "quantity": quantity,
                    "variant": lambda info: self.variant(self.state.variant_by_item[item_id]),
                }

            return connection(list(range(len(order.lines))), line, **paging)

        return {
            "__typename": "Order",
            "id": gid("Order", order.id),
            "name": order.name,
            "createdAt": order.created_at,
            "updatedAt": order.updated_at,
            "cancelledAt": order.cancelled_at,
            "lineItems": line_items,
        }

    def group(self, group: AdjustmentGroup) -> Obj:
        def changes(
            info: GraphQLResolveInfo,
            inventoryItemIds: list[str] | None = None,
            locationIds: list[str] | None = None,
            quantityNames: list[str] | None = None,
        ) -> list[Obj]:
            selected = []
            for change in group.changes:
                if inventoryItemIds and gid("InventoryItem", change["item_id"]) not in (
                    inventoryItemIds
                ):
                    continue
                if locationIds and gid("Location", change["location_id"]) not in locationIds:
                    continue
                if quantityNames and change["name"] not in quantityNames:
                    continue
                selected.append(
                    {
                        "name": change["name"],
                        "delta": change["delta"],
                        "quantityAfterChange": change["quantityAfterChange"],
                        "item": self.item(change["item_id"]),
                        "location": self.location(change["location_id"]),
                    }
                )
            return selected

        return {
            "__typename": "InventoryAdjustmentGroup",
            "id": gid("InventoryAdjustmentGroup", group.id),
            "createdAt": group.created_at,
            "reason": group.reason,
            "referenceDocumentUri": group.reference_document_uri,
            "changes": changes,
        }

    def node(self, value: str) -> Obj | None:
        """Any object by global id (``node``/``nodes``), None when unknown."""
        kind = value.split("/")[3] if value.startswith("gid://shopify/") else ""
        number = parse_gid(value, kind) if kind else None
        if number is None:
            return None
        if kind == "InventoryItem" and number in self.state.variant_by_item:
            return self.item(number)
        if kind == "ProductVariant" and number in self.state.variants:
            return self.variant(number)
        if kind == "Location" and number in self.state.locations:
            return self.location(number)
        if kind == "Order" and number in self.state.orders:
            return self.order(number)
        return None


def _paging(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args.get(k) for k in ("first", "after", "last", "before")}


class Root:
    """The query and mutation roots."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.state = context.state
        self.render = Renderer(context)

    # -- queries ----------------------------------------------------------------------------------

    def shop(self, info: GraphQLResolveInfo) -> Obj:
        return {"name": "Sandbox Shop", "myshopifyDomain": self.state.shop}

    def location(self, info: GraphQLResolveInfo, id: str | None = None) -> Obj | None:
        if id is None:
            return self.render.location(next(iter(self.state.locations)))
        number = parse_gid(id, "Location")
        return self.render.location(number) if number in self.state.locations else None

    def locations(self, info: GraphQLResolveInfo, query: str | None = None, **args: Any) -> Obj:
        keys = sorted(self.state.locations)
        for name, _, value in search_terms(query):
            if name == "name":
                keys = [k for k in keys if self.state.locations[k].name == value]
        return connection(keys, self.render.location, **_paging(args))

    def productVariants(
        self, info: GraphQLResolveInfo, query: str | None = None, **args: Any
    ) -> Obj:
        keys = sorted(self.state.variants)
        for name, op, value in search_terms(query):
            attribute = {"sku": "sku", "barcode": "barcode", "id": "id", "product_id": "product_id"}
            if name in attribute:
                keys = [
                    k
                    for k in keys
                    if _compare(getattr(self.state.variants[k], attribute[name]), op, value)
                ]
        return connection(keys, self.render.variant, **_paging(args))

    def inventoryItem(self, info: GraphQLResolveInfo, id: str) -> Obj | None:
        number = parse_gid(id, "InventoryItem")
        return self.render.item(number) if number in self.state.variant_by_item else None

    def inventoryItems(
        self, info: GraphQLResolveInfo, query: str | None = None, **args: Any
    ) -> Obj:
        keys = sorted(self.state.variant_by_item)
        for name, op, value in search_terms(query):
            if name == "sku":
                keys = [
                    k
                    for k in keys
                    if _compare(self.state.variants[self.state.variant_by_item[k]].sku, op, value)
                ]
        return connection(keys, self.render.item, **_paging(args))

    def orders(
        self,
        info: GraphQLResolveInfo,
        query: str | None = None,
        reverse: bool | None = None,
        **args: Any,
    ) -> Obj:
        keys = sorted(self.state.orders)
        for name, op, value in search_terms(query):
            if name in ("updated_at", "created_at"):
                attribute = name
                keys = [
                    k for k in keys if _compare(getattr(self.state.orders[k], attribute), op, value)
                ]
        return connection(keys, self.render.order, **_paging(args))

    def node(self, info: GraphQLResolveInfo, id: str) -> Obj | None:
        return self.render.node(id)

    def nodes(self, info: GraphQLResolveInfo, ids: list[str]) -> list[Obj | None]:
        if len(ids) > MAX_PAGE_SIZE:
            raise GraphQLError(f"The ids argument accepts at most {MAX_PAGE_SIZE} ids.")
        return [self.render.node(value) for value in ids]

    # -- mutations --------------------------------------------------------------------------------

    def inventorySetQuantities(self, info: GraphQLResolveInfo, input: Obj) -> Obj:
        version = self.context.api_version
        modern = api_version_at_least(version, CHANGE_FROM_VERSION)
        directive = info.schema.get_directive("idempotent")
        values = (
            get_directive_values(directive, info.field_nodes[0], info.variable_values)
            if directive is not None
            else None
        )
        key = values["key"] if values else None
        if modern and not key:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation from API "
                f"{CHANGE_FROM_VERSION}.",
                extensions={"code": "BAD_REQUEST"},
            )
        quantities = list(input.get("quantities") or [])
        if modern:
            missing = [str(i) for i, q in enumerate(quantities) if "changeFromQuantity" not in q]
            if missing:
                raise GraphQLError(
                    "changeFromQuantity must be given on every quantity from API "
                    f"{CHANGE_FROM_VERSION} (null skips the check); missing at "
                    f"quantities {', '.join(missing)}.",
                    extensions={"code": "BAD_REQUEST"},
                )

        def run() -> SetQuantitiesResult:
            return self.state.set_quantities(
                version,
                input["name"],
                input["reason"],
                input.get("referenceDocumentUri"),
                quantities,
                ignore_compare_quantity=bool(input.get("ignoreCompareQuantity")),
            )

        if len(quantities) > MAX_PAGE_SIZE:
            raise GraphQLError(
                f"The input array size of {len(quantities)} is greater than the maximum "
                f"allowed of {MAX_PAGE_SIZE}.",
                extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
            )
        if key:
            matched, result = self.state.idempotent(key, input, run)
            if not matched:
                result = SetQuantitiesResult(
                    None,
                    (
                        UserError(
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            None,
                            "The same idempotency key was used with different parameters.",
                        ),
                    ),
                )
        else:
            result = run()
        return {
            "inventoryAdjustmentGroup": self.render.group(result.group) if result.group else None,
            "userErrors": [error.as_dict() for error in result.user_errors],
        }
