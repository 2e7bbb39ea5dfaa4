"""An emulated Shopify Admin GraphQL API for tests and the local sandbox: real HTTP, in-memory
state.

The public entry points::

    from inventory_pipelines.sandbox.shopify import ShopifySandbox, serve
    with ShopifySandbox(skus=200, seed=7) as shop:
        ...

``ShopState``/``build_shop`` (the models layer, no HTTP) and ``Faults`` can be used on their
own. The layout follows moto: state and rules in ``models``, the GraphQL schema in
``schema``, resolvers and query cost in ``resolvers``/``cost``, the protocol in
``responses``, the URL table and process management in ``server``.
"""

from __future__ import annotations

from .faults import Faults
from .models import (
    CHANGE_FROM_VERSION,
    DEFAULT_ACCESS_TOKEN,
    CostBucket,
    ShopState,
    build_shop,
    gid,
    parse_gid,
)
from .server import ShopifySandbox, serve

__all__ = [
    "CHANGE_FROM_VERSION",
    "DEFAULT_ACCESS_TOKEN",
    "CostBucket",
    "Faults",
    "ShopState",
    "ShopifySandbox",
    "build_shop",
    "gid",
    "parse_gid",
    "serve",
]
