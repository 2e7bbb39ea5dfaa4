"""The channels' published state carries the freshness policy the rules folder sets."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
from pydantic import ValidationError

from inventory_pipelines.defs.shared import POLICY, PUBLISHED
from inventory_pipelines.rules.automation import Freshness


def test_the_published_state_goes_stale_in_the_ui_after_the_rules_windows() -> None:
    from inventory_pipelines.definitions import defs

    [spec] = [s for s in defs().resolve_all_asset_specs() if s.key == dg.AssetKey(PUBLISHED)]
    policy = spec.freshness_policy
    freshness = POLICY.automation.freshness
    assert policy.warn_window.to_timedelta() == timedelta(minutes=freshness.published_warn_minutes)
    assert policy.fail_window.to_timedelta() == timedelta(minutes=freshness.published_fail_minutes)


def test_a_fail_window_shorter_than_the_warn_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="below published_warn_minutes"):
        Freshness(published_warn_minutes=30, published_fail_minutes=10)
