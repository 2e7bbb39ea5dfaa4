"""``python -m inventory_pipelines.sandbox.amazon``: serve the emulator in this process.

The first stdout line is the credentials JSON (``url``, ``endpoint``, ``token_url``,
``seller_id``, ``marketplace_id``, ``client_id``, ``client_secret``, ``refresh_token``),
flushed once the port accepts connections; the server runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .models import DEFAULT_SKUS, FEED_MODES
from .server import print_credentials, serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inventory_pipelines.sandbox.amazon")
    parser.add_argument("--port", type=int, default=8443, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--skus", type=int, default=DEFAULT_SKUS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate-scale", type=float, default=1.0, help="multiplies every quota")
    parser.add_argument("--token-ttl", type=float, default=3600.0, help="access token seconds")
    parser.add_argument("--feed-mode", default="time", choices=FEED_MODES)
    parser.add_argument("--feed-step", type=float, default=30.0, help="seconds per feed step")
    args = parser.parse_args(argv)
    serve(
        args.port,
        args.skus,
        args.seed,
        args.host,
        announce=print_credentials,
        rate_scale=args.rate_scale,
        token_ttl_s=args.token_ttl,
        feed_mode=args.feed_mode,
        feed_step_s=args.feed_step,
    )


if __name__ == "__main__":
    main()
