"""Which channels take webhooks, and with which secret, from channels.yml and the environment."""

from __future__ import annotations

from collections.abc import Mapping

from inventory_pipelines import settings
from inventory_pipelines.channels.factory import (
    WEBHOOKS,
    ChannelConfigError,
    env_prefix,
    webhook_secret_file_from_env,
    webhook_secret_from_env,
)
from inventory_pipelines.local_keys import refusal, sandbox_key_variable
from inventory_pipelines.orders.receiver import SecretFile, WebhookChannel

#: The sandbox emulators sign their webhooks with these (local environment only; documented
#: in the README). Anywhere else a channel without its own secret gets no webhooks.
SANDBOX_WEBHOOK_SECRETS = {
    "shopify": "sandbox-shopify-webhook-secret",
    "woocommerce": "sandbox-woocommerce-webhook-secret",
}


def webhook_channels(
    env: Mapping[str, str] | None = None, policy=None
) -> tuple[dict[str, WebhookChannel], list[str]]:
    """The channels whose webhooks are accepted, and those left out for want of a secret.

    Outside `local`, a secret that is one of the sandbox's documented keys is refused
    (`ChannelConfigError`, naming the variable).
    """
    from inventory_pipelines.rules import load_policy

    policy = policy or load_policy()
    environment = settings.environment()
    local = environment == "local"
    env = env if env is not None else (settings.local_env() if local else None)
    channels: dict[str, WebhookChannel] = {}
    missing: list[str] = []
    for channel in policy.channels.channels:
        kind = channel.kind.value
        if kind not in WEBHOOKS:
            continue
        secret = webhook_secret_from_env(channel.name, env)
        secret_file = webhook_secret_file_from_env(channel.name, env)
        if secret is None and secret_file is None and local:
            secret = SANDBOX_WEBHOOK_SECRETS[kind]
        if secret is None and secret_file is None:
            missing.append(channel.name)
            continue
        variable = env_prefix(channel.name) + "WEBHOOK_SECRET"
        if secret_file is not None:
            secret = None  # the file wins: it is what rotates
            try:
                SecretFile(secret_file).read()
            except OSError as exc:
                raise ChannelConfigError(
                    f"{variable}_FILE={secret_file}: cannot be read ({exc.strerror})"
                ) from None
        elif not local and sandbox_key_variable({variable: secret}):
            raise ChannelConfigError(refusal(variable, environment))
        channels[channel.name] = WebhookChannel(
            channel.name,
            kind,
            secret or "",
            secret_file=SecretFile(secret_file, refuse_sandbox_keys=not local)
            if secret_file
            else None,
            units_per_item=channel.uom.units,
            replay_window_s=policy.orders.for_channel(channel.name).webhooks.replay_window_s,
        )
    return channels, missing
