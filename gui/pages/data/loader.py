"""Fetching one patient view off the UI thread, where a newer request supersedes an older one.

`Loader.request()` cancels the request in flight (its worker stops between queries and its result,
should it still arrive, is dropped) and starts the new one on the bridge's thread pool. The work
function itself knows nothing of Qt: it calls the chart service and gathers the answers.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal

from gui.bridge import Bridge


class Superseded(Exception):
    """A newer request replaced this one; nobody wants its result."""


@dataclass(frozen=True)
class ViewRequest:
    patient: str
    start: dt.date
    end: dt.date


@dataclass
class PatientView:
    """Everything the Data page draws for one patient and range (the chart service's own types)."""

    request: ViewRequest
    devices: list[str] = field(default_factory=list)
    heart_rate: Any = None
    steps: Any = None
    nights: list[Any] = field(default_factory=list)
    exercises: list[Any] = field(default_factory=list)
    daily_activity: Any = None
    markers: Any = None


def load_view(charts: Any, req: ViewRequest, cancelled: threading.Event) -> PatientView:
    """Runs on a worker: the chart service's whole view (its queries run at once, see
    `ChartService.view`), stopping before the next query as soon as a newer request arrived."""

    def checkpoint() -> None:
        if cancelled.is_set():
            raise Superseded()

    got = charts.view(req.patient, req.start, req.end, checkpoint)
    checkpoint()
    return PatientView(req, list(got.devices), got.heart_rate, got.steps, list(got.nights), list(got.exercises),
                       got.daily_activity, got.markers)


class Loader(QObject):
    """One request at a time in the user's eyes: only the newest request's answer is delivered."""

    loaded = Signal(object)  # PatientView
    failed = Signal(Exception)
    busy = Signal(bool)

    def __init__(self, bridge: Bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._generation = 0
        self._cancel: threading.Event | None = None
        self.dropped = 0  # answers that arrived after a newer request (tests read it)

    @property
    def generation(self) -> int:
        return self._generation

    def request(self, work: Callable[[threading.Event], Any]) -> int:
        """Start `work(cancelled)` on a worker; supersede whatever was running."""
        if self._cancel is not None:
            self._cancel.set()
        self._generation += 1
        gen = self._generation
        cancel = threading.Event()
        self._cancel = cancel
        self.busy.emit(True)
        self._bridge.submit(work, cancel, on_result=lambda r: self._done(gen, r, None),
                            on_error=lambda e: self._done(gen, None, e), context=self)
        return gen

    def _done(self, gen: int, result: Any, error: Exception | None) -> None:
        if gen != self._generation:
            self.dropped += 1
            return
        self._cancel = None
        self.busy.emit(False)
        if error is None:
            self.loaded.emit(result)
        elif not isinstance(error, Superseded):
            self.failed.emit(error)
