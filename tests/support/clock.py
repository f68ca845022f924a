"""Time travel for tests, on time-machine (a kept library) and the app's Clock (services/clock.py).

- `app.clock.pin(at)` / `.advance(...)`: the app's one clock; every service, the scheduler and the
  sandbox mode read it. Pinned times are absolute: the CI offset does not move them.
- `travel(at)`: moves this process's real time with time-machine, so every clock built from the
  environment (a SandboxServer's, an app opened inside the block) reads `at`. The CI day offset
  (WEARSYNC_TEST_CLOCK_OFFSET_DAYS) is taken out, so `at` is absolute here too.
- `TODAYS`: the "todays" the date-sensitive tests run at - across both DST changes in Europe/Berlin,
  a month end, a year end and a leap day.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
import time_machine

from services.clock import offset_from

BERLIN = ZoneInfo("Europe/Berlin")


def test_offset() -> dt.timedelta:
    """The CI day offset of this run (zero when unset)."""
    return offset_from(os.environ)


test_offset.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@contextmanager
def travel(at: dt.datetime, tick: bool = True) -> Iterator[time_machine.Coordinates]:
    """Every clock read from the environment reads `at` (aware, or naive UTC) while inside."""
    moment = at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)
    with time_machine.travel(moment - test_offset(), tick=tick) as coordinates:
        yield coordinates


# (label, a local noon in Berlin on that day)
TODAYS = [
    pytest.param(dt.date(2027, 3, 28), id="dst-spring-2027-03-28"),
    pytest.param(dt.date(2027, 10, 31), id="dst-autumn-2027-10-31"),
    pytest.param(dt.date(2027, 4, 30), id="month-end-2027-04-30"),
    pytest.param(dt.date(2026, 12, 31), id="year-end-2026-12-31"),
    pytest.param(dt.date(2027, 1, 1), id="new-year-2027-01-01"),
    pytest.param(dt.date(2028, 2, 29), id="leap-day-2028-02-29"),
]


def local(day: dt.date, hour: int = 12, minute: int = 0, tz: dt.tzinfo = BERLIN) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
