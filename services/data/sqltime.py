"""Dialect-aware SQL pieces for charts and compliance: an instant as patient-local epoch seconds,
buckets over it, and the checks every date range goes through.

Patient-local seconds are `UTC epoch + utc_offset_s`: an axis that formats seconds as UTC then shows
the patient's wall clock, and `x // 86400` is the patient-local civil day (days since 1970-01-01).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement, Grouping

from db.models import Patient
from services.errors import InvalidInput, NotFound

MAX_DAYS = 366
EPOCH = dt.date(1970, 1, 1)
# TO_SECONDS('1970-01-01 00:00:00') on MySQL/MariaDB: TO_SECONDS does not depend on the session time
# zone, unlike UNIX_TIMESTAMP, so a server set to another zone cannot shift the charts
_MYSQL_EPOCH_S = 62167219200


# unixepoch() (SQLite 3.38+) reads the stored text about twice as fast as strftime('%s')
_SQLITE_UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38, 0)


def epoch_s(col: Any, dialect: str) -> ColumnElement[int]:
    """A naive-UTC DATETIME column as whole seconds since 1970-01-01 UTC, computed in SQL."""
    if dialect == "sqlite":
        if _SQLITE_UNIXEPOCH:
            return sa.func.unixepoch(col, type_=sa.Integer)
        return sa.cast(sa.func.strftime("%s", col), sa.Integer)
    return sa.cast(sa.func.to_seconds(col) - sa.literal_column(str(_MYSQL_EPOCH_S)), sa.BigInteger)


def local_s(col: Any, offset_col: Any, dialect: str) -> ColumnElement[int]:
    """Patient-local wall-clock seconds since 1970 of an instant (`UTC epoch + utc_offset_s`)."""
    expr: ColumnElement[int] = epoch_s(col, dialect) + offset_col
    return expr


def floor_to(expr: ColumnElement[int], size: int, dialect: str) -> ColumnElement[int]:
    """`expr` rounded down to a multiple of `size` (non-negative inputs), in SQL."""
    n = sa.literal_column(str(int(size)), sa.Integer)
    if dialect == "sqlite":
        return (expr // n) * n  # integer / integer: SQLite divides whole numbers
    # integer division: FLOOR(expr / n) would divide in DECIMAL, about a third of a 90-day chart's time
    quotient: ColumnElement[int] = Grouping(expr).op("DIV", return_type=sa.BigInteger)(n)
    return quotient * n


def date_x(day: dt.date) -> float:
    """Patient-local seconds of a civil day's midnight."""
    return float((day - EPOCH).days * 86400)


def x_of(ts_utc: dt.datetime, offset_s: int) -> float:
    """Patient-local seconds of a naive-UTC instant, the same value the SQL computes."""
    return (ts_utc - dt.datetime(1970, 1, 1)).total_seconds() + offset_s


def utc_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A UTC window surely holding every instant whose patient-local day is in start..end, whatever
    the patient's offset (UTC-12 .. UTC+14): lets the (patient, time) index narrow the scan."""
    lo = dt.datetime.combine(start, dt.time()) - dt.timedelta(hours=14)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time()) + dt.timedelta(hours=12)
    return lo, hi


def in_local_days(ts: Any, x: ColumnElement[int], start: dt.date, end: dt.date) -> ColumnElement[bool]:
    """`ts` (naive UTC) whose patient-local seconds `x` fall on a civil day in start..end.

    The UTC window (`utc_bounds`) lets the (patient, time) key read one range; inside it, an instant
    at least 12 h after the first local midnight and 14 h before the last one is on a day in range
    whatever the offset (UTC-12 .. UTC+14), so only the two edges compute local time for the test
    (the OR tries the plain comparison of the stored instant first)."""
    lo_utc, hi_utc = utc_bounds(start, end)
    first = dt.datetime.combine(start, dt.time())
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    lo_x, hi_x = int(date_x(start)), int(date_x(end + dt.timedelta(days=1)))  # whole seconds: an integer test
    surely_in = sa.and_(ts >= first + dt.timedelta(hours=12), ts < after - dt.timedelta(hours=14))
    return sa.and_(ts >= lo_utc, ts < hi_utc, sa.or_(surely_in, sa.and_(x >= lo_x, x < hi_x)))


def check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise InvalidInput(f"The end date {end} is before the start date {start}. Swap the two dates.")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"{start} to {end} is {(end - start).days + 1} days; choose a period of at most {MAX_DAYS} days.")


def patient_id(s: Session, code: str) -> int:
    pid = s.scalar(sa.select(Patient.id).where(Patient.code == code.strip(), Patient.deleted_at.is_(None)))
    if pid is None:
        raise NotFound(f"There is no patient {code.strip()!r}.")
    return int(pid)
