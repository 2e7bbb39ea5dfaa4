"""The wire protocols of the emulated Odoo: XML-RPC, JSON-RPC, JSON-2, and the control API.

Each handler parses a request, calls the state (:mod:`.models`) and renders the answer or the
error exactly as Odoo's controllers do:

- ``/xmlrpc/2/<service>``: faults with integer codes (1 other, 2 UserError and its kind,
  3 AccessDenied, 4 AccessError); ``/xmlrpc/<service>`` (what odoo-client-lib calls): the
  historical string fault codes. ``allow_none=False``: a ``None`` result is a fault.
- ``/jsonrpc``: services ``common``, ``object`` (``execute_kw`` and ``execute``) and ``db``;
  errors are HTTP 200 with ``{"error": {"code": 200, "message": "Odoo Server Error",
  "data": {"name": ..., "message": ..., "arguments": ..., "context": {}, "debug": ...}}}``.
- ``/web/webclient/version_info``: the version dict in a JSON-RPC envelope.
- ``/json/2/<model>/<method>`` and ``/doc-bearer/<model>.json`` (19 only): bearer API key,
  named arguments, bare JSON results, errors as HTTP statuses with
  ``{name, message, arguments, context, debug}``.
- ``/sandbox/...``: JSON control endpoints for tests (faults, counter, stock, reset, the
  webhook deliveries of automation rules and their commit delay, users and their rights:
  ``POST /sandbox/users {login, api_key?, password?, rights?: {model: [operations]}}``,
  ``POST /sandbox/users/revoke {login, model, operation}``, receipts of purchase orders:
  ``POST /sandbox/purchase/receive {order, quantities?: {sku: units}, backorder?}``).
"""

from __future__ import annotations

import traceback
import xmlrpc.client
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .errors import (
    AccessDenied,
    AccessError,
    LockError,
    MissingError,
    NotFound,
    RedirectWarning,
    Unauthorized,
    UnprocessableEntity,
    UserError,
    exception_name,
)
from .faults import Faults
from .methods import public_methods
from .models import OdooState, gc_paused

JSON = "application/json"


class Backend(Protocol):
    """What the handlers need from the running sandbox."""

    @property
    def state(self) -> OdooState:
        """The current state (replaced by a reset)."""
        ...

    @property
    def faults(self) -> Faults:
        """The fault settings and request counter."""
        ...

    def credentials(self) -> dict[str, Any]:
        """URL, database, login, password, API key."""
        ...

    def reset(self, skus: int | None = None, seed: int | None = None) -> None:
        """Regenerate the demo data."""
        ...


# -- service dispatch (shared by XML-RPC and JSON-RPC) -------------------------------------------


def dispatch_rpc(state: OdooState, service: str, method: str, params: list[Any]) -> Any:
    """Odoo's ``dispatch_rpc``: route a call to the common, db or object service."""
    params = list(params)
    if service == "common":
        if method == "version":
            return state.profile.version_info()
        if method in ("login", "authenticate"):
            if len(params) < 3:
                raise TypeError(f"{method}() missing required positional arguments")
            return state.authenticate(params[0], params[1], params[2])
        if method == "about":
            return "See http://openerp.com"
        raise AttributeError(f"Method not found: {method}")
    if service == "db":
        if method == "list":
            return [state.db]
        if method == "db_exist":
            return bool(params) and params[0] == state.db
        if method == "server_version":
            return state.profile.server_version
        if method == "list_lang":
            return [["en_US", "English (US)"]]
        raise AttributeError(f"Method not found: {method}")
    if service == "object":
        if method not in ("execute", "execute_kw"):
            raise NameError(f"Method not available {method}")
        if len(params) < 5:
            raise TypeError(f"{method} requires at least 5 positional arguments")
        db, uid, password, model, model_method, *rest = params
        if method == "execute_kw":
            args = rest[0] if rest else []
            kwargs = rest[1] if len(rest) > 1 and rest[1] else {}
        else:
            args, kwargs = rest, {}
        return state.execute_kw(db, uid, password, model, model_method, args, kwargs)
    raise KeyError(service)


def _debug(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def serialize_exception(exc: BaseException) -> dict[str, Any]:
    """Odoo's ``serialize_exception``: the ``data`` of a JSON-RPC error, the JSON-2 body."""
    message = str(exc)
    arguments: list[Any] = [message] if message else []
    if isinstance(exc, (NotFound, Unauthorized, UnprocessableEntity)):
        arguments = [message, exc.code]
    return {
        "name": exception_name(exc),
        "message": message,
        "arguments": arguments,
        "context": {},
        "debug": _debug(exc),
    }


# -- JSON-RPC -------------------------------------------------------------------------------------


def _envelope(request_id: Any, result: Any) -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":'
        + orjson.dumps(request_id)
        + b',"result":'
        + orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS)
        + b"}"
    )


def _error_envelope(request_id: Any, exc: BaseException) -> bytes:
    return orjson.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {
                "code": 200,
                "message": "Odoo Server Error",
                "data": serialize_exception(exc),
            },
        },
        default=str,
    )


async def jsonrpc(request: Request, backend: Backend) -> Response:
    """``POST /jsonrpc``."""
    raw = await request.body()
    request_id: Any = None
    with gc_paused():
        try:
            payload = orjson.loads(raw)
            request_id = payload.get("id")
            params = payload.get("params") or {}
            result = dispatch_rpc(
                backend.state,
                params.get("service", ""),
                params.get("method", ""),
                params.get("args") or [],
            )
            body = _envelope(request_id, result)
            del result
        except Exception as exc:
            body = _error_envelope(request_id, exc)
    return Response(body, media_type=JSON)


async def version_info(request: Request, backend: Backend) -> Response:
    """``/web/webclient/version_info`` (JSON-RPC envelope, GET or POST)."""
    request_id: Any = None
    raw = await request.body()
    if raw:
        try:
            request_id = orjson.loads(raw).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            request_id = None
    return Response(_envelope(request_id, backend.state.profile.version_info()), media_type=JSON)


# -- XML-RPC --------------------------------------------------------------------------------------


def _fault_int(exc: BaseException) -> xmlrpc.client.Fault:
    if isinstance(exc, RedirectWarning):
        return xmlrpc.client.Fault(2, str(exc))
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault(4, str(exc))
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault(3, str(exc))
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault(2, str(exc))
    return xmlrpc.client.Fault(1, _debug(exc))


def _fault_string(exc: BaseException) -> xmlrpc.client.Fault:
    if isinstance(exc, RedirectWarning):
        return xmlrpc.client.Fault("warning -- Warning\n\n" + str(exc), "")
    if isinstance(exc, MissingError):
        return xmlrpc.client.Fault("warning -- MissingError\n\n" + str(exc), "")
    if isinstance(exc, AccessError):
        return xmlrpc.client.Fault("warning -- AccessError\n\n" + str(exc), "")
    if isinstance(exc, AccessDenied):
        return xmlrpc.client.Fault("AccessDenied", str(exc))
    if isinstance(exc, UserError):
        return xmlrpc.client.Fault("warning -- UserError\n\n" + str(exc), "")
    return xmlrpc.client.Fault(str(exc) or type(exc).__name__, _debug(exc))  # type: ignore[arg-type]


async def xmlrpc_service(request: Request, backend: Backend) -> Response:
    """``POST /xmlrpc/2/<service>`` (int fault codes) and ``/xmlrpc/<service>`` (strings)."""
    service = request.path_params["service"]
    legacy = not request.url.path.startswith("/xmlrpc/2/")
    raw = await request.body()
    with gc_paused():
        try:
            params, method = xmlrpc.client.loads(raw, use_builtin_types=True)
            result = dispatch_rpc(backend.state, service, method or "", list(params))
            body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
        except Exception as exc:
            fault = _fault_string(exc) if legacy else _fault_int(exc)
            body = xmlrpc.client.dumps(fault, allow_none=False)
    return Response(body.encode(), media_type="text/xml")


# -- JSON-2 ---------------------------------------------------------------------------------------


def _json2_status(exc: BaseException) -> int:
    if isinstance(exc, (NotFound, Unauthorized, UnprocessableEntity)):
        return exc.code
    if isinstance(exc, (AccessDenied, AccessError)):
        return 403
    if isinstance(exc, MissingError):
        return 404
    if isinstance(exc, LockError):
        return 409
    if isinstance(exc, UserError):
        return 422
    return 500


def _json2_error(exc: BaseException) -> Response:
    headers = {"WWW-Authenticate": "bearer"} if isinstance(exc, Unauthorized) else None
    return Response(
        orjson.dumps(serialize_exception(exc), default=str),
        status_code=_json2_status(exc),
        media_type=JSON,
        headers=headers,
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _not_json2(backend: Backend) -> Response | None:
    if not backend.state.profile.has_json2:
        return Response(b"<h1>Not Found</h1>", status_code=404, media_type="text/html")
    return None


def _check_database(request: Request, backend: Backend) -> None:
    db = request.headers.get("x-odoo-database")
    if db and db != backend.state.db:
        raise NotFound(f"database {db!r} not found")


async def json2(request: Request, backend: Backend) -> Response:
    """``POST /json/2/<model>/<method>`` (Odoo 19)."""
    missing = _not_json2(backend)
    if missing is not None:
        return missing
    if request.method != "POST":
        return Response(b"Method Not Allowed", status_code=405, headers={"Allow": "POST"})
    raw = await request.body()
    with gc_paused():
        try:
            _check_database(request, backend)
            body: Any = orjson.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise UnprocessableEntity("could not parse the body, expecting a json object")
            result = backend.state.call_json2(
                _bearer(request),
                request.path_params["model"],
                request.path_params["method"],
                body,
            )
            payload = orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS)
            del result
        except orjson.JSONDecodeError as exc:
            return Response(
                orjson.dumps(
                    {
                        "name": "werkzeug.exceptions.BadRequest",
                        "message": f"could not parse the body as json: {exc}",
                        "arguments": [str(exc), 400],
                        "context": {},
                        "debug": "",
                    }
                ),
                status_code=400,
                media_type=JSON,
            )
        except Exception as exc:
            return _json2_error(exc)
    return Response(payload, media_type=JSON)


async def doc_bearer(request: Request, backend: Backend) -> Response:
    """``GET /doc-bearer/<model>.json``: fields and method signatures of a model (19)."""
    missing = _not_json2(backend)
    if missing is not None:
        return missing
    state = backend.state
    try:
        _check_database(request, backend)
        if state.check_api_key(_bearer(request)) is None:
            raise Unauthorized("Invalid apikey")
        model = request.path_params["model"]
        if model not in state.tables:
            raise NotFound(f"the model {model!r} does not exist")
        from .methods import fields_get
        from .models import Env

        with state.transaction():
            fields = fields_get(Env(state, model))
        table = state.tables[model]
        methods = {
            name: {
                "signature": "(" + ", ".join(spec.parameters()) + ")",
                "parameters": spec.parameters(),
                **({"api": spec.api} if spec.api else {}),
                "model": model,
                "module": "core",
            }
            for name, spec in public_methods(state.profile, model).items()
            if not spec.deprecated
            and not (spec.name == "read_group" and state.profile.read_group_deprecated)
        }
        result = {
            "model": model,
            "name": table.description,
            "doc": None,
            "fields": fields,
            "methods": methods,
        }
    except Exception as exc:
        return _json2_error(exc)
    return Response(orjson.dumps(result), media_type=JSON)


# -- control endpoints ----------------------------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def _ok(payload: Any) -> Response:
    return Response(orjson.dumps(payload, default=str), media_type=JSON)


def _bad(exc: BaseException) -> Response:
    return Response(
        orjson.dumps({"error": str(exc), "name": exception_name(exc)}),
        status_code=400,
        media_type=JSON,
    )


async def control(request: Request, backend: Backend) -> Response:
    """``/sandbox/<action>``: the test-facing control API (never faulted)."""
    action = request.path_params["action"].strip("/")
    try:
        body = await _json_body(request) if request.method == "POST" else {}
        faults = backend.faults
        state = backend.state
        if action == "health":
            return _ok({"ok": True})
        if action == "credentials":
            return _ok(backend.credentials())
        if action == "state":
            return _ok(
                {
                    **state.summary(),
                    "faults": faults.snapshot(),
                    "request_count": faults.request_count,
                }
            )
        if action == "requests":
            return _ok({"count": faults.request_count})
        if action == "requests/reset":
            return _ok({"count": faults.reset_request_count()})
        if action == "faults":
            if request.method == "POST":
                faults.configure(**body)
            return _ok(faults.snapshot())
        if action == "faults/reset":
            faults.reset()
            return _ok(faults.snapshot())
        if action == "faults/fail_next":
            faults.fail_next(int(body.get("count", 1)), body.get("status", 503))
            return _ok(faults.snapshot())
        if action == "stock/move":
            return _ok(
                state.move_stock(
                    body["product"], body["location"], float(body["qty"]), body.get("lot")
                )
            )
        if action == "stock/set_quantity_silently":
            quant_id = body.get("quant_id") or state.find_quant(
                body["product"], body["location"], body.get("lot")
            )
            if not quant_id:
                raise ValueError("no such quant")
            state.set_quant_quantity_silently(
                int(quant_id), float(body["quantity"]), body.get("reserved_quantity")
            )
            return _ok({"quant_id": quant_id})
        if action == "purchase/receive":
            return _ok(
                state.receive_purchase(
                    body["order"], body.get("quantities"), backorder=body.get("backorder", True)
                )
            )
        if action == "stock/delete_quant":
            state.delete_quant_silently(int(body["quant_id"]))
            return _ok({"quant_id": body["quant_id"]})
        if action == "webhooks":
            # the rules themselves are made through the ORM (base.automation), as in Odoo
            if request.method == "POST":
                return _ok(state.automation.configure(**body))
            return _ok(state.automation.snapshot())
        if action == "webhooks/reset":
            state.automation.reset_log()
            return _ok(state.automation.snapshot())
        if action == "users":
            uid = state.add_user(
                body["login"],
                password=body.get("password"),
                api_key=body.get("api_key"),
                name=body.get("name"),
            )
            if "rights" in body:
                state.access.restrict(uid, body["rights"])
            return _ok({"uid": uid})
        if action == "users/revoke":
            state.revoke_right(body["login"], body["model"], body["operation"])
            return _ok(
                {"login": body["login"], "revoked": f"{body['operation']} on {body['model']}"}
            )
        if action == "clock":
            state.set_clock(body.get("now"), float(body.get("offset_seconds", 0.0)))
            return _ok({"now": state.now()})
        if action == "reset":
            backend.reset(body.get("skus"), body.get("seed"))
            return _ok(backend.state.summary())
        return Response(
            orjson.dumps({"error": f"unknown action {action!r}"}), status_code=404, media_type=JSON
        )
    except Exception as exc:
        return _bad(exc)
