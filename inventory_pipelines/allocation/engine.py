"""The allocation engine: canonical inventory + pending orders + policy -> per-channel quantities.

A pure function of frames (DESIGN.md section 3). It works on a wide frame, one row per SKU with
a column per warehouse and per channel step, because warehouses and channels are few and SKUs
are many: every step is then a handful of column expressions over all SKUs at once. The result
is long, one row per (channel, sku), with each step as a column and the rule behind each step
beside it, so any published number can be explained.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from inventory_pipelines.allocation.overrides import CAPPED, expand
from inventory_pipelines.allocation.supply import incoming_units, units_text, vendor_units
from inventory_pipelines.rules import AllocationMode, Channel, Policy, WarehouseStatus
from inventory_pipelines.rules.channels import Incoming, SafetyBuffer
from inventory_pipelines.rules.patterns import glob_to_regex

STEPS = (
    "pool",
    "pending",
    "net",
    "allocated",
    "buffered",
    "thresholded",
    "suppressed",
    "publishable",
)

#: the sources of the pool, each a column with its rule, in this order of priority
SOURCES = ("own", "dropship", "incoming")
PENDING_RULE = "order ledger: units accepted by a channel, not yet reserved in Odoo"
NET_RULE = "max(0, pool - pending)"

# Units are rounded to this many decimals before comparing or flooring, so float noise from
# UoM conversion (29.999999999) never costs a unit.
EPSILON = 1e-9


@dataclass(frozen=True)
class _Override:
    """One way a setting can be decided for a channel: a condition, a value, its rule text."""

    condition: pl.Expr | None  # None: the channel default
    value: object
    rule: str


def _sku_matches(pattern: str) -> pl.Expr:
    return pl.col("sku").str.contains(glob_to_regex(pattern))


def _policy_condition(match, attributes: set[str]) -> pl.Expr:
    conditions = []
    if match.sku is not None:
        conditions.append(_sku_matches(match.sku))
    for field in ("category", "velocity_tier"):
        value = getattr(match, field)
        if value is not None:
            if field not in attributes:
                conditions.append(pl.lit(False))
            else:
                conditions.append(pl.col(field).fill_null("") == value)
    expr = conditions[0]
    for condition in conditions[1:]:
        expr = expr & condition
    return expr


def _choices(
    policy: Policy, channel: Channel, setting: str, attributes: set[str]
) -> list[_Override]:
    """The channel default then every policy that sets `setting` for this channel, in order."""
    default = getattr(channel, setting)
    described = default.describe() if isinstance(default, SafetyBuffer) else f"{default:g}"
    choices = [
        _Override(None, default, f"channels.yml: {channel.name}.{setting} {described}"),
    ]
    for p in policy.policies.policies:
        value = getattr(p.set, setting)
        if value is None or (p.channels and channel.name not in p.channels):
            continue
        text = value.describe() if isinstance(value, SafetyBuffer) else f"{value:g}"
        choices.append(
            _Override(
                _policy_condition(p.match, attributes),
                value,
                f"policies.yml: {p.name} {setting} {text}",
            )
        )
    return choices


def _decide(choices: list[_Override], value_of, rule_dtype: pl.Enum) -> tuple[pl.Expr, pl.Expr]:
    """Value and rule expressions: the last matching choice wins."""
    value = value_of(choices[0].value)
    rule = pl.lit(choices[0].rule, dtype=rule_dtype)
    for choice in choices[1:]:
        value = pl.when(choice.condition).then(value_of(choice.value)).otherwise(value)
        rule = pl.when(choice.condition).then(pl.lit(choice.rule, dtype=rule_dtype)).otherwise(rule)
    return value, rule


@dataclass(frozen=True)
class _Sources:
    """Where a channel's pool comes from: its own warehouses, drop-ship, incoming, with texts."""

    own: list[str]  # own warehouses, online, present in the inventory
    own_online: list[str]  # own warehouses, online (where incoming stock counts)
    dropship_warehouses: list[str]  # drop-ship warehouses of warehouses.yml, online, present
    vendors: bool  # whether the vendors' stock (supply/vendor_stock) counts
    incoming: Incoming | None
    own_text: str
    dropship_text: str
    incoming_text: str

    @property
    def dropship(self) -> bool:
        """Whether the channel sees any drop-ship stock (and so the drop-ship pending units)."""
        return self.vendors or bool(self.dropship_warehouses)

    @property
    def beyond_own(self) -> bool:
        """Whether the pool holds more than the channel's own stock."""
        return self.dropship or self.incoming is not None


def _sources(policy: Policy, channel: Channel, present: set[str]) -> _Sources:
    """The channel's sources of stock and the rule texts of each."""
    status = {w.code: w.status for w in policy.warehouses.warehouses}
    flagged = {w.code for w in policy.warehouses.warehouses if w.dropship}
    listed = [w.code for w in sorted(channel.warehouses, key=lambda w: w.priority)]
    own = [c for c in listed if c not in flagged]
    dropship = [c for c in listed if c in flagged]
    if channel.dropship:
        dropship += sorted(c for c in flagged if c not in listed)
    online = [c for c in own if status.get(c) is WarehouseStatus.ONLINE]
    excluded = [
        f"{c} {status[c].value}"
        for c in own + dropship
        if c in status and (status[c] is not WarehouseStatus.ONLINE)
    ]
    own_text = f"channels.yml: {channel.name}.warehouses {'+'.join(online) or 'none online'}"
    if excluded:
        own_text += f"; excluded: {', '.join(excluded)}"
    ds_online = [c for c in dropship if status.get(c) is WarehouseStatus.ONLINE]
    if channel.dropship:
        dropship_text = (
            f"channels.yml: {channel.name}.dropship true: the drop-ship vendors' stock "
            "(supply/vendor_stock, after each vendor's buffer, 0 while its feed is stale)"
        )
        if ds_online:
            dropship_text += f" + drop-ship warehouses {'+'.join(ds_online)}"
    elif ds_online:
        dropship_text = f"channels.yml: {channel.name}.warehouses drop-ship {'+'.join(ds_online)}"
    else:
        dropship_text = f"channels.yml: {channel.name}.dropship false: no drop-ship stock"
    if channel.incoming is not None:
        rule = channel.incoming
        incoming_text = (
            f"channels.yml: {channel.name}.incoming {rule.percent:g}% of the units of confirmed "
            f"purchase lines into {'+'.join(online) or 'no online warehouse'} not yet received, "
            f"planned within {rule.within_days} days of now (before or after), rounded down"
        )
    else:
        incoming_text = f"channels.yml: {channel.name}.incoming not set: no incoming stock"
    return _Sources(
        own=[c for c in online if c in present],
        own_online=online,
        dropship_warehouses=[c for c in ds_online if c in present],
        vendors=channel.dropship,
        incoming=channel.incoming,
        own_text=own_text,
        dropship_text=dropship_text,
        incoming_text=incoming_text,
    )


def _beyond_text(sources: _Sources) -> str:
    """`drop-ship`, `incoming` or `drop-ship then incoming`: the channel's sources beyond own."""
    parts = (["drop-ship"] if sources.dropship else []) + (
        ["incoming"] if sources.incoming is not None else []
    )
    return " then ".join(parts)


def _pool_rule(sources: _Sources) -> str:
    if not sources.beyond_own:
        return sources.own_text
    return f"own then {_beyond_text(sources)}, in this order of priority"


def _pending_rule(sources: _Sources) -> str:
    if not sources.dropship:
        return PENDING_RULE
    return (
        f"{PENDING_RULE}; with the units ordered on the drop-ship route (`pending_dropship`), "
        "counted against drop-ship stock until the vendors' feeds are dated after the order"
    )


def _net_rule(sources: _Sources) -> str:
    if not sources.beyond_own:
        return NET_RULE
    text = (
        f"max(0, own - pending) + what is left of {_beyond_text(sources)} after the pending "
        "units own stock does not cover"
    )
    if sources.dropship:
        text += "; drop-ship pending units count against drop-ship stock only"
    return text


def _suppression(policy: Policy, channel: Channel, now: datetime) -> tuple[pl.Expr, list[str]]:
    """Condition under which `channel` is suppressed now, and the rule texts involved."""
    condition = pl.lit(False)
    texts = []
    for i, s in enumerate(policy.suppressions.suppressions):
        if s.channel not in ("*", channel.name) or not s.active_at(now):
            continue
        texts.append(
            f"suppressions.yml: suppressions.{i} {s.sku} until {s.until.isoformat()} ({s.reason})"
        )
        condition = condition | _sku_matches(s.sku)
    return condition, texts


def pending_frame(units: Mapping[str, float]) -> pl.DataFrame:
    """sku, pending: the `pending` argument of :func:`allocate` from units per SKU."""
    return pl.DataFrame(
        {"sku": list(units), "pending": [float(v) for v in units.values()]},
        schema={"sku": pl.Utf8, "pending": pl.Float64},
    )


def fence_signature(policy: Policy) -> str:
    """The ring-fenced channels' shares: when they change, the fences are based anew."""
    fenced = {
        c.name: c.allocation.model_dump(mode="json")
        for c in policy.channels.channels
        if c.allocation.ring_fenced
    }
    return json.dumps(fenced, sort_keys=True)


def fence_sales_frame(sold: Mapping[tuple[str, ...], float]) -> pl.DataFrame:
    """channel, sku, warehouse, sold: the `sales` argument of :func:`allocate` from units keyed
    (channel, sku, warehouse) as `fences.allocation_inputs` gives them, or (channel, sku): the
    warehouse Odoo reserved them in, None while pending or not known."""
    keys = list(sold)
    return pl.DataFrame(
        {
            "channel": [k[0] for k in keys],
            "sku": [k[1] for k in keys],
            "warehouse": [k[2] if len(k) > 2 else None for k in keys],
            "sold": [float(v) for v in sold.values()],
        },
        schema={"channel": pl.Utf8, "sku": pl.Utf8, "warehouse": pl.Utf8, "sold": pl.Float64},
    )


def _with_sales(
    wide: pl.LazyFrame,
    sales: pl.DataFrame | None,
    names: list[str],
    fenced: Mapping[str, Sequence[str]],
) -> pl.LazyFrame:
    """`sold:<channel>` per channel, `sold:fenced`, the ring-fenced channels' sales together,
    and `sold:fenced:<channel>` for each ring-fenced channel (`fenced`: its own warehouses):
    those of the fenced sales that took from its own pool.

    Only the fenced channels' own sales are added back to form the fence base: a sale on a
    shared-pool channel (or one no longer in the rules) is stock that left otherwise, shared
    out by the percentages like any other. And of those, only the sales that took from the
    channel's own pool: the pending ones (their units count against every pool until Odoo
    reserves them) and those Odoo reserved in one of its own warehouses. A sale shipped from a
    warehouse the channel does not sell from never was in its pool; added back, it would raise
    the channel's fence by another channel's sale.
    """
    columns = [f"sold:{n}" for n in names]
    columns += ["sold:fenced", *(f"sold:fenced:{n}" for n in fenced)]
    if sales is None or sales.is_empty():
        return wide.with_columns(pl.lit(0.0).alias(c) for c in columns)
    frame = sales.lazy()
    if "warehouse" not in sales.columns:
        frame = frame.with_columns(warehouse=pl.lit(None, dtype=pl.Utf8))
    is_fenced = pl.col("channel").is_in(list(fenced))
    per_sku = (
        frame.with_columns(
            pl.col("channel").cast(pl.Utf8),
            pl.col("warehouse").cast(pl.Utf8),
            pl.col("sold").cast(pl.Float64),
        )
        .group_by("sku")
        .agg(
            *(
                pl.col("sold").filter(pl.col("channel") == n).sum().alias(f"sold:{n}")
                for n in names
            ),
            pl.col("sold").filter(is_fenced).sum().alias("sold:fenced"),
            *(
                pl.col("sold")
                .filter(
                    is_fenced
                    & (pl.col("warehouse").is_null() | pl.col("warehouse").is_in(list(own)))
                )
                .sum()
                .alias(f"sold:fenced:{n}")
                for n, own in fenced.items()
            ),
        )
    )
    return wide.join(per_sku, on="sku", how="left").with_columns(
        pl.col(c).fill_null(0.0) for c in columns
    )


def allocate(
    canonical: pl.DataFrame,
    policy: Policy,
    now: datetime,
    *,
    pending: pl.DataFrame | None = None,
    skus: pl.DataFrame | None = None,
    channels: Sequence[str] | None = None,
    sales: pl.DataFrame | None = None,
    overrides: pl.DataFrame | None = None,
    vendor_stock: pl.DataFrame | None = None,
    incoming: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (channel, sku) with every step of the policy and the rule behind each.

    `canonical`: sku, warehouse, available (base units). `pending`: sku, pending (units
    accepted by any channel, not yet reserved in Odoo) and optionally pending_dropship (units
    ordered on the drop-ship route the vendors' feeds may not show yet, see
    :func:`inventory_pipelines.allocation.supply.dropship_pending`); `pending` is then the
    other units. `skus`: the SKUs to allocate, with optional `category` and `velocity_tier`
    columns for policies; a SKU with no stock gets a row with zeros, so a channel is told to
    show 0 rather than left with a stale number. `channels`: the channels to return (all by
    default); ring-fenced caps always account for every ring-fenced channel, so the result for
    one channel does not depend on which others are asked for. `sales`: channel, sku, sold
    (units each channel sold from its own stock since the fences were based) and optionally
    warehouse (where Odoo reserved them; null while pending), see :func:`fence_sales_frame`;
    without it no sale is known and every fence is its share of
    the net pool. `overrides`: the approved manual overrides and emergency stops that apply
    now (see :mod:`inventory_pipelines.allocation.overrides`): each sets step 6 (`suppressed`)
    of its (channel, sku) to its quantity, never above `allocated`. `vendor_stock`: the
    drop-ship vendors' stock (`supply/vendor_stock`: vendor, sku, quantity, fresh, as_of).
    `incoming`: purchase lines not yet received (`odoo/incoming_purchases`: purchase_order,
    line_id, vendor, sku, warehouse, quantity, date_planned, receipt_state).

    The pool is made of up to three sources, each a column with its rule, in this order of
    priority: `own` (the available stock of the channel's online eligible warehouses),
    `dropship` (for a channel with `dropship: true`: the vendors' stock, 0 for a vendor whose
    feed is stale, plus drop-ship warehouses of warehouses.yml) and `incoming` (for a channel
    with an `incoming` rule: its percentage of the units of purchase lines into its eligible
    warehouses planned within the window). Pending units are taken from own stock first; what
    own stock does not cover is taken from drop-ship, then incoming. Units ordered on the
    drop-ship route (`pending_dropship`) count against drop-ship stock only: the vendor ships
    them, our shelves do not.

    Fences: a ring-fenced channel's fence is its share of the own net pool as it would be had
    no ring-fenced channel sold anything since the fences were based (`fence_base` = own net +
    the fenced channels' own-stock sales since that took from this pool: pending, or reserved
    in one of its own warehouses; `sales` says where, see :func:`_with_sales`), less its own
    such sales (`fence_sold`). So a sale on one fenced channel lowers its own fence by the
    whole unit and leaves every other fence as it was, while stock that arrives or leaves
    otherwise (a shared-pool channel's sale included) moves every fence by its share.

    Drop-ship and incoming units are not fenced. A fence guarantees that no two channels sell
    the same unit of our own stock; a vendor's stock is not ours to divide (the vendor sells it
    to others too, and publishes a new figure whenever it likes), so every drop-ship channel
    sees all of it, as shared-pool channels see the whole net pool, and the vendor's buffer,
    the drop-ship pending units and each channel's safety buffer bound the risk. Incoming units
    are a promise, not stock: each channel with a rule sees its own percentage of them (the
    percentages of several channels are not required to sum to 100). A ring-fenced channel's
    `allocated` is therefore its fence (`allocated_own`, what the ring-fence check sums) plus
    its drop-ship and incoming net, which no fence holds; a shared channel's is its whole net.
    """
    wanted = list(channels) if channels is not None else policy.channels.names()
    if skus is None:
        skus = canonical.select("sku").unique()
    attributes = set(skus.columns) - {"sku"}
    present = set(canonical["warehouse"].unique().to_list()) if canonical.height else set()
    universe = skus.lazy().select("sku").unique("sku")

    wide = (
        skus.lazy()
        .unique("sku")
        .join(
            canonical.lazy()
            .group_by("sku")
            .agg(
                pl.col("available").filter(pl.col("warehouse") == w).sum().alias(f"wh:{w}")
                for w in sorted(present)
            )
            if present
            else pl.LazyFrame(schema={"sku": pl.Utf8}),
            on="sku",
            how="left",
        )
    )
    pending_columns = ["pending"]
    if pending is not None:
        by_dropship = "pending_dropship" in pending.columns
        pending_columns += ["pending_dropship"] if by_dropship else []
        wide = wide.join(
            pending.lazy().group_by("sku").agg(pl.col(c).sum() for c in pending_columns),
            on="sku",
            how="left",
        )
    else:
        wide = wide.with_columns(pending=pl.lit(0.0))
    if "pending_dropship" not in pending_columns:
        wide = wide.with_columns(pending_dropship=pl.lit(0.0))
    wide = wide.with_columns(
        pl.col(f"wh:{w}").fill_null(0.0) for w in sorted(present)
    ).with_columns(
        pl.col(c).fill_null(0.0).clip(lower_bound=0.0) for c in ("pending", "pending_dropship")
    )

    def pool_of(codes: list[str]) -> pl.Expr:
        if not codes:
            return pl.lit(0.0)
        return pl.sum_horizontal(pl.col(f"wh:{c}") for c in codes)

    all_channels = policy.channels.channels
    sources = {c.name: _sources(policy, c, present) for c in all_channels}
    wide = _with_supply(wide, universe, all_channels, sources, now, vendor_stock, incoming)

    # Every rule text that can appear, so rule columns are a compact Enum, not 5M strings.
    rule_texts: list[str] = [PENDING_RULE, NET_RULE]
    for c in all_channels:
        src = sources[c.name]
        rule_texts += [src.own_text, src.dropship_text, src.incoming_text]
        rule_texts += [_pool_rule(src), _pending_rule(src), _net_rule(src)]
        rule_texts.append(_allocation_rule(c, src))
        for setting in ("safety_buffer", "min_threshold", "pack_size"):
            rule_texts += [o.rule for o in _choices(policy, c, setting, attributes)]
        rule_texts += _suppression(policy, c, now)[1]
    rule_texts.append("no suppression active")
    rule_dtype = pl.Enum(list(dict.fromkeys(rule_texts)))
    applied = expand(overrides, skus["sku"], policy.channels.names())
    wide = _with_overrides(wide, applied, [c.name for c in all_channels])

    # Ring-fenced channels share one fence: their allocations together never exceed the net of
    # the union of their own pools. Percentages are taken first, caps then fill what is left.
    fenced = [c for c in all_channels if c.allocation.ring_fenced]
    fence_codes = sorted({w for c in fenced for w in sources[c.name].own})
    steps: dict[str, pl.Expr] = {}
    for c in all_channels:
        steps[f"own:{c.name}"] = pool_of(sources[c.name].own)
    wide = wide.with_columns(fence_pool=pool_of(fence_codes), **steps)
    nets: dict[str, pl.Expr] = {
        "fence_net": (pl.col("fence_pool") - pl.col("pending")).clip(lower_bound=0.0)
    }
    for c in all_channels:
        own = pl.col(f"own:{c.name}")
        nets[f"own_net:{c.name}"] = (own - pl.col("pending")).clip(lower_bound=0.0)
        if sources[c.name].beyond_own:
            # pending units own stock does not cover are taken from drop-ship, then incoming
            nets[f"spill:{c.name}"] = (pl.col("pending") - own).clip(lower_bound=0.0)
    wide = wide.with_columns(**nets)
    beyond = [c for c in all_channels if sources[c.name].beyond_own]
    if beyond:
        wide = wide.with_columns(
            **{
                f"dropship_left:{c.name}": (
                    pl.col(f"dropship:{c.name}") - pl.col("pending_dropship")
                ).clip(lower_bound=0.0)
                for c in beyond
            }
        ).with_columns(
            **{
                f"extra_net:{c.name}": (
                    pl.col(f"dropship_left:{c.name}") - pl.col(f"spill:{c.name}")
                ).clip(lower_bound=0.0)
                + (
                    pl.col(f"incoming:{c.name}")
                    - (pl.col(f"spill:{c.name}") - pl.col(f"dropship_left:{c.name}")).clip(
                        lower_bound=0.0
                    )
                ).clip(lower_bound=0.0)
                for c in beyond
            }
        )
    wide = _with_sales(
        wide, sales, [c.name for c in all_channels], {c.name: sources[c.name].own for c in fenced}
    )
    allocated: dict[str, pl.Expr] = {}
    for c in all_channels:
        net = pl.col(f"own_net:{c.name}")
        if c.allocation.mode is AllocationMode.SHARED:
            allocated[c.name] = net
            continue
        if c.allocation.mode is AllocationMode.PERCENT:
            base = net + pl.col(f"sold:fenced:{c.name}")
            size = base * (c.allocation.percent or 0) / 100
        else:
            # Caps are served from what the percentages leave of the fence, split evenly
            # between the capped channels: unlike a first-come order, an even split never gives
            # a channel less when there is more stock (every quantity stays monotone in stock).
            percent_share = sum(
                (x.allocation.percent or 0) / 100
                for x in fenced
                if x.allocation.mode is AllocationMode.PERCENT
            )
            capped = sum(1 for x in fenced if x.allocation.mode is AllocationMode.CAP)
            each = (
                (pl.col("fence_net") + pl.col("sold:fenced")) * max(0.0, 1 - percent_share) / capped
            )
            size = pl.min_horizontal(pl.lit(float(c.allocation.cap or 0)), each)
        fence = ((size - pl.col(f"sold:{c.name}")).clip(lower_bound=0.0) + EPSILON).floor()
        allocated[c.name] = pl.min_horizontal(fence, net)
    wide = wide.with_columns(**{f"allocated_own:{n}": e for n, e in allocated.items()})
    if fenced:
        # A fence overdrawn (a channel sold beyond it, e.g. before the fences were based) must
        # not push the fenced channels together above the fenced net pool: scale them down.
        total = pl.sum_horizontal(pl.col(f"allocated_own:{c.name}") for c in fenced)
        wide = wide.with_columns(
            **{
                f"allocated_own:{c.name}": pl.when(total > pl.col("fence_net") + EPSILON)
                .then(
                    (
                        pl.col(f"allocated_own:{c.name}") * pl.col("fence_net") / total + EPSILON
                    ).floor()
                )
                .otherwise(pl.col(f"allocated_own:{c.name}"))
                for c in fenced
            }
        )

    frames = []
    for name in wanted:
        c = policy.channels.get(name)
        frames.append(_channel_steps(wide, policy, c, now, attributes, sources, rule_dtype))
    return (
        pl.concat(frames, how="vertical")
        .with_columns(channel=pl.col("channel").cast(pl.Enum(policy.channels.names())))
        .collect()
    )


def _with_supply(
    wide: pl.LazyFrame,
    universe: pl.LazyFrame,
    channels: Sequence[Channel],
    sources: Mapping[str, _Sources],
    now: datetime,
    vendor_stock: pl.DataFrame | None,
    incoming: pl.DataFrame | None,
) -> pl.LazyFrame:
    """`dropship:<channel>`, `incoming:<channel>` and their sources' texts, for the channels
    whose pool holds more than their own stock."""
    beyond = [c for c in channels if sources[c.name].beyond_own]
    if not beyond:
        return wide
    vendors = any(sources[c.name].vendors for c in beyond)
    if vendors and vendor_stock is not None:
        wide = wide.join(vendor_units(vendor_stock, universe, now), on="sku", how="left")
        wide = wide.with_columns(pl.col("vendor").fill_null(0.0))
    else:
        wide = wide.with_columns(vendor=pl.lit(0.0), vendor_sources=pl.lit(None, dtype=pl.Utf8))
    columns: dict[str, pl.Expr] = {}
    for c in beyond:
        src = sources[c.name]
        parts = [pl.col("vendor")] if src.vendors else []
        parts += [pl.col(f"wh:{w}") for w in src.dropship_warehouses]
        columns[f"dropship:{c.name}"] = pl.sum_horizontal(parts) if parts else pl.lit(0.0)
        texts = [pl.col("vendor_sources")] if src.vendors else []
        texts += [
            pl.when(pl.col(f"wh:{w}") > 0).then(
                pl.format("drop-ship warehouse {} {}", pl.lit(w), units_text(pl.col(f"wh:{w}")))
            )
            for w in src.dropship_warehouses
        ]
        if len(texts) == 1:
            columns[f"dropship_sources:{c.name}"] = texts[0]
        elif texts:
            joined = pl.concat_str(texts, separator="; ", ignore_nulls=True)
            columns[f"dropship_sources:{c.name}"] = (
                pl.when(joined == "").then(None).otherwise(joined)
            )
        else:
            columns[f"dropship_sources:{c.name}"] = pl.lit(None, dtype=pl.Utf8)
        if src.incoming is not None and incoming is not None:
            units = incoming_units(incoming, universe, now, src.incoming, src.own_online).rename(
                {"units": f"incoming:{c.name}", "sources": f"incoming_sources:{c.name}"}
            )
            wide = wide.join(units, on="sku", how="left").with_columns(
                pl.col(f"incoming:{c.name}").fill_null(0.0)
            )
        else:
            columns[f"incoming:{c.name}"] = pl.lit(0.0)
            columns[f"incoming_sources:{c.name}"] = pl.lit(None, dtype=pl.Utf8)
    return wide.with_columns(**columns)


def _with_overrides(wide: pl.LazyFrame, applied: pl.DataFrame, names: list[str]) -> pl.LazyFrame:
    """`override:<channel>` (its quantity in the channel's unit, null where none applies) and
    `override_rule:<channel>` per channel."""
    for name in names:
        mine = applied.filter(pl.col("channel") == name)
        if mine.is_empty():
            wide = wide.with_columns(
                pl.lit(None, dtype=pl.Float64).alias(f"override:{name}"),
                pl.lit(None, dtype=pl.Utf8).alias(f"override_rule:{name}"),
            )
            continue
        wide = wide.join(
            mine.lazy().select(
                "sku",
                pl.col("quantity").cast(pl.Float64).alias(f"override:{name}"),
                pl.col("rule").alias(f"override_rule:{name}"),
            ),
            on="sku",
            how="left",
        )
    return wide


def _allocation_rule(channel: Channel, sources: _Sources) -> str:
    a = channel.allocation
    if a.mode is AllocationMode.SHARED:
        return f"channels.yml: {channel.name}.allocation shared pool"
    if a.mode is AllocationMode.PERCENT:
        text = (
            f"channels.yml: {channel.name}.allocation ring-fenced {a.percent:g}% of the fence "
            "base (own net + fenced units sold from this pool since the fences were based), "
            "less its own sales since"
        )
    else:
        text = (
            f"channels.yml: {channel.name}.allocation ring-fenced cap {a.cap} "
            "(of what the percentages leave, split evenly between capped channels), less its "
            "own sales since the fences were based"
        )
    if sources.beyond_own:
        text += f"; plus its {_beyond_text(sources)} net, which no fence holds"
    return text


def _channel_steps(
    wide: pl.LazyFrame,
    policy: Policy,
    channel: Channel,
    now: datetime,
    attributes: set[str],
    sources: Mapping[str, _Sources],
    rule_dtype: pl.Enum,
) -> pl.LazyFrame:
    name = channel.name
    src = sources[name]
    own_net = pl.col(f"own_net:{name}")
    allocated_own = pl.col(f"allocated_own:{name}")
    no_text = pl.lit(None, dtype=pl.Utf8)
    if src.beyond_own:
        extra = pl.col(f"extra_net:{name}")
        dropship, incoming = pl.col(f"dropship:{name}"), pl.col(f"incoming:{name}")
        dropship_sources = pl.col(f"dropship_sources:{name}")
        incoming_sources = pl.col(f"incoming_sources:{name}")
        net, allocated = own_net + extra, allocated_own + extra
    else:
        dropship = incoming = pl.lit(0.0)
        dropship_sources = incoming_sources = no_text
        net, allocated = own_net, allocated_own
    pending_dropship = pl.col("pending_dropship") if src.dropship else pl.lit(0.0)
    buffer_units, buffer_rule = _decide(
        _choices(policy, channel, "safety_buffer", attributes),
        lambda b: (
            allocated * (b.percent / 100) if b.percent is not None else pl.lit(float(b.units))
        ),
        rule_dtype,
    )
    threshold, threshold_rule = _decide(
        _choices(policy, channel, "min_threshold", attributes),
        lambda v: pl.lit(float(v)),
        rule_dtype,
    )
    pack, pack_rule = _decide(
        _choices(policy, channel, "pack_size", attributes),
        lambda v: pl.lit(float(v)),
        rule_dtype,
    )
    suppressed_when, suppression_texts = _suppression(policy, channel, now)
    suppression_rule = pl.lit("no suppression active", dtype=rule_dtype)
    for i, s in enumerate(policy.suppressions.suppressions):
        text = (
            f"suppressions.yml: suppressions.{i} {s.sku} until {s.until.isoformat()} ({s.reason})"
        )
        if text in suppression_texts:
            suppression_rule = (
                pl.when(_sku_matches(s.sku))
                .then(pl.lit(text, dtype=rule_dtype))
                .otherwise(suppression_rule)
            )
    uom_units = float(channel.uom.units)
    own = pl.col(f"own:{name}")
    return (
        wide.select(
            pl.lit(name).alias("channel"),
            "sku",
            own.alias("own"),
            dropship.alias("dropship"),
            incoming.alias("incoming"),
            (own + dropship + incoming if src.beyond_own else own).alias("pool"),
            (pl.col("pending") + pending_dropship).alias("pending"),
            pending_dropship.alias("pending_dropship"),
            net.alias("net"),
            allocated.alias("allocated"),
            allocated_own.alias("allocated_own"),
            (allocated - buffer_units).clip(lower_bound=0.0).alias("buffered"),
            threshold.alias("_threshold"),
            suppressed_when.alias("_suppressed"),
            pack.alias("_pack"),
            (pl.col(f"override:{name}") * uom_units).alias("_override"),
            pl.col(f"override_rule:{name}").alias("_override_rule"),
            pl.lit(channel.allocation.ring_fenced).alias("ring_fenced"),
            pl.col("fence_pool").alias("fence_pool"),
            (
                own_net + pl.col(f"sold:fenced:{name}")
                if channel.allocation.ring_fenced
                else pl.lit(None, dtype=pl.Float64)
            ).alias("fence_base"),
            pl.col(f"sold:{name}").alias("fence_sold"),
            dropship_sources.alias("dropship_sources"),
            incoming_sources.alias("incoming_sources"),
            pl.lit(src.own_text, dtype=rule_dtype).alias("own_rule"),
            pl.lit(src.dropship_text, dtype=rule_dtype).alias("dropship_rule"),
            pl.lit(src.incoming_text, dtype=rule_dtype).alias("incoming_rule"),
            pl.lit(_pool_rule(src), dtype=rule_dtype).alias("pool_rule"),
            pl.lit(_pending_rule(src), dtype=rule_dtype).alias("pending_rule"),
            pl.lit(_net_rule(src), dtype=rule_dtype).alias("net_rule"),
            pl.lit(_allocation_rule(channel, src), dtype=rule_dtype).alias("allocated_rule"),
            buffer_rule.alias("buffered_rule"),
            threshold_rule.alias("thresholded_rule"),
            suppression_rule.alias("suppressed_rule"),
            pack_rule.alias("publishable_rule"),
        )
        .with_columns(
            thresholded=pl.when(pl.col("buffered") + EPSILON < pl.col("_threshold"))
            .then(0.0)
            .otherwise(pl.col("buffered"))
        )
        .with_columns(
            suppressed=pl.when(pl.col("_suppressed")).then(0.0).otherwise(pl.col("thresholded"))
        )
        .with_columns(
            # an approved override replaces step 6, never above what the allocation holds
            suppressed=pl.when(pl.col("_override").is_not_null())
            .then(pl.min_horizontal("_override", "allocated"))
            .otherwise(pl.col("suppressed")),
            # text, not the rules' Enum: overrides come and go between runs, and a SKU refresh
            # upserts into a table written with another set of them (an Enum of other
            # categories would not merge with it)
            suppressed_rule=pl.when(pl.col("_override").is_null())
            .then(pl.col("suppressed_rule").cast(pl.Utf8))
            .when(pl.col("_override") > pl.col("allocated") + EPSILON)
            .then(pl.col("_override_rule") + CAPPED)
            .otherwise(pl.col("_override_rule")),
        )
        .with_columns(
            _packed=((pl.col("suppressed") + EPSILON) / pl.col("_pack")).floor() * pl.col("_pack")
        )
        .with_columns(
            publishable=((pl.col("_packed") + EPSILON) / uom_units).floor().cast(pl.Int64),
            channel_uom=pl.lit(channel.uom.name),
            channel_uom_units=pl.lit(uom_units),
        )
        .with_columns(publishable_units=pl.col("publishable") * uom_units)
        .drop("_threshold", "_suppressed", "_pack", "_packed", "_override", "_override_rule")
    )
