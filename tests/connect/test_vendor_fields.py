"""Every field the vendors give is parsed and stored (issue 11): Withings' sleep summary (time in bed,
wake-up latency, WASO, out-of-bed count, REM episodes, breathing disturbances, ...), Polar's exercises
(training load, detailed sport, running index, fuel split) and daily activity — from documented sample
payloads (invented values), and through a sandbox sync, where a re-sync updates them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update

from db.models import DailyActivity, Exercise, SleepSession
from services.sandbox import SandboxServer
from services.sandbox.core import Request
from services.sandbox.model import polar_exercise, withings_night
from services.sandbox.polar import _activities, exercise_json
from services.sandbox.withings import _summary_data
from services.vendors.base import FetchContext
from services.vendors.polar import Polar, _exercise, iso_duration_s
from services.vendors.withings import SUMMARY_FIELDS, _summary

from .conftest import connect

D = dt.date(2026, 11, 20)
BOOKKEEPING = {"id", "patient_id", "vendor"}

# A getsummary series item shaped as Withings documents it (Sleep v2 - Getsummary); values invented.
WITHINGS_ITEM: dict[str, Any] = {
    "id": 2081804182, "timezone": "Europe/Paris", "model": 32, "model_id": 63,
    "startdate": 1763589600, "enddate": 1763619300, "date": "2026-11-20", "created": 1763619900,
    "modified": 1763619900,
    "data": {
        "total_sleep_time": 25200, "total_timeinbed": 29700, "deepsleepduration": 5400,
        "lightsleepduration": 12600, "remsleepduration": 7200, "wakeupduration": 2700, "wakeupcount": 2,
        "durationtosleep": 720, "durationtowakeup": 300, "sleep_latency": 660, "wakeup_latency": 360, "waso": 1380,
        "sleep_efficiency": 0.85, "hr_average": 58, "hr_min": 48, "hr_max": 75, "rr_average": 15, "rr_min": 12,
        "rr_max": 20, "breathing_disturbances_intensity": 7, "snoring": 300, "snoringepisodecount": 4,
        "sleep_score": 81, "apnea_hypopnea_index": 3.5, "out_of_bed_count": 1, "nb_rem_episodes": 4,
    },
}
WITHINGS_STORED = {  # column: the value stored from WITHINGS_ITEM, in the vendor's unit
    "time_in_bed_s": 29700, "duration_to_sleep_s": 720, "duration_to_wakeup_s": 300, "wakeup_latency_s": 360,
    "waso_s": 1380, "out_of_bed_count": 1, "rem_episodes": 4, "breathing_disturbances_intensity": 7.0,
    "sleep_latency_s": 660, "minutes_asleep": 420, "minutes_awake": 45, "deep_minutes": 90, "light_minutes": 210,
    "rem_minutes": 120, "wakeup_count": 2, "efficiency": 0.85, "score": 81, "hr_average": 58.0, "hr_min": 48.0,
    "hr_max": 75.0, "rr_average": 15.0, "rr_min": 12.0, "rr_max": 20.0, "snoring_s": 300, "snoring_episodes": 4,
    "apnea_hypopnea_index": 3.5, "external_id": "2081804182",
}
NEW_SLEEP = ("time_in_bed_s", "duration_to_sleep_s", "duration_to_wakeup_s", "wakeup_latency_s", "waso_s",
             "out_of_bed_count", "rem_episodes", "breathing_disturbances_intensity")

# GET /v3/exercises/{id} as AccessLink documents it (snake_case); values invented.
POLAR_EXERCISE: dict[str, Any] = {
    "id": "2AC312F", "upload_time": "2026-11-20T19:10:02Z", "polar_user": "https://www.polaraccesslink.com/v3/users/1",
    "device": "Polar H10", "device_id": "1111AAAA", "start_time": "2026-11-20T18:00:00",
    "start_time_utc_offset": 60, "duration": "PT45M30S", "calories": 530, "distance": 7600.25,
    "heart_rate": {"average": 129, "maximum": 167}, "training_load": 143.22, "sport": "RUNNING", "has_route": True,
    "detailed_sport_info": "RUNNING_ROAD", "fat_percentage": 60, "carbohydrate_percentage": 38,
    "protein_percentage": 2, "running_index": 51,
}
POLAR_STORED = {"sport": "RUNNING", "sport_detail": "RUNNING_ROAD", "training_load": 143.22, "running_index": 51,
                "fat_percentage": 60, "carbohydrate_percentage": 38, "protein_percentage": 2, "calories": 530,
                "distance_m": 7600.25, "avg_hr": 129, "max_hr": 167, "device": "Polar H10"}
# GET /v3/users/activities (beta), one day; values invented.
POLAR_DAY: dict[str, Any] = {
    "start_time": "2026-11-20T00:00:00", "end_time": "2026-11-20T23:59:59", "active_duration": "PT3H4M30S",
    "inactive_duration": "PT10H5M", "daily_activity": 82.5, "calories": 2240, "active_calories": 612,
    "steps": 11234, "inactivity_alert_count": 2, "distance_from_steps": 8425.5,
}
POLAR_DAY_STORED = {"local_date": D, "steps": 11234, "calories": 2240, "active_minutes": 184,
                    "active_duration_s": 11070, "inactive_duration_s": 36300, "active_calories": 612,
                    "daily_activity_pct": 82.5, "inactivity_alert_count": 2, "distance_from_steps_m": 8425.5}


def columns(model: Any) -> set[str]:
    return {c.key for c in model.__table__.columns} - BOOKKEEPING


def test_withings_summary_stores_every_documented_field() -> None:
    assert set(WITHINGS_ITEM["data"]) <= set(SUMMARY_FIELDS)  # each one is asked for in data_fields
    row = _summary(WITHINGS_ITEM, FetchContext(None))
    assert set(row) == columns(SleepSession)  # the parser fills every stored column
    assert {k: row[k] for k in WITHINGS_STORED} == WITHINGS_STORED
    # as strings too, and a field the mat left out that night stays empty (not zero)
    strings = {**WITHINGS_ITEM, "data": {k: str(v) for k, v in WITHINGS_ITEM["data"].items()
                                         if k not in ("waso", "out_of_bed_count")}}
    row = _summary(strings, FetchContext(None))
    assert (row["waso_s"], row["out_of_bed_count"], row["time_in_bed_s"]) == (None, None, 29700)
    # the older names alone: latency to sleep and to wake up still land in the latency columns
    old = {**WITHINGS_ITEM, "data": {"durationtosleep": 600, "durationtowakeup": 240}}
    row = _summary(old, FetchContext(None))
    assert (row["sleep_latency_s"], row["wakeup_latency_s"], row["duration_to_wakeup_s"]) == (600, 240, 240)
    assert all(row[c] is None for c in NEW_SLEEP if c not in ("duration_to_sleep_s", "duration_to_wakeup_s",
                                                              "wakeup_latency_s"))


def test_polar_exercise_and_daily_activity_store_every_documented_field() -> None:
    ex = _exercise(POLAR_EXERCISE)
    assert set(ex) == columns(Exercise)
    assert {k: ex[k] for k in POLAR_STORED} == POLAR_STORED
    assert ex["end_utc"] - ex["start_utc"] == dt.timedelta(minutes=45, seconds=30)  # the duration
    kebab = {"id": "X1", "start-time": "2026-11-20T18:00:00", "start-time-utc-offset": "60", "duration": "PT1M",
             "training-load": "98.5", "detailed-sport-info": "CYCLING_ROAD", "running-index": "47",
             "fat-percentage": "55", "carbohydrate-percentage": "43", "protein-percentage": "2"}
    ex = _exercise(kebab)
    assert (ex["training_load"], ex["sport_detail"], ex["running_index"], ex["fat_percentage"],
            ex["carbohydrate_percentage"], ex["protein_percentage"]) == (98.5, "CYCLING_ROAD", 47, 55, 43, 2)
    assert _exercise({**POLAR_EXERCISE, "training_load": None})["training_load"] is None

    class Api:
        def get(self, path: str, params: dict[str, str] | None = None) -> Any:
            assert path == "/v3/users/activities"
            return [POLAR_DAY, {"start_time": "2026-11-21T00:00:00", "steps": "12"}]

    days = Polar({})._activity(Api(), D, D + dt.timedelta(days=1)).daily_activity  # type: ignore[arg-type]
    assert set(days[0]) == columns(DailyActivity)
    assert days[0] == POLAR_DAY_STORED
    assert days[1]["steps"] == 12 and all(days[1][k] is None for k in POLAR_DAY_STORED if k not in ("local_date",
                                                                                                    "steps"))


def _sessions(app: Any) -> dict[dt.date, SleepSession]:
    with app.db.session() as s:
        return {r.local_date: r for r in s.scalars(select(SleepSession))}


def test_a_withings_sync_stores_them_and_a_resync_updates_them(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "W-F", "withings", "fatma").ok
    cid = lapp.connections.connection_id("W-F", "withings")
    start = D - dt.timedelta(days=6)
    assert lapp.sync.sync_connection(cid, start, D).ok

    def expected(day: dt.date) -> dict[str, Any]:
        data = _summary_data(withings_night(1, "fatma", "Europe/London", day))
        return {"time_in_bed_s": data["total_timeinbed"], "duration_to_sleep_s": data["durationtosleep"],
                "duration_to_wakeup_s": data["durationtowakeup"], "wakeup_latency_s": data["wakeup_latency"],
                "waso_s": data["waso"], "out_of_bed_count": data["out_of_bed_count"],
                "rem_episodes": data["nb_rem_episodes"],
                "breathing_disturbances_intensity": data["breathing_disturbances_intensity"]}

    def stored() -> dict[dt.date, dict[str, Any]]:
        return {day: {c: getattr(r, c) for c in NEW_SLEEP} for day, r in _sessions(lapp).items()}

    want = {start + dt.timedelta(days=i): expected(start + dt.timedelta(days=i)) for i in range(7)}
    assert stored() == want
    # plausible, not all zero: the sandbox shows them to its users
    assert all(v["time_in_bed_s"] > 4 * 3600 for v in want.values()) and any(v["rem_episodes"] for v in want.values())
    assert any(v["waso_s"] > 0 for v in want.values()) and any(v["out_of_bed_count"] for v in want.values())
    assert any(v["wakeup_latency_s"] > 0 for v in want.values())

    with lapp.db.session() as s:  # rows stored before these columns existed
        s.execute(update(SleepSession).values({c: None for c in NEW_SLEEP}))
    assert all(v is None for row in stored().values() for v in row.values())
    assert lapp.sync.sync_connection(cid, start, D, refetch=True).ok
    assert stored() == want


def test_a_polar_sync_stores_them_and_a_resync_updates_them(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "P-H", "polar", "hugo").ok
    cid = lapp.connections.connection_id("P-H", "polar")
    start = dt.date(2026, 11, 14)
    assert lapp.sync.sync_connection(cid, start, D).ok
    user = srv.user("polar", "hugo")
    assert user is not None
    sent_ex = {e.id: exercise_json(srv, user, e, False, False) for e in
               (polar_exercise(1, "hugo", "Europe/Helsinki", start + dt.timedelta(days=i)) for i in range(7))
               if e is not None}
    req = Request("polar", "GET", "/v3/users/activities", {"from": [start.isoformat()], "to": [D.isoformat()]},
                  {}, None, {})
    sent_days = {dt.date.fromisoformat(a["start_time"][:10]): a for a in json.loads(_activities(srv, req, user).body)}

    def stored() -> tuple[dict[str, tuple[Any, ...]], dict[dt.date, tuple[Any, ...]]]:
        with lapp.db.session() as s:
            exes = {e.external_id: (e.sport_detail, e.training_load, e.running_index, e.fat_percentage,
                                    e.carbohydrate_percentage, e.protein_percentage)
                    for e in s.scalars(select(Exercise))}
            acts = {a.local_date: (a.active_duration_s, a.inactive_duration_s, a.active_calories,
                                   a.daily_activity_pct, a.inactivity_alert_count, a.distance_from_steps_m)
                    for a in s.scalars(select(DailyActivity))}
        return exes, acts

    want_ex = {i: (e["detailed_sport_info"], e["training_load"], e.get("running_index"), e["fat_percentage"],
                   e["carbohydrate_percentage"], e["protein_percentage"]) for i, e in sent_ex.items()}
    want_days = {d: (iso_duration_s(a["active_duration"]), iso_duration_s(a["inactive_duration"]),
                     a["active_calories"], a["daily_activity"], a["inactivity_alert_count"], a["distance_from_steps"])
                 for d, a in sent_days.items()}
    assert want_ex and len(want_days) == 7
    assert stored() == (want_ex, want_days)
    assert all(w[1] > 0 and w[3] + w[4] + w[5] == 100 for w in want_ex.values())  # plausible sandbox values
    assert any(w[2] is not None for w in want_ex.values()) or all(e["sport"] != "RUNNING" for e in sent_ex.values())
    assert any(w[2] > 0 and w[5] > 0 for w in want_days.values())

    with lapp.db.session() as s:
        s.execute(update(Exercise).values(training_load=None, sport_detail=None, fat_percentage=None))
        s.execute(update(DailyActivity).values(active_duration_s=None, distance_from_steps_m=None))
    assert stored() != (want_ex, want_days)
    assert lapp.sync.sync_connection(cid, start, D, refetch=True).ok
    assert stored() == (want_ex, want_days)
