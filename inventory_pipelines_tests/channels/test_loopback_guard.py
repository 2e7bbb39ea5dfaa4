"""The local environment's loopback guard covers every URL a connector calls."""

import pytest

from inventory_pipelines.channels.factory import (
    ChannelConfigError,
    connector_from_env,
    env_prefix,
)

LOCAL = {
    "shopify": {"URL": "http://127.0.0.1:9001", "ACCESS_TOKEN": "t"},
    "woocommerce": {
        "URL": "http://127.0.0.1:9002",
        "CONSUMER_KEY": "ck",
        "CONSUMER_SECRET": "cs",
    },
    "amazon": {
        "URL": "http://127.0.0.1:9003",
        "SELLER_ID": "S",
        "MARKETPLACE_ID": "M",
        "CLIENT_ID": "id",
        "CLIENT_SECRET": "secret",
        "REFRESH_TOKEN": "refresh",
        "TOKEN_URL": "http://127.0.0.1:9003/auth/o2/token",
    },
    "generic": {"URL": "http://localhost:9004", "SECRET": "s"},
}
ENDPOINTS = {
    "shopify": ("http://127.0.0.1:9001/admin/api/2026-04/graphql.json",),
    "woocommerce": ("http://127.0.0.1:9002/wp-json/wc/v3",),
    "amazon": ("http://127.0.0.1:9003", "http://127.0.0.1:9003/auth/o2/token"),
    "generic": ("http://localhost:9004",),
}


def env_of(kind: str, **override: str) -> dict[str, str]:
    return {env_prefix(kind) + k: v for k, v in {**LOCAL[kind], **override}.items()}


@pytest.mark.parametrize("kind", sorted(LOCAL))
def test_each_connector_names_every_url_it_calls_and_all_are_on_loopback(kind):
    with connector_from_env(kind, kind, env_of(kind), loopback_only=True) as connector:
        assert connector.endpoints() == ENDPOINTS[kind]


@pytest.mark.bad_input
def test_amazons_token_endpoint_off_the_machine_is_refused_in_local():
    env = env_of("amazon", TOKEN_URL="https://api.amazon.com/auth/o2/token")
    with pytest.raises(ChannelConfigError, match=r"'api\.amazon\.com'") as refused:
        connector_from_env("amazon", "amazon", env, loopback_only=True)
    assert "secret" not in str(refused.value) and "refresh" not in str(refused.value)


@pytest.mark.bad_input
def test_without_a_token_url_amazon_would_call_the_real_login_with_amazon_so_local_refuses():
    env = env_of("amazon")
    del env[env_prefix("amazon") + "TOKEN_URL"]  # the default is Amazon's own LWA endpoint
    with pytest.raises(ChannelConfigError, match=r"'api\.amazon\.com'"):
        connector_from_env("amazon", "amazon", env, loopback_only=True)


@pytest.mark.parametrize("kind", sorted(LOCAL))
@pytest.mark.bad_input
def test_a_channel_url_off_the_machine_is_refused_in_local_and_allowed_elsewhere(kind):
    env = env_of(kind, URL="https://shop.example.com")
    with pytest.raises(ChannelConfigError, match=r"shop\.example\.com"):
        connector_from_env(kind, kind, env, loopback_only=True)
    connector_from_env(kind, kind, env, loopback_only=False).close()
