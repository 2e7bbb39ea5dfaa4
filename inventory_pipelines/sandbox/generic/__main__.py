"""``python -m inventory_pipelines.sandbox.generic``: serve the emulator in this process.

The first stdout line is ``{"url", "secret", "max_batch"}`` as JSON, flushed once the port
accepts connections; the server runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from inventory_pipelines.sandbox.serving import print_credentials

from .models import DEFAULT_LISTINGS, DEFAULT_MAX_BATCH, DEFAULT_SECRET
from .server import serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inventory_pipelines.sandbox.generic")
    parser.add_argument("--port", type=int, default=8083, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--listings", type=int, default=DEFAULT_LISTINGS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--burst", type=int, default=None)
    args = parser.parse_args(argv)
    serve(
        args.port,
        args.listings,
        args.seed,
        args.host,
        announce=print_credentials,
        secret=args.secret,
        max_batch=args.max_batch,
        rate_limit=args.rate_limit,
        burst=args.burst,
    )


if __name__ == "__main__":
    main()
