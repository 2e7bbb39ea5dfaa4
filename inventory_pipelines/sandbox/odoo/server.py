"""The Odoo sandbox server: a Starlette app on uvicorn, in a thread or in its own process.

Usage from tests::

    with OdooSandbox(version=17, skus=200, seed=7) as odoo:   # port 0 = a free port
        odoo.url, odoo.db, odoo.login, odoo.password, odoo.api_key
        odoo.state          # the models layer (no HTTP)
        odoo.faults         # latency, error rate, outage, fail_next
        odoo.request_count  # RPC requests received; odoo.reset_request_count()

From a shell (the first stdout line is the credentials JSON)::

    python -m inventory_pipelines.sandbox.odoo --port 8069 --version 17 --skus 2000 --seed 0
"""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from inventory_pipelines.sandbox.demo_data import DEFAULT_SKUS, build_state

from ..serving import (
    BackgroundServer,
    binder,
    print_credentials,
    run_until_signalled,
)
from . import responses
from .faults import FaultInjectionMiddleware, Faults
from .models import DEFAULT_API_KEY, DEFAULT_DB, DEFAULT_LOGIN, DEFAULT_PASSWORD, OdooState

RPC_PREFIXES = ("/xmlrpc", "/jsonrpc", "/web/", "/json/2", "/doc-bearer")


def is_rpc_path(path: str) -> bool:
    """Whether a path is an Odoo endpoint (faulted and counted) rather than a control one."""
    return path.startswith(RPC_PREFIXES)


def build_app(backend: responses.Backend) -> FaultInjectionMiddleware:
    """The ASGI app: the URL table of the emulator wrapped in fault injection."""

    bind = binder(backend)

    routes = [
        Route("/jsonrpc", bind(responses.jsonrpc), methods=["POST"]),
        Route("/xmlrpc/2/{service}", bind(responses.xmlrpc_service), methods=["POST"]),
        Route("/xmlrpc/{service}", bind(responses.xmlrpc_service), methods=["POST"]),
        Route("/web/webclient/version_info", bind(responses.version_info), methods=["GET", "POST"]),
        Route(
            "/json/2/{model}/{method}",
            bind(responses.json2),
            methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        ),
        Route("/doc-bearer/{model}.json", bind(responses.doc_bearer), methods=["GET", "POST"]),
        Route("/sandbox/{action:path}", bind(responses.control), methods=["GET", "POST"]),
    ]
    return FaultInjectionMiddleware(Starlette(routes=routes), backend.faults, is_rpc_path)


class OdooSandbox(BackgroundServer):
    """An emulated Odoo (16 to 19) with demo data, served over HTTP on the loopback."""

    SERVER_NAME = "odoo-sandbox"
    HTTP = "httptools"

    def __init__(
        self,
        version: int | str = 17,
        skus: int = DEFAULT_SKUS,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        db: str = DEFAULT_DB,
        login: str = DEFAULT_LOGIN,
        password: str = DEFAULT_PASSWORD,
        api_key: str = DEFAULT_API_KEY,
        demo: bool = True,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.skus = skus
        self.seed = seed
        self._version = version
        self._credentials = {"db": db, "login": login, "password": password, "api_key": api_key}
        self._demo = demo
        self.faults = Faults(seed)
        self._state = self._build_state()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    def _build_state(self) -> OdooState:
        if self._demo:
            return build_state(self._version, self.skus, self.seed, **self._credentials)
        return OdooState(self._version, **self._credentials)

    # -- identity -------------------------------------------------------------------------------

    @property
    def state(self) -> OdooState:
        """The models layer: ORM calls, stock operations, clock; no HTTP."""
        return self._state

    @property
    def version(self) -> int:
        """The emulated major version."""
        return self._state.profile.major

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def db(self) -> str:
        """The database name."""
        return self._credentials["db"]

    @property
    def login(self) -> str:
        """The admin login."""
        return self._credentials["login"]

    @property
    def password(self) -> str:
        """The admin password."""
        return self._credentials["password"]

    @property
    def api_key(self) -> str:
        """The admin API key (works wherever the password does; required by JSON-2)."""
        return self._credentials["api_key"]

    def credentials(self) -> dict[str, Any]:
        """``{"url", "db", "login", "password", "api_key"}`` (what the CLI prints)."""
        return {"url": self.url, **self._credentials}

    # -- counters and data ------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """RPC requests received (failed ones included) since the last reset."""
        return self.faults.request_count

    def reset_request_count(self) -> int:
        """Zero the RPC request counter; returns the previous count."""
        return self.faults.reset_request_count()

    def reset(self, skus: int | None = None, seed: int | None = None) -> None:
        """Regenerate the demo data (optionally with another size or seed)."""
        if skus is not None:
            self.skus = int(skus)
        if seed is not None:
            self.seed = int(seed)
        self._state = self._build_state()

    # -- lifecycle --------------------------------------------------------------------------------

    def app(self) -> Any:
        """The ASGI app, bound to this sandbox."""
        return build_app(self)


def serve(
    version: int | str = 17,
    port: int = 8069,
    skus: int = DEFAULT_SKUS,
    seed: int = 0,
    host: str = "127.0.0.1",
    *,
    announce: Callable[[dict[str, Any]], None] | None = print_credentials,
    **credentials: Any,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM (blocking).

    Once the port accepts connections, ``announce`` receives ``{"url", "db", "login",
    "password", "api_key"}``; by default it is printed as the first stdout line (JSON,
    flushed). ``credentials`` may override ``db``, ``login``, ``password``, ``api_key``.
    """
    sandbox = OdooSandbox(version, skus, seed, port, host, **credentials)
    # a dedicated process: keep the cyclic GC off the millions of long-lived rows
    gc.collect()
    gc.freeze()
    run_until_signalled(sandbox, announce)
