"""Policies built in code (not from files), for engine tests and hypothesis strategies."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import strategies as st

from inventory_pipelines.rules import Policy
from inventory_pipelines.rules.channels import ChannelRules
from inventory_pipelines.rules.mappings import MappingRules
from inventory_pipelines.rules.policies import PolicyRules
from inventory_pipelines.rules.suppressions import SuppressionRules
from inventory_pipelines.rules.warehouses import WarehouseRules

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WAREHOUSES = ("MAIN", "EAST", "WEST")


def make_policy(
    channels: list[dict],
    *,
    statuses: dict[str, str] | None = None,
    policies: list[dict] | None = None,
    suppressions: list[dict] | None = None,
    dropship_warehouses: tuple[str, ...] = (),
) -> Policy:
    """A validated `Policy` from plain dicts, as the rule files would give them;
    `dropship_warehouses` are declared besides MAIN, EAST and WEST, flagged `dropship`."""
    statuses = statuses or {}
    warehouses = [{"code": w, "status": statuses.get(w, "online")} for w in WAREHOUSES]
    warehouses += [{"code": w, "dropship": True} for w in dropship_warehouses]
    return Policy(
        root=Path("."),
        warehouses=WarehouseRules.model_validate({"warehouses": warehouses}),
        channels=ChannelRules.model_validate({"channels": channels}),
        policies=PolicyRules.model_validate({"policies": policies or []}),
        suppressions=SuppressionRules.model_validate({"suppressions": suppressions or []}),
        mappings=MappingRules(),
        version="test",
    )


@st.composite
def channel_configs(draw) -> list[dict]:
    """2 to 5 channels with random modes; ring-fenced percentages sum to 100 or less."""
    n = draw(st.integers(2, 5))
    budget = 100.0
    channels = []
    for i in range(n):
        mode = draw(st.sampled_from(["shared", "percent", "cap"]))
        allocation: dict = {"mode": mode}
        if mode == "percent":
            if budget < 1:
                allocation = {"mode": "shared"}
            else:
                share = draw(st.floats(1, budget).map(lambda x: round(x, 1)))
                budget -= share
                allocation["percent"] = share
        elif mode == "cap":
            allocation["cap"] = draw(st.integers(0, 200))
        warehouses = draw(
            st.lists(st.sampled_from(WAREHOUSES), min_size=1, max_size=3, unique=True)
        )
        buffer = draw(
            st.one_of(
                st.builds(lambda u: {"units": u}, st.integers(0, 10)),
                st.builds(lambda p: {"percent": p}, st.integers(0, 50)),
            )
        )
        pack = draw(st.sampled_from([1, 1, 2, 6, 12]))
        channels.append(
            {
                "name": f"ch{i}",
                "kind": "generic",
                "warehouses": [{"code": w} for w in warehouses],
                "allocation": allocation,
                "safety_buffer": buffer,
                "min_threshold": draw(st.integers(0, 8)),
                "pack_size": pack,
                "uom": draw(
                    st.sampled_from(
                        [{"name": "Units", "units": 1}, {"name": "Pack", "units": pack}]
                    )
                ),
            }
        )
    return channels
