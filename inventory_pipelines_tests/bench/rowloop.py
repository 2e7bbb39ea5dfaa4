"""The allocation rules written as a plain-Python loop over rows: the baseline of the benchmark.

It follows DESIGN.md section 3 step by step, one SKU and one channel at a time, the way a
connector without a frame engine would. A test checks it agrees with the engine, so the speed-up
measured against it compares the same work.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import datetime

from inventory_pipelines.allocation.engine import EPSILON
from inventory_pipelines.rules import AllocationMode, Policy, WarehouseStatus
from inventory_pipelines.rules.patterns import glob_to_regex


def allocate_rows(
    canonical: list[dict],
    policy: Policy,
    now: datetime,
    pending: dict[str, float],
    skus: list[dict],
) -> list[dict]:
    """One dict per (channel, sku) with pool, pending, net, allocated, ..., publishable."""
    stock: dict[str, dict[str, float]] = defaultdict(dict)
    for row in canonical:
        stock[row["sku"]][row["warehouse"]] = (
            stock[row["sku"]].get(row["warehouse"], 0.0) + row["available"]
        )
    status = {w.code: w.status for w in policy.warehouses.warehouses}
    dropship = [w.code for w in policy.warehouses.warehouses if w.dropship]
    eligible = {}
    for c in policy.channels.channels:
        codes = [w.code for w in c.warehouses] + (dropship if c.dropship else [])
        eligible[c.name] = [w for w in codes if status.get(w) is WarehouseStatus.ONLINE]
    fenced = [c for c in policy.channels.channels if c.allocation.ring_fenced]
    fence_codes = {w for c in fenced for w in eligible[c.name]}
    percent_share = sum(
        (c.allocation.percent or 0) / 100
        for c in fenced
        if c.allocation.mode is AllocationMode.PERCENT
    )
    capped = [c for c in fenced if c.allocation.mode is AllocationMode.CAP]
    compiled = {}
    for p in policy.policies.policies:
        if p.match.sku:
            compiled[p.name] = re.compile(glob_to_regex(p.match.sku))
    suppressions = [
        (s, re.compile(glob_to_regex(s.sku)))
        for s in policy.suppressions.suppressions
        if s.active_at(now)
    ]
    out = []
    for item in skus:
        sku = item["sku"]
        available = stock.get(sku, {})
        waiting = max(pending.get(sku, 0.0), 0.0)
        fence_pool = sum(available.get(w, 0.0) for w in fence_codes)
        fence_net = max(0.0, fence_pool - waiting)
        for c in policy.channels.channels:
            pool = sum(available.get(w, 0.0) for w in eligible[c.name])
            net = max(0.0, pool - waiting)
            mode = c.allocation.mode
            if mode is AllocationMode.SHARED:
                allocated = net
            elif mode is AllocationMode.PERCENT:
                allocated = math.floor(net * (c.allocation.percent or 0) / 100 + EPSILON)
            else:
                each = fence_net * max(0.0, 1.0 - percent_share) / len(capped)
                allocated = math.floor(min(float(c.allocation.cap or 0), net, each) + EPSILON)
            buffer, threshold, pack = c.safety_buffer, c.min_threshold, c.pack_size
            for p in policy.policies.policies:
                if p.channels and c.name not in p.channels:
                    continue
                m = p.match
                if m.sku and not compiled[p.name].match(sku):
                    continue
                if m.category and item.get("category") != m.category:
                    continue
                if m.velocity_tier and item.get("velocity_tier") != m.velocity_tier:
                    continue
                buffer = p.set.safety_buffer or buffer
                threshold = p.set.min_threshold if p.set.min_threshold is not None else threshold
                pack = p.set.pack_size or pack
            held = allocated * buffer.percent / 100 if buffer.percent is not None else buffer.units
            buffered = max(0.0, allocated - held)
            thresholded = 0.0 if buffered + EPSILON < threshold else buffered
            suppressed = thresholded
            for s, pattern in suppressions:
                if s.channel in ("*", c.name) and pattern.match(sku):
                    suppressed = 0.0
            packed = math.floor((suppressed + EPSILON) / pack) * pack
            publishable = math.floor((packed + EPSILON) / c.uom.units)
            out.append(
                {
                    "channel": c.name,
                    "sku": sku,
                    "pool": pool,
                    "pending": waiting,
                    "net": net,
                    "allocated": float(allocated),
                    "buffered": buffered,
                    "thresholded": thresholded,
                    "suppressed": suppressed,
                    "publishable": publishable,
                }
            )
    return out
