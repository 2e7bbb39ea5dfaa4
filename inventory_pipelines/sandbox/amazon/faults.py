"""Fault injection for the Amazon endpoints: the shared :mod:`inventory_pipelines.sandbox.faults`.

Faults apply to every path a client talks to (LWA, SP-API, document URLs), never to the
``/sandbox`` control endpoints. Injected statuses carry SP-API error bodies. (Quotas are not
faults: see :mod:`.models`.)
"""

from __future__ import annotations

from http import HTTPStatus

import orjson

from ..faults import CONNECTION_CLOSE, FaultInjectionMiddleware, Faults, Headers

__all__ = ["FaultInjectionMiddleware", "Faults", "error_body"]


def error_body(status: int) -> tuple[bytes, bytes, Headers]:
    """An SP-API error body (``{"errors": [{code, message}]}``) for an injected ``status``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = "ServiceUnavailable" if status == 503 else "InternalFailure"
    body = orjson.dumps({"errors": [{"code": code, "message": f"{status} {phrase}"}]})
    return body, b"application/json", [CONNECTION_CLOSE]
