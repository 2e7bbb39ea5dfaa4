"""Resources, chosen by environment (`$INVENTORY_ENV`): one place that wires the I/O edges."""

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
from pydantic import Field
from sqlalchemy import Engine

from inventory_pipelines import settings
from inventory_pipelines.channels.base import ChannelConnector
from inventory_pipelines.channels.factory import connector_from_env
from inventory_pipelines.defs.io_manager import ParquetIOManager, SkuScope
from inventory_pipelines.defs.shared import POLICY
from inventory_pipelines.ledger import create_engine, default_url, migrate
from inventory_pipelines.local_keys import refusal, sandbox_key_variable
from inventory_pipelines.odoo import OdooClient, OdooConfig
from inventory_pipelines.odoo.access import OdooRightsError, check_rights
from inventory_pipelines.rules import Policy, load_policy
from inventory_pipelines.settings import LOOPBACK_HOSTS

# Ledger URLs this process has migrated: a run migrates once, not at every asset.
_MIGRATED: set[str] = set()
# Odoo users (url, db, login) whose rights this process has checked: once per run worker.
_RIGHTS_CHECKED: set[tuple[str, str, str]] = set()


class OdooResource(dg.ConfigurableResource):
    """Odoo over JSON-RPC, XML-RPC or JSON-2 (see `inventory_pipelines.odoo`).

    The secret (an API key, or a password) comes from `ODOO_API_KEY` through `dg.EnvVar`, so
    it never appears in run config, logs or metadata.
    """

    url: str
    db: str
    login: str
    api_key: str
    protocol: str = Field(default="auto", description="jsonrpc, xmlrpc, json2 or auto")
    timeout_s: float = 30.0
    max_attempts: int = 4
    page_size: int = 20_000
    environment: str = "local"

    def client(self) -> OdooClient:
        """A new client; close it (or use it as a context manager) when done.

        Outside `local`, the first client of a process for an Odoo user checks that user's
        rights (`odoo.access`): a missing one fails here, named, before anything is read.
        """
        host = urlparse(self.url).hostname or ""
        if self.environment == "local" and host not in LOOPBACK_HOSTS:
            raise dg.Failure(
                f"the local environment only talks to the sandbox on loopback, not {host!r}; "
                "set INVENTORY_ENV=staging or prod to use a real Odoo"
            )
        if self.environment != "local" and sandbox_key_variable({"ODOO_API_KEY": self.api_key}):
            raise dg.Failure(refusal("ODOO_API_KEY", self.environment))
        client = self.unchecked_client()
        key = (self.url, self.db, self.login)
        if self.environment != "local" and key not in _RIGHTS_CHECKED:
            try:
                check_rights(client)
            except OdooRightsError as exc:
                client.close()
                raise dg.Failure(str(exc)) from None
            except BaseException:
                client.close()
                raise
            _RIGHTS_CHECKED.add(key)
        return client

    def unchecked_client(self) -> OdooClient:
        """A new client without the start-up checks (`inventory-sync odoo check` makes them
        itself, to list every right)."""
        return OdooClient(
            OdooConfig(
                url=self.url,
                db=self.db,
                login=self.login,
                secret=self.api_key,
                protocol=self.protocol,
                timeout_s=self.timeout_s,
                max_attempts=self.max_attempts,
                page_size=self.page_size,
            )
        )


class LedgerResource(dg.ConfigurableResource):
    """The ledger (outbox, inbox, dead letters, audit, fences): SQLite by default, PostgreSQL
    in a deployment. Migrated once per process; every engine it hands out is disposed when
    the block that asked for it ends, whichever way it ends."""

    url: str

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        """The ledger's engine for a block, migrated to the latest schema (once per process)."""
        if self.url not in _MIGRATED:
            migrate(self.url)
            _MIGRATED.add(self.url)
        engine = create_engine(self.url)
        try:
            yield engine
        finally:
            engine.dispose()


class RulesResource(dg.ConfigurableResource):
    """The business rules (`dbt_like_rules/`) the assets apply at run time.

    The code location loads its rules folder once (its channels are the channel partitions);
    this resource hands that policy to the assets, or the policy of another folder with the
    same channels (a test, a staging rule set), and says clearly when the channels differ.
    """

    directory: str

    def policy(self) -> Policy:
        """The validated policy of `directory` (loaded once per process)."""
        if Path(self.directory).resolve() == Path(POLICY.root).resolve():
            return POLICY
        policy = _load_rules(str(Path(self.directory).resolve()))
        if policy.channels.names() != POLICY.channels.names():
            raise dg.Failure(
                f"the rules in {self.directory} name the channels "
                f"{', '.join(policy.channels.names())}, but the code location was loaded with "
                f"{', '.join(POLICY.channels.names())} (its partitions): reload the location "
                "with that folder (INVENTORY_RULES_DIR) instead"
            )
        return policy


@functools.lru_cache(maxsize=8)
def _load_rules(directory: str) -> Policy:
    return load_policy(directory)


class ChannelsResource(dg.ConfigurableResource):
    """The channel connectors, configured from `INVENTORY_CHANNEL_<NAME>_*` variables, so no
    secret passes through run config."""

    environment: str = "local"

    def connector(self, channel: str, kind: str) -> ChannelConnector:
        """A new connector for `channel`; close it when done."""
        local = self.environment == "local"
        env = settings.local_env() if local else None
        return connector_from_env(
            channel,
            kind,
            env,
            loopback_only=local,
            refuse_sandbox_keys=None if local else self.environment,
        )


def build_resources(environment: str | None = None) -> dict[str, object]:
    """The resources of one environment; local points at the sandbox's documented defaults."""
    env = environment or settings.environment()
    sku_scope = SkuScope.configure_at_launch()
    if env == "local":
        # The sandbox's documented local defaults (not secrets), or what `sandbox up` recorded.
        local = settings.local_env()
        odoo = OdooResource(
            url=local.get("ODOO_URL", "http://127.0.0.1:8069"),
            db=local.get("ODOO_DB", "sandbox"),
            login=local.get("ODOO_LOGIN", "admin"),
            # A key set in the environment stays an EnvVar: never shown in the UI's config.
            api_key=dg.EnvVar("ODOO_API_KEY")
            if "ODOO_API_KEY" in os.environ
            else local.get("ODOO_API_KEY", "sandbox-api-key"),
            protocol=local.get("ODOO_PROTOCOL", "auto"),
            environment="local",
        )
    else:
        odoo = OdooResource(
            url=dg.EnvVar("ODOO_URL"),
            db=dg.EnvVar("ODOO_DB"),
            login=dg.EnvVar("ODOO_LOGIN"),
            api_key=dg.EnvVar("ODOO_API_KEY"),
            protocol=dg.EnvVar("ODOO_PROTOCOL").get_value("auto") or "auto",
            environment=env,
        )
    return {
        "rules": RulesResource(directory=str(POLICY.root)),
        "channels": ChannelsResource(environment=env),
        # a PostgreSQL URL carries its password: from the environment, never shown in the UI
        "ledger": LedgerResource(
            url=dg.EnvVar("INVENTORY_LEDGER_URL")
            if os.environ.get("INVENTORY_LEDGER_URL")
            else default_url()
        ),
        "odoo": odoo,
        "sku_scope": sku_scope,
        "io_manager": ParquetIOManager(
            base_dir=settings.data_uri(),
            catalog_path=str(settings.catalog_path()),
            sku_scope=sku_scope,
        ),
    }


@dg.definitions
def defs() -> dg.Definitions:
    """Resources registered once for every domain."""
    return dg.Definitions(resources=build_resources())
