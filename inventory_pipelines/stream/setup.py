"""The push path from the environment: its token, Odoo, the Dagster webserver and the rules.

- ``INVENTORY_ODOO_WEBHOOK_TOKEN``: the secret in the webhook URL, 16 characters or more.
  Unset, the local environment takes the sandbox's documented ``sandbox-odoo-webhook-token``;
  elsewhere the route is then absent (404).
- ``INVENTORY_DAGSTER_URL``: the Dagster webserver fast runs are submitted to (default
  ``http://127.0.0.1:3000``); ``INVENTORY_DAGSTER_LOCATION``: the code location holding
  ``refresh_changed_skus`` (default ``inventory_pipelines``).
- ``ODOO_URL``, ``ODOO_DB``, ``ODOO_LOGIN``, ``ODOO_API_KEY``, ``ODOO_PROTOCOL``: where quants
  are read back (local: the sandbox).

``automation.yml`` (``push``) switches the path off (``enabled: false``) and sets the commit
wait; ``change_sensor.fast_path.max_skus_per_run`` caps a run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.routing import BaseRoute

from inventory_pipelines import settings
from inventory_pipelines.local_keys import refusal, sandbox_key_variable
from inventory_pipelines.odoo import OdooClient, OdooConfig, OdooError
from inventory_pipelines.odoo.access import REQUIRED, OdooRightsError, check_rights
from inventory_pipelines.rules import Policy
from inventory_pipelines.settings import LOOPBACK_HOSTS
from inventory_pipelines.stream.coalescer import HintCoalescer
from inventory_pipelines.stream.quants import OdooQuantReader
from inventory_pipelines.stream.receiver import PushStats, push_routes
from inventory_pipelines.stream.runs import DEFAULT_LOCATION, GraphQLRunSubmitter, RunSubmitter

log = logging.getLogger(__name__)

TOKEN_ENV = "INVENTORY_ODOO_WEBHOOK_TOKEN"
#: what the local environment takes when the token is unset (documented in the README, like
#: the channels' sandbox webhook secrets): not a credential
SANDBOX_ODOO_WEBHOOK_TOKEN = "sandbox-odoo-webhook-token"
MIN_TOKEN_LENGTH = 16
DAGSTER_URL_ENV = "INVENTORY_DAGSTER_URL"
DAGSTER_LOCATION_ENV = "INVENTORY_DAGSTER_LOCATION"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
#: what the push reads back, quants and their products' SKUs: checked when it starts
PUSH_RIGHTS = tuple(
    r
    for r in REQUIRED
    if (r.model, r.operation) in {("stock.quant", "read"), ("product.product", "read")}
)


class PushConfigError(ValueError):
    """The push path cannot start as configured; names variables, never their values."""


@dataclass
class PushPath:
    """The route, the coalescer behind it and the Odoo client it reads with."""

    token: str
    coalescer: HintCoalescer
    client: OdooClient | None = None
    stats: PushStats = field(default_factory=PushStats)

    def routes(self) -> list[BaseRoute]:
        """``POST /odoo/<token>`` for the receiver's app."""
        return push_routes(self.token, self.coalescer, self.stats)

    def start(self) -> PushPath:
        """Start the coalescer; an Odoo that sends after its commit (19+) needs no wait."""
        reader = self.coalescer.reader
        if isinstance(reader, OdooQuantReader):
            try:
                if reader.sends_after_commit():
                    self.coalescer.commit_wait_s = 0.0
            except OdooError as exc:
                log.warning("odoo push: Odoo's version unknown for now (%s)", type(exc).__name__)
        self.coalescer.start()
        return self

    def stop(self) -> None:
        """Stop the coalescer, close the Odoo client."""
        self.coalescer.stop()
        if self.client is not None:
            self.client.close()


def _environment(env: Mapping[str, str] | None) -> tuple[Mapping[str, str], bool]:
    local = settings.environment() == "local"
    if env is None:
        env = settings.local_env() if local else os.environ
    return env, local


def push_token(env: Mapping[str, str] | None = None) -> str | None:
    """The token of the webhook URL, or None (the route is then absent)."""
    env, local = _environment(env)
    token = env.get(TOKEN_ENV) or (SANDBOX_ODOO_WEBHOOK_TOKEN if local else None)
    if not local and sandbox_key_variable({TOKEN_ENV: token}):
        raise PushConfigError(refusal(TOKEN_ENV, settings.environment()))
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise PushConfigError(
            f"{TOKEN_ENV} is shorter than {MIN_TOKEN_LENGTH} characters: the token is the "
            "webhook's only secret, make it long and random (e.g. `openssl rand -hex 24`)"
        )
    return token


def odoo_config(env: Mapping[str, str] | None = None) -> OdooConfig:
    """Where quants are read back: short timeouts, few retries (the sensor is behind)."""
    env, local = _environment(env)
    if local:
        url = env.get("ODOO_URL", "http://127.0.0.1:8069")
        host = urlsplit(url).hostname or ""
        if host not in LOOPBACK_HOSTS:
            raise PushConfigError(
                f"ODOO_URL: the local environment only talks to the sandbox on loopback, not "
                f"{host!r}; set INVENTORY_ENV=staging or prod to use a real Odoo"
            )
        values = {
            "url": url,
            "db": env.get("ODOO_DB", "sandbox"),
            "login": env.get("ODOO_LOGIN", "admin"),
            "secret": env.get("ODOO_API_KEY", "sandbox-api-key"),
        }
    else:
        names = {
            "url": "ODOO_URL",
            "db": "ODOO_DB",
            "login": "ODOO_LOGIN",
            "secret": "ODOO_API_KEY",
        }
        missing = [v for v in names.values() if not env.get(v)]
        if missing:
            raise PushConfigError(f"the Odoo push reads quants back: set {', '.join(missing)}")
        if sandbox_key_variable({"ODOO_API_KEY": env["ODOO_API_KEY"]}):
            raise PushConfigError(refusal("ODOO_API_KEY", settings.environment()))
        values = {key: env[name] for key, name in names.items()}
    return OdooConfig(
        **values,
        protocol=env.get("ODOO_PROTOCOL", "auto"),  # type: ignore[arg-type]
        timeout_s=5.0,
        connect_timeout_s=2.0,
        max_attempts=2,
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
        breaker_reset_s=10.0,
    )


def dagster_submitter(env: Mapping[str, str] | None = None) -> GraphQLRunSubmitter:
    """The submitter to the Dagster webserver of ``INVENTORY_DAGSTER_URL``."""
    env, local = _environment(env)
    url = env.get(DAGSTER_URL_ENV) or DEFAULT_DAGSTER_URL
    host = urlsplit(url).hostname or ""
    if local and host not in LOOPBACK_HOSTS:
        raise PushConfigError(
            f"{DAGSTER_URL_ENV}: the local environment only talks to loopback, not {host!r}"
        )
    try:
        return GraphQLRunSubmitter(url, location=env.get(DAGSTER_LOCATION_ENV) or DEFAULT_LOCATION)
    except ValueError as exc:
        raise PushConfigError(f"{DAGSTER_URL_ENV}: {exc}") from exc


def push_path(
    env: Mapping[str, str] | None = None,
    policy: Policy | None = None,
    submitter: RunSubmitter | None = None,
) -> tuple[PushPath | None, str]:
    """The push path as configured, not started; or None and why it is off. Outside `local`
    an Odoo user that cannot read what the push reads back is refused (`PushConfigError`)."""
    from inventory_pipelines.rules import load_policy

    policy = policy or load_policy()
    push = policy.automation.push
    if not push.enabled:
        return None, "off in automation.yml (push.enabled: false)"
    token = push_token(env)
    if token is None:
        return None, f"{TOKEN_ENV} is not set"
    client = OdooClient(odoo_config(env))
    if settings.environment() != "local":
        _check_push_rights(client)
    coalescer = HintCoalescer(
        OdooQuantReader(client),
        submitter if submitter is not None else dagster_submitter(env),
        policy.channels.names(),
        commit_wait_s=push.commit_wait_s,
        max_skus_per_run=policy.automation.change_sensor.fast_path.max_skus_per_run,
    )
    return PushPath(token, coalescer, client), "on"


def _check_push_rights(client: OdooClient) -> None:
    """Refuse to start the push path for an Odoo user that cannot read what it reads back;
    an Odoo that cannot be asked now is left to the push's own calls (logged)."""
    try:
        check_rights(client, PUSH_RIGHTS)
    except OdooRightsError as exc:
        client.close()
        raise PushConfigError(str(exc)) from None
    except OdooError as exc:
        log.warning("odoo push: Odoo's rights not checked for now (%s)", type(exc).__name__)
