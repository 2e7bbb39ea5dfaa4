"""An emulated Amazon seller account (LWA + SP-API Listings, Feeds, Orders): real HTTP.

The public entry points::

    from inventory_pipelines.sandbox.amazon import AmazonSandbox, serve
    with AmazonSandbox(skus=200, seed=7, rate_scale=20) as amazon:
        ...

``AmazonState`` (the models layer, no HTTP) and ``Faults`` can be used on their own. The
layout follows moto: state and rules in ``models``, protocol in ``responses``, the URL table
and process management in ``server``.
"""

from __future__ import annotations

from .faults import Faults
from .models import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MARKETPLACE_ID,
    DEFAULT_RATES,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SELLER_ID,
    LISTINGS_FEED_MAX_MESSAGES,
    AmazonState,
    LwaError,
    QuotaExceeded,
    SpApiError,
)
from .server import AmazonSandbox, serve

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_MARKETPLACE_ID",
    "DEFAULT_RATES",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_SELLER_ID",
    "LISTINGS_FEED_MAX_MESSAGES",
    "AmazonSandbox",
    "AmazonState",
    "Faults",
    "LwaError",
    "QuotaExceeded",
    "SpApiError",
    "serve",
]
