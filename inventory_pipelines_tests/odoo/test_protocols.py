"""What goes on the wire for each protocol, version detection, authentication, error mapping."""

from __future__ import annotations

import xmlrpc.client

import httpx
import orjson
import pytest

from inventory_pipelines.odoo import (
    OdooAccessError,
    OdooAuthenticationError,
    OdooError,
    OdooMissingError,
    OdooServerError,
    OdooUnavailableError,
    OdooUnsupportedVersionError,
    OdooUserError,
    OdooVersion,
)
from inventory_pipelines.odoo.transports import json2_arguments
from inventory_pipelines_tests.odoo.conftest import (
    SECRET,
    ClientFactory,
    FakeOdoo,
    json2_error,
    jsonrpc_error,
    status,
    xmlrpc_fault,
)

QUANT = {"id": 7, "product_id": 3, "lot_id": False, "quantity": 5.0}


def answer_quants(args: list, kwargs: dict) -> list[dict]:
    return [QUANT]


def test_jsonrpc_calls_execute_kw_on_the_object_service(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("stock.quant", "search_read", answer_quants)
    client = make_client(protocol="jsonrpc")

    assert client.call("stock.quant", "search_read", [[]], {"fields": ["id"]}) == [QUANT]

    request = fake.requests[-1]
    assert request.url.path == "/jsonrpc"
    params = orjson.loads(request.content)["params"]
    assert params["service"] == "object"
    assert params["method"] == "execute_kw"
    assert params["args"] == [
        "demo",
        2,
        SECRET,
        "stock.quant",
        "search_read",
        [[]],
        {"fields": ["id"]},
    ]


def test_jsonrpc_logs_in_with_authenticate_on_the_common_service(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    client = make_client(protocol="jsonrpc")

    assert client.uid == 2
    assert [(c.model, c.method) for c in fake.calls] == [
        ("common", "version"),
        ("common", "authenticate"),
    ]
    assert fake.calls[1].args == ["demo", "sync@example.com", SECRET, {}]


def test_xmlrpc_calls_execute_kw_on_the_object_endpoint(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.on("stock.quant", "search_read", answer_quants)
    client = make_client(protocol="xmlrpc")

    result = client.call("stock.quant", "search_read", [[]], {"fields": ["id"], "load": None})

    assert result == [QUANT]
    paths = [r.url.path for r in fake.requests]
    assert paths == ["/xmlrpc/2/common", "/xmlrpc/2/common", "/xmlrpc/2/object"]
    params, method = xmlrpc.client.loads(fake.requests[-1].content)
    assert method == "execute_kw"
    assert params[3:] == ("stock.quant", "search_read", [[]], {"fields": ["id"], "load": None})


def test_json2_posts_named_arguments_with_the_key_as_bearer(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 19
    fake.on("stock.quant", "search_read", answer_quants)
    client = make_client(protocol="json2")

    client.call("stock.quant", "search_read", [[["id", ">", 0]], ["id"]], {"limit": 5})

    request = fake.requests[-1]
    assert request.url.path == "/json/2/stock.quant/search_read"
    assert request.headers["Authorization"] == f"bearer {SECRET}"
    assert request.headers["X-Odoo-Database"] == "demo"
    assert orjson.loads(request.content) == {
        "domain": [["id", ">", 0]],
        "fields": ["id"],
        "limit": 5,
    }


def test_json2_checks_the_key_with_context_get_instead_of_logging_in(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 19
    client = make_client(protocol="json2")

    assert client.uid == 2
    assert [(c.model, c.method) for c in fake.calls] == [
        ("common", "version"),
        ("res.users", "context_get"),
    ]
    assert fake.requests[0].url.path == "/web/webclient/version_info"


def test_json2_finds_the_uid_by_login_when_the_context_has_none(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 19
    fake.on("res.users", "context_get", lambda args, kwargs: {"lang": "en_US"})
    fake.on("res.users", "search", lambda args, kwargs: [9])
    client = make_client(protocol="json2")

    assert client.uid == 9
    assert fake.calls[-1].kwargs == {"domain": [["login", "=", "sync@example.com"]], "limit": 1}


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "body"),
    [
        (
            "search",
            [[["a", "=", 1]], 0, 10],
            {},
            {"domain": [["a", "=", 1]], "offset": 0, "limit": 10},
        ),
        ("search_count", [[]], {}, {"domain": []}),
        (
            "read",
            [[1, 2], ["name"]],
            {"load": None},
            {"ids": [1, 2], "fields": ["name"], "load": None},
        ),
        ("write", [[1], {"name": "x"}], {}, {"ids": [1], "vals": {"name": "x"}}),
        ("create", [[{"name": "x"}]], {}, {"vals_list": [{"name": "x"}]}),
        ("fields_get", [], {"attributes": ["type"]}, {"attributes": ["type"]}),
        ("action_confirm", [[4]], {"context": {"a": 1}}, {"ids": [4], "context": {"a": 1}}),
        (
            "read_group",
            [[], ["quantity:sum"], ["product_id"]],
            {"lazy": False},
            {"domain": [], "fields": ["quantity:sum"], "groupby": ["product_id"], "lazy": False},
        ),
        (
            "formatted_read_group",
            [[], ["product_id"], ["quantity:sum"]],
            {},
            {"domain": [], "groupby": ["product_id"], "aggregates": ["quantity:sum"]},
        ),
    ],
)
def test_json2_names_the_positional_arguments_of_orm_methods(
    method: str, args: list, kwargs: dict, body: dict
) -> None:
    assert json2_arguments(method, args, kwargs) == body


def test_json2_refuses_positional_arguments_it_cannot_name() -> None:
    with pytest.raises(TypeError, match="named arguments only"):
        json2_arguments("action_confirm", [[4], "extra"], {})
    with pytest.raises(TypeError, match="both by position and by name"):
        json2_arguments("search", [[]], {"domain": []})


@pytest.mark.parametrize(("major", "expected"), [(16, "jsonrpc"), (18, "jsonrpc"), (19, "json2")])
def test_auto_picks_json2_from_odoo_19_and_jsonrpc_before(
    fake: FakeOdoo, make_client: ClientFactory, major: int, expected: str
) -> None:
    fake.major = major
    client = make_client(protocol="auto")

    assert client.protocol == expected
    assert client.version.major == major


def test_json2_on_an_odoo_without_it_is_a_clear_error(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 17
    with pytest.raises(OdooUnsupportedVersionError, match="JSON-2 needs Odoo 19"):
        make_client(protocol="json2").call("res.partner", "search", [[]])


def test_version_is_asked_once(fake: FakeOdoo, make_client: ClientFactory) -> None:
    client = make_client()

    assert client.version == OdooVersion(17, 0, "17.0", False)
    assert client.version is client.version
    assert sum(1 for c in fake.calls if c.method == "version") == 1


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (
            {
                "server_version": "17.0+e",
                "server_version_info": [17, 0, 0, "final", 0, "e"],
                "server_serie": "17.0",
            },
            OdooVersion(17, 0, "17.0", True),
        ),
        (
            {
                "server_version": "saas~18.4+e",
                "server_version_info": ["saas~18", 4, 0, "final", 0, "e"],
                "server_serie": "saas~18.4",
            },
            OdooVersion(18, 4, "saas~18.4", True),
        ),
        (
            {
                "server_version": "16.0",
                "server_version_info": [16, 0, 0, "final", 0, ""],
                "server_serie": "16.0",
            },
            OdooVersion(16, 0, "16.0", False),
        ),
    ],
)
def test_version_info_is_parsed(info: dict, expected: OdooVersion) -> None:
    assert OdooVersion.from_server_info(info) == expected


@pytest.mark.parametrize("major", [15, 20])
def test_versions_outside_16_to_19_are_refused(
    fake: FakeOdoo, make_client: ClientFactory, major: int
) -> None:
    fake.major = major
    with pytest.raises(OdooUnsupportedVersionError, match=f"Odoo {major}.0 is not supported"):
        _ = make_client(protocol="auto").version


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc"])
def test_authenticate_answering_false_is_an_authentication_error(
    fake: FakeOdoo, make_client: ClientFactory, protocol: str
) -> None:
    client = make_client(protocol=protocol, secret="wrong")

    with pytest.raises(OdooAuthenticationError, match="refused the credentials"):
        _ = client.uid


def test_json2_with_a_bad_key_is_an_authentication_error(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 19
    client = make_client(protocol="json2", secret="wrong")

    with pytest.raises(OdooAuthenticationError):
        _ = client.uid


# --- error mapping ---------------------------------------------------------------------------


def failing_call(fake: FakeOdoo, client, answer) -> OdooError:
    """Warm the session up, then answer the next call with `answer` and return the error."""
    assert client.uid
    fake.inject(answer)
    with pytest.raises(OdooError) as info:
        client.call("stock.quant", "search_read", [[]], {"fields": ["id"]})
    return info.value


@pytest.mark.parametrize(
    ("name", "message", "expected"),
    [
        ("odoo.exceptions.AccessDenied", "Access Denied", OdooAuthenticationError),
        ("odoo.exceptions.AccessError", "You are not allowed", OdooAccessError),
        ("odoo.exceptions.MissingError", "Record does not exist", OdooMissingError),
        ("odoo.exceptions.UserError", "Cannot do that", OdooUserError),
        ("odoo.exceptions.ValidationError", "Invalid", OdooUserError),
        ("odoo.exceptions.UserError", "Object stock.quantz doesn't exist", OdooMissingError),
        (
            "builtins.AttributeError",
            "The method 'frob' does not exist on the model 'stock.quant'",
            OdooMissingError,
        ),
        (
            "builtins.AttributeError",
            "The method 'stock.quant.frob' does not exist",
            OdooMissingError,
        ),
        (
            "builtins.AttributeError",
            "type object 'stock.quant' has no attribute 'frob'",
            OdooMissingError,
        ),
        ("builtins.ValueError", "Invalid field 'x'", OdooServerError),
        ("psycopg2.errors.UndefinedColumn", "column does not exist", OdooServerError),
    ],
)
@pytest.mark.bad_input
def test_jsonrpc_errors_map_by_data_name(
    fake: FakeOdoo, make_client: ClientFactory, name: str, message: str, expected: type
) -> None:
    err = failing_call(fake, make_client(protocol="jsonrpc"), jsonrpc_error(name, message))

    assert type(err) is expected
    assert (err.odoo_name, err.message) == (name, message)
    assert (err.model, err.method) == ("stock.quant", "search_read")


@pytest.mark.parametrize("code", [100, 200, 404])
def test_jsonrpc_errors_ignore_the_code(
    fake: FakeOdoo, make_client: ClientFactory, code: int
) -> None:
    answer = jsonrpc_error("odoo.exceptions.AccessError", "nope", code=code)
    err = failing_call(fake, make_client(protocol="jsonrpc"), answer)

    assert type(err) is OdooAccessError


@pytest.mark.parametrize(
    ("code", "text", "expected", "name"),
    [
        (
            1,
            'Traceback (most recent call last):\n  File "x.py"\nValueError: Invalid field',
            OdooServerError,
            "builtins.ValueError",
        ),
        (2, "Cannot do that", OdooUserError, "odoo.exceptions.UserError"),
        (
            2,
            "Record does not exist or has been deleted.",
            OdooMissingError,
            "odoo.exceptions.UserError",
        ),
        (3, "Access Denied", OdooAuthenticationError, "odoo.exceptions.AccessDenied"),
        (4, "You are not allowed", OdooAccessError, "odoo.exceptions.AccessError"),
        (
            1,
            "Traceback\nAttributeError: The method 'frob' does not exist on the model 'x'",
            OdooMissingError,
            "builtins.AttributeError",
        ),
    ],
)
def test_xmlrpc_faults_map_by_code(
    fake: FakeOdoo,
    make_client: ClientFactory,
    code: int,
    text: str,
    expected: type,
    name: str,
) -> None:
    err = failing_call(fake, make_client(protocol="xmlrpc"), xmlrpc_fault(code, text))

    assert type(err) is expected
    assert err.odoo_name == name
    assert err.method == "search_read"


def test_xmlrpc_fault_1_keeps_the_last_line_of_the_traceback_as_message(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    text = "Traceback (most recent call last):\n  File \"odoo/x.py\", line 1\nKeyError: 'frob'\n"
    err = failing_call(fake, make_client(protocol="xmlrpc"), xmlrpc_fault(1, text))

    assert err.message == "'frob'"
    assert err.odoo_name == "builtins.KeyError"


@pytest.mark.parametrize(
    ("http_status", "name", "expected"),
    [
        (401, "odoo.exceptions.AccessDenied", OdooAuthenticationError),
        (403, "odoo.exceptions.AccessError", OdooAccessError),
        (403, "odoo.exceptions.AccessDenied", OdooAuthenticationError),
        (404, "werkzeug.exceptions.NotFound", OdooMissingError),
        (404, "odoo.exceptions.MissingError", OdooMissingError),
        (422, "odoo.exceptions.ValidationError", OdooUserError),
        (422, "builtins.TypeError", OdooUserError),
        (500, "builtins.ZeroDivisionError", OdooServerError),
    ],
)
def test_json2_errors_map_by_status_and_name(
    fake: FakeOdoo, make_client: ClientFactory, http_status: int, name: str, expected: type
) -> None:
    fake.major = 19
    err = failing_call(fake, make_client(protocol="json2"), json2_error(http_status, name, "boom"))

    assert type(err) is expected
    assert (err.odoo_name, err.message, err.status) == (name, "boom", http_status)


def test_json2_401_without_a_body_is_an_authentication_error(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    fake.major = 19
    answer = status(401, headers={"WWW-Authenticate": "bearer"})
    err = failing_call(fake, make_client(protocol="json2"), answer)

    assert type(err) is OdooAuthenticationError


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc", "json2"])
@pytest.mark.parametrize("http_status", [409, 429, 500, 502, 503, 504])
def test_transient_http_statuses_are_unavailable_errors(
    fake: FakeOdoo, make_client: ClientFactory, protocol: str, http_status: int
) -> None:
    fake.major = 19
    client = make_client(protocol=protocol, max_attempts=1)
    err = failing_call(fake, client, status(http_status, text="<html>Bad Gateway</html>"))

    assert type(err) is OdooUnavailableError
    assert err.status == http_status


def test_a_json2_lock_error_is_transient(fake: FakeOdoo, make_client: ClientFactory) -> None:
    fake.major = 19
    client = make_client(protocol="json2", max_attempts=1)
    answer = json2_error(409, "odoo.exceptions.ConcurrencyError", "could not serialize")
    err = failing_call(fake, client, answer)

    assert isinstance(err, OdooUnavailableError)


def test_an_unknown_method_on_jsonrpc_is_a_missing_error(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    with pytest.raises(OdooMissingError, match="does not exist on the model"):
        make_client().call("stock.quant", "frobnicate", [[1]])


@pytest.mark.bad_input
def test_a_proxy_404_on_the_endpoint_is_a_missing_error(
    fake: FakeOdoo, make_client: ClientFactory
) -> None:
    err = failing_call(fake, make_client(protocol="jsonrpc"), status(404, text="Not Found"))

    assert type(err) is OdooMissingError


@pytest.mark.bad_input
def test_a_garbled_answer_is_a_server_error(fake: FakeOdoo, make_client: ClientFactory) -> None:
    answer = lambda request: httpx.Response(200, text="<html>login</html>")  # noqa: E731
    err = failing_call(fake, make_client(protocol="jsonrpc"), answer)

    assert type(err) is OdooServerError
