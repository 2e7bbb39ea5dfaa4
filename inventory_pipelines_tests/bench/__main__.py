"""`make bench`: run every benchmark, each in its own process, and write bench-results.json.

Each benchmark prints one JSON object of figures as its last stdout line; this runner adds the
process's peak RSS and writes all figures, with units, to `bench-results.json` at the repo root.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "bench-results.json"

BENCHMARKS = {
    "canonical": "inventory_pipelines_tests.bench.bench_canonical",
    "allocation": "inventory_pipelines_tests.bench.bench_allocation",
    "odoo_snapshot": "inventory_pipelines_tests.bench.bench_odoo_snapshot",
    "publish": "inventory_pipelines_tests.bench.bench_publish",
    "orders": "inventory_pipelines_tests.bench.bench_orders",
    "stream_latency": "inventory_pipelines_tests.bench.bench_stream_latency",
    "reconciliation": "inventory_pipelines_tests.bench.bench_reconciliation",
    "vendor_feed": "inventory_pipelines_tests.bench.bench_vendor_feed",
    "scale": "inventory_pipelines_tests.bench.bench_scale",
}


def run(name: str, module: str, extra: list[str]) -> dict:
    """Run one benchmark module in a fresh interpreter; return its figures."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", module, *extra], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark {name} failed (exit {proc.returncode})")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name}: done in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return figures


def main() -> None:
    """Run the chosen benchmarks (all by default) and merge their figures into the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], default=[])
    args, extra = parser.parse_known_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.names or list(BENCHMARKS):
        results.update(run(name, BENCHMARKS[name], extra))
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    for key, entry in sorted(results.items()):
        target = f"  (target {entry['target']})" if entry.get("target") else ""
        print(f"{key:40s} {entry['value']:>14,.2f} {entry['unit']}{target}")


if __name__ == "__main__":
    main()
