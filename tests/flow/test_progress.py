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
    snap = p.advance(49)  # half done in 100 s: the real pace says 100 s left
    assert snap.eta_s == pytest.approx(100)
    assert snap.fraction == 0.5 and snap.describe() == "50 of 100 · about 2 minutes left"
    clock.t = 200
    assert p.advance(60).describe() == "100 of 100 · done"
    assert len(seen) == 3


def test_without_an_estimate_and_with_cancel():
    clock = Clock()
    p = ProgressTracker(10, clock=clock)
    assert p.snapshot().eta_s is None and p.snapshot().describe() == "0 of 10"
    clock.t = 10
    assert p.advance(5).eta_s == pytest.approx(10)
    p.cancel()
    assert p.cancelled and p.snapshot().describe() == "5 of 10 · cancelled"
    assert p.add_total(10).total == 20
