"""The app's one clock: every "now" and "today" in WearSync is read here.

The facade (`WearSync.clock`) owns one `Clock` and hands it to every service, the scheduler, the
sandbox vendors and the GUI; nothing else reads the wall clock (a test greps the tree for it).
Monotonic timers for timeouts (`time.monotonic()`) are not wall-clock time and stay where they are.

- `now()` — aware UTC; `utcnow()` — naive UTC to the second, what every DATETIME column stores;
  `local_now()` — aware in the clock's zone (the host's unless one is given); `today()` — the
  civil date there; `timestamp()` — seconds since the epoch, for code that counts in seconds.
- Tests move it: `pin(at)` fixes an absolute instant, `advance(...)` moves a pinned clock,
  `unpin()` returns to real time. The real-time source is `time.time()`, so `time_machine.travel`
  moves an unpinned clock as well.
- `WEARSYNC_TEST_CLOCK_OFFSET_DAYS` (tests only) shifts the real-time source by whole days in every
  process that inherits the environment, so CI can run the suite on another date. A pinned time is
  absolute: the offset does not move it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping

OFFSET_ENV = "WEARSYNC_TEST_CLOCK_OFFSET_DAYS"


def offset_from(environ: Mapping[str, str]) -> dt.timedelta:
    """The test-only day offset named in `environ` (zero when unset or not a whole number)."""
    raw = (environ.get(OFFSET_ENV) or "").strip()
    try:
        return dt.timedelta(days=int(raw)) if raw else dt.timedelta(0)
    except ValueError:
        return dt.timedelta(0)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC instant; a naive one is taken to be UTC already (as the database stores it)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


class Clock:
    """Wall-clock time for the whole app; thread-safe."""

    def __init__(self, *, offset: dt.timedelta = dt.timedelta(0), tz: dt.tzinfo | None = None,
                 pinned: dt.datetime | None = None) -> None:
        self.offset = offset
        self.tz = tz  # None: the host's zone, looked up at each call (it may change, e.g. travel)
        self._lock = threading.Lock()
        self._pinned = None if pinned is None else as_utc(pinned)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], tz: dt.tzinfo | None = None) -> Clock:
        return cls(offset=offset_from(environ), tz=tz)

    # reading
    def now(self) -> dt.datetime:
        """Aware UTC."""
        with self._lock:
            if self._pinned is not None:
                return self._pinned
        return dt.datetime.fromtimestamp(time.time(), dt.UTC) + self.offset

    def utcnow(self) -> dt.datetime:
        """Naive UTC to the second: what a DATETIME column stores."""
        return self.now().replace(tzinfo=None, microsecond=0)

    def local_now(self) -> dt.datetime:
        """Aware, in the clock's zone (the host's by default)."""
        return self.now().astimezone(self.tz)

    def today(self) -> dt.date:
        """The civil date in the clock's zone."""
        return self.local_now().date()

    def timestamp(self) -> float:
        """Seconds since the epoch (wall clock, for code that counts in seconds)."""
        return self.now().timestamp()

    # moving (tests, and the sandbox's "what if" runs)
    @property
    def pinned(self) -> bool:
        with self._lock:
            return self._pinned is not None

    def pin(self, at: dt.datetime) -> None:
        """Stop the clock at `at` (absolute; a naive `at` is UTC)."""
        with self._lock:
            self._pinned = as_utc(at)

    set = pin

    def advance(self, delta: dt.timedelta | None = None, **parts: float) -> None:
        """Move the clock forward by `delta` (or timedelta keyword parts); an unpinned clock is
        pinned at its current time first."""
        step = (delta or dt.timedelta(0)) + dt.timedelta(**parts)
        current = self.now()
        with self._lock:
            self._pinned = (self._pinned or current) + step

    def unpin(self) -> None:
        with self._lock:
            self._pinned = None
