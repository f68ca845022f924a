"""The progress bar's numbers: fraction, time left from the estimate, then from the real pace."""

from __future__ import annotations

import pytest

from services.sync.progress import ProgressTracker


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_time_left_starts_from_the_estimate_and_follows_the_real_pace():
    clock = Clock()
    seen = []
    p = ProgressTracker(100, estimate_s=1000, clock=clock, on_change=seen.append)
    assert p.snapshot().eta_s == 1000
    assert p.snapshot().describe() == "0 of 100 · about 17 minutes left"
    clock.t = 5
    snap = p.advance(1)
    assert 700 < snap.eta_s < 1000  # mostly the plan after 1 %
    clock.t = 100
    before = snap.eta_s - 95  # what was shown, counted down to now
    snap = p.advance(49)  # half done in 100 s: the real pace says 100 s left
    # the shown time moves towards the real pace, part of the way (no leap from ~15 minutes to 2)
    assert 100 < snap.eta_s < before and snap.eta_s >= 0.7 * before - 1e-9
    assert snap.fraction == 0.5 and snap.describe() == "50 of 100 · about 11 minutes left"
    for t in (110, 120, 130, 140, 150, 160, 170):  # the pace holds: it converges on the real figure
        clock.t = t
        snap = p.advance(1)
    assert snap.eta_s == pytest.approx((100 - snap.done) * clock.t / snap.done, rel=0.35)
    clock.t = 200
    assert p.advance(60).describe() == "100 of 100 · done"
    assert len(seen) == 10


def test_time_left_does_not_jump_when_work_comes_in_bursts():
    """Chunks settle 30 days at once after long waits, then several quickly: the raw pace leaps between
    "a minute" and "an hour"; what is shown changes by at most 30 % down (or 30 % / a minute up) per update,
    and counts down with the clock between updates."""
    clock = Clock()
    p = ProgressTracker(300, estimate_s=1800, clock=clock, unit="days of data")
    shown = [p.snapshot().eta_s]
    for t, units in [(2, 30), (3, 30), (400, 30), (401, 30), (402, 30), (1100, 30), (1101, 30), (1102, 30)]:
        clock.t = t
        counted_down = p.snapshot().eta_s  # what the bar shows just before the update
        snap = p.advance(units)
        assert snap.eta_s is not None and counted_down is not None
        assert 0.7 * counted_down - 1e-9 <= snap.eta_s <= max(1.3 * counted_down, counted_down + 60) + 1e-9
        shown.append(snap.eta_s)
    clock.t = 1132
    assert p.snapshot().eta_s == pytest.approx(shown[-1] - 30)  # between updates it counts down
    assert p.snapshot().describe().startswith("240 of 300 days of data · about ")


def test_without_an_estimate_and_with_cancel():
    clock = Clock()
    p = ProgressTracker(10, clock=clock)
    assert p.snapshot().eta_s is None and p.snapshot().describe() == "0 of 10"
    clock.t = 10
    assert p.advance(5).eta_s == pytest.approx(10)
    p.cancel()
    assert p.cancelled and p.snapshot().describe() == "5 of 10 · cancelled"
    assert p.add_total(10).total == 20
