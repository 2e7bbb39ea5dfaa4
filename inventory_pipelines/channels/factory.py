"""Build a channel's connector from environment variables (secrets only ever come from there).

Each channel of `channels.yml` reads `INVENTORY_CHANNEL_<NAME>_<FIELD>`, where `<NAME>` is the
channel name upper-cased with `-` as `_`:

- shopify: `URL` (https://<shop>.myshopify.com), `ACCESS_TOKEN`, `API_VERSION` (optional);
- woocommerce: `URL`, `CONSUMER_KEY`, `CONSUMER_SECRET`, `AUTH` (basic, oauth, query; optional),
  `REQUESTS_PER_S` and `BURST` (optional: the host's limit; WooCommerce itself documents none);
- amazon: `URL` (the SP-API endpoint), `SELLER_ID`, `MARKETPLACE_ID`, `CLIENT_ID`,
  `CLIENT_SECRET`, `REFRESH_TOKEN`, `TOKEN_URL` (optional);
- generic: `URL`, `SECRET`, `MAX_BATCH`, `REQUESTS_PER_S`, `BURST` (all but the first two
  optional).

Channels that send order webhooks (shopify, woocommerce) also read `WEBHOOK_SECRET`: the
Shopify app's client secret, or the secret set on the WooCommerce webhook.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from inventory_pipelines.channels import shopify, woocommerce
from inventory_pipelines.channels.amazon import LWA_TOKEN_URL, AmazonConnector
from inventory_pipelines.channels.base import ChannelConnector, ChannelError, ChannelOrder
from inventory_pipelines.channels.generic import GenericChannelConnector
from inventory_pipelines.channels.shopify import ShopifyConnector
from inventory_pipelines.channels.woocommerce import WooCommerceConnector

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

REQUIRED: dict[str, tuple[str, ...]] = {
    "shopify": ("URL", "ACCESS_TOKEN"),
    "woocommerce": ("URL", "CONSUMER_KEY", "CONSUMER_SECRET"),
    "amazon": ("URL", "SELLER_ID", "MARKETPLACE_ID", "CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN"),
    "generic": ("URL", "SECRET"),
}


class ChannelConfigError(ChannelError):
    """A channel's configuration is missing or refused; names variables, never their values."""


def env_prefix(channel: str) -> str:
    """`INVENTORY_CHANNEL_<NAME>_` for a channel name."""
    return f"INVENTORY_CHANNEL_{channel.upper().replace('-', '_')}_"


def connector_from_env(
    channel: str,
    kind: str,
    env: Mapping[str, str] | None = None,
    *,
    loopback_only: bool = False,
) -> ChannelConnector:
    """The connector of `channel`, configured from `env` (the process environment by default).

    `loopback_only` (the local environment) refuses any URL that is not on this machine, so a
    laptop never publishes to a real shop by accident.
    """
    env = os.environ if env is None else env
    prefix = env_prefix(channel)
    if kind not in REQUIRED:
        raise ChannelConfigError(f"channel {channel!r}: unknown kind {kind!r}")
    missing = [prefix + f for f in REQUIRED[kind] if not env.get(prefix + f)]
    if missing:
        raise ChannelConfigError(
            f"channel {channel!r} ({kind}) is not configured: set {', '.join(missing)}"
        )

    def get(field: str, default: str | None = None) -> str:
        return env.get(prefix + field) or default or ""

    url = get("URL")
    host = urlparse(url).hostname or ""
    if loopback_only and host not in LOOPBACK_HOSTS:
        raise ChannelConfigError(
            f"channel {channel!r}: the local environment only talks to the sandbox on loopback, "
            f"not {host!r}; set INVENTORY_ENV=staging or prod to use a real channel"
        )
    if kind == "shopify":
        return ShopifyConnector(url, get("ACCESS_TOKEN"), api_version=get("API_VERSION", "2026-04"))
    if kind == "woocommerce":
        return WooCommerceConnector(
            url,
            get("CONSUMER_KEY"),
            get("CONSUMER_SECRET"),
            auth=get("AUTH", "basic"),  # type: ignore[arg-type]
            requests_per_s=float(get("REQUESTS_PER_S", "5")),
            burst=int(get("BURST", "10")),
        )
    if kind == "amazon":
        return AmazonConnector(
            url,
            get("SELLER_ID"),
            get("MARKETPLACE_ID"),
            get("CLIENT_ID"),
            get("CLIENT_SECRET"),
            get("REFRESH_TOKEN"),
            token_url=get("TOKEN_URL", LWA_TOKEN_URL),
        )
    return GenericChannelConnector(
        url,
        get("SECRET"),
        max_batch=int(get("MAX_BATCH", "500")),
        requests_per_s=float(get("REQUESTS_PER_S", "10")),
        burst=int(get("BURST", "20")),
    )


def sandbox_env(channel: str, kind: str, credentials: Mapping[str, object]) -> dict[str, str]:
    """The variables that point `channel` at a sandbox emulator, from its printed credentials."""
    prefix = env_prefix(channel)
    fields: dict[str, object] = {"URL": credentials["url"]}
    if kind == "shopify":
        fields |= {
            "ACCESS_TOKEN": credentials["access_token"],
            "API_VERSION": credentials.get("api_version", "2026-04"),
        }
    elif kind == "woocommerce":
        fields |= {
            "CONSUMER_KEY": credentials["consumer_key"],
            "CONSUMER_SECRET": credentials["consumer_secret"],
        }
    elif kind == "amazon":
        fields |= {
            key.upper(): credentials[key]
            for key in (
                "seller_id",
                "marketplace_id",
                "client_id",
                "client_secret",
                "refresh_token",
                "token_url",
            )
        }
    else:
        fields |= {"SECRET": credentials["secret"], "MAX_BATCH": credentials.get("max_batch", 500)}
    return {prefix + k: str(v) for k, v in fields.items()}


@dataclass(frozen=True)
class WebhookKind:
    """How one kind of channel signs and shapes its order webhooks."""

    verify: Callable[[str, Mapping[str, str], bytes], bool]  # (secret, headers, body)
    parse: Callable[[Mapping[str, str], bytes], list[ChannelOrder]]
    delivery_id: Callable[[Mapping[str, str]], str | None]
    is_ping: Callable[[Mapping[str, str], bytes], bool] = lambda headers, body: False


WEBHOOKS: dict[str, WebhookKind] = {
    "shopify": WebhookKind(
        shopify.verify_webhook, shopify.parse_webhook, shopify.webhook_delivery_id
    ),
    "woocommerce": WebhookKind(
        woocommerce.verify_webhook,
        woocommerce.parse_webhook,
        woocommerce.webhook_delivery_id,
        woocommerce.is_ping,
    ),
}


def webhook_secret_from_env(channel: str, env: Mapping[str, str] | None = None) -> str | None:
    """`INVENTORY_CHANNEL_<NAME>_WEBHOOK_SECRET`, or None when unset."""
    env = os.environ if env is None else env
    return env.get(env_prefix(channel) + "WEBHOOK_SECRET") or None
