"""Times and names as a coordinator reads them ("3 h ago", "12 Mar 2026 14:05").

"Now" and "today" in the window come from the app's clock (services/clock.py): the page context
hands it over with `use_clock(app.clock)`; until then a clock read from the environment serves.
"""

from __future__ import annotations

import datetime as dt
import os

from services.clock import Clock
from services.config import VENDOR_LABELS

_clock: Clock = Clock.from_environ(os.environ)


def use_clock(clock: Clock) -> None:
    """Read time in the window through `clock` (the app's)."""
    global _clock
    _clock = clock


def clock() -> Clock:
    return _clock


def now_utc() -> dt.datetime:
    """Naive UTC, as the database keeps it."""
    return _clock.utcnow()


def today() -> dt.date:
    return _clock.today()


def vendor_label(vendor: str) -> str:
    return VENDOR_LABELS.get(vendor, vendor.capitalize())


def local(utc_naive: dt.datetime) -> dt.datetime:
    """The database keeps naive UTC; show the computer's local time."""
    return utc_naive.replace(tzinfo=dt.UTC).astimezone()


def when(utc_naive: dt.datetime | None, never: str = "Never") -> str:
    if utc_naive is None:
        return never
    return local(utc_naive).strftime("%d %b %Y %H:%M")


def ago(utc_naive: dt.datetime | None, now: dt.datetime | None = None, never: str = "Never") -> str:
    if utc_naive is None:
        return never
    now = now or now_utc()
    secs = (now - utc_naive).total_seconds()
    if secs < 90:
        return "Just now"
    if secs < 3600:
        return f"{int(secs // 60)} min ago"
    if secs < 48 * 3600:
        return f"{int(secs // 3600)} h ago"
    if secs < 14 * 86400:
        return f"{int(secs // 86400)} days ago"
    return local(utc_naive).strftime("%d %b %Y")
