"""The password or API key never shows in a repr, a log line or an exception."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from inventory_pipelines.odoo import OdooConfig, OdooError
from inventory_pipelines_tests.odoo.conftest import (
    SECRET,
    ClientFactory,
    FakeOdoo,
    json2_error,
    jsonrpc_error,
    raises,
    status,
    xmlrpc_fault,
)


def test_the_config_repr_leaves_the_secret_out() -> None:
    config = OdooConfig("http://odoo.test", "demo", "sync", SECRET)

    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert config.secret == SECRET


def test_the_client_repr_leaves_the_secret_out(make_client: ClientFactory) -> None:
    assert SECRET not in repr(make_client())


def full_text(err: BaseException) -> str:
    """Everything a log handler could print about `err`, causes included."""
    return "".join(traceback.format_exception(err)) + repr(err) + repr(vars(err))


ECHOING_ANSWERS = {
    "jsonrpc": jsonrpc_error("builtins.ValueError", f"bad value {SECRET!r} in args"),
    "xmlrpc": xmlrpc_fault(1, f"Traceback\n  args=('demo', 2, {SECRET!r})\nValueError: {SECRET}"),
    "json2": json2_error(500, "builtins.ValueError", f"bad value {SECRET}"),
}


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc", "json2"])
def test_a_server_error_echoing_the_secret_is_scrubbed(
    fake: FakeOdoo, make_client: ClientFactory, protocol: str
) -> None:
    fake.major = 19
    client = make_client(protocol=protocol)
    assert client.uid
    fake.inject(ECHOING_ANSWERS[protocol])

    with pytest.raises(OdooError) as info:
        client.call("res.partner", "search", [[]])

    assert SECRET not in full_text(info.value)
    assert "***" in info.value.message


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc", "json2"])
def test_retry_logs_and_final_errors_hold_no_secret(
    fake: FakeOdoo, make_client: ClientFactory, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    fake.major = 19
    client = make_client(protocol=protocol, max_attempts=4, breaker_failure_threshold=3)
    assert client.uid
    fake.inject(
        status(503, headers={"Retry-After": "1"}),
        raises(httpx.ReadTimeout),
        *(raises(httpx.ConnectError) for _ in range(10)),
    )
    caplog.set_level(logging.DEBUG)

    errors = []
    for _ in range(3):
        with pytest.raises(OdooError) as info:
            client.call("stock.quant", "search_read", [[]], {"fields": ["id"]})
        errors.append(info.value)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("stock.quant.search_read failed on attempt 1/4" in r.getMessage() for r in warnings)
    assert any("circuit breaker opened" in r.getMessage() for r in warnings)
    assert SECRET not in caplog.text
    for err in errors:
        assert SECRET not in full_text(err)


@pytest.mark.parametrize("protocol", ["jsonrpc", "xmlrpc", "json2"])
def test_a_refused_login_does_not_repeat_the_secret(
    fake: FakeOdoo, make_client: ClientFactory, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    fake.major = 19
    wrong = "wr0ng-key-93ab"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(OdooError) as info:
        _ = make_client(protocol=protocol, secret=wrong).uid

    assert wrong not in full_text(info.value)
    assert wrong not in caplog.text
