"""A scripted Odoo behind `httpx.MockTransport`, a fake clock, and a client factory.

The fake speaks the three protocols just enough to drive the client: it decodes each
request into (model, method, args, kwargs), answers from handlers registered per method, and
can be told to answer the next requests with something else (an error, a 503, a timeout).
"""

from __future__ import annotations

import xmlrpc.client
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from inventory_pipelines.odoo import OdooClient, OdooConfig

SECRET = "s3cr3t-api-key-6f1c"

Handler = Callable[[list[Any], dict[str, Any]], Any]
Injected = Callable[[httpx.Request], httpx.Response]


class FakeOdooError(Exception):
    """Raised by a handler: rendered as each protocol renders this Odoo exception."""

    def __init__(self, name: str, message: str, fault: int = 1, status: int = 500) -> None:
        super().__init__(message)
        self.name, self.message, self.fault, self.status = name, message, fault, status


@dataclass
class Call:
    """One decoded request."""

    protocol: str
    model: str
    method: str
    args: list[Any]
    kwargs: dict[str, Any]
    request: httpx.Request
    uid: Any = None
    secret: Any = None


@dataclass
class FakeOdoo:
    """The scripted server; use as the `handler` of an `httpx.MockTransport`."""

    major: int = 17
    uid: int = 2
    secret: str = SECRET
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    injected: deque[Injected] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.on("res.users", "context_get", lambda args, kwargs: {"lang": "en_US", "uid": self.uid})
        self.on("product.category", "search_read", lambda args, kwargs: [])

    def on(self, model: str, method: str, handler: Handler) -> None:
        """Answer `model.method` calls with `handler(args, kwargs)`."""
        self.handlers[(model, method)] = handler

    def inject(self, *answers: Injected) -> None:
        """Answer the next requests with these instead (one request each)."""
        self.injected.extend(answers)

    def object_calls(self) -> list[Call]:
        """The calls made to models (not version/authenticate)."""
        return [c for c in self.calls if c.model != "common"]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.injected:
            return self.injected.popleft()(request)
        call = self._decode(request)
        self.calls.append(call)
        try:
            result = self._dispatch(call)
        except FakeOdooError as err:
            return self._render_error(call, err)
        return self._render(call, result)

    def version_info(self) -> dict[str, Any]:
        """What `common.version()` answers."""
        serie = f"{self.major}.0"
        return {
            "server_version": serie,
            "server_version_info": [self.major, 0, 0, "final", 0, ""],
            "server_serie": serie,
            "protocol_version": 1,
        }

    def _decode(self, request: httpx.Request) -> Call:
        path = request.url.path
        if path == "/web/webclient/version_info":
            return Call("webclient", "common", "version", [], {}, request)
        if path == "/jsonrpc":
            params = orjson.loads(request.content)["params"]
            return self._rpc_call(
                "jsonrpc", params["service"], params["method"], params["args"], request
            )
        if path.startswith("/xmlrpc/2/"):
            params, method = xmlrpc.client.loads(request.content, use_builtin_types=True)
            return self._rpc_call("xmlrpc", path.rsplit("/", 1)[1], method, list(params), request)
        if path.startswith("/json/2/"):
            model, method = path.removeprefix("/json/2/").split("/")
            bearer = request.headers.get("Authorization", "").removeprefix("bearer ")
            body = orjson.loads(request.content)
            return Call("json2", model, method, [], body, request, self.uid, bearer)
        raise AssertionError(f"unexpected path {path}")

    def _rpc_call(
        self, protocol: str, service: str, method: str, args: list[Any], request: httpx.Request
    ) -> Call:
        if service == "common":
            return Call(protocol, "common", method, args, {}, request)
        assert method == "execute_kw", method
        _db, uid, secret, model, model_method, margs, mkwargs = args
        return Call(protocol, model, model_method, margs, mkwargs, request, uid, secret)

    def _dispatch(self, call: Call) -> Any:
        if call.model == "common":
            if call.method == "version":
                return self.version_info()
            if call.method in ("authenticate", "login"):
                return self.uid if call.args[2] == self.secret else False
        if (call.uid, call.secret) != (self.uid, self.secret):
            raise FakeOdooError("odoo.exceptions.AccessDenied", "Access Denied", 3, 401)
        handler = self.handlers.get((call.model, call.method))
        if handler is None:
            raise FakeOdooError(
                "builtins.AttributeError",
                f"The method '{call.method}' does not exist on the model '{call.model}'",
                status=404,
            )
        return handler(call.args, call.kwargs)

    def _render(self, call: Call, result: Any) -> httpx.Response:
        if call.protocol in ("jsonrpc", "webclient"):
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": result})
        if call.protocol == "xmlrpc":
            body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
            return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/xml"})
        return httpx.Response(200, content=orjson.dumps(result))

    def _render_error(self, call: Call, err: FakeOdooError) -> httpx.Response:
        if call.protocol in ("jsonrpc", "webclient"):
            return jsonrpc_error(err.name, err.message)(call.request)
        if call.protocol == "xmlrpc":
            text = err.message if err.fault != 1 else f"Traceback...\n{err.name}: {err.message}"
            return xmlrpc_fault(err.fault, text)(call.request)
        return json2_error(err.status, err.name, err.message)(call.request)


def jsonrpc_error(name: str, message: str, code: int = 200) -> Injected:
    """A JSON-RPC error answer as Odoo sends it: HTTP 200, the name in `data.name`."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "code": code,
            "message": "Odoo Server Error",
            "data": {"name": name, "message": message, "arguments": [message], "debug": "tb"},
        },
    }
    return lambda request: httpx.Response(200, json=body)


def xmlrpc_fault(code: int, text: str) -> Injected:
    """An XML-RPC fault answer (HTTP 200)."""
    body = xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True)
    return lambda request: httpx.Response(200, content=body.encode())


def json2_error(status: int, name: str, message: str) -> Injected:
    """A JSON-2 error answer: the status, and Odoo's error body."""
    body = {"name": name, "message": message, "arguments": [message], "context": {}, "debug": ""}
    return lambda request: httpx.Response(status, json=body)


def status(code: int, headers: dict[str, str] | None = None, text: str = "") -> Injected:
    """A bare HTTP answer without an Odoo body (what a proxy sends)."""
    return lambda request: httpx.Response(code, headers=headers, text=text)


def raises(exc_type: type[httpx.TransportError]) -> Injected:
    """A transport failure of the given httpx type."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return fail


class FakeClock:
    """A monotonic clock that only `sleep` moves; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock."""
    return FakeClock()


@pytest.fixture
def fake() -> FakeOdoo:
    """A scripted Odoo 17."""
    return FakeOdoo()


ClientFactory = Callable[..., OdooClient]


@pytest.fixture
def make_client(fake: FakeOdoo, clock: FakeClock) -> Iterator[ClientFactory]:
    """Build clients against `fake` with the fake clock; config fields as keyword overrides."""
    clients: list[OdooClient] = []

    def build(**overrides: Any) -> OdooClient:
        values: dict[str, Any] = {
            "url": "http://odoo.test",
            "db": "demo",
            "login": "sync@example.com",
            "secret": fake.secret,
            "protocol": "jsonrpc",
        }
        values.update(overrides)
        client = OdooClient(
            OdooConfig(**values),
            transport=httpx.MockTransport(fake),
            sleep=clock.sleep,
            clock=clock.monotonic,
            random=lambda: 1.0,
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
