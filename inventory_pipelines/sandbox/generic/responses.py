"""The generic signed HTTP channel protocol (a POS system or B2B portal); state in models.

Every API request carries::

    X-Timestamp: <unix seconds>          refused when more than 300 s from the server's clock
    X-Signature: sha256=<hex HMAC-SHA256 of the raw request body, key = the shared secret>

(a GET signs the empty body). Endpoints:

``GET /listings?page=1&per_page=100`` (``per_page`` at most 1000) answers
``{"items": [{"listing_id", "sku", "barcode", "quantity"}], "next_page": 2 | null}``.

``POST /stock`` with ``Idempotency-Key: <batch_id>`` and the JSON body ``{"batch_id",
"updates": [{"listing_id", "quantity", "expected"?}]}`` answers ``{"batch_id", "replayed",
"results": [{"listing_id", "status": "ok" | "stale" | "unknown" | "invalid", "quantity"}]}``.
With ``expected`` the write is a compare-and-set: ``stale`` carries the actual quantity. A
replay of a batch returns its first answer (``replayed: true``, header
``Idempotent-Replayed: true``); a different body under the same key is 409
``idempotency_key_mismatch``.

Errors are ``{"error": code, "message"}``: 401 ``bad_signature`` / ``stale_timestamp``,
400 ``invalid_request``, 409, 413 ``batch_too_large`` (above the configured maximum), 429
``rate_limited`` with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inventory_pipelines.sandbox.woocommerce.faults import Faults

from .models import GenericError, GenericState

JSON = "application/json"
MAX_SKEW_S = 300
MAX_PER_PAGE = 1000


class Backend(Protocol):
    """What the handlers need from the running sandbox."""

    @property
    def state(self) -> GenericState:
        """The current state (replaced by a reset)."""
        ...

    @property
    def faults(self) -> Faults:
        """The fault settings, rate limit and request counter."""
        ...

    def credentials(self) -> dict[str, Any]:
        """URL and shared secret."""
        ...

    def reset(self, listings: int | None = None, seed: int | None = None) -> None:
        """Regenerate the listings."""
        ...


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


def throttle_body(retry_after: int) -> bytes:
    """The body of a 429."""
    return orjson.dumps({"error": "rate_limited", "message": f"retry after {retry_after} s"})


def sign(secret: str, body: bytes) -> str:
    """The ``X-Signature`` value for a body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(request: Request, body: bytes, secret: str, now: float | None = None) -> None:
    """Check the timestamp skew and the signature (constant-time); raise a 401."""
    try:
        stamp = float(request.headers.get("x-timestamp", ""))
    except ValueError as exc:
        raise GenericError("stale_timestamp", "missing or invalid X-Timestamp", 401) from exc
    if abs((time.time() if now is None else now) - stamp) > MAX_SKEW_S:
        raise GenericError("stale_timestamp", "X-Timestamp is more than 300 s off", 401)
    given = request.headers.get("x-signature", "")
    if not hmac.compare_digest(given.encode(), sign(secret, body).encode()):
        raise GenericError("bad_signature", "the signature does not match the body", 401)


def api(
    handler: Callable[[Request, bytes, GenericState], Any],
) -> Callable[[Request, Backend], Any]:
    """Wrap a handler: verify the signature, then map ``GenericError`` to its answer."""

    async def endpoint(request: Request, backend: Backend) -> Response:
        state = backend.state
        body = await request.body()
        try:
            verify(request, body, state.secret)
            return await handler(request, body, state)
        except GenericError as error:
            return _json(error.body(), error.status)

    endpoint.__doc__ = handler.__doc__
    return endpoint


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError as exc:
        raise GenericError("invalid_request", f"{name} must be an integer") from exc
    if not 1 <= value <= high:
        raise GenericError("invalid_request", f"{name} must be between 1 and {high}")
    return value


@api
async def listings(request: Request, body: bytes, state: GenericState) -> Response:
    """``GET /listings``: one page of listings and the next page number."""
    page = _int_param(request, "page", 1, 10**9)
    per_page = _int_param(request, "per_page", 100, MAX_PER_PAGE)
    rows, next_page = state.page(page, per_page)
    items = [
        {"listing_id": r.listing_id, "sku": r.sku, "barcode": r.barcode, "quantity": r.quantity}
        for r in rows
    ]
    return _json({"items": items, "next_page": next_page})


@api
async def stock(request: Request, body: bytes, state: GenericState) -> Response:
    """``POST /stock``: apply a batch of quantities once (idempotent on ``batch_id``)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GenericError("invalid_request", "the body is not JSON") from exc
    if not isinstance(payload, dict):
        raise GenericError("invalid_request", "the body must be an object")
    batch_id, updates = payload.get("batch_id"), payload.get("updates")
    if not isinstance(batch_id, str) or not batch_id:
        raise GenericError("invalid_request", "batch_id must be a non-empty string")
    if request.headers.get("idempotency-key") != batch_id:
        raise GenericError("invalid_request", "Idempotency-Key must equal batch_id")
    if not isinstance(updates, list) or not all(isinstance(u, dict) for u in updates):
        raise GenericError("invalid_request", "updates must be a list of objects")
    answer = state.apply_batch(batch_id, updates)
    headers = {"Idempotent-Replayed": "true"} if answer["replayed"] else None
    return _json(answer, headers=headers)


async def no_route(request: Request, backend: Backend) -> Response:
    """Anything else."""
    return _json({"error": "not_found", "message": "no such endpoint"}, 404)


async def control(request: Request, backend: Backend) -> Response:
    """``/sandbox/<action>``: the test-facing control API (never counted nor faulted).

    Actions: ``health``, ``credentials``, ``state``, ``requests``, ``requests/reset``,
    ``faults`` (GET, or POST a partial settings dict), ``faults/reset``, ``rate_limit``
    (POST ``{requests_per_s, burst}``), ``max_batch`` (POST ``{max_batch}``), ``sell`` (POST
    ``{listing_id | sku, quantity}``), ``stock`` (POST ``{listing_id | sku, quantity}``),
    ``listing`` (POST ``{listing_id | sku}``), ``reset`` (POST ``{listings?, seed?}``).
    """
    action = request.path_params["action"].strip("/")
    faults, state = backend.faults, backend.state
    try:
        raw = await request.body() if request.method == "POST" else b""
        body = orjson.loads(raw) if raw else {}
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
        if action == "rate_limit":
            faults.set_rate_limit(body.get("requests_per_s"), body.get("burst"))
            return _json(faults.snapshot())
        if action == "max_batch":
            state.max_batch = int(body["max_batch"])
            return _json(state.summary())
        if action in ("sell", "stock", "listing"):
            listing_id = body.get("listing_id")
            if listing_id is None:
                found = state.find_sku(str(body.get("sku")))
                if found is None:
                    raise KeyError(body.get("sku"))
                listing_id = found.listing_id
            if action == "sell":
                listing = state.sell(listing_id, int(body.get("quantity", 1)))
            elif action == "stock":
                listing = state.set_quantity(listing_id, int(body["quantity"]))
            else:
                listing = state.listings[listing_id]
            return _json(
                {
                    "listing_id": listing.listing_id,
                    "sku": listing.sku,
                    "barcode": listing.barcode,
                    "quantity": listing.quantity,
                }
            )
        if action == "reset":
            backend.reset(body.get("listings"), body.get("seed"))
            return _json(backend.state.summary())
        return _json({"error": f"unknown action {action!r}"}, 404)
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
