"""An emulated vendor (or 3PL) stock feed server: files over real HTTP, with ETag and
Last-Modified, written to folders too, carrying the dirt real feeds carry.

The public entry points::

    from inventory_pipelines.sandbox.vendor_feed import VendorFeedSandbox, serve
    with VendorFeedSandbox() as vendors:
        vendors.state.add_feed("acme", [("A-1", 10)])
        ...

The protocol is documented in :mod:`.responses`; state and dirt live in :mod:`.models`
(``VendorFeedState``, no HTTP).
"""

from __future__ import annotations

from .models import DEFAULT_ROWS, Dirt, Feed, FeedError, Rendered, VendorFeedState, demo_rows
from .server import DEFAULT_PORT, VendorFeedSandbox, serve

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_ROWS",
    "Dirt",
    "Feed",
    "FeedError",
    "Rendered",
    "VendorFeedSandbox",
    "VendorFeedState",
    "demo_rows",
    "serve",
]
