"""An emulated POS system / B2B portal speaking a generic signed HTTP protocol: real HTTP.

The public entry points::

    from inventory_pipelines.sandbox.generic import GenericChannelSandbox, serve
    with GenericChannelSandbox(listings=120, seed=7) as portal:
        ...

The protocol is documented in :mod:`.responses`; state lives in :mod:`.models`
(``GenericState``, no HTTP). Fault injection and the rate limit are the WooCommerce
sandbox's (:mod:`inventory_pipelines.sandbox.woocommerce.faults`), which is channel-neutral.
"""

from __future__ import annotations

from .models import (
    DEFAULT_LISTINGS,
    DEFAULT_MAX_BATCH,
    DEFAULT_SECRET,
    GenericError,
    GenericState,
)
from .responses import sign
from .server import GenericChannelSandbox, serve

__all__ = [
    "DEFAULT_LISTINGS",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_SECRET",
    "GenericChannelSandbox",
    "GenericError",
    "GenericState",
    "serve",
    "sign",
]
