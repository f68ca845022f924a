"""The CSV export, pinned (SQLite and MariaDB): every metric's full column list, Withings' deep / light /
REM minutes of known sandbox nights, and a Fitbit night that begins before local midnight dated by
its morning (DESIGN.md "External contract": the vendors date a night by the day it ends)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.data.export import METRICS, write_csv
from services.sandbox import SandboxServer
from services.sandbox.model import main_sleep

from .conftest import connect

# The whole header of each metric, in order. DESIGN.md fixes the leading columns; the rest are what
# scripts and the clinic's spreadsheets read today — a change here is a change of the contract.
COLUMNS = {
    "heart_rate": "timestamp,bpm,kind,date,local_time",
    "steps": "timestamp,steps,end,date,local_time,end_local",
    "resting_heart_rate": "date,bpm",
    "sleep": "start,end,minutes_asleep,minutes_awake,deep_minutes,light_minutes,rem_minutes,date,main_sleep,score,"
             "efficiency,hr_average,rr_average,snoring_s,apnea_hypopnea_index,wakeup_count,sleep_latency_s,hr_min,"
             "hr_max,rr_min,rr_max,snoring_episodes,external_id,time_in_bed_s,duration_to_sleep_s,"
             "duration_to_wakeup_s,wakeup_latency_s,waso_s,out_of_bed_count,rem_episodes,"
             "breathing_disturbances_intensity,start_local,end_local",
    "sleep_stages": "start,end,stage,date,start_local,end_local",
    "respiratory_rate": "timestamp,breaths_per_minute,date,local_time",
    "exercises": "start,end,sport,avg_hr,max_hr,calories,distance_m,date,device,external_id,sport_detail,"
                 "training_load,running_index,fat_percentage,carbohydrate_percentage,protein_percentage,"
                 "start_local,end_local",
    "snoring": "timestamp,value,date,local_time",
    "daily_activity": "date,steps,calories,active_minutes,active_duration_s,inactive_duration_s,active_calories,"
                      "daily_activity_pct,inactivity_alert_count,distance_from_steps_m",
    "body_measures": "timestamp,measure_type,value,date,local_time",
}
SOURCE = {"heart_rate": "fitbit", "steps": "fitbit", "resting_heart_rate": "fitbit", "sleep": "withings",
          "sleep_stages": "fitbit", "respiratory_rate": "withings", "exercises": "polar", "snoring": "withings",
          "daily_activity": "polar", "body_measures": "withings"}
PATIENT = {"fitbit": "P-F", "withings": "P-W", "polar": "P-P"}
START, END = dt.date(2026, 11, 19), dt.date(2026, 11, 21)

# Emil's Sleep Analyzer nights in the sandbox (seed 1): (deep, light, REM, asleep, awake) minutes,
# the sandbox's deepsleepduration / lightsleepduration / remsleepduration / total_sleep_time /
# wakeupduration seconds divided by 60.
EMIL_NIGHTS = {
    "2026-11-20": ("104", "186", "85", "375", "24"),
    "2026-11-21": ("79", "234", "119", "432", "29"),
}


def export(app: Any, vendor: str, patient: str, metric: str, start: dt.date, end: dt.date
           ) -> tuple[str, list[dict[str, str]]]:
    out = io.StringIO()
    write_csv(app.db, out, vendor, patient, metric, start, end)
    text = out.getvalue()
    return text.split("\n", 1)[0], list(csv.DictReader(io.StringIO(text)))


def test_every_metric_has_its_full_pinned_column_list(sapp: Any, srv: SandboxServer) -> None:
    assert set(COLUMNS) == set(METRICS)  # a new metric gets its columns pinned here too
    for vendor, user in (("fitbit", "anna"), ("withings", "emil"), ("polar", "hugo")):
        assert connect(sapp, srv, PATIENT[vendor], vendor, user).ok
    run = sapp.sync.sync_all(start=START, end=END)
    assert run.ok, [r.summary for r in run.results]
    for metric, header in COLUMNS.items():
        got, rows = export(sapp, SOURCE[metric], PATIENT[SOURCE[metric]], metric, START, END)
        assert got == header, metric
        assert rows, f"{metric}: the sandbox has data, so the export must too"
        assert all(None not in r and len(r) == header.count(",") + 1 for r in rows), metric
    # with no rows, the header alone
    assert export(sapp, "polar", "P-P", "sleep", START, END) == (COLUMNS["sleep"], [])


def test_withings_deep_light_and_rem_minutes_are_the_sandbox_nights(sapp: Any, srv: SandboxServer) -> None:
    assert connect(sapp, srv, "P-W", "withings", "emil").ok
    first, last = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
    assert sapp.sync.sync_connection(sapp.connections.connection_id("P-W", "withings"), first, last).ok
    _, rows = export(sapp, "withings", "P-W", "sleep", first, last)
    got = {r["date"]: (r["deep_minutes"], r["light_minutes"], r["rem_minutes"], r["minutes_asleep"],
                       r["minutes_awake"]) for r in rows}
    assert got == EMIL_NIGHTS


@pytest.mark.parametrize("user, tz, morning", [
    ("anna", "Europe/Berlin", dt.date(2026, 11, 20)),  # in bed 23:31 on the 19th, up 07:02 on the 20th
    # in bed 23:26 on the 19th, up 06:48 on the 20th — which is still the 19th in UTC
    ("kiri", "Pacific/Auckland", dt.date(2026, 11, 20)),
])
def test_a_fitbit_night_begun_before_midnight_belongs_to_its_morning(sapp: Any, srv: SandboxServer, user: str,
                                                                     tz: str, morning: dt.date) -> None:
    if srv.user("fitbit", user) is None:
        srv.add_user("fitbit", user, timezone=tz)
    night = main_sleep(1, user, tz, morning)
    bed, up = (dt.datetime.fromtimestamp(t, ZoneInfo(tz)) for t in (night.start, night.end))
    assert bed.date() == morning - dt.timedelta(days=1) and bed.hour >= 22 and up.date() == morning
    assert connect(sapp, srv, "P-N", "fitbit", user).ok
    cid = sapp.connections.connection_id("P-N", "fitbit")
    assert sapp.sync.sync_connection(cid, morning - dt.timedelta(days=1), morning).ok
    started = bed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    _, on_morning = export(sapp, "fitbit", "P-N", "sleep", morning, morning)
    assert [(r["start"], r["date"]) for r in on_morning if r["main_sleep"] == "true"] == [(started, str(morning))]
    [row] = [r for r in on_morning if r["start"] == started]
    assert (row["start_local"], row["end_local"]) == (bed.isoformat(), up.isoformat())  # evening before, morning
    _, stages = export(sapp, "fitbit", "P-N", "sleep_stages", morning, morning)
    assert stages[0]["start"] == started and {r["date"] for r in stages} == {str(morning)}
    _, evening = export(sapp, "fitbit", "P-N", "sleep", morning - dt.timedelta(days=1), morning - dt.timedelta(days=1))
    assert started not in {r["start"] for r in evening}
