"""``POST /odoo/<token>``: Odoo's quant webhooks, taken as hints, answered in milliseconds.

Odoo signs nothing, so the secret is the URL itself: a token in its path, compared in
constant time. Then:

- a wrong or missing token is answered 401, and nothing is read or kept (logged without the
  token);
- a body over ``MAX_BODY`` bytes is 413 (a quant hint is a few hundred bytes);
- a body that is not JSON is 400; one that is not a quant hint (another model, no ``_id``) is
  422, naming what is wrong: Odoo logs the answer and never retries, and the change sensor
  sees the change anyway;
- a hint is queued for the coalescer and answered **202** ``{"accepted": <quant id>}`` at once:
  nothing is read from Odoo in the request. On 17 and 18 Odoo waits for this answer inside
  the transaction that saved the quant (up to its 1 s timeout), so reading the quant back here
  would only see the old row, and would hold Odoo's save up.

``POST /odoo/<token>/skus`` (``{"skus": [...], "trigger": "odoo_change_sensor"}``) is the
change sensor handing its critical SKUs over to a receiver that executes fast runs itself
(``push.runs_in: receiver``): 202 and they go into the next run at once; 503 from a receiver
that hands its runs to the webserver (the sensor then requests the runs itself).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from inventory_pipelines.stream.coalescer import HintCoalescer
from inventory_pipelines.stream.hints import HintError, parse_hint

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_SKUS_BODY = 4 * 1024 * 1024
PATH = "/odoo"


@dataclass
class PushStats:
    """Counters since start (for logs and tests)."""

    accepted: int = 0
    rejected_token: int = 0
    refused: int = 0  # not a quant hint (400, 413, 422)
    handed: int = 0  # SKUs the change sensor handed over


class HandedSkus(BaseModel):
    """The change sensor's critical SKUs, handed over to the receiver's next run."""

    model_config = ConfigDict(extra="forbid")

    skus: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20_000
    )
    trigger: str = Field(pattern=r"^[a-z][a-z_]{0,49}$")


def push_routes(
    token: str, coalescer: HintCoalescer, stats: PushStats | None = None
) -> list[BaseRoute]:
    """The routes of the push path, answering for `token` and feeding `coalescer`."""
    if not token:
        raise ValueError("the Odoo push needs a token")
    expected = token.encode()
    counters = stats if stats is not None else PushStats()

    async def hint(request: Request) -> JSONResponse:
        given = request.path_params.get("token", "").encode()
        if not hmac.compare_digest(given, expected):
            counters.rejected_token += 1
            log.warning("odoo push refused: bad or missing token")
            return JSONResponse({"error": "unknown token"}, 401)
        body = await _read_at_most(request, MAX_BODY)
        if body is None:
            counters.refused += 1
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, 413)
        try:
            parsed = parse_hint(body)
        except HintError as exc:
            counters.refused += 1
            log.warning("odoo push refused (%s): %s", exc.status, exc)
            return JSONResponse({"error": str(exc)}, exc.status)
        coalescer.offer(parsed)
        counters.accepted += 1
        return JSONResponse({"accepted": parsed.quant_id}, 202)

    async def handed(request: Request) -> JSONResponse:
        given = request.path_params.get("token", "").encode()
        if not hmac.compare_digest(given, expected):
            counters.rejected_token += 1
            log.warning("odoo push refused SKUs handed over: bad or missing token")
            return JSONResponse({"error": "unknown token"}, 401)
        if not coalescer.takes_skus:
            return JSONResponse({"error": "this receiver hands its runs to the webserver"}, 503)
        body = await _read_at_most(request, MAX_SKUS_BODY)
        if body is None:
            counters.refused += 1
            return JSONResponse({"error": f"body larger than {MAX_SKUS_BODY} bytes"}, 413)
        try:
            given_skus = HandedSkus.model_validate_json(body)
        except ValidationError as exc:
            counters.refused += 1
            where = "; ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors()[:3])
            return JSONResponse({"error": f"not a list of SKUs with a trigger: {where}"}, 422)
        coalescer.offer_skus(given_skus.skus, given_skus.trigger)
        counters.handed += len(given_skus.skus)
        return JSONResponse({"accepted": len(given_skus.skus)}, 202)

    return [
        Route(f"{PATH}/{{token}}/skus", handed, methods=["POST"]),
        Route(PATH, hint, methods=["POST"]),
        Route(f"{PATH}/", hint, methods=["POST"]),
        Route(f"{PATH}/{{token}}", hint, methods=["POST"]),
    ]


async def _read_at_most(request: Request, limit: int) -> bytes | None:
    """The body as it streams in, or None once it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
