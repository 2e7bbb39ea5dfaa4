"""A JSON-RPC server that answers the snapshot's reads from pages encoded before it listens.

It stands in for Odoo in the scale benchmark, where the emulator would take longer to build a
catalog of a million products than the client takes to read it. It speaks `/jsonrpc` as Odoo
does for what the snapshot asks (`common.version`, `common.authenticate`, `execute_kw`
`search_read` with keyset paging on `id`) and answers every page from bytes encoded at start:
the client's requests, the HTTP round trips over loopback, the decoding and the frame building
are real; Odoo's own work (SQL, the ORM's serialization) is not in the figure.

Records are served as Odoo 17 serves them with `load=None`: a many2one is a bare id, an empty
value is `false`, datetimes are "YYYY-MM-DD HH:MM:SS" strings in UTC. The domain is not
evaluated beyond its `id > n` term: every quant in the input is in an internal or transit
location (what the snapshot's domain asks for), and every product is served (the snapshot reads
archived ones too).

Run: `python -m inventory_pipelines_tests.bench.odoo_pages --dir FOLDER --page-size N`; it
prints one JSON line with its URL and credentials once the pages are encoded.
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

DB, LOGIN, API_KEY, UID = "bench", "admin", "bench-key", 2
VERSION = {
    "server_version": "17.0",
    "server_version_info": [17, 0, 0, "final", 0, ""],
    "server_serie": "17.0",
    "protocol_version": 1,
}
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


class Model:
    """One model's records in `id` order, encoded page by page on first use."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame.sort("id")
        self.ids = self.frame["id"].to_numpy()
        self.pages: dict[tuple[int, int], bytes] = {}

    def page(self, last_id: int, limit: int | None) -> bytes:
        """The records with `id > last_id`, at most `limit`, as a JSON array."""
        key = (last_id, limit or 0)
        encoded = self.pages.get(key)
        if encoded is None:
            start = int(np.searchsorted(self.ids, last_id, side="right"))
            stop = len(self.ids) if not limit else start + limit
            rows = self.frame.slice(start, stop - start)
            # Odoo says `false` for every empty value, never null
            encoded = rows.write_json().encode().replace(b":null", b":false")
            self.pages[key] = encoded
        return encoded

    def warm(self, limit: int) -> int:
        """Encode every page a keyset read of `limit` records a page asks for; bytes held."""
        last_id, size = 0, 0
        while True:
            start = int(np.searchsorted(self.ids, last_id, side="right"))
            size += len(self.page(last_id, limit))
            if start + limit >= len(self.ids):
                return size
            last_id = int(self.ids[start + limit - 1])


def _odoo_datetime(name: str) -> pl.Expr:
    return pl.col(name).dt.convert_time_zone("UTC").dt.strftime(ODOO_DATETIME)


def models_from(folder: Path) -> dict[str, Model]:
    """The models the snapshot reads, built from the generated Parquet inputs in `folder`."""
    products = pl.read_parquet(folder / "odoo_products.parquet")
    locations = pl.read_parquet(folder / "odoo_locations.parquet")
    quants = pl.read_parquet(folder / "odoo_quants.parquet")
    codes = sorted(c for c in locations["warehouse_code"].unique().to_list() if c)
    warehouses = pl.DataFrame({"id": range(1, len(codes) + 1), "code": codes})
    return {
        "product.product": Model(
            products.select(
                pl.col("product_id").alias("id"),
                pl.col("sku").alias("default_code"),
                "barcode",
                "name",
                pl.col("template_id").alias("product_tmpl_id"),
                "uom_id",
                categ_id=pl.lit(1),
                active="active",
                write_date=_odoo_datetime("write_date"),
                type=pl.when("storable").then(pl.lit("product")).otherwise(pl.lit("consu")),
            )
        ),
        "product.category": Model(pl.DataFrame({"id": [1], "complete_name": ["All"]})),
        "uom.uom": Model(
            pl.DataFrame(
                {
                    "id": [1, 2],
                    "name": ["Units", "Dozens"],
                    "factor": [1.0, 1 / 12],
                    "category_id": [1, 1],
                    "uom_type": ["reference", "bigger"],
                }
            )
        ),
        "stock.location": Model(
            locations.join(
                warehouses.rename({"id": "wh", "code": "warehouse_code"}),
                on="warehouse_code",
                how="left",
            ).select(
                pl.col("location_id").alias("id"),
                "name",
                "complete_name",
                "usage",
                pl.col("parent_id").alias("location_id"),
                pl.col("wh").alias("warehouse_id"),
                "active",
            )
        ),
        "stock.warehouse": Model(warehouses),
        "stock.quant": Model(
            quants.select(
                pl.col("quant_id").alias("id"),
                "product_id",
                "location_id",
                "lot_id",
                "quantity",
                "reserved_quantity",
                write_date=_odoo_datetime("write_date"),
            )
        ),
    }


def serve(models: dict[str, Model], host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server answering `/jsonrpc` from `models` (call `serve_forever` on it)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as httpx's pool expects

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            params = body.get("params") or {}
            service, method, args = params.get("service"), params.get("method"), params["args"]
            if service == "common" and method == "version":
                result = orjson.dumps(VERSION)
            elif service == "common" and method == "authenticate":
                result = orjson.dumps(UID if args[1:3] == [LOGIN, API_KEY] else False)
            elif service == "object" and args[4] == "search_read":
                model, domain, kwargs = args[3], args[5][0], args[6]
                last_id = next(
                    (t[2] for t in domain if isinstance(t, list) and t[:2] == ["id", ">"]), 0
                )
                result = models[model].page(int(last_id), kwargs.get("limit"))
            else:
                self._answer(404, b'{"error": "not served by the bench"}')
                return
            envelope = b'{"jsonrpc":"2.0","id":%s,"result":%s}' % (
                orjson.dumps(body.get("id")),
                result,
            )
            self._answer(200, envelope)

        def _answer(self, status: int, content: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    """Encode the pages, then serve them until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--page-size", type=int, default=20_000)
    args = parser.parse_args()
    models = models_from(args.dir)
    encoded = sum(m.warm(args.page_size) for m in models.values())
    server = serve(models)
    host, port = server.server_address[:2]
    sys.stdout.write(
        json.dumps(
            {
                "url": f"http://{host}:{port}",
                "db": DB,
                "login": LOGIN,
                "api_key": API_KEY,
                "encoded_bytes": encoded,
            }
        )
        + "\n"
    )
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
