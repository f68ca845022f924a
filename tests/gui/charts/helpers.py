"""A window on a database holding the sandbox's invented physiology (tests/support/chart_data.py):
C-AKL in Auckland (UTC+13, Fitbit and Withings, a watch swap and a sync gap) and C-LA in Los Angeles
(Fitbit and Polar, crossing the end of daylight saving time on 2026-11-01).

The database is filled once per module and copied for each test, and the expected figures are
computed here from the stored rows with plain Python, independently of the chart service's SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from tests.support.chart_data import Enrolled

FIRST, LAST = dt.date(2026, 10, 30), dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 6, 9, 0)
PATIENTS = [
    Enrolled("C-AKL", "Pacific/Auckland", ("fitbit", "withings")),
    Enrolled("C-LA", "America/Los_Angeles", ("fitbit", "polar")),
]
EPOCH = dt.datetime(1970, 1, 1)
OLD_WATCH_SYNC = dt.datetime(2026, 10, 30, 20, 0)
NEW_WATCH_FIRST = dt.datetime(2026, 10, 31, 8, 0)  # UTC; Auckland is UTC+13 then
NEW_WATCH_SYNCS = (dt.datetime(2026, 10, 31, 8, 0), dt.datetime(2026, 11, 2, 6, 0))


def epoch(t: dt.datetime) -> float:
    return (t - EPOCH).total_seconds()


def day_x(d: dt.date) -> float:
    return epoch(dt.datetime(d.year, d.month, d.day))


def add_devices(db: Any) -> None:
    from db.models import Device, DeviceSync, Patient

    with db.session() as s:
        pid = s.scalar(sa.select(Patient.id).where(Patient.code == "C-AKL"))
        old = Device(patient_id=pid, vendor="fitbit", external_id="w-old", device_type="TRACKER", model="Charge 5",
                     first_seen_utc=dt.datetime(2026, 9, 1), last_seen_utc=OLD_WATCH_SYNC, last_sync_utc=OLD_WATCH_SYNC,
                     retired_at=NEW_WATCH_FIRST)
        new = Device(patient_id=pid, vendor="fitbit", external_id="w-new", device_type="TRACKER", model="Charge 6",
                     first_seen_utc=NEW_WATCH_FIRST, last_seen_utc=NEW_WATCH_SYNCS[-1],
                     last_sync_utc=NEW_WATCH_SYNCS[-1])
        s.add_all([old, new])
        s.flush()
        s.add_all([DeviceSync(device_id=new.id, observed_utc=t, last_sync_utc=t) for t in NEW_WATCH_SYNCS])
        s.add(DeviceSync(device_id=old.id, observed_utc=OLD_WATCH_SYNC, last_sync_utc=OLD_WATCH_SYNC))


# -- expected figures, from the rows ----------------------------------------------------------------


def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    with app.db.engine.connect() as c:
        return list(c.execute(sa.text(sql), params))


def _ts(v: Any) -> dt.datetime:
    return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))


def local_points(app: Any, code: str, table: str, ts: str, extra: str = "", cols: str = "") -> list[tuple]:
    """(local x, *cols) for a patient's rows: epoch of the UTC instant plus the stored offset."""
    sql = (f"SELECT t.{ts}, t.utc_offset_s{', ' + cols if cols else ''} FROM {table} t JOIN patients p "
           f"ON p.id = t.patient_id WHERE p.code = :code {extra}")
    return [(epoch(_ts(r[0])) + r[1], *r[2:]) for r in rows(app, sql, code=code)]


def in_range(points: Iterable[tuple], start: dt.date, end: dt.date) -> list[tuple]:
    lo, hi = day_x(start), day_x(end + dt.timedelta(days=1))
    return [p for p in points if lo <= p[0] < hi]
