"""The WooCommerce REST v3 protocol: authentication, parsing, rendering; state lives in models.

Authentication, as WooCommerce core checks it (``WC_REST_Authentication``):

- HTTP Basic with the consumer key and secret, or ``consumer_key``/``consumer_secret`` query
  parameters. WooCommerce accepts these over HTTPS only; the emulator serves plain HTTP on the
  loopback and accepts them there (as behind a TLS-terminating proxy).
- OAuth 1.0a one-legged signing in the query string (what the ``woocommerce`` client does over
  plain HTTP): the parameters (``oauth_signature`` removed) sorted by key, each key and value
  RFC 3986-encoded, joined as ``key=value`` and encoded again, joined with ``%26``; the string
  ``METHOD&rawurlencode(url without query)&params`` signed with HMAC-SHA1 or HMAC-SHA256 and
  the key ``consumer_secret + "&"``, base64. Timestamps more than 15 minutes off and reused
  nonces are refused.

Every failure is 401 ``{code: "woocommerce_rest_authentication_error", message, data:
{status: 401}}``; a request without credentials is 401 ``woocommerce_rest_cannot_view``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..webhooks import WebhookSender
from .faults import Faults
from .models import BATCH_LIMIT, Item, Order, WooError, WooState, format_date, parse_date

JSON = "application/json; charset=UTF-8"
API_PREFIX = "/wp-json/wc/v3"
MAX_PER_PAGE = 100
#: query parameters never echoed back in ``Link`` headers
AUTH_PARAMS = ("consumer_key", "consumer_secret")
OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
HASHES = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}


class Backend(Protocol):
    """What the handlers need from the running sandbox."""

    @property
    def state(self) -> WooState:
        """The current state (replaced by a reset)."""
        ...

    @property
    def faults(self) -> Faults:
        """The fault settings, rate limit and request counter."""
        ...

    def credentials(self) -> dict[str, Any]:
        """URL, consumer key and secret."""
        ...

    @property
    def webhooks(self) -> WebhookSender:
        """Order webhooks to the registered subscriber."""
        ...

    def reset(self, products: int | None = None, seed: int | None = None) -> None:
        """Regenerate the catalog."""
        ...


# -- rendering -----------------------------------------------------------------------------------


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


def error_response(error: WooError) -> Response:
    """A WooCommerce error body with its status."""
    return _json(error.body(), error.status)


def throttle_body(retry_after: int) -> bytes:
    """The body of a 429 (WooCommerce has no REST rate limit of its own: a host's WAF answers)."""
    return orjson.dumps(
        {
            "code": "woocommerce_rest_too_many_requests",
            "message": f"Too many requests. Retry after {retry_after} seconds.",
            "data": {"status": 429},
        }
    )


def render_item(state: WooState, item: Item) -> dict[str, Any]:
    """A product or variation as the REST API shows it (the fields that matter here)."""
    body: dict[str, Any] = {
        "id": item.id,
        "name": item.name,
        "type": item.type,
        "status": "publish",
        "sku": item.sku,
        "global_unique_id": item.global_unique_id,
        "price": item.regular_price,
        "regular_price": item.regular_price,
        "manage_stock": item.manage_stock,
        "stock_quantity": item.stock_quantity if item.manage_stock else None,
        "stock_status": state.stock_status(item),
        "backorders": item.backorders,
        "backorders_allowed": item.backorders != "no",
        "date_created": format_date(item.date_created),
        "date_created_gmt": format_date(item.date_created),
        "date_modified": format_date(item.date_modified),
        "date_modified_gmt": format_date(item.date_modified),
        "meta_data": [dict(m) for m in item.meta_data],
    }
    if item.type == "variation":
        body["parent_id"] = item.parent_id
        body.pop("type")
        body.pop("name")
        body["description"] = item.name
    else:
        body["variations"] = list(item.variation_ids)
    return body


def render_order(order: Order) -> dict[str, Any]:
    """An order with its line items."""
    return {
        "id": order.id,
        "status": order.status,
        "date_created": format_date(order.date_created),
        "date_created_gmt": format_date(order.date_created),
        "date_modified": format_date(order.date_modified),
        "date_modified_gmt": format_date(order.date_modified),
        "line_items": [
            {
                "id": line.id,
                "name": line.name,
                "product_id": line.product_id,
                "variation_id": line.variation_id,
                "quantity": line.quantity,
                "sku": line.sku,
            }
            for line in order.lines
        ],
        "meta_data": [
            {"id": n, "key": meta.get("key"), "value": meta.get("value")}
            for n, meta in enumerate(order.meta_data, start=1)
        ],
    }


# -- authentication ------------------------------------------------------------------------------


def _auth_error(message: str) -> WooError:
    return WooError("woocommerce_rest_authentication_error", message, 401)


def rfc3986(value: str) -> str:
    """PHP's ``rawurlencode``: every byte but ``A-Z a-z 0-9 - _ . ~`` percent-encoded."""
    return quote(value, safe="~")


def oauth_signature(
    method: str, base_url: str, params: Mapping[str, str], secret: str, algorithm: str
) -> str:
    """The OAuth 1.0a signature WooCommerce expects for these query parameters."""
    pairs = [
        rfc3986(f"{rfc3986(key)}={rfc3986(params[key])}")
        for key in sorted(params, key=lambda k: k.encode())
        if key != "oauth_signature"
    ]
    text = f"{method.upper()}&{rfc3986(base_url)}&{'%26'.join(pairs)}"
    digest = hmac.new(f"{secret}&".encode(), text.encode(), HASHES[algorithm]).digest()
    return base64.b64encode(digest).decode()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authenticate(request: Request, state: WooState) -> None:
    """Check Basic, query-string or OAuth 1.0a credentials; raise a 401 ``WooError``."""
    query = dict(request.query_params.multi_items())  # the last value wins, as in PHP
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError as exc:
            raise _auth_error("Consumer key is invalid.") from exc
        _check_key_secret(state, key, secret)
        return
    if "consumer_key" in query:
        _check_key_secret(state, query["consumer_key"], query.get("consumer_secret", ""))
        return
    if any(name.startswith("oauth_") for name in query):
        _check_oauth(request, state, query)
        return
    raise WooError("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)


def _check_key_secret(state: WooState, key: str, secret: str) -> None:
    if not _same(key, state.consumer_key):
        raise _auth_error("Consumer key is invalid.")
    if not _same(secret, state.consumer_secret):
        raise _auth_error("Consumer secret is invalid.")


def _check_oauth(request: Request, state: WooState, params: dict[str, str]) -> None:
    missing = [name for name in OAUTH_REQUIRED if not params.get(name)]
    if missing:
        raise _auth_error(f"Missing OAuth parameter {', '.join(missing)}")
    if not _same(params["oauth_consumer_key"], state.consumer_key):
        raise _auth_error("Consumer key is invalid.")
    algorithm = params["oauth_signature_method"]
    if algorithm not in HASHES:
        raise _auth_error("Invalid signature - signature method is invalid.")
    given = unquote(params["oauth_signature"].replace(" ", "+"))
    base_url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
    expected = oauth_signature(request.method, base_url, params, state.consumer_secret, algorithm)
    if not _same(given, expected):
        raise _auth_error("Invalid signature - provided signature does not match.")
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError as exc:
        raise _auth_error("Invalid timestamp.") from exc
    state.check_nonce(params["oauth_nonce"], timestamp)


# -- parsing ---------------------------------------------------------------------------------------


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise WooError("rest_invalid_param", f"Invalid parameter(s): {name}", 400) from exc
    if value < low or (high is not None and value > high):
        raise WooError("rest_invalid_param", f"Invalid parameter(s): {name}", 400)
    return value


def _date_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_date(raw)
    except ValueError as exc:
        raise WooError("rest_invalid_param", f"Invalid parameter(s): {name}", 400) from exc


def _page(request: Request, rows: list[Any], render: Callable[[Any], Any]) -> Response:
    """One page of ``rows`` with ``X-WP-Total``, ``X-WP-TotalPages`` and ``Link``."""
    page = _int_param(request, "page", 1, 1, None)
    per_page = _int_param(request, "per_page", 10, 1, MAX_PER_PAGE)
    total = len(rows)
    pages = (total + per_page - 1) // per_page
    chunk = rows[(page - 1) * per_page : page * per_page]
    kept = [
        (k, v)
        for k, v in dict(request.query_params.multi_items()).items()
        if k not in AUTH_PARAMS and not k.startswith("oauth_") and k != "page"
    ]
    base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
    links = []
    if page > 1:
        links.append(f'<{base}?{urlencode([*kept, ("page", min(page - 1, pages))])}>; rel="prev"')
    if pages > page:
        links.append(f'<{base}?{urlencode([*kept, ("page", page + 1)])}>; rel="next"')
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    if links:
        headers["Link"] = ", ".join(links)
    return _json([render(row) for row in chunk], headers=headers)


def _sorted(request: Request, rows: list[Any], default: str) -> list[Any]:
    orderby = request.query_params.get("orderby", default)
    descending = request.query_params.get("order", "desc").lower() == "desc"
    if orderby == "id":
        key: Callable[[Any], Any] = lambda r: r.id  # noqa: E731
    elif orderby == "modified":
        key = lambda r: (r.date_modified, r.id)  # noqa: E731
    elif orderby == "date":
        key = lambda r: (r.date_created, r.id)  # noqa: E731
    else:
        raise WooError("rest_invalid_param", "Invalid parameter(s): orderby", 400)
    return sorted(rows, key=key, reverse=descending)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise WooError("rest_invalid_json", "Invalid JSON body passed.", 400) from exc
    if not isinstance(body, dict):
        raise WooError("rest_invalid_json", "Invalid JSON body passed.", 400)
    return body


def _path_int(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except ValueError as exc:
        raise WooError("rest_no_route", "No route was found matching the URL.", 404) from exc


# -- handlers ------------------------------------------------------------------------------------


def api(
    handler: Callable[[Request, WooState], Any],
) -> Callable[[Request, Backend], Any]:
    """Wrap a handler: authenticate, then map ``WooError`` to its REST answer."""

    async def endpoint(request: Request, backend: Backend) -> Response:
        state = backend.state
        try:
            authenticate(request, state)
            return await handler(request, state)
        except WooError as error:
            return error_response(error)

    endpoint.__doc__ = handler.__doc__
    return endpoint


@api
async def list_products(request: Request, state: WooState) -> Response:
    """``GET /products``: paged, filterable by ``sku`` and ``type``."""
    rows = state.products()
    if sku := request.query_params.get("sku"):
        rows = [r for r in rows if r.sku in sku.split(",")]
    if kind := request.query_params.get("type"):
        rows = [r for r in rows if r.type == kind]
    with state.lock:
        return _page(request, _sorted(request, rows, "date"), lambda r: render_item(state, r))


@api
async def product(request: Request, state: WooState) -> Response:
    """``GET|PUT|PATCH /products/{id}``."""
    product_id = _path_int(request, "id")
    with state.lock:
        if request.method == "GET":
            item = state.product(product_id)
        else:
            item = state.update(product_id, await _body(request))
        return _json(render_item(state, item))


@api
async def list_variations(request: Request, state: WooState) -> Response:
    """``GET /products/{id}/variations``: paged."""
    rows = state.variations(_path_int(request, "id"))
    with state.lock:
        return _page(request, _sorted(request, rows, "date"), lambda r: render_item(state, r))


@api
async def variation(request: Request, state: WooState) -> Response:
    """``GET|PUT|PATCH /products/{id}/variations/{variation_id}``."""
    parent, variation_id = _path_int(request, "id"), _path_int(request, "variation_id")
    with state.lock:
        if request.method == "GET":
            item = state.variation(parent, variation_id)
        else:
            item = state.update(variation_id, await _body(request), parent)
        return _json(render_item(state, item))


def _batch(state: WooState, body: Mapping[str, Any], parent_id: int) -> dict[str, Any]:
    groups = {name: body.get(name) or [] for name in ("create", "update", "delete")}
    if any(not isinstance(items, list) for items in groups.values()):
        raise WooError("rest_invalid_param", "Invalid parameter(s): create, update, delete", 400)
    if sum(len(items) for items in groups.values()) > BATCH_LIMIT:
        raise WooError(
            "woocommerce_rest_request_entity_too_large",
            f"Unable to accept more than {BATCH_LIMIT} items for this request.",
            413,
        )
    invalid = (
        "woocommerce_rest_product_variation_invalid_id"
        if parent_id
        else "woocommerce_rest_product_invalid_id"
    )
    answer: dict[str, list[dict[str, Any]]] = {}
    with state.lock:
        if groups["create"]:
            answer["create"] = []
            for data in groups["create"]:
                try:
                    if not isinstance(data, dict):
                        raise WooError("rest_invalid_param", "Invalid item.", 400)
                    answer["create"].append(render_item(state, state.create(data, parent_id)))
                except WooError as error:
                    answer["create"].append({"id": 0, "error": error.body()})
        if groups["update"]:
            answer["update"] = []
            for data in groups["update"]:
                item_id = data.get("id") if isinstance(data, dict) else None
                try:
                    if not isinstance(item_id, int) or isinstance(item_id, bool):
                        raise WooError(invalid, "Invalid ID.", 400)
                    item = state.update(item_id, data, parent_id)
                    answer["update"].append(render_item(state, item))
                except WooError as error:
                    answer["update"].append({"id": item_id or 0, "error": error.body()})
        if groups["delete"]:
            answer["delete"] = []
            for item_id in groups["delete"]:
                try:
                    if not isinstance(item_id, int) or isinstance(item_id, bool):
                        raise WooError(invalid, "Invalid ID.", 400)
                    rendered = render_item(state, state.delete(item_id, parent_id))
                    answer["delete"].append(rendered)
                except WooError as error:
                    answer["delete"].append({"id": item_id, "error": error.body()})
    return answer


@api
async def batch_products(request: Request, state: WooState) -> Response:
    """``POST /products/batch``: ``{create, update, delete}``, at most 100 items in all."""
    return _json(_batch(state, await _body(request), 0))


@api
async def batch_variations(request: Request, state: WooState) -> Response:
    """``POST /products/{id}/variations/batch``: as for products, within one parent."""
    parent = _path_int(request, "id")
    state.product(parent)
    return _json(_batch(state, await _body(request), parent))


@api
async def list_orders(request: Request, state: WooState) -> Response:
    """``GET /orders``: ``status`` (comma-separated or ``any``), ``modified_after``, paged."""
    status = request.query_params.get("status", "any")
    statuses = None if status == "any" else status.split(",")
    rows = state.list_orders(statuses, _date_param(request, "modified_after"))
    if after := _date_param(request, "after"):
        rows = [o for o in rows if o.date_created > after]
    return _page(request, _sorted(request, rows, "date"), render_order)


@api
async def order(request: Request, state: WooState) -> Response:
    """``GET /orders/{id}``."""
    found = state.orders.get(_path_int(request, "id"))
    if found is None:
        raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
    return _json(render_order(found))


async def no_route(request: Request, backend: Backend) -> Response:
    """Anything else under the API prefix."""
    return error_response(WooError("rest_no_route", "No route was found matching the URL.", 404))


# -- control -------------------------------------------------------------------------------------


async def control(request: Request, backend: Backend) -> Response:
    """``/sandbox/<action>``: the test-facing control API (never counted nor faulted).

    Actions: ``health``, ``credentials``, ``state``, ``requests``, ``requests/reset``,
    ``faults`` (GET, or POST a partial settings dict), ``faults/reset``, ``faults/fail_next``,
    ``rate_limit`` (POST ``{requests_per_s, burst}``), ``sell`` (POST ``{id | sku, quantity,
    status?}``), ``stock`` (POST ``{id | sku, quantity}``), ``order_status`` (POST ``{id,
    status}``), ``item`` (POST ``{id | sku}``), ``reset`` (POST ``{products?, seed?}``),
    ``webhooks`` (GET, or POST ``{url, secret?, duplicate_rate?, redeliver_rate?,
    redeliver_after_s?}``).
    """
    action = request.path_params["action"].strip("/")
    faults, state = backend.faults, backend.state
    try:
        body = await _body(request) if request.method == "POST" else {}
        if action == "health":
            return _json({"ok": True})
        if action == "credentials":
            return _json(backend.credentials())
        if action == "state":
            return _json({**state.summary(), "faults": faults.snapshot()})
        if action == "requests":
            return _json({"count": faults.request_count, "throttled": faults.throttled_count})
        if action == "requests/reset":
            return _json({"count": faults.reset_request_count()})
        if action == "faults":
            if request.method == "POST":
                faults.configure(**body)
            return _json(faults.snapshot())
        if action == "faults/reset":
            faults.reset()
            return _json(faults.snapshot())
        if action == "faults/fail_next":
            faults.fail_next(int(body.get("count", 1)), body.get("status", 503))
            return _json(faults.snapshot())
        if action == "rate_limit":
            faults.set_rate_limit(body.get("requests_per_s"), body.get("burst"))
            return _json(faults.snapshot())
        if action in ("sell", "stock", "item"):
            item_id = _control_item(state, body)
            with state.lock:
                if action == "sell":
                    sold = state.sell(
                        item_id,
                        int(body.get("quantity", 1)),
                        body.get("status", "processing"),
                        body.get("meta_data"),
                    )
                    return _json(render_order(sold))
                if action == "stock":
                    state.set_stock(item_id, int(body["quantity"]))
                return _json(render_item(state, state.items[item_id]))
        if action == "order_status":
            with state.lock:
                return _json(render_order(state.set_order_status(int(body["id"]), body["status"])))
        if action == "webhooks":
            if request.method == "POST":
                return _json(backend.webhooks.configure(**body))
            return _json(backend.webhooks.snapshot())
        if action == "reset":
            backend.reset(body.get("products"), body.get("seed"))
            return _json(backend.state.summary())
        return _json({"error": f"unknown action {action!r}"}, 404)
    except WooError as error:
        return error_response(error)
    except (KeyError, TypeError, ValueError) as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)


def _control_item(state: WooState, body: Mapping[str, Any]) -> int:
    if "id" in body:
        if int(body["id"]) not in state.items:
            raise WooError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        return int(body["id"])
    found = state.find_sku(str(body.get("sku", "")))
    if found is None:
        raise WooError("woocommerce_rest_product_invalid_id", "Invalid SKU.", 404)
    return found.id
