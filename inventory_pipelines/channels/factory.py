"""Build a channel's connector from environment variables (secrets only ever come from there).

Each channel of `channels.yml` reads `INVENTORY_CHANNEL_<NAME>_<FIELD>`, where `<NAME>` is the
channel name upper-cased with `-` as `_`. Which fields a kind of channel takes, and how they
make its connector, is declared by the channel's own module (its `SPEC`, a
:class:`~inventory_pipelines.channels.base.ChannelSpec`); this module only dispatches by kind
and keeps the local environment on the loopback.

Channels that send order webhooks (shopify, woocommerce) also read `WEBHOOK_SECRET`: the
Shopify app's client secret, or the secret set on the WooCommerce webhook; or
`WEBHOOK_SECRET_FILE`, a file holding it (a mounted Kubernetes or Docker secret), which the
webhook receiver reads again whenever it changes, so the secret rotates without a restart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlparse

from inventory_pipelines.channels import amazon, generic, shopify, woocommerce
from inventory_pipelines.channels.base import (
    ChannelConnector,
    ChannelError,
    ChannelSpec,
    WebhookKind,
)
from inventory_pipelines.local_keys import refusal, sandbox_key_variable
from inventory_pipelines.settings import LOOPBACK_HOSTS

__all__ = [
    "KINDS",
    "LOOPBACK_HOSTS",
    "WEBHOOKS",
    "ChannelConfigError",
    "WebhookKind",
    "connector_from_env",
    "env_prefix",
    "sandbox_env",
    "webhook_secret_file_from_env",
    "webhook_secret_from_env",
]


#: every kind of channel, by its name in `channels.yml`
KINDS: dict[str, ChannelSpec] = {
    spec.kind: spec for spec in (shopify.SPEC, woocommerce.SPEC, amazon.SPEC, generic.SPEC)
}

#: the kinds that send order webhooks, and how to read them
WEBHOOKS: dict[str, WebhookKind] = {
    kind: spec.webhooks for kind, spec in KINDS.items() if spec.webhooks is not None
}


class ChannelConfigError(ChannelError):
    """A channel's configuration is missing or refused; names variables, never their values."""


def env_prefix(channel: str) -> str:
    """`INVENTORY_CHANNEL_<NAME>_` for a channel name."""
    return f"INVENTORY_CHANNEL_{channel.upper().replace('-', '_')}_"


def _spec(channel: str, kind: str) -> ChannelSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise ChannelConfigError(f"channel {channel!r}: unknown kind {kind!r}") from None


def connector_from_env(
    channel: str,
    kind: str,
    env: Mapping[str, str] | None = None,
    *,
    loopback_only: bool = False,
    refuse_sandbox_keys: str | None = None,
) -> ChannelConnector:
    """The connector of `channel`, configured from `env` (the process environment by default).

    `loopback_only` (the local environment) refuses any URL that is not on this machine, so a
    laptop never publishes to a real shop by accident; `refuse_sandbox_keys` (the name of the
    staging or prod environment) refuses a setting that holds one of the sandbox's documented
    keys, naming the variable.
    """
    env = os.environ if env is None else env
    spec = _spec(channel, kind)
    prefix = env_prefix(channel)
    settings = {
        name[len(prefix) :]: value
        for name, value in env.items()
        if name.startswith(prefix) and value
    }
    missing = [prefix + field for field in spec.required if field not in settings]
    if missing:
        raise ChannelConfigError(
            f"channel {channel!r} ({kind}) is not configured: set {', '.join(missing)}"
        )
    if refuse_sandbox_keys:
        public = sandbox_key_variable({prefix + field: v for field, v in settings.items()})
        if public is not None:
            raise ChannelConfigError(f"channel {channel!r}: {refusal(public, refuse_sandbox_keys)}")
    connector = spec.connect(settings)
    if loopback_only:
        remote = sorted(
            {
                urlparse(url).hostname or url
                for url in connector.endpoints()
                if (urlparse(url).hostname or "") not in LOOPBACK_HOSTS
            }
        )
        if remote:
            connector.close()  # nothing was sent: connectors call nobody until asked to
            raise ChannelConfigError(
                f"channel {channel!r}: the local environment only talks to the sandbox on "
                f"loopback, not {', '.join(repr(h) for h in remote)}; set INVENTORY_ENV=staging "
                "or prod to use a real channel"
            )
    return connector


def sandbox_env(channel: str, kind: str, credentials: Mapping[str, object]) -> dict[str, str]:
    """The variables that point `channel` at a sandbox emulator, from its printed credentials."""
    prefix = env_prefix(channel)
    fields = _spec(channel, kind).sandbox_settings(credentials)
    return {prefix + field: str(value) for field, value in fields.items()}


def webhook_secret_file_from_env(channel: str, env: Mapping[str, str] | None = None) -> str | None:
    """`INVENTORY_CHANNEL_<NAME>_WEBHOOK_SECRET_FILE`: a file holding the webhook secret (one
    per line; during a rotation the new and the old one), or None when unset."""
    env = os.environ if env is None else env
    return env.get(env_prefix(channel) + "WEBHOOK_SECRET_FILE") or None


def webhook_secret_from_env(channel: str, env: Mapping[str, str] | None = None) -> str | None:
    """`INVENTORY_CHANNEL_<NAME>_WEBHOOK_SECRET`, or None when unset."""
    env = os.environ if env is None else env
    return env.get(env_prefix(channel) + "WEBHOOK_SECRET") or None
