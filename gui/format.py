"""Times and names as a coordinator reads them ("3 h ago", "12 Mar 2026 14:05")."""

from __future__ import annotations

import datetime as dt

from services.patients.service import VENDOR_LABELS


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
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
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
