"""The three wire protocols of Odoo's external API over one `httpx.Client`.

Each protocol turns a call into exactly one HTTP request and its answer into a result or one
of the typed errors of `errors.py`; retrying is the business of `resilience.py`. Server-side
error texts pass through `_scrub` so that the secret can never leak into an exception.
"""

from __future__ import annotations

import email.utils
import itertools
import re
import time
import xmlrpc.client
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from xml.parsers.expat import ExpatError

import httpx
import orjson

from inventory_pipelines.odoo.config import OdooConfig
from inventory_pipelines.odoo.errors import (
    OdooAccessError,
    OdooAuthenticationError,
    OdooError,
    OdooServerError,
    OdooUnavailableError,
    OdooUserError,
    error_class_for_name,
    error_class_for_status,
)

__all__ = [
    "Json2Protocol",
    "JsonRpcProtocol",
    "OdooProtocol",
    "XmlRpcProtocol",
    "json2_arguments",
    "parse_retry_after",
]

# Statuses that say "not now" rather than "never": proxies and load balancers in front of an
# overloaded or restarting Odoo, rate limits, and JSON-2's lock errors.
_TRANSIENT_STATUSES = frozenset({409, 429, 502, 503, 504})

# XML-RPC fault codes of `/xmlrpc/2` (odoo/addons/base/controllers/rpc.py).
_FAULTS: dict[int, tuple[type[OdooError], str]] = {
    2: (OdooUserError, "odoo.exceptions.UserError"),
    3: (OdooAuthenticationError, "odoo.exceptions.AccessDenied"),
    4: (OdooAccessError, "odoo.exceptions.AccessError"),
}

_JSON_HEADERS = {"Content-Type": "application/json"}
_XML_HEADERS = {"Content-Type": "text/xml"}
# JSON-RPC request ids; only for matching answers in a server's logs, so one global counter.
_ids = itertools.count(1)

# The last line of a Python traceback: "psycopg2.errors.SerializationFailure: could not ...".
_TRACEBACK_TAIL = re.compile(r"^([A-Za-z_][\w.]*): ?(.*)$")

# JSON-2 takes named arguments only; these are the parameter names of the ORM methods that
# callers commonly pass positionally (odoo/models.py, 16.0 to 19.0). "ids" marks a method on
# records, whose first positional argument is the ids.
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "read": ("ids", "fields", "load"),
    "write": ("ids", "vals"),
    "create": ("vals_list",),
    "unlink": ("ids",),
    "copy": ("ids", "default"),
    "read_group": ("domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"),
    "formatted_read_group": (
        "domain",
        "groupby",
        "aggregates",
        "having",
        "offset",
        "limit",
        "order",
    ),
    "fields_get": ("allfields", "attributes"),
    "name_search": ("name", "domain", "operator", "limit"),
    "default_get": ("fields_list",),
    "context_get": (),
    "check_access_rights": ("operation", "raise_exception"),
    "has_access": ("ids", "operation"),
    "check_access": ("ids", "operation"),
}


def json2_arguments(method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-2 body of an `execute_kw`-style call: positional arguments get their names.

    Methods not in the table are taken to be record methods (`action_confirm`, ...): their
    one positional argument is the ids, anything more must be passed by name.
    """
    names = _PARAMETERS.get(method, ("ids",))
    if len(args) > len(names):
        raise TypeError(
            f"JSON-2 takes named arguments only: pass the arguments of {method!r} after the "
            f"first {len(names)} in kwargs"
        )
    body = dict(zip(names, args, strict=False))
    clash = body.keys() & kwargs.keys()
    if clash:
        raise TypeError(f"{method!r} got {sorted(clash)} both by position and by name")
    body.update(kwargs)
    return body


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_MALFORMED = object()


def _load_json(content: bytes) -> Any:
    """The decoded body, or `_MALFORMED` when it is not JSON (a proxy's HTML error page)."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return _MALFORMED


class OdooProtocol(ABC):
    """One of Odoo's RPC dialects; every method sends exactly one request."""

    name: ClassVar[str]

    def __init__(self, http: httpx.Client, config: OdooConfig) -> None:
        self._http = http
        self._config = config

    @abstractmethod
    def version_info(self) -> dict[str, Any]:
        """The server's `common.version()` dict."""

    @abstractmethod
    def authenticate(self) -> int:
        """Check the credentials and return the user id."""

    @abstractmethod
    def execute_kw(
        self, uid: int, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        """Call `method` of `model` with positional `args` and keyword `kwargs`."""

    def _post(
        self, path: str, content: bytes, headers: Mapping[str, str], *, model: str, method: str
    ) -> httpx.Response:
        """Send one request; turn httpx's failures into `OdooUnavailableError`."""
        try:
            return self._http.post(path, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left this process: even a write may be sent again.
            raise OdooUnavailableError(
                f"cannot connect to Odoo: {type(exc).__name__}: {exc}",
                model=model,
                method=method,
                request_sent=False,
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise OdooError(
                f"cannot send to Odoo: {type(exc).__name__}: {exc}", model=model, method=method
            ) from exc
        except httpx.TransportError as exc:
            # Timeouts and broken connections after sending: the server may have acted.
            raise OdooUnavailableError(
                f"no answer from Odoo: {type(exc).__name__}: {exc}",
                model=model,
                method=method,
                request_sent=True,
            ) from exc

    def _scrub(self, text: str) -> str:
        """The text with the secret blotted out (server messages may echo anything)."""
        secret = self._config.secret
        return text.replace(secret, "***") if secret else text

    def _error(
        self,
        cls: type[OdooError],
        message: str,
        *,
        name: str | None,
        model: str,
        method: str,
        status: int | None = None,
        response: httpx.Response | None = None,
    ) -> OdooError:
        """Build a typed error, with Retry-After for the transient ones."""
        message = self._scrub(message)
        if issubclass(cls, OdooUnavailableError):
            retry_after = (
                parse_retry_after(response.headers.get("Retry-After"))
                if response is not None
                else None
            )
            return cls(
                message,
                odoo_name=name,
                model=model,
                method=method,
                status=status,
                retry_after=retry_after,
            )
        return cls(message, odoo_name=name, model=model, method=method, status=status)

    def _http_error(
        self,
        response: httpx.Response,
        *,
        name: str | None,
        message: str | None,
        model: str,
        method: str,
    ) -> OdooError:
        """The error for a non-200 answer; `name` is set when the body is an Odoo error."""
        status = response.status_code
        if status in _TRANSIENT_STATUSES or (status >= 500 and name is None):
            cls: type[OdooError] = OdooUnavailableError
        else:
            cls = error_class_for_name(name, message or "") or error_class_for_status(status)
        text = message or f"HTTP {status} {response.reason_phrase}".strip()
        return self._error(
            cls, text, name=name, model=model, method=method, status=status, response=response
        )

    def _jsonrpc(self, path: str, params: Mapping[str, Any], *, model: str, method: str) -> Any:
        """One JSON-RPC 2.0 `call` (used by `/jsonrpc` and `/web/webclient/version_info`)."""
        envelope = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(_ids)}
        response = self._post(
            path, orjson.dumps(envelope), _JSON_HEADERS, model=model, method=method
        )
        body = _load_json(response.content)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            name = data.get("name") or None
            message = str(data.get("message") or error.get("message") or "Odoo Server Error")
            if response.status_code != 200:
                raise self._http_error(
                    response, name=name, message=message, model=model, method=method
                )
            # JSON-RPC errors come with HTTP 200 and `code` 200 whatever happened: only
            # `data.name` tells them apart.
            cls = error_class_for_name(name, message) or OdooServerError
            raise self._error(cls, message, name=name, model=model, method=method)
        if response.status_code != 200:
            raise self._http_error(response, name=None, message=None, model=model, method=method)
        if not isinstance(body, dict) or "result" not in body:
            raise self._error(
                OdooServerError,
                "malformed JSON-RPC answer from Odoo",
                name=None,
                model=model,
                method=method,
            )
        return body["result"]


class _ServiceProtocol(OdooProtocol):
    """The `common` and `object` services, which JSON-RPC and XML-RPC expose alike."""

    def version_info(self) -> dict[str, Any]:
        """`common.version()`."""
        return self._service("common", "version", [], model="common", method="version")

    def authenticate(self) -> int:
        """`common.authenticate(db, login, secret, {})`; False means bad credentials."""
        cfg = self._config
        uid = self._service(
            "common",
            "authenticate",
            [cfg.db, cfg.login, cfg.secret, {}],
            model="common",
            method="authenticate",
        )
        return _checked_uid(uid, cfg)

    def execute_kw(
        self, uid: int, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        """`object.execute_kw(db, uid, secret, model, method, args, kwargs)`."""
        cfg = self._config
        params = [cfg.db, uid, cfg.secret, model, method, list(args), dict(kwargs)]
        return self._service("object", "execute_kw", params, model=model, method=method)

    @abstractmethod
    def _service(
        self, service: str, remote: str, args: list[Any], *, model: str, method: str
    ) -> Any:
        """Call `remote` of `service` with `args` (one request)."""


class JsonRpcProtocol(_ServiceProtocol):
    """JSON-RPC on `/jsonrpc`, services `common` and `object` (Odoo 16 to 19)."""

    name = "jsonrpc"

    def _service(
        self, service: str, remote: str, args: list[Any], *, model: str, method: str
    ) -> Any:
        params = {"service": service, "method": remote, "args": args}
        return self._jsonrpc("/jsonrpc", params, model=model, method=method)


class XmlRpcProtocol(_ServiceProtocol):
    """XML-RPC on `/xmlrpc/2/common` and `/xmlrpc/2/object`, marshalled by the stdlib."""

    name = "xmlrpc"

    def _service(
        self, service: str, remote: str, args: list[Any], *, model: str, method: str
    ) -> Any:
        # allow_none lets us send `load=None`; Odoo's unmarshaller accepts <nil/> (it is only
        # Odoo's answers that may not contain it).
        payload = xmlrpc.client.dumps(tuple(args), remote, allow_none=True).encode()
        response = self._post(
            f"/xmlrpc/2/{service}", payload, _XML_HEADERS, model=model, method=method
        )
        if response.status_code != 200:
            raise self._http_error(response, name=None, message=None, model=model, method=method)
        try:
            return xmlrpc.client.loads(response.content, use_builtin_types=True)[0][0]
        except xmlrpc.client.Fault as fault:
            raise self._fault_error(fault, model=model, method=method) from None
        except (ExpatError, IndexError, ValueError):
            raise self._error(
                OdooServerError,
                "malformed XML-RPC answer from Odoo",
                name=None,
                model=model,
                method=method,
            ) from None

    def _fault_error(self, fault: xmlrpc.client.Fault, *, model: str, method: str) -> OdooError:
        """Map a fault by its code; fault 1 carries a traceback whose last line names it."""
        code, text = fault.faultCode, str(fault.faultString)
        if code in _FAULTS:
            cls, name = _FAULTS[code]
            cls = error_class_for_name(name, text) or cls
            return self._error(cls, text, name=name, model=model, method=method)
        lines = [line for line in text.strip().splitlines() if line.strip()]
        tail = lines[-1].strip() if lines else text
        match = _TRACEBACK_TAIL.match(tail)
        name: str | None = None
        message = tail
        if match:
            name, message = match.group(1), match.group(2) or tail
            if "." not in name:
                name = f"builtins.{name}"
        cls = error_class_for_name(name, message) or OdooServerError
        return self._error(cls, message, name=name, model=model, method=method)


class Json2Protocol(OdooProtocol):
    """JSON-2 on `/json/2/<model>/<method>` (Odoo 19): bearer API key, named arguments."""

    name = "json2"

    def version_info(self) -> dict[str, Any]:
        """`/web/webclient/version_info`, the same dict as `common.version()`."""
        return self._jsonrpc("/web/webclient/version_info", {}, model="common", method="version")

    def authenticate(self) -> int:
        """Check the API key with `res.users/context_get` and find the user id.

        JSON-2 has no login call: the key is the session. The context usually carries the
        uid; when it does not, the user is looked up by login.
        """
        context = self.execute_kw(0, "res.users", "context_get", [], {})
        uid = context.get("uid") if isinstance(context, dict) else None
        if isinstance(uid, int) and not isinstance(uid, bool) and uid > 0:
            return uid
        ids = self.execute_kw(
            0, "res.users", "search", [[["login", "=", self._config.login]]], {"limit": 1}
        )
        if not ids:
            raise OdooAuthenticationError(
                f"the API key is valid but no user has login {self._config.login!r}",
                model="res.users",
                method="context_get",
            )
        return int(ids[0])

    def execute_kw(
        self, uid: int, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> Any:
        """POST the named arguments to `/json/2/<model>/<method>` (`uid` is implied by the key)."""
        cfg = self._config
        headers = {"Content-Type": "application/json", "Authorization": f"bearer {cfg.secret}"}
        if cfg.db:
            headers["X-Odoo-Database"] = cfg.db
        body = orjson.dumps(json2_arguments(method, args, kwargs))
        response = self._post(
            f"/json/2/{model}/{method}", body, headers, model=model, method=method
        )
        result = _load_json(response.content)
        if response.status_code == 200 and result is not _MALFORMED:
            return result
        if response.status_code == 200:
            raise self._error(
                OdooServerError,
                "malformed JSON-2 answer from Odoo",
                name=None,
                model=model,
                method=method,
            )
        name = message = None
        if isinstance(result, dict) and result.get("name"):
            name = str(result["name"])
            message = str(result.get("message") or name)
        raise self._http_error(response, name=name, message=message, model=model, method=method)


def _checked_uid(uid: Any, config: OdooConfig) -> int:
    """`authenticate` answers False (not a fault) for bad credentials."""
    if isinstance(uid, bool) or not isinstance(uid, int) or uid <= 0:
        raise OdooAuthenticationError(
            f"Odoo refused the credentials of login {config.login!r} on database {config.db!r}",
            model="common",
            method="authenticate",
        )
    return uid
