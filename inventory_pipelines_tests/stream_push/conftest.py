"""Shared pieces of the push-path tests: a webhook target, a recording submitter, the rule.

The automation rule is always created the way a person's script would, with odoorpc (a client
this project did not write), through Odoo's ORM: ``base.automation`` with its webhook action.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import odoorpc
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.sandbox.serving import start_server, stop_server
from inventory_pipelines.stream.runs import FastRun

WATCHED_FIELDS = ("quantity", "product_id", "location_id")


@dataclass
class Received:
    """One POST a target received."""

    at: float
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Served:
    """An ASGI app on a free loopback port, in a background thread."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.server, self.thread, self.sock = start_server(
            Starlette(routes=routes), "127.0.0.1", 0, "test-target"
        )
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def stop(self) -> None:
        stop_server(self.server, self.thread, self.sock)


@dataclass
class HookTarget:
    """A webhook receiver that records what it gets; `on_post` runs on each (no wait)."""

    status: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    on_post: Callable[[Received], None] | None = None

    def routes(self) -> list[BaseRoute]:
        async def hook(request: Request) -> Response:
            got = Received(time.time(), await request.body(), dict(request.headers))
            self.received.append(got)
            if self.on_post is not None:
                self.on_post(got)
            if self.delay_s:
                import asyncio

                await asyncio.sleep(self.delay_s)
            return JSONResponse({}, self.status)

        return [Route("/hook", hook, methods=["POST"])]


@pytest.fixture
def hook_target() -> Iterator[tuple[HookTarget, str]]:
    """A recording target and its URL."""
    target = HookTarget()
    served = Served(target.routes())
    try:
        yield target, f"{served.url}/hook"
    finally:
        served.stop()


@dataclass
class RecordingSubmitter:
    """A :class:`RunSubmitter` that keeps what it is given (the webserver is tested apart)."""

    runs: list[tuple[float, FastRun]] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, run: FastRun) -> str:
        with self.lock:
            if self.fail_first:
                self.fail_first -= 1
                raise ConnectionError("the webserver is down")
            self.runs.append((time.time(), run))
            return f"run-{len(self.runs)}"

    @property
    def skus(self) -> list[str]:
        return sorted(sku for _, run in self.runs for sku in run.skus)


def odoorpc_client(odoo: OdooSandbox) -> odoorpc.ODOO:
    client = odoorpc.ODOO("127.0.0.1", port=odoo.port)
    client.login(odoo.db, odoo.login, odoo.password)
    return client


def create_quant_webhook_rule(
    odoo: OdooSandbox,
    url: str,
    fields: tuple[str, ...] = WATCHED_FIELDS,
    triggers: tuple[str, ...] = ("quantity",),
) -> int:
    """The README's rule, made over the external API with odoorpc: On save of a quant's
    `triggers`, Send Webhook Notification to `url` with `fields`."""
    client = odoorpc_client(odoo)
    model_id = client.env["ir.model"].search([("model", "=", "stock.quant")])[0]
    fields_model = client.env["ir.model.fields"]
    watched = fields_model.search([("model", "=", "stock.quant"), ("name", "in", list(triggers))])
    chosen = fields_model.search([("model", "=", "stock.quant"), ("name", "in", list(fields))])
    return client.env["base.automation"].create(
        {
            "name": "Stock changed: tell the inventory sync",
            "model_id": model_id,
            "trigger": "on_create_or_write",
            "trigger_field_ids": [(6, 0, watched)],
            "filter_domain": repr([("location_id.usage", "in", ["internal", "transit"])]),
            "action_server_ids": [
                (
                    0,
                    0,
                    {"state": "webhook", "webhook_url": url, "webhook_field_ids": [(6, 0, chosen)]},
                )
            ],
        }
    )


def stocked_quant(odoo: OdooSandbox) -> tuple[int, str, str, float]:
    """A quant of a storable product with a SKU in an internal location: id, SKU, location
    name, quantity."""
    state = odoo.state
    quants, products = state.tables["stock.quant"], state.tables["product.product"]
    locations = state.tables["stock.location"]
    for qid, row in sorted(quants.records.items()):
        product = products.records[row[quants.pos["product_id"]]]
        location = locations.records[row[quants.pos["location_id"]]]
        sku = product[products.pos["default_code"]]
        if (
            sku
            and product[products.pos["active"]]
            and location[locations.pos["usage"]] == "internal"
            and row[quants.pos["quantity"]] > 10
            and not row[quants.pos["lot_id"]]
            and state.is_storable(product[0])
        ):
            return qid, sku, location[locations.pos["complete_name"]], row[quants.pos["quantity"]]
    raise AssertionError("the demo data has no plain stocked quant")
