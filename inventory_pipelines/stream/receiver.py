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
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from inventory_pipelines.stream.coalescer import HintCoalescer
from inventory_pipelines.stream.hints import HintError, parse_hint

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
PATH = "/odoo"


@dataclass
class PushStats:
    """Counters since start (for logs and tests)."""

    accepted: int = 0
    rejected_token: int = 0
    refused: int = 0  # not a quant hint (400, 413, 422)


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

    return [
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
