"""``python -m inventory_pipelines.sandbox.odoo``: serve the emulator in this process.

The first stdout line is ``{"url", "db", "login", "password", "api_key"}`` as JSON, flushed
once the port accepts connections; the server runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from inventory_pipelines.sandbox.demo_data import DEFAULT_SKUS

from .models import DEFAULT_API_KEY, DEFAULT_DB, DEFAULT_LOGIN, DEFAULT_PASSWORD
from .server import print_credentials, serve
from .versions import SUPPORTED_VERSIONS


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m inventory_pipelines.sandbox.odoo")
    parser.add_argument("--port", type=int, default=8069, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--version", type=int, default=17, choices=SUPPORTED_VERSIONS)
    parser.add_argument("--skus", type=int, default=DEFAULT_SKUS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--login", default=DEFAULT_LOGIN)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)
    serve(
        args.version,
        args.port,
        args.skus,
        args.seed,
        args.host,
        announce=print_credentials,
        db=args.db,
        login=args.login,
        password=args.password,
        api_key=args.api_key,
    )


if __name__ == "__main__":
    main()
