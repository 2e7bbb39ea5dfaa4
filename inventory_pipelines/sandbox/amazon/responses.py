"""The wire protocol of the emulated Amazon: LWA, SP-API Listings, Feeds, Orders, documents.

Each handler parses a request, calls the state (:mod:`.models`) and renders its answer or its
error as Amazon does:

- ``POST /auth/o2/token`` (Login with Amazon): form-encoded refresh-token grant; errors are
  ``{"error", "error_description"}`` with 400 or 401.
- SP-API operations need ``x-amz-access-token`` (403 ``Unauthorized`` otherwise), spend the
  operation's quota (429 ``QuotaExceeded`` when empty) and answer with
  ``x-amzn-RateLimit-Limit`` and ``x-amzn-RequestId``; errors are
  ``{"errors": [{code, message, details}]}``.
- ``PUT``/``GET /documents/{id}``: the pre-signed upload and download URLs (as S3 would
  serve them: no access token, no quota).
- ``/sandbox/...``: JSON control endpoints for tests (never faulted, never counted):
  ``GET health|credentials|state|quantities|requests|faults|quotas``; ``POST requests/reset``,
  ``faults`` (partial settings), ``faults/reset``, ``sell {sku, quantity, status}``,
  ``cancel {order_id}``, ``quantity {sku, quantity}``, ``feeds/advance {feed_id?, to?}``,
  ``clock {advance_seconds}``, ``tokens/expire``, ``reset {skus?, seed?}``, and
  ``quotas {rate_scale?, enabled?}`` (GET shows the quotas in effect).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .faults import Faults
from .models import AmazonState, LwaError, SpApiError

JSON = "application/json"
DEFAULT_INCLUDED = ("summaries",)


class Backend(Protocol):
    """What the handlers need from the running sandbox."""

    @property
    def state(self) -> AmazonState:
        """The current state (replaced by a reset)."""
        ...

    @property
    def faults(self) -> Faults:
        """The fault settings and request counter."""
        ...

    def credentials(self) -> dict[str, Any]:
        """Endpoint, token URL, seller, marketplace and the LWA credentials."""
        ...

    def reset(self, skus: int | None = None, seed: int | None = None) -> None:
        """Regenerate the demo data."""
        ...


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


def _error(exc: SpApiError) -> Response:
    return _json(exc.body(), exc.status, {"x-amzn-RequestId": str(uuid.uuid4())})


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SpApiError(400, "InvalidInput", "The request body is not valid JSON.") from exc


def _list_param(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for value in request.query_params.getlist(name):
        values.extend(v for v in value.split(",") if v)
    return values


async def _operation(
    request: Request,
    backend: Backend,
    operation: str,
    handler: Callable[[AmazonState], Any],
    status: int = 200,
) -> Response:
    """Authenticate, spend the operation's quota, run ``handler`` and render its answer."""
    state = backend.state
    try:
        state.check_access_token(request.headers.get("x-amz-access-token"))
        state.quotas.take(operation)
        result = handler(state)
    except SpApiError as exc:
        return _error(exc)
    except (ValueError, TypeError, KeyError) as exc:
        return _error(SpApiError(400, "InvalidInput", f"Invalid request: {exc}"))
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    limit = state.quotas.limit(operation)
    if limit is not None:
        headers["x-amzn-RateLimit-Limit"] = f"{limit:g}"
    if result is None:
        return Response(status_code=status, headers=headers)
    return _json(result, status, headers)


# -- Login with Amazon ------------------------------------------------------------------------


async def token(request: Request, backend: Backend) -> Response:
    """``POST /auth/o2/token``: exchange the refresh token for an access token.

    The form is parsed by hand (LWA also takes a JSON body): the sandbox needs no multipart.
    """
    raw = await request.body()
    fields: dict[str, str]
    if request.headers.get("content-type", "").startswith(JSON):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        fields = {k: str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
    else:
        fields = {k: v[-1] for k, v in parse_qs(raw.decode("latin-1")).items()}
    try:
        return _json(backend.state.issue_token(fields))
    except LwaError as exc:
        return _json(exc.body(), exc.status)


# -- Listings -----------------------------------------------------------------------------------


async def listings_item(request: Request, backend: Backend) -> Response:
    """``GET`` (getListingsItem) and ``PATCH`` (patchListingsItem) of one SKU."""
    seller_id = request.path_params["seller_id"]
    sku = request.path_params["sku"]
    marketplace_ids = _list_param(request, "marketplaceIds")
    if request.method == "PATCH":
        try:
            body = await _body(request)
        except SpApiError as exc:
            return _error(exc)
        return await _operation(
            request,
            backend,
            "patchListingsItem",
            lambda s: s.patch_listing(seller_id, sku, marketplace_ids, body),
        )
    included = _list_param(request, "includedData") or list(DEFAULT_INCLUDED)
    return await _operation(
        request,
        backend,
        "getListingsItem",
        lambda s: s.get_listing(seller_id, sku, marketplace_ids, included),
    )


async def search_listings(request: Request, backend: Backend) -> Response:
    """``GET /listings/2021-08-01/items/{sellerId}``: searchListingsItems, paged."""
    seller_id = request.path_params["seller_id"]
    marketplace_ids = _list_param(request, "marketplaceIds")
    included = _list_param(request, "includedData") or list(DEFAULT_INCLUDED)
    try:
        page_size = int(request.query_params.get("pageSize", "10"))
    except ValueError:
        return _error(SpApiError(400, "InvalidInput", "'pageSize' must be an integer."))
    page_token = request.query_params.get("pageToken")
    return await _operation(
        request,
        backend,
        "searchListingsItems",
        lambda s: s.search_listings(seller_id, marketplace_ids, included, page_size, page_token),
    )


# -- Feeds --------------------------------------------------------------------------------------


def _document_url(request: Request, doc_id: str) -> str:
    base = str(request.base_url).rstrip("/")
    return f"{base}/documents/{doc_id}?X-Amz-Signature={uuid.uuid4().hex}"


async def create_feed_document(request: Request, backend: Backend) -> Response:
    """``POST /feeds/2021-06-30/documents``: a document id and its upload URL."""
    try:
        body = await _body(request)
    except SpApiError as exc:
        return _error(exc)

    def create(state: AmazonState) -> dict[str, Any]:
        doc_id = state.create_document(body)
        return {"feedDocumentId": doc_id, "url": _document_url(request, doc_id)}

    return await _operation(request, backend, "createFeedDocument", create, 201)


async def get_feed_document(request: Request, backend: Backend) -> Response:
    """``GET /feeds/2021-06-30/documents/{id}``: the document's download URL."""
    doc_id = request.path_params["document_id"]

    def get(state: AmazonState) -> dict[str, Any]:
        state.document(doc_id)
        return {"feedDocumentId": doc_id, "url": _document_url(request, doc_id)}

    return await _operation(request, backend, "getFeedDocument", get)


async def create_feed(request: Request, backend: Backend) -> Response:
    """``POST /feeds/2021-06-30/feeds``: queue a feed (202 ``{feedId}``)."""
    try:
        body = await _body(request)
    except SpApiError as exc:
        return _error(exc)
    return await _operation(
        request, backend, "createFeed", lambda s: {"feedId": s.create_feed(body)}, 202
    )


async def feed(request: Request, backend: Backend) -> Response:
    """``GET`` (getFeed) and ``DELETE`` (cancelFeed) of one feed."""
    feed_id = request.path_params["feed_id"]
    if request.method == "DELETE":
        return await _operation(
            request, backend, "cancelFeed", lambda s: s.cancel_feed(feed_id), 200
        )
    return await _operation(request, backend, "getFeed", lambda s: s.get_feed(feed_id))


async def document(request: Request, backend: Backend) -> Response:
    """``PUT`` (upload) and ``GET`` (download) at a document's pre-signed URL."""
    doc_id = request.path_params["document_id"]
    state = backend.state
    try:
        if request.method == "PUT":
            state.upload_document(doc_id, await request.body())
            return Response(status_code=200)
        stored = state.document(doc_id)
    except SpApiError as exc:
        return _error(exc)
    if stored.content is None:
        return _error(SpApiError(404, "NoSuchKey", "The specified key does not exist."))
    return Response(stored.content, media_type=stored.content_type)


# -- Orders -------------------------------------------------------------------------------------


async def orders(request: Request, backend: Backend) -> Response:
    """``GET /orders/v0/orders``: getOrders with ``NextToken`` paging."""
    params = dict(request.query_params)
    return await _operation(request, backend, "getOrders", lambda s: s.get_orders(params))


async def order_items(request: Request, backend: Backend) -> Response:
    """``GET /orders/v0/orders/{orderId}/orderItems``: getOrderItems."""
    order_id = request.path_params["order_id"]
    return await _operation(
        request, backend, "getOrderItems", lambda s: s.get_order_items(order_id)
    )


# -- control API --------------------------------------------------------------------------------


async def control(request: Request, backend: Backend) -> Response:
    """``/sandbox/<action>``: the test-facing control API (never faulted, never counted)."""
    action = request.path_params["action"].strip("/")
    try:
        body = (await _body(request)) if request.method == "POST" else {}
        faults = backend.faults
        state = backend.state
        if action == "health":
            return _json({"ok": True})
        if action == "credentials":
            return _json(backend.credentials())
        if action == "state":
            summary = state.summary()
            summary.update(faults=faults.snapshot(), request_count=faults.request_count)
            return _json(summary)
        if action == "quantities":
            return _json(state.quantities())
        if action == "requests":
            return _json({"count": faults.request_count})
        if action == "requests/reset":
            return _json({"count": faults.reset_request_count()})
        if action == "faults":
            if request.method == "POST":
                faults.configure(**body)
            return _json(faults.snapshot())
        if action == "faults/reset":
            faults.reset()
            return _json(faults.snapshot())
        if action == "quotas":
            if request.method == "POST":
                state.quotas.configure(body.get("rate_scale"), body.get("enabled"))
            return _json(state.quotas.snapshot())
        if action == "sell":
            quantity = int(body.get("quantity", 1))
            return _json(state.sell(body["sku"], quantity, body.get("status", "Unshipped")))
        if action == "cancel":
            return _json(state.cancel_order(body["order_id"]))
        if action == "quantity":
            state.set_quantity(body["sku"], body.get("quantity"))
            return _json({"sku": body["sku"], "quantity": body.get("quantity")})
        if action == "feeds/advance":
            return _json(state.advance_feeds(body.get("feed_id"), body.get("to", "DONE")))
        if action == "clock":
            return _json({"now": state.advance(float(body.get("advance_seconds", 0.0)))})
        if action == "tokens/expire":
            return _json({"expired": state.expire_tokens()})
        if action == "reset":
            backend.reset(body.get("skus"), body.get("seed"))
            return _json(backend.state.summary())
        return _json({"error": f"unknown action {action!r}"}, 404)
    except Exception as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
