"""Store the sandbox's invented physiology (services/sandbox/model.py) for chart and compliance tests.

What a sync from the sandbox vendors would store, written straight with db.upsert so a test needs no
OAuth round trip: Fitbit heart rate (1-minute), steps, resting heart rate, sleep sessions and stages;
Withings nights with heart rate, breathing and snoring; Polar exercises with 1-second heart rate.
Each row carries the patient's own UTC offset at that instant (zoneinfo), as the vendors report it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from db.engine import Database
from db.models import (
    Connection,
    Exercise,
    HeartRateSample,
    Patient,
    RespiratorySample,
    RestingHeartRate,
    SleepSession,
    SleepStage,
    SnoringSample,
    StepInterval,
)
from db.upsert import upsert
from services.sandbox.model import (
    day_data,
    polar_exercise,
    sleeps_ending_on,
    utc_offset_seconds,
    withings_night,
)

SEED = 7
STAGE = {"AWAKE": "wake", "LIGHT": "light", "DEEP": "deep", "REM": "rem", "ASLEEP": "asleep",
         "RESTLESS": "restless"}


@dataclass(frozen=True)
class Enrolled:
    code: str
    tz: str
    vendors: tuple[str, ...]


def utc(epoch: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=epoch)


def _row(tz: str, epoch: int) -> dict[str, object]:
    off = utc_offset_seconds(tz, epoch)
    return {"utc_offset_s": off, "local_date": utc(epoch + off).date()}


def store(db: Database, patients: list[Enrolled], first: dt.date, last: dt.date, now: dt.datetime,
          wear_gaps: bool = True) -> None:
    """Every patient's data for local days first..last (sleep: the nights ending on those days)."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    with db.session() as s:
        for p in patients:
            existing = s.query(Patient).filter_by(code=p.code).one_or_none()
            if existing is None:
                existing = Patient(code=p.code, note="", created_at=now)
                s.add(existing)
                s.flush()
            pid = existing.id
            for v in p.vendors:
                if s.query(Connection).filter_by(patient_id=pid, vendor=v).one_or_none() is None:
                    s.add(Connection(patient_id=pid, vendor=v, status="connected", timezone=p.tz,
                                     created_at=now, updated_at=now))
            s.flush()
            for day in days:
                _store_day(s, pid, p, day, wear_gaps)


def _store_day(s: object, pid: int, p: Enrolled, day: dt.date, wear_gaps: bool) -> None:
    base = {"patient_id": pid}
    if "fitbit" in p.vendors:
        dd = day_data(SEED, p.code, p.tz, day, wear_gaps)
        upsert(s, HeartRateSample, [  # type: ignore[arg-type]
            {**base, "vendor": "fitbit", "kind": "sample", "ts_utc": utc(t), "bpm": bpm, **_row(p.tz, t)}
            for t, bpm in dd.hr], ["patient_id", "vendor", "kind", "ts_utc"])
        upsert(s, StepInterval, [  # type: ignore[arg-type]
            {**base, "vendor": "fitbit", "start_utc": utc(t), "end_utc": utc(t + 60), "steps": n, **_row(p.tz, t)}
            for t, n in dd.steps], ["patient_id", "vendor", "start_utc"])
        upsert(s, RestingHeartRate, [{**base, "vendor": "fitbit", "local_date": day, "bpm": dd.resting_hr}],  # type: ignore[arg-type]
               ["patient_id", "vendor", "local_date"])
        for sess in sleeps_ending_on(SEED, p.code, p.tz, day):
            _store_night(s, pid, "fitbit", p.tz, sess, None)
    if "withings" in p.vendors:
        night = withings_night(SEED, p.code, p.tz, day)
        _store_night(s, pid, "withings", p.tz, night.session, night.sleep_score)
        upsert(s, HeartRateSample, [  # type: ignore[arg-type]
            {**base, "vendor": "withings", "kind": "sleep", "ts_utc": utc(t), "bpm": bpm, **_row(p.tz, t)}
            for t, bpm in night.hr], ["patient_id", "vendor", "kind", "ts_utc"])
        upsert(s, RespiratorySample, [  # type: ignore[arg-type]
            {**base, "vendor": "withings", "ts_utc": utc(t), "breaths_per_minute": float(v), **_row(p.tz, t)}
            for t, v in night.rr], ["patient_id", "vendor", "ts_utc"])
        upsert(s, SnoringSample, [  # type: ignore[arg-type]
            {**base, "vendor": "withings", "ts_utc": utc(t), "value": float(v), **_row(p.tz, t)}
            for t, v in night.snoring], ["patient_id", "vendor", "ts_utc"])
    if "polar" in p.vendors:
        ex = polar_exercise(SEED, p.code, p.tz, day)
        if ex is not None:
            beats = [b for b in ex.hr_samples if b]
            upsert(s, Exercise, [{  # type: ignore[arg-type]
                **base, "vendor": "polar", "external_id": ex.id, "start_utc": utc(ex.start),
                "end_utc": utc(ex.end), "sport": ex.sport, "avg_hr": round(sum(beats) / len(beats)),
                "max_hr": max(beats), "calories": ex.calories, "distance_m": ex.distance, "device": "H10",
                **_row(p.tz, ex.start)}], ["patient_id", "vendor", "start_utc"])
            upsert(s, HeartRateSample, [  # type: ignore[arg-type]
                {**base, "vendor": "polar", "kind": "exercise", "ts_utc": utc(ex.start + i), "bpm": b,
                 **_row(p.tz, ex.start + i)}
                for i, b in enumerate(ex.hr_samples) if b], ["patient_id", "vendor", "kind", "ts_utc"])


def _store_night(s: object, pid: int, vendor: str, tz: str, sess: object, score: int | None) -> None:
    from services.sandbox.model import SleepSession as Sess

    assert isinstance(sess, Sess)
    off = utc_offset_seconds(tz, sess.end)
    by: dict[str, int] = {}
    for st in sess.stages:
        by[STAGE[st.kind]] = by.get(STAGE[st.kind], 0) + (st.end - st.start) // 60
    upsert(s, SleepSession, [{  # type: ignore[arg-type]
        "patient_id": pid, "vendor": vendor, "external_id": f"{vendor}-{sess.start}", "start_utc": utc(sess.start),
        "end_utc": utc(sess.end), "utc_offset_s": off, "local_date": sess.day, "is_main": not sess.nap,
        "minutes_asleep": sum(m for k, m in by.items() if k != "wake"), "minutes_awake": by.get("wake"),
        "deep_minutes": None if sess.classic else by.get("deep"), "light_minutes": None if sess.classic
        else by.get("light"), "rem_minutes": None if sess.classic else by.get("rem"), "score": score,
        "snoring_s": 600 if vendor == "withings" else None}], ["patient_id", "vendor", "start_utc"])
    upsert(s, SleepStage, [  # type: ignore[arg-type]
        {"patient_id": pid, "vendor": vendor, "start_utc": utc(st.start), "end_utc": utc(st.end),
         "utc_offset_s": utc_offset_seconds(tz, st.start), "local_date": sess.day, "stage": STAGE[st.kind]}
        for st in sess.stages], ["patient_id", "vendor", "start_utc"])
