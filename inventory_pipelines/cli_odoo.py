"""`inventory-sync odoo check`: whether the configured Odoo user has every right the product
needs, asked of Odoo itself (the check `staging` and `prod` make when a run starts)."""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

import click

from inventory_pipelines import settings


@click.group("odoo")
def odoo() -> None:
    """The Odoo the product talks to."""


def _shown(url: str) -> str:
    """The URL without any credentials it may carry."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}".rstrip("/")


@odoo.command("check")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
def odoo_check(as_json: bool) -> None:
    """Connect as the configured user (ODOO_URL, ODOO_DB, ODOO_LOGIN, ODOO_API_KEY; locally
    the sandbox) and ask Odoo, right by right, for every read, create and write the product
    makes (check_access_rights up to 17, has_access from 18); exit 1 naming what is missing."""
    from inventory_pipelines.defs.resources import build_resources
    from inventory_pipelines.local_keys import refusal, sandbox_key_variable
    from inventory_pipelines.odoo import OdooError
    from inventory_pipelines.odoo.access import REQUIRED, missing_rights, rights_message

    environment = settings.environment()
    resource = build_resources(environment)["odoo"].process_config_and_initialize()
    if environment != "local" and sandbox_key_variable({"ODOO_API_KEY": resource.api_key}):
        raise click.ClickException(refusal("ODOO_API_KEY", environment))
    try:
        with resource.unchecked_client() as client:
            missing = missing_rights(client)
            version = client.version.serie
    except OdooError as exc:
        raise click.ClickException(
            f"Odoo at {_shown(resource.url)} could not be asked: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    rights = [
        {
            "model": r.model,
            "operation": r.operation,
            "purpose": r.purpose,
            "group": r.group,
            "ok": r not in missing,
        }
        for r in REQUIRED
    ]
    where = {"url": _shown(resource.url), "db": resource.db, "login": resource.login}
    if as_json:
        click.echo(json.dumps({**where, "version": version, "rights": rights}))
    else:
        click.echo(f"Odoo {version} at {where['url']} (db {resource.db}), user {resource.login!r}")
        for right in rights:
            mark = "ok     " if right["ok"] else "MISSING"
            shown = f"{right['operation']} on {right['model']}"
            click.echo(f"  {mark}  {shown:<32} {right['purpose']}")
    if missing:
        click.echo(rights_message(resource.login, missing), err=True)
        sys.exit(1)
