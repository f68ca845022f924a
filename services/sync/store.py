"""Writing what a sync downloaded: measurement rows, coverage, devices and sync runs.

One transaction per (connection, data type, chunk of days): the chunk's rows and its coverage
rows commit together, so an interrupted sync leaves whole days, and the next run starts from the
coverage record. Every write is an idempotent upsert keyed by the tables' unique constraints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import DeclarativeBase, Session

from db.engine import Database, retry_deadlocks
from db.models import (
    BodyMeasure,
    Connection,
    Coverage,
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
    SyncExclusion,
    SyncRun,
)
from db.upsert import upsert
from services.vendors.base import DataType, DeviceInfo, Record, Records

# Records attribute -> (model, unique key without patient_id/vendor)
TARGETS: dict[str, tuple[type[DeclarativeBase], tuple[str, ...]]] = {
    "heart_rate": (HeartRateSample, ("kind", "ts_utc")),
    "steps": (StepInterval, ("start_utc",)),
    "resting_heart_rate": (RestingHeartRate, ("local_date",)),
    "sleep_sessions": (SleepSession, ("start_utc",)),
    "sleep_stages": (SleepStage, ("start_utc",)),
    "respiratory": (RespiratorySample, ("ts_utc",)),
    "snoring": (SnoringSample, ("ts_utc",)),
    "exercises": (Exercise, ("start_utc",)),
    "daily_activity": (DailyActivity, ("local_date",)),
    "body_measures": (BodyMeasure, ("ts_utc", "measure_type")),
}


# a day that is settled: not fetched again (an excluded day was deleted on purpose and stays empty)
SETTLED = ("complete", "not_worn", "excluded")


@dataclass(frozen=True)
class DayStatus:
    day: dt.date
    status: str  # complete | partial | missing | not_worn | failed
    rows: int


def _dedupe(rows: Iterable[Record], key: tuple[str, ...]) -> list[Record]:
    # a row repeated within one statement would make SQLite's ON CONFLICT fail; keep the last one
    out: dict[tuple[Any, ...], Record] = {}
    for r in rows:
        out[tuple(r[k] for k in key)] = r
    return list(out.values())


class SyncStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ measurement chunk
    def write_chunk(self, connection_id: int, patient_id: int, vendor: str, data_type: str, records: Records,
                    days: list[DayStatus], now: dt.datetime) -> int:
        """Rows and coverage of one chunk in ONE transaction; returns the rows submitted. Days the
        coordinator excluded (services/data/deletion.py) keep no row and are marked "excluded"."""
        written = 0
        with self.db.session() as s:
            excluded = self._excluded(s, connection_id, data_type, days)
            if excluded:
                days = [DayStatus(d.day, "excluded", 0) if d.day in excluded else d for d in days]
            for attr, rows in records.items():
                if excluded:
                    rows = [r for r in rows if r.get("local_date") not in excluded]
                if not rows:
                    continue
                model, key = TARGETS[attr]
                full = [{**r, "patient_id": patient_id, "vendor": vendor} for r in rows]
                full = _dedupe(full, key)
                if attr == "sleep_stages":
                    self._drop_replaced_stages(s, patient_id, vendor, records.sleep_sessions, full)
                written += upsert(s, model, full, ("patient_id", "vendor", *key))
            self._coverage(s, connection_id, data_type, days, now, None)
        return written

    @staticmethod
    def _excluded(s: Session, connection_id: int, data_type: str, days: list[DayStatus]) -> set[dt.date]:
        if not days:
            return set()
        return set(s.scalars(select(SyncExclusion.local_date).where(
            SyncExclusion.connection_id == connection_id, SyncExclusion.data_type == data_type,
            SyncExclusion.local_date >= min(d.day for d in days),
            SyncExclusion.local_date <= max(d.day for d in days))))

    def mark_failed(self, connection_id: int, data_type: str, days: list[dt.date], error: str,
                    now: dt.datetime) -> None:
        with self.db.session() as s:
            self._coverage(s, connection_id, data_type, [DayStatus(d, "failed", 0) for d in days], now, error)

    @staticmethod
    def _drop_replaced_stages(s: Session, patient_id: int, vendor: str, sessions: list[Record],
                              stages: list[Record]) -> None:
        """A vendor may re-score a night: stages of a re-sent session that are not in the new set go."""
        keep = {r["start_utc"] for r in stages}
        for sess in sessions:
            old = s.scalars(select(SleepStage.start_utc).where(
                SleepStage.patient_id == patient_id, SleepStage.vendor == vendor,
                SleepStage.start_utc >= sess["start_utc"], SleepStage.start_utc < sess["end_utc"])).all()
            gone = [t for t in old if t not in keep]
            if gone:
                s.execute(delete(SleepStage).where(SleepStage.patient_id == patient_id, SleepStage.vendor == vendor,
                                                   SleepStage.start_utc.in_(gone)))

    @staticmethod
    def _coverage(s: Session, connection_id: int, data_type: str, days: list[DayStatus], now: dt.datetime,
                  error: str | None) -> None:
        if not days:
            return
        attempts = dict(s.execute(
            select(Coverage.local_date, Coverage.attempts).where(
                Coverage.connection_id == connection_id, Coverage.data_type == data_type,
                Coverage.local_date.in_([d.day for d in days]))
        ).tuples().all())
        rows = [{
            "connection_id": connection_id, "data_type": data_type, "local_date": d.day, "status": d.status,
            "rows": d.rows, "attempts": int(attempts.get(d.day, 0)) + 1, "last_attempt_at": now,
            "error": error[:1000] if error else None,
        } for d in days]
        upsert(s, Coverage, rows, ("connection_id", "data_type", "local_date"))

    # ------------------------------------------------------------------ planning
    def last_done_day(self, connection_id: int, types: list[DataType]) -> dt.date | None:
        """The latest day that is done (complete / not worn) for every one of `types`."""
        if not types:
            return None
        with self.db.session() as s:
            best: list[dt.date] = []
            for t in types:
                d = s.scalar(select(Coverage.local_date).where(
                    Coverage.connection_id == connection_id, Coverage.data_type == t.name,
                    Coverage.status.in_(SETTLED)).order_by(Coverage.local_date.desc()).limit(1))
                if d is None:
                    return None
                best.append(d)
        return min(best)

    def reserve_days(self, connection_id: int, days_by_type: dict[str, list[dt.date]], now: dt.datetime) -> None:
        """Enter days about to be fetched as "missing" where the ledger has no row for them yet; days
        an earlier download reserved and never fetched are reserved again by this one (their time is
        when it started: services/sync/interrupted.py tells what a download left undone by it).
        Concurrent downloads may deadlock on neighbouring ledger keys (MariaDB): the victim runs again."""
        retry_deadlocks(lambda: self._reserve_days(connection_id, days_by_type, now))

    def _reserve_days(self, connection_id: int, days_by_type: dict[str, list[dt.date]], now: dt.datetime) -> None:
        with self.db.session() as s:
            for data_type, wanted in days_by_type.items():
                if not wanted:
                    continue
                s.execute(update(Coverage).where(
                    Coverage.connection_id == connection_id, Coverage.data_type == data_type,
                    Coverage.local_date.in_(sorted(set(wanted))), Coverage.status == "missing",
                    Coverage.attempts == 0).values(last_attempt_at=now))
                have = set(s.scalars(select(Coverage.local_date).where(
                    Coverage.connection_id == connection_id, Coverage.data_type == data_type,
                    Coverage.local_date >= min(wanted), Coverage.local_date <= max(wanted))))
                s.add_all(Coverage(connection_id=connection_id, data_type=data_type, local_date=d, status="missing",
                                   rows=0, attempts=0, last_attempt_at=now, error=None)
                          for d in sorted(set(wanted) - have))

    def done_days(self, connection_id: int, data_type: str, start: dt.date, end: dt.date) -> set[dt.date]:
        """Days of `data_type` in start..end that are settled (complete / not worn): not fetched again."""
        with self.db.session() as s:
            return set(s.scalars(select(Coverage.local_date).where(
                Coverage.connection_id == connection_id, Coverage.data_type == data_type,
                Coverage.local_date >= start, Coverage.local_date <= end,
                Coverage.status.in_(SETTLED))))

    def registered_users(self, vendor: str) -> int:
        """Connections registered with the vendor (Polar's quota grows with them)."""
        from sqlalchemy import func

        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Connection).where(
                Connection.vendor == vendor, Connection.registered_at.is_not(None))) or 0)

    # ------------------------------------------------------------------ devices
    def write_devices(self, patient_id: int, vendor: str, devices: list[DeviceInfo], now: dt.datetime) -> None:
        """Upsert paired devices and their last-sync history; devices no longer paired are retired."""
        with self.db.session() as s:
            existing = {d.external_id: d for d in s.scalars(
                select(Device).where(Device.patient_id == patient_id, Device.vendor == vendor))}
            seen = set()
            for info in devices:
                seen.add(info.external_id)
                dev = existing.get(info.external_id)
                if dev is None:
                    dev = Device(patient_id=patient_id, vendor=vendor, external_id=info.external_id,
                                 first_seen_utc=now, last_seen_utc=now)
                    s.add(dev)
                dev.device_type = info.device_type[:32]
                dev.model = info.model[:128]
                dev.last_seen_utc = now
                dev.last_sync_utc = info.last_sync_utc
                dev.battery_level = info.battery_level
                dev.battery_status = info.battery_status
                dev.retired_at = None
                s.flush()
                if info.last_sync_utc is not None and s.scalar(select(DeviceSync.id).where(
                        DeviceSync.device_id == dev.id, DeviceSync.last_sync_utc == info.last_sync_utc)) is None:
                    s.add(DeviceSync(device_id=dev.id, observed_utc=now, last_sync_utc=info.last_sync_utc,
                                     battery_level=info.battery_level))
            for ext, dev in existing.items():
                if ext not in seen and dev.retired_at is None:
                    dev.retired_at = now  # swapped or unpaired: history stays, alerts look at the new one

    def device_last_sync(self, patient_id: int, vendor: str) -> dt.datetime | None:
        """Last sync of the device in use (retired devices do not count)."""
        with self.db.session() as s:
            return s.scalar(select(Device.last_sync_utc).where(
                Device.patient_id == patient_id, Device.vendor == vendor, Device.retired_at.is_(None),
                Device.last_sync_utc.is_not(None)).order_by(Device.last_sync_utc.desc()).limit(1))

    # ------------------------------------------------------------------ connection and runs
    def update_connection(self, connection_id: int, **values: Any) -> None:
        with self.db.session() as s:
            s.execute(update(Connection).where(Connection.id == connection_id).values(**values))

    def start_run(self, trigger: str, total: int, now: dt.datetime) -> int:
        with self.db.session() as s:
            run = SyncRun(trigger=trigger[:16], started_at=now, status="running", connections_total=total)
            s.add(run)
            s.flush()
            return int(run.id)

    def run_started_at(self, run_id: int) -> dt.datetime:
        with self.db.session() as s:
            started = s.scalar(select(SyncRun.started_at).where(SyncRun.id == run_id))
        if started is None:
            raise KeyError(run_id)
        return started

    def finish_run(self, run_id: int, *, status: str, ok: int, failed: int, rows: int, summary: str,
                   now: dt.datetime, total: int | None = None) -> None:
        """`total`: the connections the run meant to download (a cancelled run did not finish all)."""
        with self.db.session() as s:
            s.execute(update(SyncRun).where(SyncRun.id == run_id).values(
                finished_at=now, status=status, connections_total=max(total or 0, ok + failed), connections_ok=ok,
                connections_failed=failed,
                rows_written=rows, summary=summary[:20000]))

    def connections(self, vendor: str | None = None, patient: str | None = None,
                    statuses: tuple[str, ...] | None = None) -> list[tuple[int, str, str, str]]:
        """(connection id, patient code, vendor, status) of live patients, in a stable order."""
        from db.models import Patient

        q = (select(Connection.id, Patient.code, Connection.vendor, Connection.status)
             .join(Patient, and_(Patient.id == Connection.patient_id, Patient.deleted_at.is_(None))))
        if vendor:
            q = q.where(Connection.vendor == vendor)
        if patient:
            q = q.where(Patient.code == patient)
        if statuses:
            q = q.where(Connection.status.in_(statuses))
        with self.db.session() as s:
            return [(int(r[0]), r[1], r[2], r[3]) for r in s.execute(q.order_by(Patient.code, Connection.vendor))]
