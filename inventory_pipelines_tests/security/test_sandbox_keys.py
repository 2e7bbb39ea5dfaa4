"""`staging` and `prod` refuse the sandbox's documented keys; `local` takes them.

Each credential the emulators document (README, `inventory-sync sandbox up`) is refused
outside `local` by the connector it would configure, in one line naming the variable and
never the value: each channel's tokens, keys and secrets, Odoo's API key (the runs, the push
path, `inventory-sync odoo check`), the webhook secrets and the Odoo push token.
"""

from __future__ import annotations

import dagster as dg
import pytest
from click.testing import CliRunner

from inventory_pipelines.channels.factory import ChannelConfigError, env_prefix
from inventory_pipelines.cli import main
from inventory_pipelines.defs.resources import ChannelsResource, OdooResource
from inventory_pipelines.local_keys import SANDBOX_KEYS
from inventory_pipelines.orders.setup import SANDBOX_WEBHOOK_SECRETS, webhook_channels
from inventory_pipelines.sandbox import amazon, generic, odoo, shopify, woocommerce
from inventory_pipelines.stream.setup import (
    SANDBOX_ODOO_WEBHOOK_TOKEN,
    TOKEN_ENV,
    PushConfigError,
    odoo_config,
    push_token,
)

#: each channel's settings with real-looking values, and the sandbox's documented ones
REAL = {
    "shopify": {"URL": "https://acme.myshopify.com", "ACCESS_TOKEN": "shpat_live_7d1f0c9e"},
    "woocommerce": {
        "URL": "https://shop.acme.example",
        "CONSUMER_KEY": "ck_live_42aa",
        "CONSUMER_SECRET": "cs_live_42bb",
    },
    "amazon": {
        "URL": "https://sellingpartnerapi-eu.amazon.com",
        "SELLER_ID": "A1ACME",
        "MARKETPLACE_ID": "A1PA6795UKMFR9",
        "CLIENT_ID": "amzn1.application-oa2-client.live42",
        "CLIENT_SECRET": "amzn1.oa2-cs.v1.live42",
        "REFRESH_TOKEN": "Atzr|live-42",
    },
    "generic": {"URL": "https://pos.acme.example", "SECRET": "live-shared-secret-42"},
}
DOCUMENTED = {
    ("shopify", "ACCESS_TOKEN"): shopify.DEFAULT_ACCESS_TOKEN,
    ("woocommerce", "CONSUMER_KEY"): woocommerce.DEFAULT_CONSUMER_KEY,
    ("woocommerce", "CONSUMER_SECRET"): woocommerce.DEFAULT_CONSUMER_SECRET,
    ("amazon", "CLIENT_ID"): amazon.DEFAULT_CLIENT_ID,
    ("amazon", "CLIENT_SECRET"): amazon.DEFAULT_CLIENT_SECRET,
    ("amazon", "REFRESH_TOKEN"): amazon.DEFAULT_REFRESH_TOKEN,
    ("generic", "SECRET"): generic.DEFAULT_SECRET,
}


def test_the_product_knows_every_credential_the_sandbox_documents() -> None:
    documented = {
        *DOCUMENTED.values(),
        odoo.DEFAULT_API_KEY,
        odoo.DEFAULT_PASSWORD,
        *SANDBOX_WEBHOOK_SECRETS.values(),
        SANDBOX_ODOO_WEBHOOK_TOKEN,
    }
    assert documented == SANDBOX_KEYS


def configure(monkeypatch: pytest.MonkeyPatch, kind: str, settings: dict[str, str]) -> None:
    for field, value in settings.items():
        monkeypatch.setenv(env_prefix(kind) + field, value)


@pytest.mark.parametrize("environment", ["staging", "prod"])
@pytest.mark.parametrize(("kind", "field"), sorted(DOCUMENTED))
@pytest.mark.bad_input
def test_outside_local_a_channel_with_a_documented_key_is_refused_naming_the_variable(
    monkeypatch, environment, kind, field
) -> None:
    value = DOCUMENTED[(kind, field)]
    configure(monkeypatch, kind, {**REAL[kind], field: value})
    with pytest.raises(ChannelConfigError) as refused:
        ChannelsResource(environment=environment).connector(kind, kind)
    message = str(refused.value)
    assert f"{env_prefix(kind)}{field} holds one of the sandbox's documented keys" in message
    assert f"which {environment} refuses" in message
    assert value not in message and "\n" not in message


@pytest.mark.parametrize("kind", sorted(REAL))
def test_outside_local_a_channel_with_its_own_keys_starts(monkeypatch, kind) -> None:
    configure(monkeypatch, kind, REAL[kind])
    with ChannelsResource(environment="prod").connector(kind, kind) as connector:
        assert connector.kind == kind


def test_locally_the_documented_keys_are_the_sandboxs_and_taken(monkeypatch) -> None:
    configure(monkeypatch, "shopify", {"URL": "http://127.0.0.1:9", "ACCESS_TOKEN": DOCUMENTED[
        ("shopify", "ACCESS_TOKEN")]})  # fmt: skip
    with ChannelsResource(environment="local").connector("shopify", "shopify") as connector:
        assert connector.kind == "shopify"


@pytest.mark.parametrize("key", [odoo.DEFAULT_API_KEY, odoo.DEFAULT_PASSWORD])
@pytest.mark.bad_input
def test_outside_local_odoo_with_a_documented_key_is_refused_before_any_call(key) -> None:
    resource = OdooResource(
        url="http://127.0.0.1:9", db="prod", login="sync-bot", api_key=key, environment="prod"
    )
    with pytest.raises(dg.Failure) as refused:
        resource.client()  # nothing listens on port 9: refused before any request
    assert "ODOO_API_KEY holds one of the sandbox's documented keys" in str(refused.value)
    assert f"'{key}'" not in str(refused.value)


@pytest.mark.bad_input
def test_odoo_check_refuses_a_documented_key_in_one_line(monkeypatch) -> None:
    for name, value in {
        "INVENTORY_ENV": "staging",
        "ODOO_URL": "http://127.0.0.1:9",
        "ODOO_DB": "prod",
        "ODOO_LOGIN": "sync-bot",
        "ODOO_API_KEY": odoo.DEFAULT_API_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["odoo", "check"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ODOO_API_KEY holds one of the sandbox's documented keys")
    assert odoo.DEFAULT_API_KEY not in result.output


@pytest.mark.parametrize("channel", sorted(SANDBOX_WEBHOOK_SECRETS))
@pytest.mark.bad_input
def test_outside_local_a_documented_webhook_secret_is_refused(monkeypatch, channel) -> None:
    monkeypatch.setenv("INVENTORY_ENV", "prod")
    variable = env_prefix(channel) + "WEBHOOK_SECRET"
    secret = SANDBOX_WEBHOOK_SECRETS[channel]
    with pytest.raises(ChannelConfigError, match=f"{variable} holds one of the sandbox") as caught:
        webhook_channels(env={variable: secret})
    assert secret not in str(caught.value)
    assert set(webhook_channels(env={variable: "a-real-webhook-secret"})[0]) == {channel}


@pytest.mark.bad_input
def test_outside_local_the_push_refuses_the_documented_token_and_odoo_key(monkeypatch) -> None:
    monkeypatch.setenv("INVENTORY_ENV", "staging")
    with pytest.raises(PushConfigError, match=f"{TOKEN_ENV} holds one of the sandbox") as token:
        push_token({TOKEN_ENV: SANDBOX_ODOO_WEBHOOK_TOKEN})
    env = {"ODOO_URL": "https://erp.acme.example", "ODOO_DB": "prod", "ODOO_LOGIN": "bot"}
    with pytest.raises(PushConfigError, match="ODOO_API_KEY holds one of the sandbox") as key:
        odoo_config({**env, "ODOO_API_KEY": odoo.DEFAULT_API_KEY})
    assert SANDBOX_ODOO_WEBHOOK_TOKEN not in str(token.value)
    assert odoo.DEFAULT_API_KEY not in str(key.value)
    monkeypatch.setenv("INVENTORY_ENV", "local")
    assert push_token({}) == SANDBOX_ODOO_WEBHOOK_TOKEN
