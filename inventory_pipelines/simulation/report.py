"""The simulation's report: a table for the terminal, and the PNG of the curves over time."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: (column title, key in a policy's figures)
COLUMNS = (
    ("policy", None),
    ("orders", "orders_accepted"),
    ("oversold u", "oversold_units"),
    ("(CAS ch.)", "oversold_units_compare_and_set_channels"),
    ("oversold o", "oversold_orders"),
    ("lost sales", "lost_sales"),
    ("away w/ stock", "turned_away_with_stock"),
    ("dup orders", "duplicate_orders"),
    ("lost upd", "lost_updates"),
    ("drift end", "drift_end"),
    ("api calls", "api_calls"),
    ("p50 s", "latency_p50_s"),
    ("p95 s", "latency_p95_s"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(report: Mapping[str, Any]) -> str:
    """The figures of every policy, one row each, aligned."""
    rows = [[title for title, _ in COLUMNS]]
    for name, figures in report["policies"].items():
        rows.append([name] + [_cell(figures.get(key)) for _, key in COLUMNS[1:]])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    settings = report["settings"]
    head = (
        f"seed {report['seed']}: {settings['skus']} SKUs, {settings['hours']:g} h, "
        f"{settings['shoppers']} shoppers, {settings['stock_events']} warehouse events, "
        f"channels {', '.join(settings['channels'])}"
    )
    return "\n".join([head, "", *lines])


def plot(report: Mapping[str, Any], path: Path) -> None:
    """Per policy, cumulative oversold units and lost sales over simulated hours, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (oversold, lost) = plt.subplots(1, 2, figsize=(13, 5), sharex=True)
    hours = report["settings"]["hours"]
    for name, figures in report["policies"].items():
        points = figures["timeline"]
        times = [0.0] + [p[0] / 3600.0 for p in points] + [hours]

        def curve(n: int, points: list = points) -> list[int]:
            return [0] + [p[n] for p in points] + [points[-1][n] if points else 0]

        oversold.step(times, curve(1), where="post", label=name)
        (line,) = lost.step(times, curve(2), where="post", label=name)
        if curve(3) != curve(2):  # a fence turned shoppers away: dashed, the same colour
            lost.step(times, curve(3), where="post", linestyle="--", color=line.get_color())
    oversold.set_title("Oversold units (cumulative)")
    lost.set_title(
        "Lost sales (cumulative shoppers turned away while the unit was the channel's)\n"
        "dashed: turned away while a unit was on its shelves by any routing, fences ignored",
        fontsize=9,
    )
    for axes in (oversold, lost):
        axes.set_xlabel("simulated hours")
        axes.grid(alpha=0.3)
    oversold.legend(fontsize=8)
    figure.suptitle(f"inventory-sync simulate --seed {report['seed']}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
