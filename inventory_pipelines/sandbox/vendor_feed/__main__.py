"""``python -m inventory_pipelines.sandbox.vendor_feed``: serve the emulator in this process.

The first stdout line is ``{"url", "feeds"}`` as JSON, flushed once the port accepts
connections; the server runs until SIGINT or SIGTERM. Each ``--feed NAME`` is served at
``/feeds/NAME.csv`` and ``/feeds/NAME.json`` with ``--rows`` demo rows whose codes follow
``--pattern`` (e.g. ``"BDS {n:06d}"``, the sandbox Odoo's drop-ship vendor codes), or a
feed's own: ``--feed west-3pl=SKU-{n:06d}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from inventory_pipelines.sandbox.serving import print_credentials

from .models import DEFAULT_CODE_PATTERN, DEFAULT_ROWS
from .server import DEFAULT_PORT, serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inventory_pipelines.sandbox.vendor_feed")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--feed", action="append", default=[], help="a feed to serve, NAME or NAME=PATTERN"
    )
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--pattern", default=DEFAULT_CODE_PATTERN)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    serve(
        args.port,
        args.host,
        args.feed,
        rows=args.rows,
        pattern=args.pattern,
        seed=args.seed,
        announce=print_credentials,
    )


if __name__ == "__main__":
    main()
