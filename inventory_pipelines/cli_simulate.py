"""`inventory-sync simulate`: every publishing policy over the same simulated day (issue #14)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import click

from inventory_pipelines.simulation import POLICIES


@click.command("simulate")
@click.option("--seed", type=int, default=1, show_default=True, help="Fixes the whole run.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the figures as JSON here.",
)
@click.option(
    "--png",
    "png_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw oversold units and lost sales over time per policy here.",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="NAME",
    help=f"A policy to run (repeatable; default all): {', '.join(POLICIES)}.",
)
@click.option("--skus", type=click.IntRange(1, 500), default=60, show_default=True)
@click.option(
    "--hours",
    type=click.FloatRange(0.1, 24.0),
    default=6.0,
    show_default=True,
    help="Simulated hours of shopping, from 08:00.",
)
@click.option(
    "--orders-per-hour",
    type=click.FloatRange(1, 5000),
    default=90.0,
    show_default=True,
    help="Shoppers an hour on average, every channel together.",
)
@click.option("--flash-sales", type=click.IntRange(0, 10), default=2, show_default=True)
@click.option(
    "--buffers",
    is_flag=True,
    help="Give ours the shipped safety buffers and thresholds (periodic has none).",
)
def simulate(
    seed: int,
    json_path: Path | None,
    png_path: Path | None,
    policies: tuple[str, ...],
    skus: int,
    hours: float,
    orders_per_hour: float,
    flash_sales: int,
    buffers: bool,
) -> None:
    """Run the same shoppers, warehouse events and channel faults under each policy, against
    the emulators with the product's real code, in simulated time; print a table of oversold
    units, lost sales, duplicate and lost orders, drift, API calls and latency."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise click.ClickException(
            f"unknown policy {', '.join(map(repr, unknown))}: choose from {', '.join(POLICIES)}"
        )
    started = time.monotonic()

    def progress(name: str) -> None:
        click.echo(f"{time.monotonic() - started:6.0f} s  {name}...", err=True)

    with _quiet():
        from inventory_pipelines.simulation.report import plot, table
        from inventory_pipelines.simulation.run import Settings, run_simulation

        report = run_simulation(
            Settings(seed, skus, hours, orders_per_hour, flash_sales, buffers),
            policies or POLICIES,
            progress=progress,
        )
        click.echo(table(report))
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(report, indent=2) + "\n")
        if png_path is not None:
            plot(report, png_path)
    click.echo(f"{time.monotonic() - started:.0f} s", err=True)
    sys.stdout.flush()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Dagster's beta notices on import (not the user's concern) and the product's retry logs
    (retries are the point of the simulation) silenced for the run only: the command may run
    inside another program (a test's CliRunner), whose logging it leaves as it found it."""
    product = logging.getLogger("inventory_pipelines")
    level = product.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        product.setLevel(logging.ERROR)
        try:
            yield
        finally:
            product.setLevel(level)
