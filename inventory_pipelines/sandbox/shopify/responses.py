"""The wire protocol of the emulated Admin API: GraphQL over HTTP, and the control API.

``POST /admin/api/{version}/graphql.json``:

- ``X-Shopify-Access-Token`` missing or wrong: 401 ``{"errors": "[API] Invalid API key or
  access token (unrecognized login or wrong password)"}``.
- The body is ``{"query", "variables", "operationName"}`` (``application/json``) or the bare
  query (``application/graphql``). Syntax and validation errors: 200 with ``errors`` only.
- Cost: the requested cost is computed before execution (see :mod:`.cost`); above 1000 the
  query is refused (``MAX_COST_EXCEEDED``); when the bucket lacks it the answer is 200
  ``{"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
  "extensions": {"cost": ...}}`` and nothing runs (status 200 as Shopify's GraphQL docs show
  it, or 429 with ``Retry-After`` when ``ShopState.throttled_status_code`` says so).
  Otherwise the query runs under the state lock, the unused points are refunded, and
  ``extensions.cost`` reports ``requestedQueryCost``, ``actualQueryCost`` and
  ``throttleStatus``.

``/sandbox/...``: JSON control endpoints for tests (state, faults, counters, sell, throttle,
reset), never faulted nor counted.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import orjson
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationType,
    execute,
    parse,
    validate,
)
from graphql.utilities import get_operation_ast
from starlette.requests import Request
from starlette.responses import Response

from ..webhooks import WebhookSender
from .cost import MAX_QUERY_COST, query_cost
from .faults import Faults
from .models import ShopState, gid
from .resolvers import Context, Root
from .schema import schema_for

JSON = "application/json; charset=utf-8"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class Backend(Protocol):
    """What the handlers need from the server object."""

    @property
    def state(self) -> ShopState: ...

    @property
    def faults(self) -> Faults: ...

    def credentials(self) -> dict[str, Any]: ...

    def reset(self, skus: int | None = None, seed: int | None = None) -> None: ...

    @property
    def webhooks(self) -> WebhookSender: ...


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON, headers=headers)


def _valid_version(version: str) -> bool:
    if version == "unstable":
        return True
    parts = version.split("-")
    return len(parts) == 2 and all(p.isdigit() for p in parts) and len(parts[0]) == 4


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extra}}


def _cost_extension(
    state: ShopState, requested: int, actual: int | None
) -> dict[str, dict[str, Any]]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": state.bucket.status(),
        }
    }


async def graphql_endpoint(request: Request, backend: Backend) -> Response:
    """``POST /admin/api/{version}/graphql.json``: authenticate, cost, run, render."""
    version = request.path_params["version"]
    state = backend.state
    headers = {"X-Request-Id": str(uuid.uuid4())}
    if request.headers.get("x-shopify-access-token") != state.access_token:
        return _json({"errors": INVALID_TOKEN}, 401, headers)
    if not _valid_version(version):
        return _json({"errors": "Not Found"}, 404, headers)
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/graphql"):
        body: dict[str, Any] = {"query": raw.decode()}
    else:
        try:
            loaded = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            return _json({"errors": [_error("Invalid JSON body", "BAD_REQUEST")]}, 400, headers)
        body = loaded if isinstance(loaded, dict) else {}
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        return _json(
            {"errors": [_error("No query string was present", "BAD_REQUEST")]}, 200, headers
        )
    variables = body.get("variables") or {}
    operation_name = body.get("operationName")
    answer = run_query(state, version, query, variables, operation_name)
    status = 200
    if _is_throttled(answer):
        status = state.throttled_status_code
        if status == 429:
            status_info = answer["extensions"]["cost"]
            missing = (
                status_info["requestedQueryCost"]
                - status_info["throttleStatus"]["currentlyAvailable"]
            )
            restore = status_info["throttleStatus"]["restoreRate"] or 1.0
            headers["Retry-After"] = f"{max(0.0, missing) / restore:.2f}"
    return _json(answer, status, headers)


def _is_throttled(answer: dict[str, Any]) -> bool:
    return any(
        (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in answer.get("errors") or []
    )


def run_query(
    state: ShopState,
    version: str,
    query: str,
    variables: dict[str, Any],
    operation_name: str | None,
) -> dict[str, Any]:
    """Parse, validate, charge the bucket, execute and render one GraphQL request."""
    schema = schema_for(version)
    try:
        document = parse(query)
    except GraphQLError as error:
        return {"errors": [error.formatted]}
    problems = validate(schema, document)
    if problems:
        return {"errors": [p.formatted for p in problems]}
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return {"errors": [_error("An operation name is required", "BAD_REQUEST")]}
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    try:
        requested = query_cost(schema, operation, fragments, variables)
    except (GraphQLError, TypeError, ValueError) as error:
        return {"errors": [_error(str(error), "BAD_REQUEST")]}
    with state.lock:
        if requested > MAX_QUERY_COST:
            return {
                "errors": [
                    _error(
                        f"Query cost is {requested}, which exceeds the single query max cost "
                        f"limit ({MAX_QUERY_COST}).",
                        "MAX_COST_EXCEEDED",
                        cost=requested,
                        maxCost=MAX_QUERY_COST,
                    )
                ],
                "extensions": _cost_extension(state, requested, None),
            }
        if not state.bucket.try_consume(requested):
            state.throttled_count += 1
            return {
                "errors": [_error("Throttled", "THROTTLED")],
                "extensions": _cost_extension(state, requested, None),
            }
        context = Context(state, version)
        result = execute(
            schema,
            document,
            root_value=Root(context),
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        assert not hasattr(result, "__await__"), "resolvers are synchronous"
        data = result.data  # type: ignore[union-attr]
        errors = result.errors  # type: ignore[union-attr]
        actual = requested
        if data is None:  # the request never ran (invalid variables): nothing is charged
            actual = 0
        elif operation.operation != OperationType.MUTATION:
            actual = query_cost(schema, operation, fragments, variables, data)
        state.bucket.refund(requested - actual)
        answer: dict[str, Any] = {}
        if errors:
            answer["errors"] = [_format_error(e) for e in errors]
        if data is not None:
            answer["data"] = data
        answer["extensions"] = _cost_extension(state, requested, actual)
        return answer


def _format_error(error: GraphQLError) -> dict[str, Any]:
    formatted = dict(error.formatted)
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        # an emulator bug must not look like a Shopify answer: keep the type for debugging
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
        formatted["message"] = f"{type(error.original_error).__name__}: {error.original_error}"
    return formatted


async def control(request: Request, backend: Backend) -> Response:
    """``/sandbox/<action>``: the test-facing control API (never faulted nor counted)."""
    action = request.path_params["action"].strip("/")
    body: dict[str, Any] = {}
    if request.method == "POST":
        raw = await request.body()
        body = orjson.loads(raw) if raw else {}
    faults = backend.faults
    state = backend.state
    try:
        if action == "health":
            return _json({"ok": True})
        if action == "credentials":
            return _json(backend.credentials())
        if action == "state":
            return _json({**state.summary(), "faults": faults.snapshot()})
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
        if action == "faults/fail_next":
            faults.fail_next(int(body.get("count", 1)), body.get("status", 503))
            return _json(faults.snapshot())
        if action == "throttle":
            if request.method == "POST":
                with state.lock:
                    state.bucket.configure(
                        body.get("maximum_available"),
                        body.get("restore_rate"),
                        body.get("currently_available"),
                    )
                    if "status_code" in body:
                        state.throttled_status_code = int(body["status_code"])
            return _json(state.bucket.status())
        if action == "webhooks":
            if request.method == "POST":
                return _json(backend.webhooks.configure(**body))
            return _json(backend.webhooks.snapshot())
        if action == "sell":
            location = body.get("location_id")
            order = state.sell(
                body.get("inventory_item_id") or body["sku"],
                int(body.get("quantity", 1)),
                int(str(location).rsplit("/", 1)[-1]) if location else None,
            )
            return _json({"order_id": gid("Order", order.id), "name": order.name})
        if action == "quantity":
            params = request.query_params
            return _json(
                {
                    "quantity": state.quantity(
                        params.get("inventory_item_id") or params["sku"],
                        params.get("name", "available"),
                    )
                }
            )
        if action == "reset":
            backend.reset(body.get("skus"), body.get("seed"))
            return _json(backend.state.summary())
    except (KeyError, ValueError) as error:
        return _json({"error": str(error)}, 400)
    return _json({"error": f"unknown action {action!r}"}, 404)


__all__ = ["Backend", "control", "graphql_endpoint", "run_query"]
