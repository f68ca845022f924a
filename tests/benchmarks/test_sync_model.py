"""The sync benchmark's yardsticks: the quota-bound minimum and the simulated worker pool.

These are figures the docs rely on (docs/PERFORMANCE.md, docs/SCALING.md), so they are checked
against hand-computed values from the vendors' documented limits (VENDORS.md)."""

from __future__ import annotations

import pytest

from tests.benchmarks.sync import quota_bound, simulate


def test_quota_bound_follows_each_vendors_windows() -> None:
    # Withings: 120 per application minute, request k goes at floor(k / 120) minutes at the earliest
    assert quota_bound("withings", [60, 60], 2) == (0.0, "none")
    assert quota_bound("withings", [60, 61], 2) == (60.0, "application minute")
    assert quota_bound("withings", [10] * 200, 200)[0] == 16 * 60.0
    # Google: 300 per user per minute: many users do not add up, one busy user does
    assert quota_bound("fitbit", [300] * 50, 50)[0] == 0.0
    assert quota_bound("fitbit", [301], 1) == (60.0, "per-user minute")
    # Polar: 500 + 20 x users per 15 minutes
    assert quota_bound("polar", [9] * 100, 100)[0] == 0.0  # 900 <= 2,500
    assert quota_bound("polar", [600], 0) == (900.0, "15-minute")


def test_simulated_pool_is_held_to_the_quota_and_no_slower_than_needed() -> None:
    per = {"fitbit": 8, "polar": 9, "withings": 10}
    s = simulate(200, per, latency_s=0.05, cpu_per_request_s=0.001, workers=4, cores=2)
    assert s.requests == 200 * 27
    assert s.limited_by == "withings application minute" and s.minimum_s == 16 * 60.0
    # the limiter holds Withings to 120 a minute (without it the pool would finish in ~1 minute) ...
    assert s.quota_s >= s.minimum_s
    # ... and the other vendors' requests go on while Withings waits, within a minute of the bound
    assert s.quota_s <= s.minimum_s + 60
    assert s.bound_by == "withings application minute"


def test_simulation_says_when_cpu_and_not_the_quota_sets_the_pace() -> None:
    per = {"fitbit": 8, "polar": 9, "withings": 10}
    s = simulate(200, per, latency_s=0.05, cpu_per_request_s=0.5, workers=4, cores=2)
    assert s.cpu_s == pytest.approx(200 * 27 * 0.5 / 2)
    assert s.bound_by == "CPU" and s.wall_s == s.cpu_s
