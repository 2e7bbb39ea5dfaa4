"""An emulated WooCommerce store (REST v3) for tests and the local sandbox: real HTTP.

The public entry points::

    from inventory_pipelines.sandbox.woocommerce import WooCommerceSandbox, serve
    with WooCommerceSandbox(products=60, seed=7) as woo:
        ...

The layout follows moto: state in ``models`` (``WooState``, no HTTP), protocol in
``responses``, fault injection and the rate limit in ``faults``, the URL table and process
management in ``server``.
"""

from __future__ import annotations

from .faults import Faults, TokenBucket
from .models import (
    BATCH_LIMIT,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_PRODUCTS,
    WooError,
    WooState,
)
from .server import WooCommerceSandbox, serve

__all__ = [
    "BATCH_LIMIT",
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_PRODUCTS",
    "Faults",
    "TokenBucket",
    "WooCommerceSandbox",
    "WooError",
    "WooState",
    "serve",
]
