"""Fault injection for the REST API: the shared :mod:`inventory_pipelines.sandbox.faults`,
with the token-bucket rate limit and its throttled counter switched on.

Injected statuses are answered as plain text without ``Connection: close``. The generic
channel emulator reuses this module, so it knows nothing of WooCommerce.
"""

from __future__ import annotations

from .. import faults as _shared
from ..faults import TEXT_PLAIN, FaultInjectionMiddleware, Headers, TokenBucket, status_text

__all__ = ["FaultInjectionMiddleware", "Faults", "TokenBucket", "error_body"]


class Faults(_shared.Faults):
    """The shared fault settings, with the rate limit and ``throttled_count`` reported."""

    RATE_LIMITED = True


def error_body(status: int) -> tuple[bytes, bytes, Headers]:
    """An injected ``status`` as its plain-text status line (the connection is kept)."""
    return status_text(status), TEXT_PLAIN, []
