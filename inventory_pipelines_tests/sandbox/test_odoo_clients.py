"""The PyPI clients (odoorpc, odoo-client-lib) work unchanged against the sandbox."""

from __future__ import annotations

import xmlrpc.client

import httpx
import odoolib
import odoorpc
import pytest
from odoolib.tools import AuthenticationError, JsonRPCException

from inventory_pipelines.sandbox.odoo import OdooSandbox

INVENTORY_DOMAIN = [("location_id.usage", "in", ["internal", "transit"])]
QUANT_FIELDS = ["product_id", "location_id", "lot_id", "quantity", "reserved_quantity"]


def _odoorpc(odoo: OdooSandbox) -> odoorpc.ODOO:
    client = odoorpc.ODOO("127.0.0.1", port=odoo.port)
    client.login(odoo.db, odoo.login, odoo.password)
    return client


def _odoolib(odoo: OdooSandbox, protocol: str, password: str | None = None) -> object:
    secret = password or (odoo.api_key if protocol == "json2" else odoo.password)
    return odoolib.get_connection(
        hostname="127.0.0.1",
        port=odoo.port,
        protocol=protocol,
        database=odoo.db,
        login=odoo.login,
        password=secret,
    )


def _protocols(odoo: OdooSandbox) -> list[str]:
    return ["jsonrpc", "xmlrpc"] + (["json2"] if odoo.version >= 19 else [])


# -- odoorpc -------------------------------------------------------------------------------------


def test_odoorpc_detects_the_version_and_logs_in(odoo: OdooSandbox) -> None:
    client = _odoorpc(odoo)
    assert client.version == f"{odoo.version}.0"
    assert client.env.uid == 2
    assert client.env.context["uid"] == 2
    assert client.env.user.login == "admin"


def test_odoorpc_search_read_pages_quants_in_id_order(odoo: OdooSandbox) -> None:
    quants = _odoorpc(odoo).env["stock.quant"]
    everything = quants.search_read(INVENTORY_DOMAIN, QUANT_FIELDS, order="id")
    first = quants.search_read(INVENTORY_DOMAIN, QUANT_FIELDS, limit=10, order="id")
    second = quants.search_read(INVENTORY_DOMAIN, QUANT_FIELDS, offset=10, limit=10, order="id")
    assert first + second == everything[:20]
    assert [row["id"] for row in everything] == sorted(row["id"] for row in everything)
    product_id, product_name = first[0]["product_id"]
    assert isinstance(product_id, int) and product_name.startswith("[SKU-")


def test_odoorpc_browse_follows_relations(odoo: OdooSandbox) -> None:
    client = _odoorpc(odoo)
    quant_id = client.env["stock.quant"].search(
        [("location_id.complete_name", "=", "MAIN/Stock")], limit=1
    )[0]
    quant = client.env["stock.quant"].browse(quant_id)
    assert quant.location_id.complete_name == "MAIN/Stock"
    assert quant.location_id.warehouse_id.code == "MAIN"
    assert quant.product_id.default_code.startswith("SKU-")
    rows = client.env["stock.quant"].read([quant_id], ["quantity", "product_id"])
    assert rows[0]["quantity"] == quant.quantity


def test_odoorpc_model_existence_uses_ir_model(odoo: OdooSandbox) -> None:
    client = _odoorpc(odoo)
    assert "stock.quant" in client.env
    assert "no.such.model" not in client.env


def test_odoorpc_bad_password_is_refused(odoo: OdooSandbox) -> None:
    client = odoorpc.ODOO("127.0.0.1", port=odoo.port)
    with pytest.raises(odoorpc.error.RPCError, match="Wrong login ID or password"):
        client.login(odoo.db, odoo.login, "wrong")


def test_odoorpc_unknown_model_is_a_user_error(odoo: OdooSandbox) -> None:
    with pytest.raises(odoorpc.error.RPCError) as caught:
        _odoorpc(odoo).execute_kw("no.such.model", "search", [[]])
    data = caught.value.info["data"]
    assert data["name"] == "odoo.exceptions.UserError"
    assert data["message"] == "Object no.such.model doesn't exist"


def test_odoorpc_private_method_is_an_access_error(odoo: OdooSandbox) -> None:
    with pytest.raises(odoorpc.error.RPCError) as caught:
        _odoorpc(odoo).execute_kw("stock.quant", "_gather", [[]])
    data = caught.value.info["data"]
    assert data["name"] == "odoo.exceptions.AccessError"
    assert "Private methods" in data["message"]
    assert "cannot be called remotely" in data["message"]


# -- odoo-client-lib ---------------------------------------------------------------------------


def test_odoolib_search_read_with_domain_fields_paging_and_order(odoo: OdooSandbox) -> None:
    results = []
    for protocol in _protocols(odoo):
        quants = _odoolib(odoo, protocol).get_model("stock.quant")
        rows = quants.search_read(
            [("quantity", ">", 10), ("location_id.usage", "=", "internal")],
            ["product_id", "quantity"],
            2,
            5,
            "id desc",
        )
        assert len(rows) == 5
        assert all(row["quantity"] > 10 for row in rows)
        assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
        results.append(rows)
    assert all(rows == results[0] for rows in results)


def test_odoolib_user_context(odoo: OdooSandbox) -> None:
    for protocol in _protocols(odoo):
        context = _odoolib(odoo, protocol).get_user_context()
        assert context == {"lang": "en_US", "tz": "Europe/Brussels", "uid": 2}


def test_odoolib_bad_password_fails_authentication(odoo: OdooSandbox) -> None:
    for protocol in _protocols(odoo):
        connection = _odoolib(odoo, protocol, password="wrong")
        if protocol == "json2":
            assert connection.check_login() is False
        else:
            with pytest.raises(AuthenticationError):
                connection.check_login()


def test_odoolib_jsonrpc_errors_carry_odoo_names(odoo: OdooSandbox) -> None:
    connection = _odoolib(odoo, "jsonrpc")
    with pytest.raises(JsonRPCException) as unknown:
        connection.get_model("no.such.model").search([])
    assert unknown.value.error["data"]["name"] == "odoo.exceptions.UserError"
    with pytest.raises(JsonRPCException) as private:
        connection.get_model("stock.quant")._gather([])
    assert private.value.error["data"]["name"] == "odoo.exceptions.AccessError"


def test_odoolib_xmlrpc_errors_use_the_historical_string_faults(odoo: OdooSandbox) -> None:
    connection = _odoolib(odoo, "xmlrpc")
    with pytest.raises(xmlrpc.client.Fault) as unknown:
        connection.get_model("no.such.model").search([])
    assert unknown.value.faultCode == "warning -- UserError\n\nObject no.such.model doesn't exist"
    with pytest.raises(xmlrpc.client.Fault) as private:
        connection.get_model("stock.quant")._gather([])
    assert str(private.value.faultCode).startswith("warning -- AccessError\n\nPrivate methods")


def test_odoolib_json2_reads_with_positional_arguments(odoo19: OdooSandbox) -> None:
    quants = _odoolib(odoo19, "json2").get_model("stock.quant")
    rows = quants.search_read(INVENTORY_DOMAIN, ["quantity", "location_id"], 0, 3, "id")
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    single = quants.read([rows[0]["id"]], ["quantity"])
    assert single == {"id": rows[0]["id"], "quantity": rows[0]["quantity"]}
    assert quants.search_count(INVENTORY_DOMAIN) >= 3


def test_odoolib_json2_errors(odoo19: OdooSandbox) -> None:
    connection = _odoolib(odoo19, "json2")
    with pytest.raises(httpx.HTTPStatusError) as unknown:
        connection.get_model("no.such.model").search([])
    assert unknown.value.response.status_code == 404
    with pytest.raises(ValueError, match="404"):
        connection.get_model("no.such.model").search(domain=[])
    with pytest.raises(ValueError, match="403"):
        connection.get_model("stock.quant")._gather(domain=[])
    bad = _odoolib(odoo19, "json2", password="wrong-key").get_model("stock.quant")
    with pytest.raises(AuthenticationError):
        bad.search_count(domain=[])
