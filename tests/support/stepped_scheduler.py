"""APScheduler driven by a fake clock: its own job processing (due times, coalescing, misfire
grace, max_instances) without a timer thread and without waiting for real time to pass.

`SteppedScheduler.advance(delta)` moves the clock in steps (one minute by default), processes due
jobs after each step and waits until the jobs it submitted have finished, except for
`allow_running` jobs that a test deliberately keeps blocked.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import apscheduler.executors.base
import apscheduler.schedulers.base
import apscheduler.triggers.date
import apscheduler.triggers.interval
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler

from services.clock import Clock

PATCHED_MODULES = (
    apscheduler.schedulers.base,
    apscheduler.executors.base,
    apscheduler.triggers.date,
    apscheduler.triggers.interval,
)


class FakeClock(Clock):
    """The app's Clock, pinned at `start` in `start`'s zone, moving only when told; calling it gives
    the local time (what APScheduler and the scheduler read)."""

    def __init__(self, start: dt.datetime) -> None:
        assert start.tzinfo is not None
        super().__init__(tz=start.tzinfo, pinned=start)

    def __call__(self) -> dt.datetime:
        return self.local_now()


def _fake_datetime(clock: Clock) -> type[dt.datetime]:
    class FakeDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            now = clock.local_now()
            return now.astimezone(tz) if tz is not None else now.replace(tzinfo=None)

    return FakeDatetime


class TrackingExecutor(ThreadPoolExecutor):
    """A real thread pool that counts jobs in flight, so a test can wait for them."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.cond = threading.Condition()
        self.in_flight = 0

    def submit_job(self, job, run_times):  # type: ignore[no-untyped-def]
        with self.cond:
            self.in_flight += 1
        try:
            super().submit_job(job, run_times)
        except BaseException:
            self._done()
            raise

    def _run_job_success(self, job_id, events):  # type: ignore[no-untyped-def]
        try:
            super()._run_job_success(job_id, events)
        finally:
            self._done()

    def _run_job_error(self, job_id, exc, traceback=None):  # type: ignore[no-untyped-def]
        try:
            super()._run_job_error(job_id, exc, traceback)
        finally:
            self._done()

    def _done(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def wait_idle(self, allow_running: int = 0, timeout: float = 10.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.in_flight <= allow_running, timeout=timeout):
                raise AssertionError(f"{self.in_flight} scheduler job(s) still running after {timeout} s")


class SteppedScheduler(BaseScheduler):
    def __init__(self, clock: Clock, timezone: dt.tzinfo) -> None:
        self.clock = clock
        self.executor = TrackingExecutor()
        super().__init__(timezone=timezone, executors={"default": self.executor})

    def wakeup(self) -> None:
        """Nothing to wake: jobs are processed when the test moves the clock."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait=wait)

    def process(self, allow_running: int = 0) -> None:
        self._process_jobs()
        self.executor.wait_idle(allow_running)

    def advance(self, delta: dt.timedelta, step: dt.timedelta = dt.timedelta(minutes=1),
                allow_running: int = 0) -> None:
        end = self.clock.local_now() + delta
        while self.clock.local_now() < end:
            self.clock.set(min(end, self.clock.local_now() + step))
            self.process(allow_running)

    def jump(self, delta: dt.timedelta, allow_running: int = 0) -> None:
        """The machine slept: the clock leaps and the scheduler looks only afterwards."""
        self.clock.advance(delta)
        self.process(allow_running)


@contextmanager
def frozen_apscheduler(clock: Clock) -> Iterator[None]:
    """Make APScheduler read `clock` wherever it asks for the current time."""
    fake = _fake_datetime(clock)
    saved = [(m, m.datetime) for m in PATCHED_MODULES]  # type: ignore[attr-defined]
    for module in PATCHED_MODULES:
        module.datetime = fake  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in saved:
            module.datetime = original  # type: ignore[attr-defined]
