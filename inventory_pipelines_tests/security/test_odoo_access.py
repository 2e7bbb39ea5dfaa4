"""The least Odoo rights, checked at start-up with Odoo's own model methods.

The Odoo emulator keeps rights per user (a test takes one away) and answers
`check_access_rights` (16 to 19, deprecated from 18) and `has_access` / `check_access` (18+)
as Odoo does; it refuses the ORM calls a user has no right for, with Odoo's message. The
product asks for each right it needs (`odoo.access.REQUIRED`) when a run starts outside
`local`, in `inventory-sync odoo check`, and before the push path starts; what is missing is
one line naming each right.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import odoolib
import odoorpc
import pytest
from click.testing import CliRunner

from inventory_pipelines.cli import main
from inventory_pipelines.defs.resources import OdooResource
from inventory_pipelines.odoo import OdooAccessError, OdooClient, OdooConfig, OdooMissingError
from inventory_pipelines.odoo.access import (
    REQUIRED,
    OdooRightsError,
    check_rights,
    missing_rights,
)
from inventory_pipelines.sandbox.odoo import OdooSandbox
from inventory_pipelines.stream.setup import PushConfigError, push_path

BOT, BOT_KEY, BOT_PASSWORD = "sync-bot", "sync-bot-api-key-0123456789", "sync-bot-password"


@pytest.fixture(scope="module", params=[16, 17, 18, 19])
def odoo(request: pytest.FixtureRequest) -> Iterator[OdooSandbox]:
    with OdooSandbox(version=request.param, skus=10, seed=3, port=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def odoo17() -> Iterator[OdooSandbox]:
    with OdooSandbox(version=17, skus=10, seed=3, port=0) as sandbox:
        yield sandbox


_users = iter(range(1, 10_000))


def integration_user(odoo: OdooSandbox, *revoked: tuple[str, str]) -> str:
    """A new user with every right but `revoked` ((model, operation) pairs); its login."""
    login = f"{BOT}-{next(_users)}"
    odoo.state.add_user(login, api_key=f"{BOT_KEY}-{login}", password=BOT_PASSWORD)
    for model, operation in revoked:
        odoo.state.revoke_right(login, model, operation)
    return login


def client_of(odoo: OdooSandbox, login: str, protocol: str = "auto") -> OdooClient:
    return OdooClient(
        OdooConfig(
            url=odoo.url,
            db=odoo.db,
            login=login,
            secret=f"{BOT_KEY}-{login}",
            protocol=protocol,  # type: ignore[arg-type]
            max_attempts=1,
        )
    )


# -- the emulator ------------------------------------------------------------------------------


def test_the_emulator_answers_check_access_rights_per_user_on_every_version(odoo) -> None:
    login = integration_user(odoo, ("sale.order", "create"))
    with client_of(odoo, login) as client:
        asks = lambda operation, **kw: client.call(  # noqa: E731
            "sale.order", "check_access_rights", [operation], kw
        )
        assert asks("read", raise_exception=False) is True
        assert asks("create", raise_exception=False) is False
        with pytest.raises(OdooAccessError, match="not allowed to create 'Sales Order'"):
            asks("create")
    admin = OdooClient(OdooConfig(url=odoo.url, db=odoo.db, login="admin", secret=odoo.api_key))
    with admin:
        assert admin.call("sale.order", "check_access_rights", ["create"]) is True


def test_has_access_and_check_access_answer_from_18_only(odoo) -> None:
    login = integration_user(odoo, ("stock.quant", "read"))
    with client_of(odoo, login) as client:
        if odoo.version < 18:
            with pytest.raises(OdooMissingError, match="has_access"):  # words differ by version
                client.call("stock.quant", "has_access", [[], "read"])
            return
        assert client.call("stock.quant", "has_access", [[], "read"]) is False
        assert client.call("stock.move", "has_access", [[], "read"]) is True
        with pytest.raises(OdooAccessError, match=r"access 'Quants' \(stock.quant\)"):
            client.call("stock.quant", "check_access", [[], "read"])


def test_the_emulator_refuses_an_orm_call_the_user_has_no_right_for(odoo17) -> None:
    login = integration_user(odoo17, ("stock.quant", "read"), ("sale.order", "create"))
    with client_of(odoo17, login, protocol="xmlrpc") as client:
        assert client.search_count("stock.location", []) > 0  # every other right kept
        with pytest.raises(OdooAccessError) as read:
            client.call("stock.quant", "search_read", [[]], {"fields": ["quantity"]})
        with pytest.raises(OdooAccessError) as create:
            client.call("sale.order", "create", [{"partner_id": 3}])
    assert "You are not allowed to access 'Quants' (stock.quant) records." in str(read.value)
    assert "Contact your administrator to request access if necessary." in str(read.value)
    assert "You are not allowed to create 'Sales Order' (sale.order) records." in str(create.value)


def test_odoorpc_calls_check_access_rights_on_the_emulator_unchanged(odoo17) -> None:
    login = integration_user(odoo17, ("sale.order", "create"))
    client = odoorpc.ODOO("127.0.0.1", port=odoo17.port)
    client.login(odoo17.db, login, BOT_PASSWORD)
    orders = client.env["sale.order"]
    assert orders.check_access_rights("read", raise_exception=False) is True
    assert orders.check_access_rights("create", raise_exception=False) is False
    with pytest.raises(odoorpc.error.RPCError, match="not allowed to create") as refused:
        orders.check_access_rights("create")
    assert refused.value.info["data"]["name"] == "odoo.exceptions.AccessError"


@pytest.mark.parametrize("protocol", ["xmlrpc", "jsonrpc"])
def test_odoo_client_lib_calls_check_access_rights_on_the_emulator_unchanged(
    odoo17, protocol
) -> None:
    login = integration_user(odoo17, ("stock.picking", "write"))
    connection = odoolib.get_connection(
        hostname="127.0.0.1",
        port=odoo17.port,
        protocol=protocol,
        database=odoo17.db,
        login=login,
        password=BOT_PASSWORD,
    )
    pickings = connection.get_model("stock.picking")
    assert pickings.check_access_rights("read", raise_exception=False) is True
    assert pickings.check_access_rights("write", raise_exception=False) is False


# -- the product's check -----------------------------------------------------------------------


def test_a_user_with_every_right_the_product_needs_misses_none(odoo) -> None:
    with client_of(odoo, integration_user(odoo)) as client:
        assert missing_rights(client) == []
        check_rights(client)


def test_each_missing_right_is_named_with_what_needs_it_and_how_to_grant_it(odoo) -> None:
    login = integration_user(odoo, ("sale.order", "create"), ("stock.quant", "read"))
    with client_of(odoo, login) as client:
        missing = missing_rights(client)
        assert [(r.model, r.operation) for r in missing] == [
            ("stock.quant", "read"),
            ("sale.order", "create"),
        ]
        with pytest.raises(OdooRightsError) as caught:
            check_rights(client)
    message = str(caught.value)
    assert message.startswith(f"Odoo user {login!r} lacks read on stock.quant (the stock snapshot")
    assert "; create on sale.order (order ingestion: the channels' orders)" in message
    assert "ask an Odoo administrator to give it Inventory / User and Sales / User" in message
    assert "\n" not in message and BOT_KEY not in message


def test_every_model_the_product_calls_is_in_the_list_of_rights() -> None:
    """The README's list is REQUIRED; a model the code calls and the list forgets fails here."""
    import re
    from pathlib import Path

    import inventory_pipelines

    root = Path(inventory_pipelines.__file__).parent
    called = set()
    for folder in ("odoo", "stream", "orders", "defs", "supply", "allocation"):
        for path in (root / folder).rglob("*.py"):
            called |= set(
                re.findall(
                    r'"((?:stock|product|uom|sale|res|purchase|ir)\.[a-z_.]+)"', path.read_text()
                )
            )
    listed = {right.model for right in REQUIRED}
    # res.users: every user reads itself; ir.model: every internal user reads it (it says which
    # optional modules are installed)
    assert called - {"res.users", "ir.model"} <= listed, called - listed


@pytest.mark.bad_input
def test_outside_local_a_run_refuses_an_odoo_user_without_a_right_naming_it(odoo17) -> None:
    login = integration_user(odoo17, ("sale.order", "create"))
    resource = OdooResource(
        url=odoo17.url,
        db=odoo17.db,
        login=login,
        api_key=f"{BOT_KEY}-{login}",
        environment="staging",
    )
    with pytest.raises(dg.Failure) as refused:
        resource.client()
    assert f"Odoo user {login!r} lacks create on sale.order" in str(refused.value)

    fine = integration_user(odoo17)
    good = OdooResource(
        url=odoo17.url, db=odoo17.db, login=fine, api_key=f"{BOT_KEY}-{fine}", environment="prod"
    )
    odoo17.reset_request_count()
    with good.client():
        pass
    checked = odoo17.request_count
    with good.client():  # checked once per process
        pass
    assert checked >= len(REQUIRED) and odoo17.request_count == checked


def test_locally_the_sandbox_is_not_asked_for_rights(odoo17) -> None:
    login = integration_user(odoo17, ("sale.order", "create"))
    resource = OdooResource(url=odoo17.url, db=odoo17.db, login=login, api_key=f"{BOT_KEY}-{login}")
    odoo17.reset_request_count()
    with resource.client():
        pass
    assert odoo17.request_count == 0


@pytest.mark.bad_input
def test_odoo_check_lists_every_right_and_exits_1_naming_the_missing_one(
    odoo17, monkeypatch
) -> None:
    login = integration_user(odoo17, ("stock.picking", "write"))
    for name, value in {
        "INVENTORY_ENV": "staging",
        "ODOO_URL": odoo17.url,
        "ODOO_DB": odoo17.db,
        "ODOO_LOGIN": login,
        "ODOO_API_KEY": f"{BOT_KEY}-{login}",
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["odoo", "check"])
    assert result.exit_code == 1
    assert f"Odoo 17.0 at {odoo17.url} (db {odoo17.db}), user {login!r}" in result.stdout
    assert "  MISSING  write on stock.picking " in result.stdout
    assert result.stdout.count("  ok       ") == len(REQUIRED) - 1
    assert f"Odoo user {login!r} lacks write on stock.picking" in result.stderr
    assert BOT_KEY not in result.output

    monkeypatch.setenv("ODOO_LOGIN", fine := integration_user(odoo17))
    monkeypatch.setenv("ODOO_API_KEY", f"{BOT_KEY}-{fine}")
    assert CliRunner().invoke(main, ["odoo", "check", "--json"]).exit_code == 0


def test_outside_local_the_push_does_not_start_for_a_user_that_cannot_read_quants(
    odoo17, monkeypatch
) -> None:
    login = integration_user(odoo17, ("stock.quant", "read"))
    monkeypatch.setenv("INVENTORY_ENV", "prod")
    env = {
        "ODOO_URL": odoo17.url,
        "ODOO_DB": odoo17.db,
        "ODOO_LOGIN": login,
        "ODOO_API_KEY": f"{BOT_KEY}-{login}",
        "INVENTORY_ODOO_WEBHOOK_TOKEN": "a-long-random-push-token-for-tests",
        "INVENTORY_DAGSTER_URL": "http://127.0.0.1:3000",
    }
    with pytest.raises(PushConfigError, match=f"Odoo user '{login}' lacks read on stock.quant"):
        push_path(env=env)
