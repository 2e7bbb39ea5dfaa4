"""`inventory-sync`: the operations that are not a materialization."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from inventory_pipelines import settings


@click.group()
def main() -> None:
    """Keep inventory true across Odoo and every sales channel."""


# --- rules -----------------------------------------------------------------------------------


@main.group()
def rules() -> None:
    """The business rules in `dbt_like_rules/`."""


@rules.command("check")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def rules_check(directory: Path | None) -> None:
    """Validate a rules folder as a CI step would; exit 1 listing every problem."""
    from inventory_pipelines.rules import RulesError, load_policy

    try:
        policy = load_policy(directory)
    except RulesError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"rules OK: {policy.root} (version {policy.version})")


@main.command("explain")
@click.option("--channel", required=True, help="A channel name from channels.yml.")
@click.option("--sku", required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for machines.")
def explain(channel: str, sku: str, as_json: bool) -> None:
    """Why a channel publishes what it publishes for a SKU: each step and the rule behind it."""
    from inventory_pipelines.allocation.explain import ExplainError

    try:
        trace = _explain_from_store(channel, sku)
    except ExplainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(trace.as_json()) if as_json else trace.as_text())


CHANNEL_ALLOCATION = ("inventory", "channel_allocation")


def _explain_from_store(channel: str, sku: str):
    """Read the materialized allocation of `channel` and explain `sku`."""
    from inventory_pipelines.allocation.explain import ExplainError, trace_of
    from inventory_pipelines.dataplane import TableStore

    store = TableStore(settings.data_dir())
    if not store.exists(CHANNEL_ALLOCATION, channel):
        partitions = store.path(CHANNEL_ALLOCATION, "x").parent
        known = sorted(p.stem for p in partitions.glob("*.parquet")) if partitions.exists() else []
        hint = f"materialized channels: {', '.join(known)}" if known else "none is materialized"
        raise ExplainError(
            f"no allocation for channel {channel!r} ({hint}); materialize "
            f"inventory/channel_allocation for partition {channel!r} first"
        )
    rows = store.read(CHANNEL_ALLOCATION, channel, skus=[sku]).to_dicts()
    if not rows:
        raise ExplainError(
            f"SKU {sku!r} is not in the allocation of {channel!r}: it is unknown, archived, not "
            "storable or shares its code with another product (see inventory.quarantine)"
        )
    return trace_of(rows[0])


# --- analysts --------------------------------------------------------------------------------


@main.command("sql")
@click.argument("statement")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--catalog", type=click.Path(path_type=Path), default=None, help="DuckDB catalog.")
def sql(statement: str, fmt: str, catalog: Path | None) -> None:
    """Run one SQL statement on the DuckDB catalog of the data plane (read-only)."""
    import duckdb
    import polars as pl

    from inventory_pipelines.dataplane import query

    try:
        result = query(catalog or settings.catalog_path(), statement)
    except (FileNotFoundError, duckdb.Error) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "csv":
        click.echo(result.write_csv(), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(result.to_dicts(), default=str))
    else:
        with pl.Config(tbl_rows=100, tbl_cols=30, fmt_str_lengths=60, tbl_width_chars=200):
            click.echo(result)


@main.group()
def catalog() -> None:
    """The analysts' DuckDB catalog."""


@catalog.command("rebuild")
def catalog_rebuild() -> None:
    """Recreate `warehouse.duckdb` from the Parquet tables (the IO manager does it after writes)."""
    from inventory_pipelines.dataplane import TableStore, rebuild_catalog

    views = rebuild_catalog(TableStore(settings.data_dir()), settings.catalog_path())
    click.echo(f"{settings.catalog_path()}: {len(views)} views")
    for view in views:
        click.echo(f"  {view}")


# --- sandbox ---------------------------------------------------------------------------------


@main.group()
def sandbox() -> None:
    """Emulators of Odoo and the channels, on loopback."""


@sandbox.command("odoo")
@click.option("--port", type=int, default=8069, show_default=True, help="0 picks a free port.")
@click.option(
    "--version", "odoo_version", type=click.Choice(["16", "17", "18", "19"]), default="17"
)
@click.option("--skus", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox_odoo(port: int, odoo_version: str, skus: int, seed: int, host: str) -> None:
    """Serve the Odoo emulator; the first stdout line is a JSON object of its credentials."""
    from inventory_pipelines.sandbox.odoo import serve

    serve(version=int(odoo_version), port=port, skus=skus, seed=seed, host=host)


@main.command("dev")
@click.option("--odoo-port", type=int, default=8069, show_default=True)
@click.option("--odoo-version", type=click.Choice(["16", "17", "18", "19"]), default="17")
@click.option("--skus", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--ui-port", type=int, default=3000, show_default=True)
def dev(odoo_port: int, odoo_version: str, skus: int, seed: int, ui_port: int) -> None:
    """Start the sandbox, then `dagster dev` against it (what `make run` does)."""
    odoo = subprocess.Popen(
        [
            sys.executable, "-m", "inventory_pipelines.cli", "sandbox", "odoo",
            "--port", str(odoo_port), "--version", odoo_version,
            "--skus", str(skus), "--seed", str(seed),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        first = odoo.stdout.readline() if odoo.stdout else ""
        if not first:
            raise click.ClickException("the Odoo sandbox did not start (see its output above)")
        creds = json.loads(first)
        env = dict(os.environ)
        env.setdefault("INVENTORY_ENV", "local")
        env.setdefault("DAGSTER_HOME", str(settings.REPO_ROOT / ".dagster_home"))
        env.update(
            ODOO_URL=creds["url"],
            ODOO_DB=creds["db"],
            ODOO_LOGIN=creds["login"],
            ODOO_API_KEY=creds["api_key"],
        )
        Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        click.echo(f"Odoo {odoo_version} sandbox with {skus} SKUs at {creds['url']}", err=True)
        click.echo(f"Dagster UI at http://127.0.0.1:{ui_port}", err=True)
        dagster = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster")), "dev",
                "-w", str(settings.REPO_ROOT / "workspace.yaml"), "-p", str(ui_port),
            ],
            env=env,
            cwd=settings.REPO_ROOT,
        )  # fmt: skip
        try:
            dagster.wait()
        except KeyboardInterrupt:
            dagster.send_signal(signal.SIGINT)
            dagster.wait()
    finally:
        odoo.terminate()
        odoo.wait(timeout=10)


if __name__ == "__main__":
    main()
