"""How an approved, revoked or break-glass override reaches the channels now.

1. A `refresh_changed_skus` run over its SKUs (every channel in one run, fast-path priority,
   tag `inventory/trigger: override`), submitted to the Dagster webserver at
   `INVENTORY_DAGSTER_URL` as the Odoo push submits its runs; a stop's SKUs may take several
   runs of `max_skus_per_run`.
2. When no webserver answers: for a stop (urgent), the same partial refresh run in this
   process, as `inventory-sync sync` runs the whole graph; for an override, the SKUs are
   marked dirty for the next batch (`batch_sync`, every 15 minutes).

A refresh that fails in process marks its SKUs dirty too, so the batch takes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from inventory_pipelines.ledger import dirty
from inventory_pipelines.stream.runs import FastRun, RunSubmitter

TRIGGER = "override"


@dataclass(frozen=True)
class OverrideRun(FastRun):
    """A fast run asked for by an override step: the push's run, tagged as the override's."""

    override_id: int = 0

    @property
    def tags(self) -> dict[str, str]:
        """The fast-path tags with this trigger and the override's id."""
        return {
            **super().tags,
            "inventory/trigger": TRIGGER,
            "inventory/override": str(self.override_id),
        }


@dataclass
class Outcome:
    """What was done to take an override step to the channels, told in `lines`."""

    how: str  # submitted, in_process, dirty, nothing
    lines: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    failed: bool = False


def take_to_channels(
    override_id: int,
    skus: Sequence[str],
    channels: Sequence[str],
    engine: Engine,
    *,
    urgent: bool,
    max_skus_per_run: int,
    submitter: Callable[[], RunSubmitter],
    refresh: Callable[[list[str]], dict[str, Any]],
) -> Outcome:
    """Submit fast runs over `skus`; else refresh them in process (`urgent`) or mark them dirty.

    `submitter` builds the webserver's submitter (it may raise when none is configured);
    `refresh` runs the partial refresh in process and returns `{"success", "error",
    "channels"}` (see `defs/overrides/refresh.py`).
    """
    wanted = sorted(set(skus))
    if not wanted:
        return Outcome(
            "nothing",
            ["no known SKU to refresh yet: the next allocation applies it (no SKU table yet)"],
        )
    reason = f"override #{override_id}"
    where = ""
    try:
        chosen = submitter()
        where = f" at {chosen.url}" if getattr(chosen, "url", None) else ""
        run_ids = [
            chosen.submit(OverrideRun(tuple(chunk), tuple(channels), override_id=override_id))
            for chunk in _chunks(wanted, max_skus_per_run)
        ]
    except Exception as exc:  # no webserver, or it refused: told, then the fallback
        why = _one_line(exc)
    else:
        return Outcome(
            "submitted",
            [
                f"fast refresh of {len(wanted)} SKU(s) on every channel submitted to Dagster: "
                f"run(s) {', '.join(run_ids)}"
            ],
            run_ids,
        )
    lines = [f"no Dagster webserver{where} took the fast refresh ({why})"]
    if not urgent:
        with engine.connect() as conn:
            dirty.mark(conn, dict.fromkeys(wanted, reason))
        lines.append(
            f"{len(wanted)} SKU(s) marked dirty: the next batch (every 15 minutes) takes them to "
            "the channels, or run `inventory-sync sync` now"
        )
        return Outcome("dirty", lines)
    lines.append(f"refreshing {len(wanted)} SKU(s) on every channel in this process...")
    summary = refresh(wanted)
    if summary.get("success"):
        for channel, figures in (summary.get("channels") or {}).items():
            shown = {k: v for k, v in figures.items() if v is not None}
            lines.append(f"{channel}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        return Outcome("in_process", lines)
    with engine.connect() as conn:
        dirty.mark(conn, dict.fromkeys(wanted, f"{reason}: in-process refresh failed"))
    lines.append(
        f"the refresh failed: {summary.get('error') or 'see above'}; the SKUs are marked dirty "
        "for the next batch, and the override applies at every run from now on"
    )
    return Outcome("in_process", lines, failed=True)


def _chunks(skus: list[str], size: int) -> list[list[str]]:
    size = max(1, size)
    return [skus[start : start + size] for start in range(0, len(skus), size)]


def _one_line(exc: BaseException) -> str:
    """The deepest cause of `exc` (a GraphQL client error wraps the connection's), one line."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
