"""A realistic, invented WearSync database for tests: four patients (one soft-deleted), all three
vendors, every measurement table, devices with history, coverage, alerts and bookkeeping.

Written directly with db.upsert, so it needs nothing from the connectors. Times are relative to
`now` (naive UTC), so "days since the last sync" panels have something to show.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert as sa_insert

from db.engine import Database
from db.models import (
    AlertRecipient,
    AlertSent,
    AuditEntry,
    BodyMeasure,
    Connection,
    Coverage,
    DailyActivity,
    Device,
    DeviceSync,
    EnrolmentLink,
    Exercise,
    HeartRateSample,
    OAuthState,
    Patient,
    RegistrationKey,
    RespiratorySample,
    RestingHeartRate,
    Setting,
    SleepSession,
    SleepStage,
    SnoringSample,
    StepInterval,
    SyncRun,
    UndoAction,
    User,
)
from db.upsert import upsert
from services.clock import Clock

DAYS = 3
OFFSET = 3600  # the patients live at UTC+1


@dataclass(frozen=True)
class Population:
    now: dt.datetime
    active: tuple[str, ...]
    deleted: str
    # patient code -> vendors connected
    vendors: dict[str, tuple[str, ...]]


PATIENTS = (
    (1, "P001", ("fitbit", "withings"), None),
    (2, "P002", ("fitbit", "polar"), None),
    (3, "Zoë-03", ("withings",), None),  # non-ASCII on purpose
    (4, "P-DEL", ("fitbit", "polar", "withings"), "deleted"),
)


def _local(ts: dt.datetime) -> dt.date:
    return (ts + dt.timedelta(seconds=OFFSET)).date()


def _every(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> Iterator[dt.datetime]:
    t = start
    while t < end:
        yield t
        t += step


def populate(db: Database, now: dt.datetime | None = None, *, dense: bool = False) -> Population:
    """Fill every table. `dense` adds more samples (for chunking tests)."""
    now = (now or Clock.from_environ(os.environ).utcnow()).replace(second=0, microsecond=0)
    start = (now - dt.timedelta(days=DAYS)).replace(hour=0, minute=0)
    with db.session() as s:
        upsert(s, Patient, [
            {"id": pid, "code": code, "note": "invented test patient, naïve note", "created_at": start,
             "deleted_at": now - dt.timedelta(hours=2) if flag else None}
            for pid, code, _v, flag in PATIENTS], ["id"])
        conns, devices, syncs = [], [], []
        cid = did = 0
        status_for = {("Zoë-03", "withings"): "needs_reconsent", ("P002", "polar"): "error",
                      ("P-DEL", "fitbit"): "needs_reconsent", ("P-DEL", "polar"): "error"}
        for pid, code, vendors, _flag in PATIENTS:
            for v in vendors:
                cid += 1
                status = status_for.get((code, v), "connected")
                conns.append({
                    "id": cid, "patient_id": pid, "vendor": v, "status": status, "vendor_user_id": f"u{pid}{v}",
                    "token_ciphertext": bytes([pid, cid, 0, 255]) * 8, "token_expires_at": now + dt.timedelta(hours=3),
                    "scopes_granted": "activity heartrate sleep", "scopes_missing": "",
                    "timezone": "Europe/Paris", "last_error": "consent revoked" if status != "connected" else None,
                    "last_sync_at": now - dt.timedelta(hours=pid), "connected_at": start, "registered_at": None,
                    "created_at": start, "updated_at": now,
                })
                did += 1
                last = now - dt.timedelta(days=pid - 1, hours=1)  # P001 synced today, Zoë-03 two days ago
                devices.append({
                    "id": did, "patient_id": pid, "vendor": v, "external_id": f"dev-{pid}-{v}",
                    "device_type": {"fitbit": "TRACKER", "withings": "Sleep Monitor", "polar": "H10"}[v],
                    "model": {"fitbit": "Charge 6", "withings": "Sleep Analyzer", "polar": "H10"}[v],
                    "first_seen_utc": start, "last_seen_utc": last, "last_sync_utc": last,
                    "battery_level": 40 + pid, "battery_status": "ok", "retired_at": None,
                })
                syncs += [{"device_id": did, "observed_utc": last + dt.timedelta(minutes=5),
                           "last_sync_utc": last - dt.timedelta(days=k), "battery_level": 50 - k} for k in range(3)]
        # P001 swapped watches: the retired one synced long ago and must not count
        did += 1
        devices.append({"id": did, "patient_id": 1, "vendor": "fitbit", "external_id": "dev-1-old", "device_type":
                        "TRACKER", "model": "Charge 5", "first_seen_utc": start - dt.timedelta(days=60),
                        "last_seen_utc": start - dt.timedelta(days=30), "last_sync_utc": start - dt.timedelta(days=30),
                        "battery_level": None, "battery_status": None, "retired_at": start - dt.timedelta(days=30)})
        upsert(s, Connection, conns, ["id"])
        upsert(s, Device, devices, ["id"])
        upsert(s, DeviceSync, syncs, ["device_id", "last_sync_utc"])

        for pid, _code, vendors, _flag in PATIENTS:
            _measurements(s, pid, vendors, start, now, dense)
        _bookkeeping(s, conns, start, now)
    return Population(now=now, active=tuple(c for _i, c, _v, f in PATIENTS if not f),
                      deleted="P-DEL", vendors={c: v for _i, c, v, _f in PATIENTS})


def _measurements(s: Any, pid: int, vendors: tuple[str, ...], start: dt.datetime, now: dt.datetime,
                  dense: bool) -> None:
    base = {"patient_id": pid, "utc_offset_s": OFFSET}
    step = dt.timedelta(minutes=2 if dense else 10)
    if "fitbit" in vendors:
        upsert(s, HeartRateSample, [
            {**base, "vendor": "fitbit", "kind": "sample", "ts_utc": t, "local_date": _local(t),
             "bpm": 55 + (t.hour * 7 + t.minute) % 40}
            for t in _every(start, now, step)], ["patient_id", "vendor", "kind", "ts_utc"])
        upsert(s, StepInterval, [
            {**base, "vendor": "fitbit", "start_utc": t, "end_utc": t + dt.timedelta(minutes=15),
             "local_date": _local(t), "steps": 0 if t.hour < 6 else (t.minute + 3 * t.hour) * 4}
            for t in _every(start, now, dt.timedelta(minutes=15))], ["patient_id", "vendor", "start_utc"])
        upsert(s, RestingHeartRate, [
            {"patient_id": pid, "vendor": "fitbit", "local_date": start.date() + dt.timedelta(days=d), "bpm": 58 + d}
            for d in range(DAYS)], ["patient_id", "vendor", "local_date"])
        upsert(s, DailyActivity, [
            {"patient_id": pid, "vendor": "fitbit", "local_date": start.date() + dt.timedelta(days=d),
             "steps": 8000 + d * 321, "calories": 2100, "active_minutes": 45}
            for d in range(DAYS)], ["patient_id", "vendor", "local_date"])
    for vendor in ("fitbit", "withings"):
        if vendor in vendors:
            _nights(s, pid, vendor, start, now)
    if "withings" in vendors:
        for night in range(DAYS):
            begin = start + dt.timedelta(days=night, hours=-2)
            upsert(s, RespiratorySample, [
                {**base, "vendor": "withings", "ts_utc": t, "local_date": _local(begin + dt.timedelta(hours=8)),
                 "breaths_per_minute": 13.5 + (t.minute % 7) / 3}
                for t in _every(begin, begin + dt.timedelta(hours=8), dt.timedelta(minutes=5))],
                ["patient_id", "vendor", "ts_utc"])
            upsert(s, SnoringSample, [
                {**base, "vendor": "withings", "ts_utc": t, "local_date": _local(begin + dt.timedelta(hours=8)),
                 "value": float(t.minute % 3)}
                for t in _every(begin, begin + dt.timedelta(hours=8), dt.timedelta(minutes=15))],
                ["patient_id", "vendor", "ts_utc"])
        upsert(s, BodyMeasure, [
            {**base, "vendor": "withings", "ts_utc": start + dt.timedelta(hours=7), "local_date": start.date(),
             "measure_type": 1, "value": 72.123456789}], ["patient_id", "vendor", "ts_utc", "measure_type"])
    if "polar" in vendors:
        ex_start = now - dt.timedelta(days=1, hours=3)
        ex_end = ex_start + dt.timedelta(minutes=30)
        upsert(s, Exercise, [
            {**base, "vendor": "polar", "external_id": f"ex-{pid}", "start_utc": ex_start, "end_utc": ex_end,
             "local_date": _local(ex_start), "sport": "RUNNING", "avg_hr": 142, "max_hr": 171, "calories": 350,
             "distance_m": 5012.345678, "device": "Polar H10", "sport_detail": "RUNNING_ROAD",
             "training_load": 143.2234567, "running_index": 51, "fat_percentage": 60, "carbohydrate_percentage": 38,
             "protein_percentage": 2}], ["patient_id", "vendor", "start_utc"])
        upsert(s, HeartRateSample, [
            {**base, "vendor": "polar", "kind": "exercise", "ts_utc": t, "local_date": _local(t),
             "bpm": 120 + (t.minute * 3 + t.second) % 50}
            for t in _every(ex_start, ex_end, dt.timedelta(seconds=5))], ["patient_id", "vendor", "kind", "ts_utc"])


def _nights(s: Any, pid: int, vendor: str, start: dt.datetime, now: dt.datetime) -> None:
    cycle = ("light", "deep", "light", "rem", "wake") if vendor == "fitbit" else ("light", "deep", "rem", "light")
    for night in range(DAYS):
        begin = start + dt.timedelta(days=night, hours=-2, minutes=7 if vendor == "withings" else 0)
        end = begin + dt.timedelta(hours=8)
        if end > now:
            continue
        local = _local(end)
        upsert(s, SleepSession, [{
            "patient_id": pid, "vendor": vendor, "external_id": f"{vendor}-{pid}-{night}", "start_utc": begin,
            "end_utc": end, "utc_offset_s": OFFSET, "local_date": local, "is_main": True,
            "minutes_asleep": 440 - night, "minutes_awake": 40, "deep_minutes": 80, "light_minutes": 250,
            "rem_minutes": 110 - night, "wakeup_count": 3, "sleep_latency_s": 600, "efficiency": 0.917,
            "score": 80 + night if vendor == "fitbit" else 70 + night,
            "hr_average": 58.25, "hr_min": 49.0, "hr_max": 77.0,
            "rr_average": 14.1 if vendor == "withings" else None, "rr_min": 12.0, "rr_max": 17.5,
            "snoring_s": 900 if vendor == "withings" else None, "snoring_episodes": 4 if vendor == "withings" else None,
            "apnea_hypopnea_index": 2.5 if vendor == "withings" else None,
            **{k: (v if vendor == "withings" else None) for k, v in {
                "time_in_bed_s": 29700 + night, "duration_to_sleep_s": 720, "duration_to_wakeup_s": 300,
                "wakeup_latency_s": 360, "waso_s": 1380 - night, "out_of_bed_count": night % 2, "rem_episodes": 4,
                "breathing_disturbances_intensity": (7.123456789, 8.25, 0.1)[night]}.items()},
        }], ["patient_id", "vendor", "start_utc"])
        upsert(s, SleepStage, [
            {"patient_id": pid, "vendor": vendor, "start_utc": t, "end_utc": t + dt.timedelta(minutes=30),
             "utc_offset_s": OFFSET, "local_date": local, "stage": cycle[i % len(cycle)]}
            for i, t in enumerate(_every(begin, end, dt.timedelta(minutes=30)))],
            ["patient_id", "vendor", "start_utc"])


def _bookkeeping(s: Any, conns: list[dict[str, Any]], start: dt.datetime, now: dt.datetime) -> None:
    statuses = ("complete", "complete", "partial", "missing", "not_worn", "failed")
    cov = []
    for c in conns:
        for d in range(DAYS + 1):
            day = start.date() + dt.timedelta(days=d)
            for k, data_type in enumerate(("heart_rate", "steps", "sleep")):
                cov.append({"connection_id": c["id"], "data_type": data_type, "local_date": day,
                            "status": statuses[(c["id"] + d + k) % len(statuses)], "rows": 100 * d,
                            "attempts": 1, "last_attempt_at": now, "error": None})
    upsert(s, Coverage, cov, ["connection_id", "data_type", "local_date"])
    upsert(s, Setting, [{"key": "alert_after_days", "value": "2"}, {"key": "sync_time", "value": "03:00"}], ["key"])
    upsert(s, SyncRun, [{"id": i + 1, "trigger": "schedule", "started_at": now - dt.timedelta(days=i, hours=1),
                         "finished_at": now - dt.timedelta(days=i), "status": "ok" if i else "partial",
                         "connections_total": 7, "connections_ok": 7 - (i == 0), "connections_failed": int(i == 0),
                         "rows_written": 1234 + i, "summary": "invented"} for i in range(3)], ["id"])
    upsert(s, AlertSent, [{"kind": "not_synced", "subject_key": "Zoë-03/withings", "day": now.date(),
                           "sent_at": now - dt.timedelta(hours=1)},
                          {"kind": "needs_reconsent", "subject_key": "P-DEL/fitbit", "day": now.date(),
                           "sent_at": now - dt.timedelta(hours=1)}], ["kind", "subject_key", "day"])
    upsert(s, AlertRecipient, [{"id": 1, "email": "coordinator@clinic.invalid", "added_at": start}], ["id"])
    upsert(s, User, [{"id": 1, "username": "coord", "password_hash": "$argon2id$invented", "role": "coordinator",
                      "created_at": start, "disabled": False, "failed_attempts": 0, "locked_until": None,
                      "last_login_at": now, "must_change_password": True}], ["id"])
    upsert(s, RegistrationKey, [{"id": 1, "key_hash": "h" * 64, "key_hint": "ab12", "role": "viewer",
                                 "created_by": "host", "created_at": start, "expires_at": now, "used_at": None,
                                 "used_by": None, "revoked_at": None}], ["id"])
    # the audit trail is append-only (the writer may only INSERT into it): a plain insert
    s.execute(sa_insert(AuditEntry), [
        {"id": i + 1, "at": start + dt.timedelta(minutes=i), "actor": "host", "source": "cli",
         "action": "patient.add", "target": code, "detail": "{\"quote\": \"it's\"}"}
        for i, code in enumerate(("P001", "P002", "Zoë-03"))])
    upsert(s, UndoAction, [{"id": 1, "kind": "delete", "payload": "{}", "description": "Delete P-DEL",
                            "actor": "host", "created_at": now, "undone_at": None}], ["id"])
    upsert(s, OAuthState, [{"state": "s" * 40, "patient_code": "P001", "vendor": "fitbit", "purpose": "connect",
                            "redirect_uri": "http://127.0.0.1:8765/oauth2_callback",
                            "verifier_ciphertext": b"\x00\x01\xfe", "created_at": now, "expires_at": now,
                            "used_at": None}], ["state"])
    upsert(s, EnrolmentLink, [{"token_hash": "t" * 64, "patient_code": "P002", "vendor": "polar",
                               "created_by": "host", "created_at": now, "expires_at": now, "used_at": None}],
           ["token_hash"])
