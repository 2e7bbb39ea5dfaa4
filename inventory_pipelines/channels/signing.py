"""Webhook signatures the channels share: a case-insensitive header, a base64 HMAC-SHA256."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["header", "verify_base64_hmac"]


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
