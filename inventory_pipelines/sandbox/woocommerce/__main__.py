"""``python -m inventory_pipelines.sandbox.woocommerce``: serve the emulator in this process.

The first stdout line is ``{"url", "consumer_key", "consumer_secret"}`` as JSON, flushed once
the port accepts connections; the server runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .models import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, DEFAULT_PRODUCTS
from .server import print_credentials, serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inventory_pipelines.sandbox.woocommerce")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--consumer-key", default=DEFAULT_CONSUMER_KEY)
    parser.add_argument("--consumer-secret", default=DEFAULT_CONSUMER_SECRET)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--burst", type=int, default=None)
    args = parser.parse_args(argv)
    serve(
        args.port,
        args.products,
        args.seed,
        args.host,
        announce=print_credentials,
        consumer_key=args.consumer_key,
        consumer_secret=args.consumer_secret,
        rate_limit=args.rate_limit,
        burst=args.burst,
    )


if __name__ == "__main__":
    main()
