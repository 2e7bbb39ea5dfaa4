"""Wire-level fidelity: XML-RPC faults, JSON-RPC envelopes, JSON-2 statuses, version info."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import httpx
import pytest

from inventory_pipelines.sandbox.odoo import OdooSandbox


def _jsonrpc(odoo: OdooSandbox, service: str, method: str, *args: Any) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 42,
        "params": {"service": service, "method": method, "args": list(args)},
    }
    response = httpx.post(f"{odoo.url}/jsonrpc", json=body)
    assert response.status_code == 200
    return response.json()


def _object(odoo: OdooSandbox) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/object")


def _json2(
    odoo: OdooSandbox, model: str, method: str, body: Any = None, key: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"bearer {key or odoo.api_key}"}
    return httpx.post(f"{odoo.url}/json/2/{model}/{method}", json=body or {}, headers=headers)


def test_common_version_matches_the_emulated_release(odoo: OdooSandbox) -> None:
    v = odoo.version
    expected = {
        "server_version": f"{v}.0",
        "server_version_info": [v, 0, 0, "final", 0, ""],
        "server_serie": f"{v}.0",
        "protocol_version": 1,
    }
    assert xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/common").version() == expected
    assert _jsonrpc(odoo, "common", "version")["result"] == expected
    info = httpx.post(f"{odoo.url}/web/webclient/version_info", json={"id": 1, "params": {}})
    assert info.json() == {"jsonrpc": "2.0", "id": 1, "result": expected}


def test_login_and_authenticate_return_uid_or_false(odoo: OdooSandbox) -> None:
    common = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/common")
    assert common.login(odoo.db, odoo.login, odoo.password) == 2
    assert common.login(odoo.db, odoo.login, odoo.api_key) == 2
    assert common.authenticate(odoo.db, odoo.login, odoo.password, {}) == 2
    assert common.login(odoo.db, odoo.login, "wrong") is False
    assert common.login(odoo.db, "nobody", odoo.password) is False
    assert _jsonrpc(odoo, "common", "login", odoo.db, odoo.login, "wrong")["result"] is False


def test_api_key_works_wherever_the_password_does(odoo: OdooSandbox) -> None:
    count = _object(odoo).execute_kw(
        odoo.db, 2, odoo.api_key, "stock.warehouse", "search_count", [[]]
    )
    assert count == 3


def test_bad_credentials_on_execute_kw_are_access_denied(odoo: OdooSandbox) -> None:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        _object(odoo).execute_kw(odoo.db, 2, "wrong", "stock.quant", "search", [[]])
    assert caught.value.faultCode == 3
    assert caught.value.faultString == "Access Denied"
    with pytest.raises(xmlrpc.client.Fault) as bad_uid:
        _object(odoo).execute_kw(odoo.db, 999, odoo.password, "stock.quant", "search", [[]])
    assert bad_uid.value.faultCode == 3
    error = _jsonrpc(
        odoo, "object", "execute_kw", odoo.db, 2, "wrong", "stock.quant", "search", [[]]
    )["error"]
    assert error["code"] == 200
    assert error["message"] == "Odoo Server Error"
    assert error["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert set(error["data"]) == {"name", "message", "arguments", "context", "debug"}


def test_xmlrpc_fault_codes(odoo: OdooSandbox) -> None:
    proxy = _object(odoo)
    auth = (odoo.db, 2, odoo.password)
    with pytest.raises(xmlrpc.client.Fault) as unknown_model:
        proxy.execute_kw(*auth, "no.such.model", "search", [[]])
    assert unknown_model.value.faultCode == 2
    assert unknown_model.value.faultString == "Object no.such.model doesn't exist"
    with pytest.raises(xmlrpc.client.Fault) as private:
        proxy.execute_kw(*auth, "stock.quant", "_gather", [[]])
    assert private.value.faultCode == 4
    with pytest.raises(xmlrpc.client.Fault) as missing:
        proxy.execute_kw(*auth, "stock.quant", "write", [[10**8], {"inventory_quantity": 1}])
    assert missing.value.faultCode == 2
    assert "Record does not exist or has been deleted" in missing.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as bad_domain:
        proxy.execute_kw(*auth, "stock.quant", "search", [[("no_field", "=", 1)]])
    assert bad_domain.value.faultCode == 1
    assert "ValueError" in bad_domain.value.faultString


def test_private_method_message_follows_the_version(odoo: OdooSandbox) -> None:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        _object(odoo).execute_kw(odoo.db, 2, odoo.password, "sale.order", "_action_cancel", [[1]])
    if odoo.version >= 18:
        expected = (
            "Private methods (such as 'sale.order._action_cancel') cannot be called remotely."
        )
    else:
        expected = "Private methods (such as _action_cancel) cannot be called remotely."
    assert caught.value.faultString == expected


def test_xmlrpc_cannot_marshal_none(odoo: OdooSandbox) -> None:
    """allow_none=False: a method returning None is a fault (code 1), as on a real server."""
    proxy = _object(odoo)
    auth = (odoo.db, 2, odoo.password)
    quant = proxy.execute_kw(*auth, "stock.quant", "search", [[]], {"limit": 1})
    proxy.execute_kw(*auth, "stock.quant", "write", [quant, {"inventory_quantity": 5}])
    with pytest.raises(xmlrpc.client.Fault) as caught:
        proxy.execute_kw(*auth, "stock.quant", "action_apply_inventory", [quant])
    assert caught.value.faultCode == 1
    assert "cannot marshal None" in caught.value.faultString


def test_jsonrpc_execute_and_execute_kw(odoo: OdooSandbox) -> None:
    by_execute = _jsonrpc(
        odoo,
        "object",
        "execute",
        odoo.db,
        2,
        odoo.password,
        "ir.model",
        "search",
        [("model", "=", "stock.quant")],
    )["result"]
    by_kw = _jsonrpc(
        odoo,
        "object",
        "execute_kw",
        odoo.db,
        2,
        odoo.password,
        "ir.model",
        "search",
        [[("model", "=", "stock.quant")]],
    )["result"]
    assert by_execute == by_kw and len(by_kw) == 1
    assert _jsonrpc(odoo, "db", "list")["result"] == [odoo.db]


def test_unknown_public_method_is_an_attribute_error(odoo: OdooSandbox) -> None:
    error = _jsonrpc(
        odoo,
        "object",
        "execute_kw",
        odoo.db,
        2,
        odoo.password,
        "stock.quant",
        "no_such_method",
        [[]],
    )["error"]
    assert error["data"]["name"] == "builtins.AttributeError"


def test_limit_false_and_order_false_mean_none_and_default(odoo: OdooSandbox) -> None:
    proxy = _object(odoo)
    auth = (odoo.db, 2, odoo.password)
    everything = proxy.execute_kw(*auth, "stock.warehouse", "search", [[], 0, False, False])
    assert len(everything) == 3
    codes = proxy.execute_kw(
        *auth, "stock.warehouse", "search_read", [[], ["code"]], {"limit": False, "order": False}
    )
    assert [row["code"] for row in codes] == ["MAIN", "EAST", "WEST"]


def test_json2_is_only_served_by_odoo_19(odoo: OdooSandbox) -> None:
    response = _json2(odoo, "stock.warehouse", "search_count", {"domain": []})
    if odoo.version >= 19:
        assert response.status_code == 200
        assert response.json() == 3
    else:
        assert response.status_code == 404


def test_json2_statuses_and_error_body(odoo19: OdooSandbox) -> None:
    unauthorized = _json2(odoo19, "stock.quant", "search", {"domain": []}, key="wrong")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["www-authenticate"].lower() == "bearer"
    assert unauthorized.json()["name"] == "werkzeug.exceptions.Unauthorized"
    password = _json2(odoo19, "stock.quant", "search", {"domain": []}, key=odoo19.password)
    assert password.status_code == 401
    private = _json2(odoo19, "stock.quant", "_gather", {})
    assert private.status_code == 403
    assert private.json()["name"] == "odoo.exceptions.AccessError"
    unknown_model = _json2(odoo19, "no.such.model", "search", {"domain": []})
    assert unknown_model.status_code == 404
    unknown_method = _json2(odoo19, "stock.quant", "no_such_method", {})
    assert unknown_method.status_code == 404
    bad_args = _json2(odoo19, "stock.quant", "search", {"domain": [], "bogus": 1})
    assert bad_args.status_code == 422
    ids_on_model_method = _json2(odoo19, "stock.quant", "search", {"ids": [1], "domain": []})
    assert ids_on_model_method.status_code == 422
    missing = _json2(odoo19, "stock.quant", "write", {"ids": [10**8], "vals": {}})
    assert missing.status_code == 404
    assert missing.json()["name"] == "odoo.exceptions.MissingError"
    user_error = _json2(odoo19, "sale.order", "create", {"vals_list": {}})
    assert user_error.status_code == 422
    assert set(user_error.json()) == {"name", "message", "arguments", "context", "debug"}
    crash = _json2(odoo19, "stock.quant", "search", {"domain": [("bogus", "=", 1)]})
    assert crash.status_code == 500
    assert crash.json()["name"] == "builtins.ValueError"


def test_json2_named_arguments_ids_and_context(odoo19: OdooSandbox) -> None:
    ids = _json2(odoo19, "stock.quant", "search", {"domain": [], "limit": 2, "order": "id"}).json()
    rows = _json2(odoo19, "stock.quant", "read", {"ids": ids, "fields": ["quantity"]}).json()
    assert [row["id"] for row in rows] == ids
    archived = _json2(
        odoo19, "product.product", "search_count", {"domain": [("active", "=", False)]}
    ).json()
    with_context = _json2(
        odoo19, "product.product", "search_count", {"domain": [], "context": {"active_test": False}}
    ).json()
    without = _json2(odoo19, "product.product", "search_count", {"domain": []}).json()
    assert with_context == without + archived


def test_doc_bearer_describes_parameters_and_model_methods(odoo19: OdooSandbox) -> None:
    response = httpx.get(
        f"{odoo19.url}/doc-bearer/stock.quant.json",
        headers={"Authorization": f"Bearer {odoo19.api_key}"},
    )
    assert response.status_code == 200
    methods = response.json()["methods"]
    assert list(methods["search_read"]["parameters"]) == [
        "domain",
        "fields",
        "offset",
        "limit",
        "order",
        "read_kwargs",
    ]
    assert "model" in methods["search_read"]["api"]
    assert list(methods["read"]["parameters"]) == ["fields", "load"]
    assert "model" not in methods["read"].get("api", [])
    assert list(methods["formatted_read_group"]["parameters"]) == [
        "domain",
        "groupby",
        "aggregates",
        "having",
        "offset",
        "limit",
        "order",
    ]
    assert "read_group" not in methods
    assert "quantity" in response.json()["fields"]
    refused = httpx.get(f"{odoo19.url}/doc-bearer/stock.quant.json")
    assert refused.status_code == 401
