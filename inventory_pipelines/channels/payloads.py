"""The order events channels send, as typed models: what is refused at the door.

One pydantic model per channel event (Shopify's REST order and refund, the order node of
its GraphQL API, WooCommerce's order, Amazon's order and order item). Both intake routes
read a channel's payload through its model, so a webhook and a poll accept the same things:

- an order id is a non-empty string (at most 255 characters, kept as written) or a JSON
  integer from 1 to 2^63 - 1, kept as text; ``null``, ``true``, an object, a float (a JSON
  parser makes ``1e+40`` of any integer past 64 bits, so two such ids would collide) and
  ``""`` are refused;
- a quantity is a JSON number that is a whole number from 0 to :data:`MAX_QUANTITY`
  (``2`` or ``2.0``); ``2.9`` is refused, never truncated, and so are ``true``, ``"2"`` and
  ``1e30``. An order's or a return's lines need at least 1 unit each; a cancellation's
  lines are not read for stock, so 0 passes there (Amazon reports 0 ordered on cancelled
  orders).

A payload that breaks these raises :class:`PayloadError`, whose message names the fields
and what is wrong with them but never their values: the message is logged, and values
carry personal data (names, e-mails, addresses).

Fields the product does not read are ignored, and the ones it reads for display (order
number, customer, price, timestamps) are taken as text whatever JSON type they come in:
refusing a paid order over the type of its display name would lose a sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from inventory_pipelines.channels.base import WebhookError

#: The most units one order line may carry (what the ledger's and Odoo's integer columns
#: hold, 2^31 - 1); the ledger holds the same bound as ``inbox.MAX_UNITS``.
MAX_QUANTITY = 2**31 - 1
#: Integer order ids: positive and within a signed 64-bit integer (Shopify's, WooCommerce's).
MAX_ORDER_ID = 2**63 - 1
ID_LENGTH = 255


class PayloadError(WebhookError):
    """A channel payload its model refuses. ``problems``: one line per field, naming the
    field and what is wrong, never its value; ``external_id``: the order id when it could
    be read (to name the order in a dead letter)."""

    def __init__(self, what: str, problems: list[str], external_id: str | None = None):
        self.what = what
        self.problems = problems
        self.external_id = external_id
        super().__init__(f"{what}: {'; '.join(problems)}")


def _order_id(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError("an order id is a non-empty string or a positive integer")
    if isinstance(value, int):
        if not 1 <= value <= MAX_ORDER_ID:
            raise ValueError(f"an integer order id is from 1 to {MAX_ORDER_ID}")
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("the order id is empty")
        if len(text) > ID_LENGTH:
            raise ValueError(f"the order id is longer than {ID_LENGTH} characters")
        return text
    if isinstance(value, float):
        raise ValueError("a number with a fraction or an exponent is not an order id")
    raise ValueError("an order id is a non-empty string or a positive integer")


def _quantity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a quantity is a JSON number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("a quantity is a whole number of units (a fraction is refused)")
        value = int(value)
    if not 0 <= value <= MAX_QUANTITY:
        raise ValueError(f"a quantity is from 0 to {MAX_QUANTITY} units")
    return value


def _text(value: Any) -> str | None:
    """Display fields as text whatever JSON type they came in (None, "", an object or a list
    are None: the order goes in without that detail)."""
    if value is None or value == "" or isinstance(value, Mapping | list):
        return None
    return str(value)


OrderId = Annotated[str, BeforeValidator(_order_id)]
Quantity = Annotated[int, BeforeValidator(_quantity)]
Text = Annotated[str | None, BeforeValidator(_text)]
# a product or variation id of WooCommerce: 0 means none
ProductId = Annotated[int, Field(ge=0, le=MAX_ORDER_ID, strict=True)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


# -- Shopify --------------------------------------------------------------------------------------


class ShopifyCustomer(_Payload):
    first_name: Text = None
    last_name: Text = None
    email: Text = None


class ShopifyLineItem(_Payload):
    sku: Text = None
    quantity: Quantity
    price: Text = None


class ShopifyOrder(_Payload):
    """A REST order resource: the body of ``orders/create`` and ``orders/cancelled``."""

    id: OrderId
    name: Text = None
    order_number: Text = None
    email: Text = None
    customer: ShopifyCustomer | None = None
    line_items: list[ShopifyLineItem] = []
    created_at: Text = None
    cancelled_at: Text = None
    updated_at: Text = None
    fulfillment_status: Text = None
    currency: Text = None


class ShopifyRefundedItem(_Payload):
    sku: Text = None


class ShopifyRefundLine(_Payload):
    quantity: Quantity
    line_item: ShopifyRefundedItem = ShopifyRefundedItem()


class ShopifyRefund(_Payload):
    """A REST refund resource: the body of ``refunds/create``."""

    id: OrderId
    order_id: OrderId
    created_at: Text = None
    refund_line_items: list[ShopifyRefundLine] = []


class ShopifyNodeLine(_Payload):
    sku: Text = None
    quantity: Quantity


class ShopifyNodeLines(_Payload):
    nodes: list[ShopifyNodeLine] = []


class ShopifyOrderNode(_Payload):
    """An ``Order`` node of the GraphQL Admin API (``gid://shopify/Order/<id>``)."""

    id: OrderId
    name: Text = None
    createdAt: Text = None  # the API's names
    updatedAt: Text = None
    cancelledAt: Text = None
    lineItems: ShopifyNodeLines = ShopifyNodeLines()

    @property
    def external_id(self) -> str:
        """The numeric id (the REST resources' ``id``) out of the global id."""
        return self.id.rsplit("/", 1)[-1]


# -- WooCommerce ----------------------------------------------------------------------------------


class WooBilling(_Payload):
    first_name: Text = None
    last_name: Text = None
    email: Text = None


class WooLineItem(_Payload):
    product_id: ProductId = 0
    variation_id: ProductId = 0
    sku: Text = None
    quantity: Quantity
    price: Text = None


class WooOrder(_Payload):
    """An order resource of the REST API (``GET orders`` and the ``order.*`` webhooks)."""

    id: OrderId
    status: Text = None
    number: Text = None
    billing: WooBilling | None = None
    line_items: list[WooLineItem] = []
    date_created_gmt: Text = None
    date_created: Text = None
    date_modified_gmt: Text = None
    date_modified: Text = None
    currency: Text = None


# -- Amazon ---------------------------------------------------------------------------------------


class AmazonMoney(_Payload):
    Amount: Text = None


class AmazonOrderItem(_Payload):
    SellerSKU: Text = None
    QuantityOrdered: Quantity
    ItemPrice: AmazonMoney | None = None


class AmazonOrder(_Payload):
    """An order of the Orders API (``getOrders``)."""

    AmazonOrderId: OrderId
    OrderStatus: Text = None
    LastUpdateDate: Text = None
    NumberOfItemsShipped: Annotated[int, Field(ge=0, le=MAX_QUANTITY, strict=True)] = 0


# -- reading --------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def read(model: type[M], data: Any, what: str, external_id: str | None = None) -> M:
    """`data` as `model`, or :class:`PayloadError` naming each bad field (`what`: which
    channel event, for the message; `external_id`: the order's id when `data` is a part of
    it, such as an order item)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PayloadError(what, _problems(exc), external_id or _id_of(data)) from None


def require_units(what: str, external_id: str, quantities: list[int]) -> None:
    """Refuse an order's or a return's lines that carry no unit."""
    empty = [n for n, quantity in enumerate(quantities, 1) if quantity < 1]
    if empty:
        lines = ", ".join(str(n) for n in empty)
        raise PayloadError(
            what, [f"line {lines}: quantity 0 (an order line needs 1 unit or more)"], external_id
        )


def _problems(exc: ValidationError, most: int = 5) -> list[str]:
    found = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]) or "the payload"
        message = str(error["msg"]).removeprefix("Value error, ")
        found.append(f"{where}: {message}")
    if len(found) > most:
        found = [*found[:most], f"and {len(found) - most} more"]
    return found


def _id_of(data: Any) -> str | None:
    if not isinstance(data, Mapping):
        return None
    for key in ("id", "AmazonOrderId"):
        try:
            return _order_id(data.get(key))
        except ValueError:
            continue
    return None
