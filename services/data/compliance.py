"""The clinic compliance grid: how much each patient wore each device type, day by day (issue 10).

Rules (DESIGN.md, `main.py compliance`), per patient × device type × patient-local civil day:
- Fitbit: wear minutes = distinct patient-local minutes of the day holding at least one heart-rate
  sample; the day is valid at >= the setting `valid_day_minutes` (default 600).
- Withings: minutes of the sleep sessions ending that day; valid when a night was recorded.
- Polar: exercise minutes that day; valid when more than 0.
Every day of the range gets a row, zero included, for every device type the patient is enrolled
for. Minutes are counted in SQL on both dialects.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import Connection, Exercise, HeartRateSample, Patient, SleepSession
from services.config import VENDORS, check_vendor
from services.data.sqltime import EPOCH, check_range, date_x, epoch_s, local_s, patient_id, utc_bounds
from services.settings import Settings


@dataclass(frozen=True)
class ComplianceRow:
    patient: str
    vendor: str
    date: dt.date
    wear_minutes: int
    valid: bool


@dataclass(frozen=True)
class ComplianceSummary:
    patient: str
    vendor: str
    valid_days: int
    days: int

    @property
    def ratio(self) -> float:
        return self.valid_days / self.days if self.days else 0.0


class ComplianceService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    def threshold(self) -> int:
        """Fitbit minutes with a heart-rate sample that make a valid day (setting valid_day_minutes)."""
        return int(self._settings.get("valid_day_minutes"))

    def rows(self, start: dt.date, end: dt.date, vendor: str | None = None, patient: str | None = None
             ) -> list[ComplianceRow]:
        """One row per patient × device type × day of start..end, sorted by patient, type, date."""
        check_range(start, end)
        wanted_vendor = check_vendor(vendor) if vendor else None
        threshold = self.threshold()
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        out: list[ComplianceRow] = []
        with self._db.session() as s:
            q = (sa.select(Patient.id, Patient.code, Connection.vendor)
                 .join(Connection, Connection.patient_id == Patient.id)
                 .where(Patient.deleted_at.is_(None)))
            if patient is not None:
                q = q.where(Patient.id == patient_id(s, patient))
            if wanted_vendor is not None:
                q = q.where(Connection.vendor == wanted_vendor)
            enrolled = sorted(s.execute(q).all(), key=lambda r: (r[1], _vendor_order(r[2])))
            for pid, code, v in enrolled:
                minutes = self._minutes(s, int(pid), v, start, end)
                for day in days:
                    m = minutes.get(day, 0)
                    if v == "fitbit":
                        valid = m >= threshold
                    elif v == "withings":
                        valid = day in minutes
                    else:
                        valid = m > 0
                    out.append(ComplianceRow(code, v, day, m, valid))
        return out

    def _minutes(self, s: Session, pid: int, vendor: str, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Wear minutes per patient-local day that has any; for Withings, a day with a night is present
        even at 0 minutes."""
        d = self._db.dialect
        if vendor == "fitbit":
            H = HeartRateSample
            x = local_s(H.ts_utc, H.utc_offset_s, d)
            day = _div(x, 86400, d).label("day")
            minute = _div(x, 60, d)
            lo_utc, hi_utc = utc_bounds(start, end)
            q = (sa.select(day, sa.func.count(sa.distinct(minute)))
                 .where(H.patient_id == pid, H.vendor == "fitbit", H.ts_utc >= lo_utc, H.ts_utc < hi_utc,
                        H.bpm > 0, x >= date_x(start), x < date_x(end + dt.timedelta(days=1)))
                 .group_by(sa.literal_column("day")))
            return {EPOCH + dt.timedelta(days=int(n)): int(m) for n, m in s.execute(q)}
        model = SleepSession if vendor == "withings" else Exercise
        seconds = epoch_s(model.end_utc, d) - epoch_s(model.start_utc, d)
        q2 = (sa.select(model.local_date, sa.func.sum(seconds))
              .where(model.patient_id == pid, model.vendor == vendor, model.local_date >= start,
                     model.local_date <= end)
              .group_by(model.local_date))
        return {day_: int(total or 0) // 60 for day_, total in s.execute(q2)}

    @staticmethod
    def summary(rows: list[ComplianceRow]) -> list[ComplianceSummary]:
        """Per patient × device type: valid days out of days in range, worst compliance first."""
        valid: dict[tuple[str, str], int] = defaultdict(int)
        total: dict[tuple[str, str], int] = defaultdict(int)
        for r in rows:
            total[(r.patient, r.vendor)] += 1
            valid[(r.patient, r.vendor)] += int(r.valid)
        out = [ComplianceSummary(p, v, valid[(p, v)], n) for (p, v), n in total.items()]
        out.sort(key=lambda c: (c.ratio, c.valid_days, c.patient, _vendor_order(c.vendor)))
        return out


def _vendor_order(vendor: str) -> int:
    return VENDORS.index(vendor) if vendor in VENDORS else len(VENDORS)


def _div(expr: sa.ColumnElement[int], size: int, dialect: str) -> sa.ColumnElement[int]:
    """Whole-number division of a non-negative integer expression, in SQL."""
    n = sa.literal_column(str(size), sa.Integer)
    if dialect == "sqlite":
        return expr // n
    return sa.cast(sa.func.floor(expr / n), sa.BigInteger)
