"""Fault injection for the Amazon endpoints: latency, random 5xx, outages, scripted failures.

Faults apply to every path a client talks to (LWA, SP-API, document URLs), never to the
``/sandbox`` control endpoints, so a test can always switch them off again. Every API request
is counted, failed or throttled or not. (Quotas are not faults: see :mod:`.models`.)
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: the outage modes: answer 503, or drop the connection without an answer
OUTAGE_MODES = ("503", "close")
CLOSE = "close"


@dataclass(frozen=True)
class Decision:
    """What to do with one API request: wait ``latency`` then fail (status or close) or pass."""

    latency: float
    failure: int | str | None


class Faults:
    """Thread-safe fault settings and the API request counter."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._latency = 0.0
        self._error_rate = 0.0
        self._error_statuses: tuple[int, ...] = (500, 503)
        self._outage: str | None = None
        self._scripted: list[int | str] = []
        self._requests = 0

    # -- settings (also assignable: ``faults.latency = 0.5``, ``faults.outage = True``) --------

    @property
    def latency(self) -> float:
        """Seconds added before every API request is handled."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.set_latency(seconds)

    @property
    def error_rate(self) -> float:
        """Probability that an API request is answered with one of :attr:`error_statuses`."""
        return self._error_rate

    @error_rate.setter
    def error_rate(self, probability: float) -> None:
        self.set_error_rate(probability, self._error_statuses)

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """The statuses random errors draw from (default 500 and 503)."""
        return self._error_statuses

    @error_statuses.setter
    def error_statuses(self, statuses: tuple[int, ...] | list[int]) -> None:
        self.set_error_rate(self._error_rate, statuses)

    @property
    def outage(self) -> str | None:
        """``None``, ``"503"`` (every API request answered 503) or ``"close"`` (dropped)."""
        return self._outage

    @outage.setter
    def outage(self, mode: bool | str | None) -> None:
        self.set_outage(mode)

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by ``seconds``."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def set_error_rate(
        self, probability: float, statuses: tuple[int, ...] | list[int] = (500, 503)
    ) -> None:
        """Answer each API request with one of ``statuses`` with this probability."""
        with self._lock:
            self._error_rate = min(1.0, max(0.0, float(probability)))
            self._error_statuses = tuple(int(s) for s in statuses) or (500,)

    def set_outage(self, mode: bool | str | None = True) -> None:
        """Start an outage (``True``/``"503"``: every API request gets 503; ``"close"``: connections
        are dropped unanswered) or end it (``False``/``None``)."""
        with self._lock:
            if mode in (False, None, "", "off"):
                self._outage = None
            elif mode is True or str(mode) == "503":
                self._outage = "503"
            elif mode == CLOSE:
                self._outage = CLOSE
            else:
                raise ValueError(f"outage mode must be one of {OUTAGE_MODES}, not {mode!r}")

    def fail_next(self, count: int = 1, status: int | str = 503) -> None:
        """Fail the next ``count`` API requests with ``status`` (or ``"close"``)."""
        if status != CLOSE:
            status = int(status)
        with self._lock:
            self._scripted.extend([status] * int(count))

    def configure(self, **settings: Any) -> None:
        """Apply a partial settings dict (the JSON body of ``POST /sandbox/faults``)."""
        if "latency" in settings:
            self.set_latency(settings["latency"])
        if "error_rate" in settings or "error_statuses" in settings:
            self.set_error_rate(
                settings.get("error_rate", self.error_rate),
                settings.get("error_statuses", self.error_statuses),
            )
        if "outage" in settings:
            self.set_outage(settings["outage"])
        if "fail_next" in settings:
            spec = settings["fail_next"]
            if isinstance(spec, dict):
                self.fail_next(spec.get("count", 1), spec.get("status", 503))
            else:
                self.fail_next(int(spec))

    def reset(self) -> None:
        """No latency, no errors, no outage, nothing scripted (the counter is kept)."""
        with self._lock:
            self._latency = 0.0
            self._error_rate = 0.0
            self._error_statuses = (500, 503)
            self._outage = None
            self._scripted.clear()

    def snapshot(self) -> dict[str, Any]:
        """The current settings, as ``GET /sandbox/faults`` returns them."""
        with self._lock:
            return {
                "latency": self._latency,
                "error_rate": self._error_rate,
                "error_statuses": list(self._error_statuses),
                "outage": self._outage,
                "fail_next": list(self._scripted),
                "request_count": self._requests,
            }

    # -- counting and deciding ------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """API requests received since the last reset, failed ones included."""
        with self._lock:
            return self._requests

    def reset_request_count(self) -> int:
        """Zero the counter; returns the count it had."""
        with self._lock:
            previous, self._requests = self._requests, 0
            return previous

    def decide(self) -> Decision:
        """Count one API request and decide its fate."""
        with self._lock:
            self._requests += 1
            failure: int | str | None = None
            if self._outage is not None:
                failure = 503 if self._outage == "503" else CLOSE
            elif self._scripted:
                failure = self._scripted.pop(0)
            elif self._error_rate and self._rng.random() < self._error_rate:
                failure = self._rng.choice(self._error_statuses)
            return Decision(self._latency, failure)


class FaultInjectionMiddleware:
    """ASGI middleware applying :class:`Faults` to requests whose path is an API path."""

    def __init__(self, app: ASGIApp, faults: Faults, is_api: Callable[[str], bool]) -> None:
        self.app = app
        self.faults = faults
        self.is_api = is_api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count, delay and maybe fail an API request; pass everything else through."""
        if scope["type"] != "http" or not self.is_api(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        decision = self.faults.decide()
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.failure is None:
            await self.app(scope, receive, send)
        elif decision.failure == CLOSE:
            await _drop_connection(send)
        else:
            await _send_status(send, int(decision.failure))


async def _send_status(send: Send, status: int) -> None:
    """Answer with ``status`` and an SP-API error body (``{"errors": [{code, message}]}``)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    code = "ServiceUnavailable" if status == 503 else "InternalFailure"
    body = orjson.dumps({"errors": [{"code": code, "message": f"{status} {phrase}"}]})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection without a byte of response, as a crashed proxy would."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.abort()
        # let uvicorn see the disconnect before it considers answering with a 500
        for _ in range(3):
            await asyncio.sleep(0)
        return
    # not uvicorn's own send: promise a body and break off before sending it
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1024")],
        }
    )
    raise ConnectionAbortedError("sandbox outage: connection dropped")
