"""The printable patient report's content (issue 10): who, which period, which devices, the chart
series, and a per-day table. Drawing it (a PDF, with Qt) is the GUI's job: gui/report_pdf.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from db.engine import Database
from db.models import DailyActivity, RestingHeartRate, SleepSession, StepInterval
from services.data.charts import Bars, ChartService, HeartRateChart, Night
from services.data.compliance import ComplianceService
from services.data.sqltime import check_range, patient_id
from services.errors import NotFound
from services.settings import Settings

# which device type's wear a day shows when the patient has several
WEAR_PREFERENCE = ("fitbit", "withings", "polar")


@dataclass(frozen=True)
class ReportDay:
    date: dt.date
    steps: int | None  # the day's total
    wear_minutes: int | None
    resting_hr: int | None
    minutes_asleep: int | None

    @property
    def empty(self) -> bool:
        return (not self.steps and not self.wear_minutes and self.resting_hr is None
                and self.minutes_asleep is None)


@dataclass(frozen=True)
class ReportData:
    patient: str
    start: dt.date
    end: dt.date
    devices: list[str]
    generated_at: dt.datetime  # naive UTC, from the app's clock
    days: list[ReportDay]
    heart_rate: HeartRateChart
    steps: Bars
    nights: list[Night]
    wear_vendor: str | None = None  # whose rule the wear column follows


class ReportService:
    def __init__(self, db: Database, settings: Settings, charts: ChartService, compliance: ComplianceService,
                 clock: Callable[[], dt.datetime]) -> None:
        self._db = db
        self._settings = settings
        self._charts = charts
        self._compliance = compliance
        self._clock = clock

    def build(self, patient: str, start: dt.date, end: dt.date) -> ReportData:
        """Everything the report shows; NotFound when the patient has no data in the period."""
        check_range(start, end)
        code = patient.strip()
        with self._db.session() as s:
            pid = patient_id(s, code)
            steps_by_day = dict(s.execute(
                sa.select(StepInterval.local_date, sa.func.sum(StepInterval.steps))
                .where(StepInterval.patient_id == pid, StepInterval.local_date >= start,
                       StepInterval.local_date <= end)
                .group_by(StepInterval.local_date)).tuples().all())
            activity_steps = dict(s.execute(
                sa.select(DailyActivity.local_date, sa.func.max(DailyActivity.steps))
                .where(DailyActivity.patient_id == pid, DailyActivity.local_date >= start,
                       DailyActivity.local_date <= end, DailyActivity.steps.is_not(None))
                .group_by(DailyActivity.local_date)).tuples().all())
            resting = dict(s.execute(
                sa.select(RestingHeartRate.local_date, sa.func.min(RestingHeartRate.bpm))
                .where(RestingHeartRate.patient_id == pid, RestingHeartRate.local_date >= start,
                       RestingHeartRate.local_date <= end)
                .group_by(RestingHeartRate.local_date)).tuples().all())
            asleep_rows = s.execute(
                sa.select(SleepSession.local_date, SleepSession.vendor, sa.func.sum(SleepSession.minutes_asleep))
                .where(SleepSession.patient_id == pid, SleepSession.local_date >= start,
                       SleepSession.local_date <= end, SleepSession.minutes_asleep.is_not(None))
                .group_by(SleepSession.local_date, SleepSession.vendor)).tuples().all()
        asleep: dict[dt.date, int] = {}
        for day, _vendor, minutes in asleep_rows:  # two vendors recording one night: the longer figure
            asleep[day] = max(asleep.get(day, 0), int(minutes or 0))
        devices = self._charts.devices(code)
        wear_vendor = next((v for v in WEAR_PREFERENCE if v in devices), None)
        wear: dict[dt.date, int] = {}
        if wear_vendor is not None:
            wear = {r.date: r.wear_minutes
                    for r in self._compliance.rows(start, end, vendor=wear_vendor, patient=code)}
        days: list[ReportDay] = []
        for i in range((end - start).days + 1):
            day = start + dt.timedelta(days=i)
            steps = steps_by_day.get(day)
            if steps is None:
                steps = activity_steps.get(day)
            rhr = resting.get(day)
            days.append(ReportDay(day, None if steps is None else int(steps), wear.get(day),
                                  None if rhr is None else int(rhr), asleep.get(day)))
        heart_rate = self._charts.heart_rate(code, start, end)
        if all(d.empty for d in days) and not any(b.x for b in heart_rate.bands.values()):
            raise NotFound(f"Patient {code!r} has no data between {start} and {end}. Choose another period.")
        return ReportData(code, start, end, devices, self._clock(), days, heart_rate,
                          self._charts.steps(code, start, end), self._charts.nights(code, start, end), wear_vendor)
