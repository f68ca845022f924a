"""Progress of a long download (backfill, catch-up) with a time-left estimate for the progress bar.

Before anything is done the estimate is the quota planner's (services/sync/quota.py); as units finish,
it shifts to the pace actually observed. Thread-safe: workers advance it, the GUI adapter reads it
or listens through `on_change`.
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

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    def describe(self) -> str:
        text = f"{self.done} of {self.total}"
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

    def __init__(self, total: int, *, estimate_s: float | None = None, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[Progress], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._start = clock()
        self._total = max(0, total)
        self._done = 0
        self._estimate_s = estimate_s
        self._label = ""
        self._cancel = threading.Event()
        self._on_change = on_change

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
        with self._lock:
            done, total, label = self._done, self._total, self._label
        elapsed = max(0.0, self._clock() - self._start)
        return Progress(done, total, elapsed, self._eta(done, total, elapsed), label, self._cancel.is_set())

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
        snap = self.snapshot()
        if self._on_change is not None:
            self._on_change(snap)
        return snap
