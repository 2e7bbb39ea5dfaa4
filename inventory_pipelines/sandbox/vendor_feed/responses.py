"""The vendor feed protocol: a file over HTTP with ETag and Last-Modified; state in models.

``GET /feeds/<name>.csv`` and ``GET /feeds/<name>.json`` answer the feed's file with
``ETag`` (a digest of the bytes), ``Last-Modified`` (when its rows last changed) and
``Content-Type`` with the charset it is written in. A request whose ``If-None-Match`` names
the current ETag, or (without ``If-None-Match``) whose ``If-Modified-Since`` is not older than
``Last-Modified``, is answered ``304 Not Modified`` with no body (RFC 9110 13.1). A feed with
a token wants ``Authorization: Bearer <token>`` (401 otherwise). ``HEAD`` answers the headers.

Control (never faulted): ``GET /sandbox/state``; ``POST /sandbox/feeds/<name>`` with
``{"rows": [[code, quantity], ...]?, "dirt": {...}?, "token": str?, "validators": "both" |
"etag" | "last_modified" | "none"?}`` creates or changes a feed (validators: the headers the
file is served with); ``POST /sandbox/feeds/<name>/touch`` makes a new version with the same rows;
``POST /sandbox/faults`` sets the shared faults (latency, error_rate, outage...).
"""

from __future__ import annotations

import hmac
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response

from inventory_pipelines.sandbox.faults import Faults

from .models import FeedError, VendorFeedState, dirt_from, rows_from

JSON = "application/json"


class Backend(Protocol):
    """What the handlers need from the running emulator."""

    @property
    def state(self) -> VendorFeedState:
        """The feeds."""
        ...

    @property
    def faults(self) -> Faults:
        """The fault settings and the request counter."""
        ...

    def served(self, status: int) -> None:
        """Count an answer by status (200, 304...)."""
        ...

    def served_counts(self) -> dict[int, int]:
        """Answers so far, by status."""
        ...


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def _error(exc: FeedError) -> Response:
    return _json({"error": str(exc)}, exc.status)


def _not_modified(request: Request, etag: str | None, last_modified: Any) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None and etag is not None:
        tags = [t.strip() for t in match.split(",")]
        return "*" in tags or etag in tags or f"W/{etag}" in tags
    since = request.headers.get("if-modified-since")
    if since is None or last_modified is None:
        return False
    try:
        return last_modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


async def feed_file(request: Request, backend: Backend) -> Response:
    """``GET /feeds/<name>.<format>``: the file, or 304 when the client has it already."""
    filename = request.path_params["filename"]
    name, _, format = filename.rpartition(".")
    try:
        feed = backend.state.get(name)
        if feed.token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {feed.token}".encode()):
                backend.served(401)
                return _json({"error": "unauthorized"}, 401)
        rendered = backend.state.render(name, format)
    except FeedError as exc:
        backend.served(exc.status)
        return _error(exc)
    headers = {"Cache-Control": "no-cache"}
    sent = backend.state.get(name).validators
    if sent in ("both", "etag"):
        headers["ETag"] = rendered.etag
    if sent in ("both", "last_modified"):
        headers["Last-Modified"] = format_datetime(rendered.last_modified, usegmt=True)
    if sent != "none" and _not_modified(
        request,
        rendered.etag if "ETag" in headers else None,
        rendered.last_modified if "Last-Modified" in headers else None,
    ):
        backend.served(304)
        return Response(status_code=304, headers=headers)
    backend.served(200)
    body = b"" if request.method == "HEAD" else rendered.body
    return Response(body, status_code=200, headers=headers, media_type=rendered.content_type)


async def control(request: Request, backend: Backend) -> Response:
    """The ``/sandbox`` endpoints (module docstring)."""
    action = request.path_params["action"].strip("/")
    try:
        if request.method == "GET" and action == "state":
            served = {str(status): n for status, n in backend.served_counts().items()}
            return _json({"feeds": backend.state.summary(), "served": served})
        data = orjson.loads(await request.body() or b"{}")
        if action == "faults":
            backend.faults.configure(**data)
            return _json(backend.faults.snapshot())
        parts = action.split("/")
        if len(parts) == 3 and parts[0] == "feeds" and parts[2] == "touch":
            feed = backend.state.touch(parts[1])
            return _json({"name": feed.name, "version": feed.version})
        if len(parts) == 2 and parts[0] == "feeds":
            name = parts[1]
            if name not in backend.state.names():
                rows = rows_from(data["rows"]) if "rows" in data else None
                backend.state.add_feed(name, rows, token=data.get("token"))
            elif "rows" in data:
                backend.state.set_rows(name, rows_from(data["rows"]))
            if "dirt" in data:
                backend.state.set_dirt(name, dirt_from(data["dirt"] or {}))
            if "validators" in data:
                backend.state.set_validators(name, str(data["validators"]))
            feed = backend.state.get(name)
            return _json({"name": feed.name, "version": feed.version})
    except FeedError as exc:
        return _error(exc)
    except (orjson.JSONDecodeError, TypeError) as exc:
        return _json({"error": f"bad control request: {exc}"}, 400)
    return _json({"error": f"no control action {action!r}"}, 404)


async def no_route(request: Request, backend: Backend) -> Response:
    """Anything else: 404."""
    return _json({"error": f"no route {request.url.path}"}, 404)
