"""What a patient's charts show, asked of the database in chart-sized pieces (issue 10).

Every series is aggregated IN SQL to at most `MAX_POINTS` points (min/avg/max per bucket; the bucket
size follows the range: 24 h is raw 1-minute data, 90 days 2-hour buckets), so a chart never pulls
a patient's whole history into Python. Works on SQLite and MySQL/MariaDB alike.

X axis convention: patient-local wall-clock seconds since 1970 (`UTC epoch + the row's
utc_offset_s`), so an axis that formats seconds as UTC shows the patient's local time. Days are
patient-local civil days, `start..end` inclusive. No Qt here: the GUI draws these plain lists.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import (
    Connection,
    DailyActivity,
    Device,
    DeviceSync,
    Exercise,
    HeartRateSample,
    RespiratorySample,
    RestingHeartRate,
    SleepSession,
    SleepStage,
    SnoringSample,
    StepInterval,
)
from services.config import VENDORS
from services.data.sqltime import (
    check_range,
    date_x,
    epoch_s,
    floor_to,
    in_local_days,
    local_s,
    patient_id,
    x_of,
)
from services.errors import InvalidInput, NotFound

MAX_POINTS = 2000
BUCKETS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
FINE_BUCKETS_S = (1, 2, 5, 10, 15, 30, *BUCKETS_S)
HOURLY_STEPS_UP_TO_DAYS = 7
HR_KINDS = ("sample", "exercise", "sleep")
STAGES = ("wake", "light", "deep", "rem", "asleep", "restless")
NOT_SYNCED_AFTER = dt.timedelta(days=1)
VIEW_THREADS = 3  # heart rate, steps, the rest: ChartService.view


def bucket_for(start: dt.date, end: dt.date) -> int:
    """The smallest bucket (seconds) that keeps a series of start..end within MAX_POINTS points."""
    span = ((end - start).days + 1) * 86400
    return next((b for b in BUCKETS_S if span / b <= MAX_POINTS), BUCKETS_S[-1])


def _fine_bucket(span_s: float) -> int:
    return next((b for b in FINE_BUCKETS_S if span_s / b <= MAX_POINTS), FINE_BUCKETS_S[-1])


@dataclass(frozen=True)
class Band:
    """One point per non-empty bucket: x (bucket start), min, mean, max and how many samples."""

    x: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    avg: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    n: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class HeartRateChart:
    bucket_s: int
    bands: dict[str, Band]  # keyed by sample kind: sample (all-day), exercise, sleep
    resting: list[tuple[float, float]]  # (x at local noon of the date, bpm)


@dataclass(frozen=True)
class Bars:
    x: list[float]  # bar start
    width_s: float
    values: list[float]


@dataclass(frozen=True)
class Night:
    id: int
    vendor: str
    local_date: dt.date
    start_x: float
    end_x: float
    minutes_by_stage: dict[str, int]
    minutes_asleep: int | None
    score: int | None
    hr_average: float | None
    rr_average: float | None
    snoring_s: int | None


@dataclass(frozen=True)
class Hypnogram:
    segments: list[tuple[float, float, str]]  # (start_x, end_x, stage)
    heart_rate: Band
    breathing: Band
    snoring: list[tuple[float, float]]  # (x, value)


@dataclass(frozen=True)
class ExerciseItem:
    id: int
    vendor: str
    local_date: dt.date
    start_x: float
    end_x: float
    sport: str
    avg_hr: int | None
    max_hr: int | None
    calories: int | None
    distance_m: float | None


@dataclass(frozen=True)
class Markers:
    device_swaps: list[tuple[float, str]]  # (x, what)
    not_synced: list[tuple[float, float, str]]  # (from x, to x, what)


@dataclass(frozen=True)
class PatientCharts:
    """Everything the Data page shows for one patient and range (`ChartService.view`)."""

    devices: list[str]
    heart_rate: HeartRateChart
    steps: Bars
    nights: list[Night]
    exercises: list[ExerciseItem]
    daily_activity: Bars
    markers: Markers


class ChartService:
    """Chart series for one patient. `clock` (naive UTC now) ends a "not synced" period still open."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] | None = None,
                 not_synced_after: dt.timedelta = NOT_SYNCED_AFTER) -> None:
        self._db = db
        self._clock = clock
        self._not_synced_after = not_synced_after

    @property
    def _dialect(self) -> str:
        return self._db.dialect

    # ------------------------------------------------------------------ what the patient has

    def devices(self, patient: str) -> list[str]:
        """The device types (vendors) the patient has: connected, seen, or with data stored.

        Reads only tables with a row or a few per patient and day, each through a key leading with
        (patient, vendor): connections, devices, nights, exercises, daily summaries. Heart-rate and
        step rows are not asked: their key is (patient, time, ...), so finding their vendors means
        reading the patient's whole history (a vendor the patient lacks: every row), and every such
        row came with a connection of its vendor -- only the sync writes them, for one of the
        patient's connections, and moving a device to another ID moves the connection with its rows
        (services/patients); connections are never deleted on their own."""
        with self._db.session() as s:
            pid = patient_id(s, patient)
            found: set[str] = set()
            for model in (Connection, Device, SleepSession, Exercise, DailyActivity):
                found.update(s.scalars(sa.select(model.vendor).where(model.patient_id == pid).distinct()))
        return [v for v in VENDORS if v in found] + sorted(found - set(VENDORS))

    # ------------------------------------------------------------------ the whole view

    def view(self, patient: str, start: dt.date, end: dt.date,
             checkpoint: Callable[[], None] | None = None) -> PatientCharts:
        """The Data page's whole view: devices, heart rate, steps, nights, exercises, daily activity
        and markers, each the same answer as its own method.

        The queries are independent, so they run at once, each on its own connection from the pool:
        heart rate, steps, and the small rest one after another. SQLite steps through a query without
        holding the GIL and MariaDB works in its own process, so the view takes about as long as its
        longest query rather than the sum. `checkpoint` is called before each query; whatever it
        raises (the page's loader: a newer request superseded this one) stops the view and is raised
        here, after the queries already running have ended."""
        check_range(start, end)

        def run(*calls: tuple[Callable[..., Any], tuple[Any, ...]]) -> list[Any]:
            out = []
            for fn, args in calls:
                if checkpoint is not None:
                    checkpoint()
                out.append(fn(*args))
            return out

        rng = (patient, start, end)
        with ThreadPoolExecutor(max_workers=VIEW_THREADS, thread_name_prefix="chart-view") as pool:
            heart = pool.submit(run, (self.heart_rate, rng))
            steps = pool.submit(run, (self.steps, rng))
            rest = pool.submit(run, (self.devices, (patient,)), (self.nights, rng), (self.exercises, rng),
                               (self.daily_activity, rng), (self.markers, rng))
        # leaving the block waited for all three; the first failure (in this order) is raised
        [hr], [st], [devices, nights, exercises, daily, markers] = heart.result(), steps.result(), rest.result()
        return PatientCharts(devices, hr, st, nights, exercises, daily, markers)

    # ------------------------------------------------------------------ heart rate and steps

    def heart_rate(self, patient: str, start: dt.date, end: dt.date) -> HeartRateChart:
        check_range(start, end)
        size = bucket_for(start, end)
        d = self._dialect
        H = HeartRateSample
        x = local_s(H.ts_utc, H.utc_offset_s, d)
        bucket = floor_to(x, size, d).label("bucket")
        q = (sa.select(H.kind, bucket, sa.func.min(H.bpm), sa.func.sum(H.bpm), sa.func.max(H.bpm), sa.func.count())
             .where(H.patient_id == sa.bindparam("pid"), in_local_days(H.ts_utc, x, start, end), H.bpm > 0)
             .group_by(H.kind, sa.literal_column("bucket"))
             .order_by(H.kind, sa.literal_column("bucket")))
        bands: dict[str, Band] = {}
        with self._db.session() as s:
            pid = patient_id(s, patient)
            for kind, b, mn, total, mx, n in s.execute(q, {"pid": pid}):
                band = bands.setdefault(kind, Band())
                band.x.append(float(b))
                band.lo.append(float(mn))
                band.avg.append(float(total) / int(n))  # SUM and COUNT in SQL: exact on both dialects
                band.hi.append(float(mx))
                band.n.append(int(n))
            resting = [(date_x(day) + 43200.0, float(bpm)) for day, bpm in s.execute(
                sa.select(RestingHeartRate.local_date, RestingHeartRate.bpm)
                .where(RestingHeartRate.patient_id == pid, RestingHeartRate.local_date >= start,
                       RestingHeartRate.local_date <= end)
                .order_by(RestingHeartRate.local_date, RestingHeartRate.vendor))]
        return HeartRateChart(size, bands, resting)

    def steps(self, patient: str, start: dt.date, end: dt.date) -> Bars:
        """Steps per hour for ranges of up to 7 days, per patient-local day beyond (summed in SQL)."""
        check_range(start, end)
        width = 3600 if (end - start).days + 1 <= HOURLY_STEPS_UP_TO_DAYS else 86400
        d = self._dialect
        S = StepInterval
        x = local_s(S.start_utc, S.utc_offset_s, d)
        bucket = floor_to(x, width, d).label("bucket")
        q = (sa.select(bucket, sa.func.sum(S.steps))
             .where(S.patient_id == sa.bindparam("pid"), in_local_days(S.start_utc, x, start, end))
             .group_by(sa.literal_column("bucket")).order_by(sa.literal_column("bucket")))
        xs: list[float] = []
        values: list[float] = []
        with self._db.session() as s:
            pid = patient_id(s, patient)
            for b, total in s.execute(q, {"pid": pid}):
                xs.append(float(b))
                values.append(float(total or 0))
        return Bars(xs, float(width), values)

    def daily_activity(self, patient: str, start: dt.date, end: dt.date, measure: str = "steps",
                       vendor: str | None = "polar") -> Bars:
        """Per-day figures the vendor summarises (Polar's daily activity): `measure` is steps,
        active_minutes or calories; `vendor=None` takes every vendor's rows."""
        check_range(start, end)
        columns = {"steps": DailyActivity.steps, "active_minutes": DailyActivity.active_minutes,
                   "calories": DailyActivity.calories}
        if measure not in columns:
            raise InvalidInput(f"Unknown daily measure {measure!r}. Choose one of: {', '.join(columns)}.")
        col = columns[measure]
        with self._db.session() as s:
            pid = patient_id(s, patient)
            q = (sa.select(DailyActivity.local_date, sa.func.sum(col))
                 .where(DailyActivity.patient_id == pid, DailyActivity.local_date >= start,
                        DailyActivity.local_date <= end, col.is_not(None))
                 .group_by(DailyActivity.local_date).order_by(DailyActivity.local_date))
            if vendor is not None:
                q = q.where(DailyActivity.vendor == vendor)
            rows = s.execute(q).all()
        return Bars([date_x(day) for day, _ in rows], 86400.0, [float(v) for _, v in rows])

    # ------------------------------------------------------------------ sleep

    def nights(self, patient: str, start: dt.date, end: dt.date) -> list[Night]:
        """Sleep sessions dated (by the day they end) within start..end, with minutes per stage: the
        vendor's own summary figures where it reports them, otherwise summed from the stages."""
        check_range(start, end)
        d = self._dialect
        N, T = SleepSession, SleepStage
        with self._db.session() as s:
            pid = patient_id(s, patient)
            sessions = s.scalars(sa.select(N).where(N.patient_id == pid, N.local_date >= start, N.local_date <= end)
                                 .order_by(N.start_utc, N.vendor)).all()
            stage_s = (epoch_s(T.end_utc, d) - epoch_s(T.start_utc, d))
            sums: dict[int, dict[str, int]] = {}
            if sessions:
                q = (sa.select(N.id, T.stage, sa.func.sum(stage_s))
                     .join(T, sa.and_(T.patient_id == N.patient_id, T.vendor == N.vendor,
                                      T.start_utc >= N.start_utc, T.start_utc < N.end_utc))
                     .where(N.patient_id == pid, N.local_date >= start, N.local_date <= end)
                     .group_by(N.id, T.stage))
                for sid, stage, secs in s.execute(q):
                    sums.setdefault(int(sid), {})[stage] = int(secs or 0) // 60
        out: list[Night] = []
        for n in sessions:
            by_stage = dict(sums.get(n.id, {}))
            for stage, summary in (("deep", n.deep_minutes), ("light", n.light_minutes), ("rem", n.rem_minutes),
                                   ("wake", n.minutes_awake)):
                if summary is not None:
                    by_stage[stage] = int(summary)
            ordered = {k: by_stage[k] for k in STAGES if k in by_stage}
            ordered.update({k: v for k, v in by_stage.items() if k not in ordered})
            out.append(Night(n.id, n.vendor, n.local_date, x_of(n.start_utc, n.utc_offset_s),
                             x_of(n.end_utc, n.utc_offset_s), ordered, n.minutes_asleep, n.score, n.hr_average,
                             n.rr_average, n.snoring_s))
        return out

    def hypnogram(self, patient: str, night_id: int) -> Hypnogram:
        """One night: its stages, and the heart rate, breathing rate and snoring that the same device
        recorded during it (a Withings mat's night shows the mat's readings, not the watch's)."""
        with self._db.session() as s:
            pid = patient_id(s, patient)
            n = s.scalar(sa.select(SleepSession).where(SleepSession.id == night_id, SleepSession.patient_id == pid))
            if n is None:
                raise NotFound(f"Patient {patient.strip()!r} has no such night.")
            T = SleepStage
            segments = [(x_of(a, off), x_of(b, off), stage) for a, b, off, stage in s.execute(
                sa.select(T.start_utc, T.end_utc, T.utc_offset_s, T.stage)
                .where(T.patient_id == pid, T.vendor == n.vendor, T.start_utc >= n.start_utc,
                       T.start_utc < n.end_utc).order_by(T.start_utc))]
            size = _fine_bucket((n.end_utc - n.start_utc).total_seconds())
            H = HeartRateSample
            heart = self._band(s, H.bpm, H.ts_utc, H.utc_offset_s, size,
                               [H.patient_id == pid, H.vendor == n.vendor, H.ts_utc >= n.start_utc,
                                H.ts_utc < n.end_utc, H.bpm > 0])
            R = RespiratorySample
            breathing = self._band(s, R.breaths_per_minute, R.ts_utc, R.utc_offset_s, size,
                                   [R.patient_id == pid, R.vendor == n.vendor, R.ts_utc >= n.start_utc,
                                    R.ts_utc < n.end_utc])
            Z = SnoringSample
            snoring = [(x_of(t, off), float(v)) for t, off, v in s.execute(
                sa.select(Z.ts_utc, Z.utc_offset_s, Z.value)
                .where(Z.patient_id == pid, Z.vendor == n.vendor, Z.ts_utc >= n.start_utc, Z.ts_utc < n.end_utc)
                .order_by(Z.ts_utc))]
        return Hypnogram(segments, heart, breathing, snoring)

    def _band(self, s: Session, value: Any, ts: Any, offset: Any, size: int,
              where: list[sa.ColumnElement[bool]]) -> Band:
        """min/avg/max of `value` per `size`-second bucket of patient-local time, computed in SQL."""
        d = self._dialect
        bucket = floor_to(local_s(ts, offset, d), size, d).label("bucket")
        q = (sa.select(bucket, sa.func.min(value), sa.func.sum(value), sa.func.max(value), sa.func.count())
             .where(*where).group_by(sa.literal_column("bucket")).order_by(sa.literal_column("bucket")))
        band = Band()
        for b, mn, total, mx, n in s.execute(q):
            band.x.append(float(b))
            band.lo.append(float(mn))
            band.avg.append(float(total) / int(n))
            band.hi.append(float(mx))
            band.n.append(int(n))
        return band

    # ------------------------------------------------------------------ exercise

    def exercises(self, patient: str, start: dt.date, end: dt.date) -> list[ExerciseItem]:
        check_range(start, end)
        E = Exercise
        with self._db.session() as s:
            pid = patient_id(s, patient)
            rows = s.scalars(sa.select(E).where(E.patient_id == pid, E.local_date >= start, E.local_date <= end)
                             .order_by(E.start_utc, E.vendor)).all()
        return [ExerciseItem(e.id, e.vendor, e.local_date, x_of(e.start_utc, e.utc_offset_s),
                             x_of(e.end_utc, e.utc_offset_s), e.sport, e.avg_hr, e.max_hr, e.calories, e.distance_m)
                for e in rows]

    def exercise_heart_rate(self, patient: str, exercise_id: int) -> Band:
        """The heart rate recorded during one exercise, bucketed to at most MAX_POINTS points."""
        with self._db.session() as s:
            pid = patient_id(s, patient)
            e = s.scalar(sa.select(Exercise).where(Exercise.id == exercise_id, Exercise.patient_id == pid))
            if e is None:
                raise NotFound(f"Patient {patient.strip()!r} has no such exercise.")
            H = HeartRateSample
            size = _fine_bucket((e.end_utc - e.start_utc).total_seconds())
            return self._band(s, H.bpm, H.ts_utc, H.utc_offset_s, size,
                              [H.patient_id == pid, H.vendor == e.vendor, H.ts_utc >= e.start_utc,
                               H.ts_utc <= e.end_utc, H.bpm > 0])

    # ------------------------------------------------------------------ markers

    def markers(self, patient: str, start: dt.date, end: dt.date) -> Markers:
        """Device swaps (a device's first appearance after another of the same vendor) and periods
        when the device in use had not synced to its vendor for longer than `not_synced_after`."""
        check_range(start, end)
        lo_x, hi_x = date_x(start), date_x(end + dt.timedelta(days=1))
        swaps: list[tuple[float, str]] = []
        gaps: list[tuple[float, float, str]] = []
        with self._db.session() as s:
            pid = patient_id(s, patient)
            devices = s.scalars(sa.select(Device).where(Device.patient_id == pid)
                                .order_by(Device.vendor, Device.first_seen_utc, Device.id)).all()
            by_vendor: dict[str, list[Device]] = {}
            for dev in devices:
                by_vendor.setdefault(dev.vendor, []).append(dev)
            for vendor, devs in by_vendor.items():
                for i, dev in enumerate(devs):
                    name = dev.model or dev.device_type or "device"
                    if i > 0:
                        x = x_of(dev.first_seen_utc, self._offset_at(s, pid, dev.first_seen_utc))
                        if lo_x <= x < hi_x:
                            prev = devs[i - 1].model or devs[i - 1].device_type or "device"
                            swaps.append((x, f"{vendor}: {name} replaced {prev}"))
                    in_use_until = devs[i + 1].first_seen_utc if i + 1 < len(devs) else dev.retired_at
                    gaps.extend(self._sync_gaps(s, pid, dev, vendor, name, in_use_until, lo_x, hi_x))
        swaps.sort()
        gaps.sort()
        return Markers(swaps, gaps)

    def _sync_gaps(self, s: Session, pid: int, dev: Device, vendor: str, name: str,
                   in_use_until: dt.datetime | None, lo_x: float, hi_x: float) -> list[tuple[float, float, str]]:
        syncs = sorted(set(s.scalars(sa.select(DeviceSync.last_sync_utc).where(DeviceSync.device_id == dev.id))))
        if dev.last_sync_utc is not None and dev.last_sync_utc not in syncs:
            syncs = sorted([*syncs, dev.last_sync_utc])
        if not syncs:
            return []
        points = list(syncs)
        end_of_use = in_use_until
        if end_of_use is None and self._clock is not None:
            end_of_use = self._clock()
        if end_of_use is not None and end_of_use > points[-1]:
            points.append(end_of_use)
        out: list[tuple[float, float, str]] = []
        for a, b in itertools.pairwise(points):
            if b - a <= self._not_synced_after:
                continue
            xa = x_of(a, self._offset_at(s, pid, a))
            xb = x_of(b, self._offset_at(s, pid, b))
            if xb <= lo_x or xa >= hi_x:
                continue
            days = (b - a).total_seconds() / 86400
            out.append((max(xa, lo_x), min(xb, hi_x),
                        f"{vendor}: {name} did not sync with {vendor.capitalize()} for {days:.1f} days"))
        return out

    @staticmethod
    def _offset_at(s: Session, pid: int, when: dt.datetime) -> int:
        """The patient's UTC offset near an instant (devices carry none): the nearest heart-rate or
        step row at or before it, else the first after it, else 0."""
        for model, col in ((HeartRateSample, HeartRateSample.ts_utc), (StepInterval, StepInterval.start_utc)):
            off = s.scalar(sa.select(model.utc_offset_s).where(model.patient_id == pid, col <= when)
                           .order_by(col.desc()).limit(1))
            if off is None:
                off = s.scalar(sa.select(model.utc_offset_s).where(model.patient_id == pid, col > when)
                               .order_by(col).limit(1))
            if off is not None:
                return int(off)
        return 0
