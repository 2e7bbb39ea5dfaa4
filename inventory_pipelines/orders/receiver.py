"""The webhook receiver: Shopify and WooCommerce order webhooks into the ledger's inbox.

``POST /webhooks/<channel>`` for each configured channel:

1. the body is read as it streams in, and no further than ``MAX_BODY`` bytes (else 413, before
   the signature is even looked at);
2. WooCommerce's unsigned ``webhook_id=<n>`` ping when a webhook is saved is answered 200
   and stores nothing (the store refuses a webhook whose ping fails);
3. the signature is checked against the channel's webhook secret, in constant time: a bad
   or missing one is answered 401 and nothing is stored or parsed. A secret kept in a file
   (`WEBHOOK_SECRET_FILE`, a mounted Kubernetes or Docker secret) is read again whenever the
   file changes, so it rotates without a restart; the file may hold the new and the old
   secret on two lines while the channel moves from one to the other, and either verifies;
4. a delivery whose event is older than the channel's replay window (``orders.yml``,
   ``webhooks.replay_window_s``), by the instant its signed body carries, is answered 400
   and stored nowhere (a redelivery inside the window is a duplicate for the inbox);
5. the body is read through the channel's typed model of its topic's event
   (`channels.payloads`; 200 with nothing stored for topics that carry no order event);
6. the events go to the inbox in one transaction: stored once, duplicates counted and
   dropped; the answer is 200 ``{"stored", "duplicates"}``. If the ledger cannot be
   written, 503: the channel delivers again later, so nothing is lost.

A signed delivery that can never succeed is refused and stored nowhere: 400 for a body that
is not JSON, 422 for one the model refuses (an order id that is ``null``, empty, an object
or a float; a quantity of ``2.9``, ``true`` or ``1e30``), with the fields and what is wrong
in the answer and the log, never their values (they carry the buyer's name and e-mail).
The channel's retries are refused the same way. Nothing is lost by refusing: the order is
still on the channel, and polling, which reads it through the same model, parks it in the
dead-letter queue with the order as the channel sent it, for an operator to settle. An
event the model reads but that makes no whole number of the channel's base units (a pack
channel) is parked and answered 200 ``{..., "parked": [ids]}``, as polling would.

Nothing else happens in the request: ingestion into Odoo reads the inbox on its own, so the
channel gets its answer in milliseconds (Shopify gives up after 5 s and counts a failure).
``GET /healthz`` answers 200 when the ledger can be written the way webhooks write it (else 503).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inventory_pipelines.channels.base import ChannelOrder, WebhookError
from inventory_pipelines.channels.factory import WEBHOOKS, WebhookKind
from inventory_pipelines.channels.payloads import PayloadError
from inventory_pipelines.ledger.db import write_transaction
from inventory_pipelines.ledger.schema import order_inbox
from inventory_pipelines.local_keys import SANDBOX_KEYS
from inventory_pipelines.orders.events import Intake, take_in

log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024


class SecretFile:
    """Webhook secrets kept in a file, one per line, read again whenever the file changes (its
    modification time or size), so a rotated secret is used without a restart."""

    def __init__(self, path: str | Path, *, refuse_sandbox_keys: bool = False) -> None:
        self.path = Path(path)
        self.refuse_sandbox_keys = refuse_sandbox_keys
        self._seen: tuple[int, int] | None = None
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SecretFile({str(self.path)!r})"

    def read(self) -> tuple[str, ...]:
        """The secrets the file holds now (the last good read if it cannot be read now, so a
        file being replaced refuses nothing that verified a moment ago)."""
        try:
            stat = self.path.stat()
        except OSError:
            if self._seen is None:
                raise
            log.warning("webhook secret file %s cannot be read: using the last one", self.path)
            return self._secrets
        seen = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if seen != self._seen:
                lines = self.path.read_text(encoding="utf-8").splitlines()
                secrets = tuple(line.strip() for line in lines if line.strip())
                if self.refuse_sandbox_keys:
                    secrets = tuple(x for x in secrets if x not in SANDBOX_KEYS)
                if not secrets and self._seen is not None:
                    log.warning("webhook secret file %s holds no secret: using the last one",
                                self.path)  # fmt: skip
                    return self._secrets
                self._seen, self._secrets = seen, secrets
            return self._secrets


@dataclass(frozen=True)
class WebhookChannel:
    """A channel whose webhooks this receiver accepts: its secret from the environment, or a
    `SecretFile` read again when it changes."""

    name: str
    kind: str  # shopify, woocommerce
    secret: str
    units_per_item: float = 1.0  # base units in one channel unit (the channel's UoM)
    #: seconds a delivery's signed event may be old; None: no window (`webhook_channels`
    #: always sets the channel's own from orders.yml)
    replay_window_s: float | None = None
    secret_file: SecretFile | None = field(default=None, compare=False)

    def secrets(self) -> tuple[str, ...]:
        """The secrets a delivery may be signed with now."""
        if self.secret_file is not None:
            return self.secret_file.read()
        return (self.secret,) if self.secret else ()

    def __repr__(self) -> str:
        return (
            f"WebhookChannel(name={self.name!r}, kind={self.kind!r}, secret='***', "
            f"replay_window_s={self.replay_window_s!r})"
        )

    @property
    def webhook(self) -> WebhookKind:
        """How this kind of channel signs and shapes webhooks."""
        return WEBHOOKS[self.kind]


@dataclass
class ReceiverStats:
    """Counters since start (for logs and tests)."""

    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected_signature: int = 0
    stale: int = 0  # signed deliveries older than the replay window (400)
    refused: int = 0  # signed deliveries that can never succeed (400, 422)
    parked: int = 0
    pings: int = 0


def create_app(
    engine: Engine,
    channels: Mapping[str, WebhookChannel],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The receiver's ASGI app over the ledger at `engine`, for `channels` (name -> channel);
    `clock` is the time a delivery's age is measured against."""
    for channel in channels.values():
        if channel.kind not in WEBHOOKS:
            raise ValueError(f"channel {channel.name!r}: {channel.kind} sends no webhooks")
        if not channel.secrets():
            raise ValueError(f"channel {channel.name!r}: no webhook secret")
    stats = ReceiverStats()

    def store(channel: WebhookChannel, orders: list[ChannelOrder], delivery: str | None) -> Intake:
        with engine.connect() as conn:
            return take_in(
                conn,
                channel.name,
                orders,
                "webhook",
                delivery_id=delivery,
                units_per_item=channel.units_per_item,
            )

    async def _read_at_most(request: Request, limit: int) -> bytes | None:
        """The body, read as it streams in, or None as soon as it passes `limit` bytes (a
        declared Content-Length over the limit is refused before reading anything)."""
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

    async def webhook(request: Request) -> JSONResponse:
        name = request.path_params["channel"]
        channel = channels.get(name)
        if channel is None:
            return JSONResponse({"error": f"no webhooks for channel {name!r}"}, 404)
        body = await _read_at_most(request, MAX_BODY)
        if body is None:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, 413)
        headers = dict(request.headers)
        kind = channel.webhook
        if kind.is_ping(headers, body):
            stats.pings += 1
            return JSONResponse({"ping": True})
        if not any(kind.verify(secret, headers, body) for secret in channel.secrets()):
            stats.rejected_signature += 1
            log.warning("webhook for %s refused: bad or missing signature", name)
            return JSONResponse({"error": "invalid signature"}, 401)
        delivery = kind.delivery_id(headers)
        if channel.replay_window_s is not None:
            stale = _stale(channel, kind.sent_at(headers, body), clock())
            if stale is not None:
                stats.stale += 1
                log.warning("webhook for %s refused (400), delivery %s: %s", name, delivery, stale)
                return JSONResponse({"error": stale}, 400)
        try:
            orders = kind.parse(headers, body)
        except WebhookError as exc:
            # refused, stored nowhere; the message names fields, never their values
            stats.refused += 1
            status = 422 if isinstance(exc, PayloadError) else 400
            log.warning("webhook for %s refused (%s), delivery %s: %s", name, status, delivery, exc)
            return JSONResponse({"error": str(exc)}, status)
        try:
            received = await run_in_threadpool(store, channel, orders, delivery)
        except sa.exc.SQLAlchemyError as exc:
            return unavailable(name, exc)
        stats.accepted += 1
        stats.stored += received.stored
        stats.duplicates += received.duplicates
        stats.parked += len(received.parked)
        answer: dict[str, object] = {"stored": received.stored, "duplicates": received.duplicates}
        if received.parked:
            log.warning("webhook for %s: dead letter(s) %s parked", name, list(received.parked))
            answer["parked"] = list(received.parked)
        return JSONResponse(answer)

    def unavailable(name: str, exc: Exception) -> JSONResponse:
        log.error("webhook for %s not stored, ledger unavailable: %s", name, type(exc).__name__)
        return JSONResponse({"error": "ledger unavailable, deliver again"}, 503)

    async def healthz(request: Request) -> JSONResponse:
        def probe() -> None:
            # the write path webhooks take, not just a read: an UPDATE of no row of the inbox
            # in a write transaction fails where storing an order would (read-only, locked,
            # a missing table)
            with engine.connect() as conn, write_transaction(conn):
                conn.execute(
                    order_inbox.update()
                    .where(order_inbox.c.id == -1)
                    .values(duplicates=order_inbox.c.duplicates)
                )

        try:
            await run_in_threadpool(probe)
        except sa.exc.SQLAlchemyError as exc:
            log.error("healthz: the ledger cannot be written: %s", type(exc).__name__)
            return JSONResponse({"ok": False, "ledger": "cannot be written"}, 503)
        return JSONResponse({"ok": True, "channels": sorted(channels)})

    app = Starlette(
        routes=[
            Route("/webhooks/{channel}", webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
    app.state.stats = stats
    return app


def _stale(channel: WebhookChannel, sent: datetime | None, now: datetime) -> str | None:
    """Why a delivery is outside the channel's replay window, or None when it is inside (or
    carries no signed instant: the inbox's unique key is then the only guard)."""
    window = channel.replay_window_s
    if window is None or sent is None:
        return None
    age = (now - sent).total_seconds()
    if age <= window:
        return None
    return (
        f"stale delivery: its event is of {sent.isoformat()}, {age:.0f} s ago, outside the "
        f"{window:g} s replay window of {channel.name} (orders.yml webhooks.replay_window_s); "
        "the order comes in by polling"
    )
