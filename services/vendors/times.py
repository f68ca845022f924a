"""Time helpers for parsers: vendor timestamps -> naive UTC instant + local offset + civil date."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


def parse_instant(raw: str) -> dt.datetime:
    """RFC 3339 (with Z or an offset) -> naive UTC."""
    value = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("an instant needs Z or an offset")
    return value.astimezone(UTC).replace(tzinfo=None)


def from_epoch(seconds: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), UTC).replace(tzinfo=None)


def parse_duration_s(raw: Any) -> int:
    """Google's duration strings ("3600s", "-18000s", "19800.000s") -> whole seconds."""
    text = str(raw).strip()
    if text.endswith("s"):
        text = text[:-1]
    return round(float(text))


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def offset_in(tz: str | None, utc_naive: dt.datetime, fallback: int = 0) -> int:
    """UTC offset (seconds) of zone `tz` at a naive-UTC instant; `fallback` when the zone is unknown."""
    z = zone(tz) if tz else None
    if z is None:
        return fallback
    off = utc_naive.replace(tzinfo=UTC).astimezone(z).utcoffset()
    return int(off.total_seconds()) if off is not None else fallback


def local_date(utc_naive: dt.datetime, offset_s: int) -> dt.date:
    return (utc_naive + dt.timedelta(seconds=offset_s)).date()


def local_midnight_utc(day: dt.date, tz: str | None) -> dt.datetime:
    """The naive-UTC instant of local midnight starting `day` (UTC when the zone is unknown)."""
    z = zone(tz) if tz else None
    start = dt.datetime(day.year, day.month, day.day, tzinfo=z or UTC)
    return start.astimezone(UTC).replace(tzinfo=None)


def local_today(tz: str | None, now_utc: dt.datetime) -> dt.date:
    return local_date(now_utc, offset_in(tz, now_utc))


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def chunks(start: dt.date, end: dt.date, size: int) -> list[tuple[dt.date, dt.date]]:
    out = []
    d = start
    while d <= end:
        last = min(end, d + dt.timedelta(days=size - 1))
        out.append((d, last))
        d = last + dt.timedelta(days=1)
    return out


def as_int(v: Any) -> int | None:
    """int64-as-string, numbers-as-strings, floats: all to int; None/'' stay None."""
    if v is None or v == "":
        return None
    return round(float(v))


def as_float(v: Any) -> float | None:
    if v is None or v == "":
        return None
    return float(v)
