"""``python -m inventory_pipelines.sandbox.shopify``: serve the emulator in this process.

The first stdout line is ``{"url", "shop", "access_token", "api_version", "graphql_url"}`` as
JSON, flushed once the port accepts connections; the server runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .models import DEFAULT_ACCESS_TOKEN
from .server import DEFAULT_API_VERSION, DEFAULT_SKUS, print_credentials, serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inventory_pipelines.sandbox.shopify")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--skus", type=int, default=DEFAULT_SKUS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--locations", type=int, default=2, choices=(1, 2))
    parser.add_argument("--access-token", default=DEFAULT_ACCESS_TOKEN)
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION)
    parser.add_argument("--maximum-available", type=float, default=1000.0)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    serve(
        args.port,
        args.skus,
        args.seed,
        args.host,
        announce=print_credentials,
        locations=args.locations,
        access_token=args.access_token,
        api_version=args.api_version,
        maximum_available=args.maximum_available,
        restore_rate=args.restore_rate,
    )


if __name__ == "__main__":
    main()
