"""Benchmark: chart and compliance queries at clinic scale, on SQLite and MariaDB (prints figures;
asserts nothing about speed).

    uv run python -m tests.benchmarks.charts [--patients 50] [--days 90] [--mysql URL]

Fills a fresh database with `patients` × `days` of 1-minute Fitbit heart rate and 1-minute steps
(written day by day across patients, as the nightly download does), then times, for one patient,
heart rate, steps and the whole view (`ChartService.view`, what the Data page asks for: devices,
heart rate + resting, steps, nights, exercises, daily activity, markers, run at once) at 24 h, 7 d, 30 d
and 90 d, every other chart query of services/data/charts.py (daily activity, nights,
exercises, markers at 24 h and 90 d; devices; one night's hypnogram; one exercise's heart rate) --
median and best of 5 warm runs, wall time and CPU time, see Meter -- and the clinic compliance grid
for 30 days. Targets (issue 10): a 24-hour view under 100 ms, a 90-day view under 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from db.engine import Database
from db.migrate import upgrade
from db.models import (
    Connection,
    Exercise,
    HeartRateSample,
    Patient,
    RestingHeartRate,
    SleepSession,
    SleepStage,
)
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.data.charts import ChartService
from services.data.compliance import ComplianceService
from services.settings import Settings

LAST_DAY = dt.date(2026, 11, 28)
OFFSET = 3600
RANGES = (("24 h", 1), ("7 d", 7), ("30 d", 30), ("90 d", 90))


def fill(db: Database, patients: int, days: int) -> int:
    """Insert the data, generated inside the database (INSERT ... SELECT over a minutes table, one
    statement per table and day, patient by patient); returns the number of measurement rows."""
    created = dt.datetime(2026, 1, 1)
    with db.session() as s:
        s.add_all([Patient(id=p, code=f"BENCH-{p:03d}", note="", created_at=created)
                   for p in range(1, patients + 1)])
        s.flush()
        for p in range(1, patients + 1):
            s.add(Connection(patient_id=p, vendor="fitbit", status="connected", created_at=created,
                             updated_at=created))
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE bench_minutes (m INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE bench_patients (p INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO bench_minutes (m) VALUES (:m)"), [{"m": m} for m in range(1440)])
        conn.execute(sa.text("INSERT INTO bench_patients (p) VALUES (:p)"), [{"p": p} for p in range(1, patients + 1)])
    if db.dialect == "sqlite":
        ts = "datetime(:midnight, '+' || m || ' minutes') || '.000000'"
        ts_end = "datetime(:midnight, '+' || (m + 1) || ' minutes') || '.000000'"
    else:
        ts, ts_end = "TIMESTAMPADD(MINUTE, m, :midnight)", "TIMESTAMPADD(MINUTE, m + 1, :midnight)"
    hr_sql = sa.text(
        "INSERT INTO heart_rate_samples (patient_id, vendor, kind, ts_utc, utc_offset_s, local_date, bpm) "
        f"SELECT p, 'fitbit', 'sample', {ts}, :off, :day, 50 + (m * 7 + p * 3 + :d) % 70 "
        "FROM bench_patients CROSS JOIN bench_minutes ORDER BY p, m")
    steps_sql = sa.text(
        "INSERT INTO step_intervals (patient_id, vendor, start_utc, end_utc, utc_offset_s, local_date, steps) "
        f"SELECT p, 'fitbit', {ts}, {ts_end}, :off, :day, CASE WHEN m > 420 THEN (m * 13 + p) % 120 ELSE 0 END "
        "FROM bench_patients CROSS JOIN bench_minutes ORDER BY p, m")
    first = LAST_DAY - dt.timedelta(days=days - 1)
    for d in range(days):
        day = first + dt.timedelta(days=d)
        midnight_utc = dt.datetime.combine(day, dt.time()) - dt.timedelta(seconds=OFFSET)
        params = {"midnight": midnight_utc.strftime("%Y-%m-%d %H:%M:%S"), "off": OFFSET, "day": day, "d": d}
        with db.engine.begin() as conn:
            conn.execute(hr_sql, params)
            conn.execute(steps_sql, params)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE bench_minutes"))
        conn.execute(sa.text("DROP TABLE bench_patients"))
    return 2 * patients * days * 1440 + fill_daily(db, patients, first, days)


def fill_daily(db: Database, patients: int, first: dt.date, days: int) -> int:
    """Per patient and day: a resting heart rate, a night (local 22:00-06:00, ending that day) of four
    2-hour stages, and a 30-minute exercise at local 17:00 -- so the sleep and exercise charts and
    panels read rows too. Returns the number of rows."""
    off = dt.timedelta(seconds=OFFSET)
    resting: list[dict[str, Any]] = []
    nights: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    workouts: list[dict[str, Any]] = []
    for p in range(1, patients + 1):
        for d in range(days):
            day = first + dt.timedelta(days=d)
            midnight = dt.datetime.combine(day, dt.time()) - off  # local midnight, in UTC
            common = {"patient_id": p, "vendor": "fitbit", "utc_offset_s": OFFSET, "local_date": day}
            resting.append({**common, "bpm": 55 + (p + d) % 10})
            start, end = midnight - dt.timedelta(hours=2), midnight + dt.timedelta(hours=6)
            nights.append({**common, "start_utc": start, "end_utc": end, "is_main": True, "minutes_asleep": 420,
                           "minutes_awake": 60, "deep_minutes": 120, "light_minutes": 180, "rem_minutes": 120,
                           "score": 60 + (p * 7 + d) % 40, "hr_average": 58.0})
            for i, stage in enumerate(("light", "deep", "rem", "wake")):
                stages.append({**common, "start_utc": start + dt.timedelta(hours=2 * i),
                               "end_utc": start + dt.timedelta(hours=2 * i + 2), "stage": stage})
            ex = midnight + dt.timedelta(hours=17)
            workouts.append({**common, "start_utc": ex, "end_utc": ex + dt.timedelta(minutes=30), "sport": "RUNNING",
                             "avg_hr": 120, "max_hr": 150, "calories": 300, "distance_m": 5000.0})
    with db.session() as s:
        for model, rows in ((RestingHeartRate, resting), (SleepSession, nights), (SleepStage, stages),
                            (Exercise, workouts)):
            s.execute(sa.insert(model), rows)
    return len(resting) + len(nights) + len(stages) + len(workouts)


class Meter:
    """Median and best wall time of a call, and (SQLite) its median CPU time, in ms.

    SQLite runs inside this process, so process CPU time is what the query costs on an idle machine:
    on a busy shared host the wall figures grow while the CPU figure does not. MariaDB works in its
    own server process, whose CPU for one statement cannot be read reliably from here (its profiling
    counts the whole server), so only wall times are shown for it; the best of the runs is the one
    least disturbed by other work on the host."""

    def __init__(self, db: Database) -> None:
        self.in_process = db.dialect == "sqlite"

    def __call__(self, fn: Callable[[], Any], runs: int = 5) -> tuple[float, float, float]:
        fn()
        walls, cpus = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls.append((time.perf_counter() - t0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
        return statistics.median(walls), min(walls), statistics.median(cpus) if self.in_process else float("nan")


Row = tuple[str, str, float, float, float]


def measure(url: str, patients: int, days: int, runs: int = 5) -> list[Row]:
    """(query, range, median wall ms, best wall ms, cpu ms) for one dialect."""
    db = Database(url)
    try:
        upgrade(db)
        t0 = time.perf_counter()
        n = fill(db, patients, days)
        load_s = time.perf_counter() - t0
        timed = Meter(db)
        charts = ChartService(db, clock=lambda: dt.datetime(2026, 11, 29))
        compliance = ComplianceService(db, Settings(db, AuditLog(db, Clock())))
        who = f"BENCH-{(patients + 1) // 2:03d}"
        nan = float("nan")
        out: list[Row] = [("load", f"{n:,} rows", load_s * 1000, nan, nan)]
        for label, span in RANGES:
            start = LAST_DAY - dt.timedelta(days=span - 1)
            out.append(("heart_rate", label, *timed(lambda s=start: charts.heart_rate(who, s, LAST_DAY), runs)))
            out.append(("steps", label, *timed(lambda s=start: charts.steps(who, s, LAST_DAY), runs)))

            def view(s: dt.date = start) -> None:  # as the Data page asks for it
                charts.view(who, s, LAST_DAY)

            out.append(("whole view", label, *timed(view, runs)))
            if span in (1, 90):  # the other chart queries at issue 10's two target ranges
                for name in ("daily_activity", "nights", "exercises", "markers"):
                    query = getattr(charts, name)
                    out.append((name, label, *timed(lambda s=start, q=query: q(who, s, LAST_DAY), runs)))
        out.append(("devices", "all", *timed(lambda: charts.devices(who), runs)))
        with db.session() as s:
            pid = s.scalar(sa.select(Patient.id).where(Patient.code == who))
            night = s.scalar(sa.select(sa.func.max(SleepSession.id)).where(SleepSession.patient_id == pid))
            workout = s.scalar(sa.select(sa.func.max(Exercise.id)).where(Exercise.patient_id == pid))
        out.append(("hypnogram", "1 night", *timed(lambda: charts.hypnogram(who, int(night)), runs)))
        out.append(("exercise_heart_rate", "1 exercise",
                    *timed(lambda: charts.exercise_heart_rate(who, int(workout)), runs)))
        start30 = LAST_DAY - dt.timedelta(days=29)
        out.append(("compliance grid", f"30 d x {patients}", *timed(lambda: compliance.rows(start30, LAST_DAY), 1)))
        with db.session() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(HeartRateSample)) == patients * days * 1440
        return out
    finally:
        db.dispose()


def measure_all(patients: int, days: int, mysql_admin: str | None, runs: int = 5) -> list[tuple[str, list[Row]]]:
    """(dialect, rows) for SQLite and, given an admin URL, MariaDB."""
    results: list[tuple[str, list[Row]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(("sqlite", measure(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", patients, days, runs)))
    if mysql_admin:
        name = "wearsync_bench_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(mysql_admin)
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE `{name}`"))
        try:
            results.append(("mariadb", measure(mysql_admin.rstrip("/") + "/" + name, patients, days, runs)))
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f"DROP DATABASE `{name}`"))
            admin.dispose()
    return results


def run(patients: int, days: int, mysql_admin: str | None, runs: int = 5) -> list[str]:
    lines = [f"{patients} patients x {days} days of 1-minute heart rate and steps; "
             f"{platform.processor() or platform.machine()}, Python {platform.python_version()}"]
    results = measure_all(patients, days, mysql_admin, runs)
    lines.append(f"{'dialect':<8} {'query':<20} {'range':<18} {'median wall':>14} {'best wall':>11} {'CPU':>11}")
    for dialect, rows in results:
        for what, span, ms, best, cpu in rows:
            cells = [f"{v:,.1f} ms" if v == v else "-" for v in (ms, best, cpu)]  # v != v: not measured
            lines.append(f"{dialect:<8} {what:<20} {span:<18} {cells[0]:>14} {cells[1]:>11} {cells[2]:>11}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=50)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306/",
                    help="admin URL of a MariaDB/MySQL server ('' to skip)")
    a = ap.parse_args()
    for line in run(a.patients, a.days, a.mysql or None, a.runs):
        print(line, flush=True)


if __name__ == "__main__":
    main()
