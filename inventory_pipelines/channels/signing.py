"""Webhook signatures the channels share: a case-insensitive header, a base64 HMAC-SHA256,
and the instants a delivery is stamped with (for the receiver's replay window)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["header", "instant", "verify_base64_hmac"]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name` (lower case), whatever the case it was sent in."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def verify_base64_hmac(secret: str, body: bytes, sent: str | None) -> bool:
    """Whether `sent` is the base64 HMAC-SHA256 of the raw `body` with `secret`, compared in
    constant time; a missing signature or an empty secret is a no."""
    if not secret or not sent:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), sent.strip())


def instant(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (one without an offset is taken as UTC, as
    WooCommerce's ``*_gmt`` fields are); None for anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
