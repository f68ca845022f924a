"""Progress of a long download (backfill, catch-up) with a time-left estimate for the progress bar.

Before anything is done the estimate is the quota planner's (services/sync/quota.py); as units finish,
it shifts to the pace actually observed. Work arrives in bursts (a chunk settles 7 or 30 days at once),
so the raw figure leaps; what is shown is smoothed: between updates it counts down with the clock, and
each update moves it only part of the way towards the new figure (down by at most 30 %, up by at most
30 % or a minute), so "time left" never jumps from 15 minutes to 1 and back. Thread-safe: workers
advance it, the GUI adapter reads it or listens through `on_change`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from services.sync.quota import format_duration


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    elapsed_s: float
    eta_s: float | None  # seconds left; None when unknown
    label: str = ""
    cancelled: bool = False
    unit: str = ""  # what is counted, e.g. "days of data" (the same words as the estimate before the start)

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    def describe(self) -> str:
        text = f"{self.done} of {self.total}" + (f" {self.unit}" if self.unit else "")
        if self.cancelled:
            return text + " · cancelled"
        if self.done >= self.total:
            return text + " · done"
        if self.eta_s is not None:
            left = format_duration(self.eta_s)
            text += " · " + ("less than a minute left" if left == "under a minute" else f"about {left} left")
        return text


class ProgressTracker:
    """Counts units of work (e.g. connection-days) and estimates the time left."""

    SMOOTHING = 0.3  # share of the way an update moves the shown time left towards the new figure
    MAX_RISE = 1.3  # the shown time left grows by at most 30 % per update (or a minute, when small)

    def __init__(self, total: int, *, estimate_s: float | None = None, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[Progress], None] | None = None, unit: str = "") -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._start = clock()
        self._total = max(0, total)
        self._done = 0
        self._estimate_s = estimate_s
        self._label = ""
        self._cancel = threading.Event()
        self._on_change = on_change
        self._unit = unit
        # the time left last shown, and when: read between updates it counts down with the clock
        self._shown: tuple[float, float] | None = None if estimate_s is None else (float(estimate_s), self._start)

    def advance(self, units: int = 1, label: str = "") -> Progress:
        with self._lock:
            self._done = min(self._total, self._done + units)
            if label:
                self._label = label
        return self._changed()

    def add_total(self, units: int) -> Progress:
        with self._lock:
            self._total += max(0, units)
        return self._changed()

    def cancel(self) -> None:
        """Ask the workers to stop after the unit in hand; what is stored stays (resume later)."""
        self._cancel.set()
        self._changed()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def snapshot(self) -> Progress:
        """The state now; the time left is the last one shown, counted down (no new estimate is made)."""
        return self._take(update=False)

    def _take(self, *, update: bool) -> Progress:
        now = self._clock()
        with self._lock:
            done, total, label = self._done, self._total, self._label
            elapsed = max(0.0, now - self._start)
            if done >= total:
                eta: float | None = 0.0
            elif update:
                eta = self._smoothed(self._eta(done, total, elapsed), now)
                self._shown = None if eta is None else (eta, now)
            else:
                eta = None if self._shown is None else max(0.0, self._shown[0] - (now - self._shown[1]))
        return Progress(done, total, elapsed, eta, label, self._cancel.is_set(), self._unit)

    def _smoothed(self, raw: float | None, now: float) -> float | None:
        if raw is None or self._shown is None:
            return raw
        counted_down = max(0.0, self._shown[0] - (now - self._shown[1]))
        moved = counted_down + self.SMOOTHING * (raw - counted_down)
        return min(moved, max(counted_down * self.MAX_RISE, counted_down + 60.0))

    def _eta(self, done: int, total: int, elapsed: float) -> float | None:
        remaining = total - done
        if remaining <= 0:
            return 0.0
        planned = None if self._estimate_s is None else self._estimate_s * remaining / max(1, total)
        if done == 0 or elapsed <= 0:
            return planned
        observed = elapsed / done * remaining
        if planned is None:
            return observed
        # trust the observed pace more as more of the work is behind us
        weight = min(1.0, done / max(1, total) * 4)
        return weight * observed + (1 - weight) * planned

    def _changed(self) -> Progress:
        snap = self._take(update=True)
        if self._on_change is not None:
            self._on_change(snap)
        return snap
