"""Webhook delivery as the channels do it, shared by the Shopify and WooCommerce emulators.

A subscriber registers through the emulator's control API (``POST /sandbox/webhooks {url,
secret?, duplicate_rate?, redeliver_rate?, redeliver_after_s?, delay_s?}``); ``delay_s`` is the
channel's lag between an order and its webhook. Each order event is
then POSTed to it, signed (base64 HMAC-SHA256 of the raw body) in a background thread, like
the real channels:

- some deliveries go twice at once (``duplicate_rate``): Shopify documents that a webhook
  may arrive twice, even in the same second;
- some are delivered again later (``redeliver_rate`` after ``redeliver_after_s``), as after
  a timeout the channel did not see answered;
- a delivery answered with anything but 2xx, or not at all, is retried (3 tries, 0.2 s
  apart), then counted failed.

The sandbox's secrets are documented local defaults (README), not credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

DEFAULT_SHOPIFY_WEBHOOK_SECRET = "sandbox-shopify-webhook-secret"
DEFAULT_WOOCOMMERCE_WEBHOOK_SECRET = "sandbox-woocommerce-webhook-secret"

Headers = Callable[[bytes, str, str], dict[str, str]]
"""(raw body, signature, delivery id) -> the channel's headers."""


def signature(secret: str, body: bytes) -> str:
    """base64 HMAC-SHA256 of the raw body: what both channels send."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class WebhookSender:
    """Delivers one emulator's webhooks to its subscriber (see the module docstring)."""

    def __init__(self, secret: str, seed: int | None = None) -> None:
        self.url: str | None = None
        self.secret = secret
        self.duplicate_rate = 0.0
        self.redeliver_rate = 0.0
        self.redeliver_after_s = 0.5
        self.delay_s = 0.0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="webhook")
        self._client = httpx.Client(timeout=5.0)
        self.sent = 0
        self.failed = 0
        self.answers: dict[int, int] = {}
        self._in_flight = 0

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Set ``url`` (None: no subscriber), ``secret``, the rates and the redelivery delay."""
        with self._lock:
            for name in (
                "url",
                "secret",
                "duplicate_rate",
                "redeliver_rate",
                "redeliver_after_s",
                "delay_s",
            ):
                if name in settings:
                    setattr(self, name, settings[name])
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """Settings (the secret left out) and counters."""
        with self._lock:
            return {
                "url": self.url,
                "duplicate_rate": self.duplicate_rate,
                "redeliver_rate": self.redeliver_rate,
                "redeliver_after_s": self.redeliver_after_s,
                "delay_s": self.delay_s,
                "sent": self.sent,
                "failed": self.failed,
                "answers": {str(k): v for k, v in sorted(self.answers.items())},
            }

    def deliver(self, payload: Mapping[str, Any], headers: Headers, delivery_id: str) -> None:
        """Queue the deliveries of one event (nothing when no subscriber is registered)."""
        with self._lock:
            url = self.url
            if not url:
                return
            copies = 2 if self._rng.random() < self.duplicate_rate else 1
            later = self._rng.random() < self.redeliver_rate
            delay = self.redeliver_after_s
            lag = self.delay_s
            secret = self.secret
            self._in_flight += copies + later
        body = orjson.dumps(payload)
        sent = headers(body, signature(secret, body), delivery_id)
        for _ in range(copies):
            self._pool.submit(self._post, url, body, sent, lag)
        if later:
            self._pool.submit(self._post, url, body, sent, lag + delay)

    def _post(self, url: str, body: bytes, headers: dict[str, str], delay: float) -> None:
        try:
            self._try(url, body, headers, delay)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _try(self, url: str, body: bytes, headers: dict[str, str], delay: float) -> None:
        if delay:
            time.sleep(delay)
        for attempt in range(3):
            try:
                status = self._client.post(url, content=body, headers=headers).status_code
            except httpx.HTTPError:
                status = 0
            with self._lock:
                self.answers[status] = self.answers.get(status, 0) + 1
                if 200 <= status < 300:
                    self.sent += 1
                    return
            if attempt < 2:
                time.sleep(0.2)
        with self._lock:
            self.failed += 1

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued delivery has been tried (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    return
            time.sleep(0.02)

    def close(self) -> None:
        """Stop the delivery threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()
