"""Chart series against values computed here, in Python, from the stored rows.

The expected side never uses the stored `utc_offset_s`: it derives each row's patient-local time from
the UTC instant and the patient's time zone (zoneinfo), so a wrong offset, bucket or day boundary in
the SQL shows up as a mismatch. Runs on SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from db.models import (
    Device,
    DeviceSync,
    Exercise,
    HeartRateSample,
    Patient,
    SleepSession,
    SleepStage,
    StepInterval,
)
from services.data.charts import MAX_POINTS, STAGES, ChartService, bucket_for
from services.errors import InvalidInput, NotFound
from tests.charts.conftest import FIRST, LAST, NOW, TZ

EPOCH = dt.datetime(1970, 1, 1)


def local_x(code: str, ts_utc: dt.datetime) -> float:
    """Patient-local wall-clock seconds since 1970, from the time zone (not the stored offset)."""
    wall = ts_utc.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(TZ[code])).replace(tzinfo=None)
    return (wall - EPOCH).total_seconds()


def local_day(x: float) -> dt.date:
    return (EPOCH + dt.timedelta(seconds=x)).date()


def pid_of(db, code: str) -> int:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return int(s.scalar(sa.select(Patient.id).where(Patient.code == code)))


def expected_bands(db, code: str, start: dt.date, end: dt.date, size: int  # type: ignore[no-untyped-def]
                   ) -> dict[str, list[tuple[float, int, float, int, int]]]:
    pid = pid_of(db, code)
    with db.session() as s:
        rows = s.execute(sa.select(HeartRateSample.kind, HeartRateSample.ts_utc, HeartRateSample.bpm)
                         .where(HeartRateSample.patient_id == pid)).all()
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for kind, ts, bpm in rows:
        x = local_x(code, ts)
        if start <= local_day(x) <= end and bpm > 0:
            groups[(kind, int(x) // size * size)].append(bpm)
    out: dict[str, list[tuple[float, int, float, int, int]]] = defaultdict(list)
    for (kind, b), v in sorted(groups.items()):
        out[kind].append((float(b), min(v), sum(v) / len(v), max(v), len(v)))
    return out


def as_tuples(band):  # type: ignore[no-untyped-def]
    return list(zip(band.x, band.lo, band.avg, band.hi, band.n, strict=True))


def same(actual, expected) -> None:  # type: ignore[no-untyped-def]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a[0] == e[0] and a[1] == e[1] and a[3] == e[3] and a[4] == e[4], (a, e)
        assert a[2] == pytest.approx(e[2], abs=1e-6), (a, e)


@pytest.mark.parametrize("code,start,end", [
    ("C-AKL", dt.date(2026, 11, 3), dt.date(2026, 11, 3)),    # 24 h: raw minutes
    ("C-LA", dt.date(2026, 10, 31), dt.date(2026, 11, 1)),    # across the end of daylight saving time
    ("C-LA", FIRST, FIRST + dt.timedelta(days=6)),             # 7 days
    ("C-AKL", dt.date(2026, 10, 10), dt.date(2026, 11, 8)),    # 30 days
    ("C-PAR", dt.date(2026, 8, 10), dt.date(2026, 11, 7)),     # 90 days
])
def test_heart_rate_buckets_match_python(db, code, start, end) -> None:  # type: ignore[no-untyped-def]
    chart = ChartService(db).heart_rate(code, start, end)
    assert chart.bucket_s == bucket_for(start, end)
    expected = expected_bands(db, code, start, end, chart.bucket_s)
    assert expected, "the fixture must hold heart rate in this range"
    assert set(chart.bands) == set(expected)
    for kind, band in chart.bands.items():
        same(as_tuples(band), expected[kind])
        assert len(band.x) <= MAX_POINTS
        assert band.x == sorted(band.x)


def test_a_day_is_raw_and_long_ranges_stay_under_the_cap(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db)
    day = charts.heart_rate("C-AKL", dt.date(2026, 11, 2), dt.date(2026, 11, 2))
    assert day.bucket_s == 60
    band = day.bands["sample"]
    assert set(band.n) == {1} and band.lo == band.avg == band.hi  # one sample per point: raw data
    pid = pid_of(db, "C-AKL")
    with db.session() as s:
        raw = sorted(s.execute(sa.select(HeartRateSample.ts_utc, HeartRateSample.bpm).where(
            HeartRateSample.patient_id == pid, HeartRateSample.vendor == "fitbit",
            HeartRateSample.local_date == dt.date(2026, 11, 2))).all())
    assert [b for _, b in raw] == [int(v) for v in band.hi]
    assert len(raw) > 1000  # a worn day: close to 1,440 minutes
    for days in (7, 30, 90, 366):
        assert ((days * 86400) // bucket_for(FIRST, FIRST + dt.timedelta(days=days - 1))) <= MAX_POINTS
    assert bucket_for(FIRST, FIRST + dt.timedelta(days=6)) < bucket_for(FIRST, FIRST + dt.timedelta(days=29))
    # resting heart rate at local noon of each date
    assert day.resting == [((dt.datetime(2026, 11, 2, 12) - EPOCH).total_seconds(), pytest.approx(day.resting[0][1]))]


def expected_steps(db, code: str, start: dt.date, end: dt.date, width: int) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    pid = pid_of(db, code)
    with db.session() as s:
        rows = s.execute(sa.select(StepInterval.start_utc, StepInterval.steps)
                         .where(StepInterval.patient_id == pid)).all()
    sums: dict[int, int] = defaultdict(int)
    for ts, n in rows:
        x = local_x(code, ts)
        if start <= local_day(x) <= end:
            sums[int(x) // width * width] += n
    return [(float(b), float(v)) for b, v in sorted(sums.items())]


def test_steps_per_hour_up_to_a_week_then_per_day(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db)
    seventh = FIRST + dt.timedelta(days=6)
    week = charts.steps("C-LA", FIRST, seventh)
    assert week.width_s == 3600
    assert list(zip(week.x, week.values, strict=True)) == expected_steps(db, "C-LA", FIRST, seventh, 3600)
    longer = charts.steps("C-LA", FIRST, LAST)  # 8 days
    assert longer.width_s == 86400
    got = list(zip(longer.x, longer.values, strict=True))
    assert got == expected_steps(db, "C-LA", FIRST, LAST, 86400)
    # the day bars sit on local midnight and hold the day's total
    assert all(x % 86400 == 0 for x in longer.x)
    assert sum(longer.values) == sum(week.values) + got[-1][1]


def test_nights_and_hypnogram(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db)
    nights = charts.nights("C-AKL", FIRST, LAST)
    pid = pid_of(db, "C-AKL")
    with db.session() as s:
        stored = s.scalars(sa.select(SleepSession).where(SleepSession.patient_id == pid)
                           .order_by(SleepSession.start_utc, SleepSession.vendor)).all()
        stages = s.execute(sa.select(SleepStage.vendor, SleepStage.start_utc, SleepStage.end_utc, SleepStage.stage)
                           .where(SleepStage.patient_id == pid)).all()
    in_range = [n for n in stored if FIRST <= local_day(local_x("C-AKL", n.end_utc)) <= LAST]
    assert [n.id for n in nights] == [n.id for n in in_range]
    assert {n.vendor for n in nights} == {"fitbit", "withings"}
    for night, row in zip(nights, in_range, strict=True):
        assert night.start_x == local_x("C-AKL", row.start_utc) and night.end_x == local_x("C-AKL", row.end_utc)
        assert night.local_date == local_day(night.end_x)
        mine = [(a, b, st) for v, a, b, st in stages if v == row.vendor and row.start_utc <= a < row.end_utc]
        by_stage: dict[str, int] = defaultdict(int)
        for a, b, st in mine:
            by_stage[st] += int((b - a).total_seconds()) // 60
        if row.deep_minutes is not None:
            by_stage.update(deep=row.deep_minutes, light=row.light_minutes, rem=row.rem_minutes)
        by_stage["wake"] = row.minutes_awake if row.minutes_awake is not None else by_stage["wake"]
        assert night.minutes_by_stage == {k: v for k, v in by_stage.items() if v or k in night.minutes_by_stage}
        assert list(night.minutes_by_stage) == [k for k in STAGES if k in night.minutes_by_stage]
    withings = next(n for n in nights if n.vendor == "withings")
    assert withings.score is not None and withings.snoring_s == 600

    hyp = charts.hypnogram("C-AKL", withings.id)
    row = next(n for n in in_range if n.id == withings.id)
    mine = sorted((a, b, st) for v, a, b, st in stages if v == "withings" and row.start_utc <= a < row.end_utc)
    assert hyp.segments == [(local_x("C-AKL", a), local_x("C-AKL", b), st) for a, b, st in mine]
    assert {st for _, _, st in hyp.segments} <= set(STAGES) and len(hyp.segments) > 5
    assert hyp.segments[0][0] == withings.start_x
    with db.session() as s:
        hr_n = s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample).where(
            HeartRateSample.patient_id == pid, HeartRateSample.vendor == "withings",
            HeartRateSample.ts_utc >= row.start_utc, HeartRateSample.ts_utc < row.end_utc))
    assert sum(hyp.heart_rate.n) == hr_n and len(hyp.heart_rate.x) <= MAX_POINTS
    assert all(withings.start_x <= x < withings.end_x for x in hyp.heart_rate.x + hyp.breathing.x)
    assert sum(hyp.breathing.n) > 0 and hyp.snoring
    with pytest.raises(NotFound):
        charts.hypnogram("C-LA", withings.id)  # another patient's night


def test_night_without_vendor_stage_figures_sums_its_stages(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db)
    night = charts.nights("C-PAR", dt.date(2026, 11, 4), dt.date(2026, 11, 4))[0]
    with db.session() as s:
        s.execute(sa.update(SleepSession).where(SleepSession.id == night.id)
                  .values(deep_minutes=None, light_minutes=None, rem_minutes=None, minutes_awake=None))
    try:
        hyp = charts.hypnogram("C-PAR", night.id)
        sums: dict[str, int] = defaultdict(int)
        for a, b, st in hyp.segments:
            sums[st] += int(b - a)
        again = charts.nights("C-PAR", dt.date(2026, 11, 4), dt.date(2026, 11, 4))[0]
        assert again.minutes_by_stage == {k: v // 60 for k, v in sums.items()}
    finally:
        with db.session() as s:
            s.execute(sa.update(SleepSession).where(SleepSession.id == night.id).values(
                deep_minutes=night.minutes_by_stage.get("deep"), light_minutes=night.minutes_by_stage.get("light"),
                rem_minutes=night.minutes_by_stage.get("rem"), minutes_awake=night.minutes_by_stage.get("wake")))


def test_exercises_and_their_heart_rate(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db)
    items = charts.exercises("C-LA", FIRST, LAST)
    assert items and all(i.vendor == "polar" and i.avg_hr for i in items)
    pid = pid_of(db, "C-LA")
    with db.session() as s:
        ex = s.get(Exercise, items[0].id)
        beats = [b for (b,) in s.execute(sa.select(HeartRateSample.bpm).where(
            HeartRateSample.patient_id == pid, HeartRateSample.kind == "exercise",
            HeartRateSample.ts_utc >= ex.start_utc, HeartRateSample.ts_utc <= ex.end_utc))]
    assert items[0].start_x == local_x("C-LA", ex.start_utc) and items[0].sport == ex.sport
    band = charts.exercise_heart_rate("C-LA", items[0].id)
    assert len(beats) > MAX_POINTS >= len(band.x)  # 1-second samples, bucketed
    assert sum(band.n) == len(beats) and min(band.lo) == min(beats) and max(band.hi) == max(beats)
    assert sum(a * n for a, n in zip(band.avg, band.n, strict=True)) == pytest.approx(sum(beats))
    assert band.x[0] >= items[0].start_x - 60 and band.x[-1] <= items[0].end_x
    with pytest.raises(NotFound):
        charts.exercise_heart_rate("C-AKL", items[0].id)


def test_markers_device_swap_and_not_synced_period(db) -> None:  # type: ignore[no-untyped-def]
    pid = pid_of(db, "C-LA")
    old_seen, new_seen = dt.datetime(2026, 10, 1, 8), dt.datetime(2026, 11, 2, 18, 30)
    with db.session() as s:
        s.add_all([
            Device(id=901, patient_id=pid, vendor="fitbit", external_id="old", model="Charge 5",
                   first_seen_utc=old_seen, last_seen_utc=new_seen, last_sync_utc=dt.datetime(2026, 10, 30, 6),
                   retired_at=new_seen),
            Device(id=902, patient_id=pid, vendor="fitbit", external_id="new", model="Charge 6",
                   first_seen_utc=new_seen, last_seen_utc=NOW, last_sync_utc=dt.datetime(2026, 11, 5, 20)),
        ])
        s.flush()
        s.add_all([DeviceSync(device_id=902, observed_utc=t, last_sync_utc=t) for t in
                   (dt.datetime(2026, 11, 2, 19), dt.datetime(2026, 11, 3, 7), dt.datetime(2026, 11, 5, 20))])
    try:
        m = ChartService(db, clock=lambda: NOW).markers("C-LA", FIRST, LAST)
        assert m.device_swaps == [(local_x("C-LA", new_seen), "fitbit: Charge 6 replaced Charge 5")]
        spans = [(a, b) for a, b, _ in m.not_synced]
        # the old watch stopped syncing on 30 Oct until the new one came; the new one on 3 Nov 07:00
        assert (local_x("C-LA", dt.datetime(2026, 10, 30, 6)), local_x("C-LA", new_seen)) in spans
        assert (local_x("C-LA", dt.datetime(2026, 11, 3, 7)), local_x("C-LA", dt.datetime(2026, 11, 5, 20))) in spans
        assert len(spans) == 2  # the 12-hour gap and the last 13 hours up to now are not "not synced"
        assert "did not sync" in m.not_synced[0][2]
    finally:
        with db.session() as s:
            s.execute(sa.delete(Device).where(Device.id.in_([901, 902])))


def test_devices_and_bad_input(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db)
    assert charts.devices("C-PAR") == ["withings", "polar"]
    with pytest.raises(NotFound, match="no patient"):
        charts.heart_rate("NOBODY", FIRST, LAST)
    with pytest.raises(InvalidInput, match="before the start"):
        charts.steps("C-LA", LAST, FIRST)
    with pytest.raises(InvalidInput, match="at most 366 days"):
        charts.nights("C-LA", dt.date(2025, 1, 1), dt.date(2026, 1, 2))
    assert charts.heart_rate("C-LA", dt.date(2025, 1, 1), dt.date(2025, 12, 31)).bands == {}


def test_mysql_session_time_zone_does_not_shift_charts(db, charted) -> None:  # type: ignore[no-untyped-def]
    """A MariaDB server or session set to another time zone must not move anything on the axis."""
    if charted.dialect != "mariadb":
        pytest.skip("MySQL/MariaDB only")

    def far_zone(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_conn.cursor() as cur:
            cur.execute("SET time_zone = '+13:00'")

    db.engine.dispose()
    sa.event.listen(db.engine, "connect", far_zone)
    day = dt.date(2026, 11, 3)
    chart = ChartService(db).heart_rate("C-AKL", day, day)
    with db.engine.connect() as c:
        assert c.exec_driver_sql("SELECT @@session.time_zone").scalar() == "+13:00"
    for kind, band in chart.bands.items():
        same(as_tuples(band), expected_bands(db, "C-AKL", day, day, chart.bucket_s)[kind])


def test_devices_from_every_source_without_reading_the_history(db) -> None:  # type: ignore[no-untyped-def]
    """A vendor counts whether the patient has it connected, as a device, or only through nights,
    exercises or daily summaries; the known vendors come first in their order, then any other by
    name. The heart-rate and step tables (a patient's whole history) are never read for it."""
    from db.models import Connection, DailyActivity

    created = dt.datetime(2026, 10, 1)
    start, end = dt.datetime(2026, 11, 1, 8), dt.datetime(2026, 11, 1, 9)
    common = {"start_utc": start, "end_utc": end, "utc_offset_s": 3600, "local_date": start.date()}
    with db.session() as s:
        p = Patient(code="C-DEV", note="", created_at=created)
        s.add(p)
        s.flush()
        pid = p.id
        s.add_all([
            Connection(patient_id=pid, vendor="fitbit", status="connected", created_at=created, updated_at=created),
            HeartRateSample(patient_id=pid, vendor="fitbit", kind="sample", ts_utc=start, utc_offset_s=3600,
                            local_date=start.date(), bpm=60),
            StepInterval(patient_id=pid, vendor="fitbit", steps=10, **common),
            SleepSession(patient_id=pid, vendor="withings", is_main=True, **common),
            DailyActivity(patient_id=pid, vendor="polar", local_date=start.date(), steps=1000),
            Device(patient_id=pid, vendor="garmin", external_id="g1", first_seen_utc=start, last_seen_utc=end),
            Exercise(patient_id=pid, vendor="oura", sport="WALK", **common),
        ])
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert ChartService(db).devices("C-DEV") == ["fitbit", "withings", "polar", "garmin", "oura"]
        assert statements and not [q for q in statements if "heart_rate_samples" in q or "step_intervals" in q]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
        with db.session() as s:
            for model in (HeartRateSample, StepInterval, SleepSession, DailyActivity, Device, Exercise, Connection):
                s.execute(sa.delete(model).where(model.patient_id == pid))
            s.execute(sa.delete(Patient).where(Patient.id == pid))


def test_whole_view_is_each_query_run_at_once(db) -> None:  # type: ignore[no-untyped-def]
    charts = ChartService(db, clock=lambda: NOW)
    for code in ("C-AKL", "C-LA"):
        v = charts.view(code, FIRST, LAST)
        assert v.devices == charts.devices(code)
        assert v.heart_rate == charts.heart_rate(code, FIRST, LAST)
        assert v.steps == charts.steps(code, FIRST, LAST)
        assert v.nights == charts.nights(code, FIRST, LAST)
        assert v.exercises == charts.exercises(code, FIRST, LAST)
        assert v.daily_activity == charts.daily_activity(code, FIRST, LAST)
        assert v.markers == charts.markers(code, FIRST, LAST)
        assert v.heart_rate.bands and v.steps.values and v.nights  # something to compare
    # heart rate and steps run at the same time: each waits for the other to have started
    both = threading.Barrier(2, timeout=10)
    real_hr, real_steps = charts.heart_rate, charts.steps

    def hr(*a: object) -> object:
        both.wait()
        return real_hr(*a)  # type: ignore[arg-type]

    def steps(*a: object) -> object:
        both.wait()
        return real_steps(*a)  # type: ignore[arg-type]

    charts.heart_rate, charts.steps = hr, steps  # type: ignore[method-assign, assignment]
    assert charts.view("C-LA", FIRST, LAST).steps == real_steps("C-LA", FIRST, LAST)
    # the checkpoint runs before every query; what it raises stops the view and reaches the caller
    calls: list[int] = []

    def checkpoint() -> None:
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("superseded")

    with pytest.raises(RuntimeError, match="superseded"):
        charts.view("C-LA", FIRST, LAST, checkpoint)
    assert 4 <= len(calls) < 7
    with pytest.raises(NotFound):
        charts.view("NOBODY", FIRST, LAST)
