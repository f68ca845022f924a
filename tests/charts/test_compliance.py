"""`main.py compliance --csv` against wear minutes and valid days computed here from the stored rows.

The expected side reads the raw samples and sessions and works out each row's patient-local day and
minute from the UTC instant and the patient's time zone (zoneinfo) — never from the stored offset or
local_date — with the host in UTC, for patients in Auckland (UTC+13) and Los Angeles (across the end
of daylight saving time) as well as Paris. SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from db.models import Connection, Exercise, HeartRateSample, Patient, SleepSession
from tests.charts.conftest import FIRST, LAST, TZ

HEADER = "patient,vendor,date,wear_minutes,valid"


def wall(code: str, ts: dt.datetime) -> dt.datetime:
    return ts.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(TZ[code])).replace(tzinfo=None)


def expected_csv(db, start: dt.date, end: dt.date, threshold: int = 600,  # type: ignore[no-untyped-def]
                 vendor: str | None = None, patient: str | None = None) -> str:
    with db.session() as s:
        enrolled = s.execute(sa.select(Patient.id, Patient.code, Connection.vendor)
                             .join(Connection, Connection.patient_id == Patient.id)).all()
        hr = s.execute(sa.select(HeartRateSample.patient_id, HeartRateSample.ts_utc)
                       .where(HeartRateSample.vendor == "fitbit")).all()
        nights = s.execute(sa.select(SleepSession.patient_id, SleepSession.start_utc, SleepSession.end_utc)
                           .where(SleepSession.vendor == "withings")).all()
        ex = s.execute(sa.select(Exercise.patient_id, Exercise.start_utc, Exercise.end_utc)
                       .where(Exercise.vendor == "polar")).all()
    code_of = {pid: code for pid, code, _ in enrolled}
    minutes: dict[tuple[str, dt.date], set[dt.datetime]] = defaultdict(set)
    for pid, ts in hr:
        local = wall(code_of[pid], ts)
        minutes[(code_of[pid], local.date())].add(local.replace(second=0, microsecond=0))
    sleep_s: dict[tuple[str, dt.date], int] = {}
    for pid, a, b in nights:  # a night belongs to the day it ends
        key = (code_of[pid], wall(code_of[pid], b).date())
        sleep_s[key] = sleep_s.get(key, 0) + int((b - a).total_seconds())
    ex_s: dict[tuple[str, dt.date], int] = defaultdict(int)
    for pid, a, b in ex:
        ex_s[(code_of[pid], wall(code_of[pid], a).date())] += int((b - a).total_seconds())
    lines = [HEADER]
    order = {"fitbit": 0, "withings": 1, "polar": 2}
    for _pid, code, v in sorted(enrolled, key=lambda r: (r[1], order[r[2]])):
        if (vendor and v != vendor) or (patient and code != patient):
            continue
        day = start
        while day <= end:
            key = (code, day)
            if v == "fitbit":
                m = len(minutes.get(key, ()))
                ok = m >= threshold
            elif v == "withings":
                m, ok = sleep_s.get(key, 0) // 60, key in sleep_s
            else:
                m = ex_s.get(key, 0) // 60
                ok = m > 0
            lines.append(f"{code},{v},{day.isoformat()},{m},{int(ok)}")
            day += dt.timedelta(days=1)
    return "\n".join(lines) + "\n"


@pytest.fixture
def cli(charted, run_cli):  # type: ignore[no-untyped-def]
    def run(*args: str):  # type: ignore[no-untyped-def]
        return run_cli(*args, env={"WEARSYNC_DATABASE_URL": charted.url, "TZ": "UTC",
                                   "WEARSYNC_HOME": os.environ["WEARSYNC_HOME"]})
    return run


def test_compliance_csv_matches_wear_computed_from_samples(cli, db) -> None:  # type: ignore[no-untyped-def]
    start, end = FIRST - dt.timedelta(days=1), LAST + dt.timedelta(days=1)  # empty edge days: zero rows
    r = cli("compliance", "--start", str(start), "--end", str(end), "--csv")
    assert r.returncode == 0, r.stderr
    want = expected_csv(db, start, end)
    assert r.stdout == want
    rows = [line.split(",") for line in want.splitlines()[1:]]
    assert len(rows) == 6 * ((end - start).days + 1)  # 3 patients x 2 device types x days
    # the fixture must exercise every branch: valid and invalid Fitbit days, nights, exercise days
    fitbit = [int(m) for p, v, _d, m, _ok in rows if v == "fitbit"]
    assert max(fitbit) >= 600 and 0 < min(m for m in fitbit if m) < 600 and 0 in fitbit
    assert {ok for p, v, _d, _m, ok in rows if v == "withings"} == {"0", "1"}
    assert {ok for p, v, _d, _m, ok in rows if v == "polar"} == {"0", "1"}
    # the Los Angeles day with 25 hours (end of daylight saving time) still counts at most 1,440 minutes
    assert any(p == "C-LA" and d == "2026-11-01" for p, v, d, _m, _ok in rows)


def test_compliance_filters_and_threshold(cli, db, charted) -> None:  # type: ignore[no-untyped-def]
    r = cli("compliance", "--start", str(FIRST), "--end", str(LAST), "--csv", "--vendor", "fitbit",
            "--patient", "C-AKL")
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected_csv(db, FIRST, LAST, vendor="fitbit", patient="C-AKL")
    from services.settings import Settings

    try:
        for threshold in (1400, 400):  # 400: exactly the minutes of C-LA's 4 November, which is then valid
            Settings(db).set("valid_day_minutes", threshold)
            r = cli("compliance", "--start", str(FIRST), "--end", str(LAST), "--csv", "--vendor", "fitbit")
            assert r.stdout == expected_csv(db, FIRST, LAST, threshold=threshold, vendor="fitbit")
            assert r.stdout != expected_csv(db, FIRST, LAST, threshold=600, vendor="fitbit")
        assert "C-LA,fitbit,2026-11-04,400,1\n" in r.stdout
    finally:
        Settings(db).set("valid_day_minutes", 600)
    table = cli("compliance", "--start", str(FIRST), "--end", str(LAST))
    assert table.returncode == 0, table.stderr
    assert "Valid days, worst first:" in table.stdout and "C-AKL" in table.stdout
    assert not table.stdout.startswith(HEADER)


@pytest.mark.parametrize("args,words", [
    (("--start", "2026-11-05", "--end", "2026-11-01"), "before the start date"),
    (("--start", "2025-01-01", "--end", "2026-01-05"), "at most 366 days"),
    (("--start", "2026-11-01", "--end", "2026-11-05", "--patient", "NOBODY"), "no patient"),
    (("--start", "2026-11-01", "--end", "2026-11-05", "--vendor", "garmin"), "Unknown device type"),
    (("--start", "1 Nov", "--end", "2026-11-05"), "must be a date"),
])
def test_compliance_bad_input_is_one_sentence(run_cli, args, words) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("compliance", *args, "--csv")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith("wearsync:") and words in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_summary_sorts_worst_first(db) -> None:  # type: ignore[no-untyped-def]
    from services.data.compliance import ComplianceService
    from services.settings import Settings

    svc = ComplianceService(db, Settings(db))
    rows = svc.rows(FIRST, LAST)
    summary = svc.summary(rows)
    ratios = [c.valid_days / c.days for c in summary]
    assert ratios == sorted(ratios)
    for c in summary:
        assert c.days == (LAST - FIRST).days + 1
        assert c.valid_days == sum(r.valid for r in rows if (r.patient, r.vendor) == (c.patient, c.vendor))


def test_valid_day_minutes_setting_refuses_impossible_days(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    from services.errors import InvalidInput

    assert sqlite_app.settings.get("valid_day_minutes") == 600
    for bad in (0, 1441, -5):
        with pytest.raises(InvalidInput):
            sqlite_app.settings.set("valid_day_minutes", bad)
    assert sqlite_app.settings.get("valid_day_minutes") == 600
    sqlite_app.settings.set("valid_day_minutes", 1440)
    assert sqlite_app.compliance.threshold() == 1440
