"""Fault injection for the Admin API: the shared :mod:`inventory_pipelines.sandbox.faults`.

Faults apply to the endpoints a Shopify client talks to (``/admin/api/...``), never to the
``/sandbox`` control endpoints. A scripted or random 429 carries ``Retry-After``
(:attr:`Faults.retry_after` seconds), as Shopify's REST throttle does.
"""

from __future__ import annotations

from .. import faults as _shared
from ..faults import FaultInjectionMiddleware

__all__ = ["FaultInjectionMiddleware", "Faults"]


class Faults(_shared.Faults):
    """The shared fault settings, with ``Retry-After`` on an injected 429."""

    SENDS_RETRY_AFTER = True
