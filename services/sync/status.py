"""Where each patient's data stands, in words a coordinator can act on (the Sync page reads this).

For every connection it tells apart three things that all look like "no data" in a chart:
- the device has not synced to the vendor (the device in use last synced N days ago): ask the patient;
- our download failed (the connection's last error, failed days in the coverage ledger): WearSync
  retries, or the coordinator fixes the cause (secrets, re-consent);
- data arrived but the device was not worn (coverage `not_worn`): nothing to fix.
Plus a strip of the last days (per day, the worst state of any data type) and the history of runs.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from db.engine import Database
from db.models import Connection, Coverage, Device, Patient, SyncRun

# how a day is drawn when its data types disagree: the most telling state wins
DAY_ORDER = ("failed", "missing", "partial", "not_worn", "complete", "excluded")
VERDICTS = ("needs_reconsent", "download_failed", "device_not_synced", "not_worn", "waiting", "inactive", "ok")


@dataclass(frozen=True)
class DayCell:
    day: dt.date
    status: str  # complete | partial | missing | not_worn | failed | none (never fetched)
    rows: int = 0
    error: str | None = None

    def describe(self) -> str:
        words = {
            "complete": f"{self.rows:,} rows downloaded",
            "partial": f"{self.rows:,} rows so far; the day is not over or the device has not synced all of it",
            "missing": "no data yet: the device has not synced this day to the vendor",
            "not_worn": "data checked: the device was not worn",
            "failed": f"download failed: {self.error or 'see the log'}",
            "none": "not downloaded",
            "excluded": "not downloaded on purpose: the data was deleted and this day excluded",
        }
        return f"{self.day:%a %d %b}: {words.get(self.status, self.status)}"


@dataclass(frozen=True)
class ConnectionState:
    connection_id: int
    patient_code: str
    vendor: str
    status: str  # the connection's status
    verdict: str  # one of VERDICTS
    headline: str  # a few words for the badge
    detail: str  # one plain sentence: what it means and what to do
    last_download: dt.datetime | None
    device_model: str | None
    device_last_sync: dt.datetime | None
    last_error: str | None
    cells: tuple[DayCell, ...]


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    connections_ok: int
    connections_failed: int
    rows_written: int
    summary: str
    connections_total: int = 0  # planned; more than ok + failed when the run was cancelled

    @property
    def problems(self) -> str:
        lines = [ln for ln in self.summary.splitlines() if "problems:" in ln or "re-consent" in ln
                 or "must connect" in ln]
        if self.status == "running" and self.finished_at is None:
            return "Still running, or stopped before it could finish (its days are fetched again)."
        if self.status == "interrupted" and self.summary:
            lines.insert(0, self.summary.splitlines()[0])  # what was cut short, and that it resumes
        return " · ".join(lines)


def _day_status(statuses: list[str]) -> str:
    for s in DAY_ORDER:
        if s in statuses:
            return s
    return "none"


def connection_states(db: Database, today: dt.date, *, days: int = 14, alert_after_days: int = 3,
                      now: dt.datetime) -> list[ConnectionState]:
    """Every connection of a live patient, with its verdict and its last `days` days (oldest first)."""
    first = today - dt.timedelta(days=days - 1)
    with db.session() as s:
        conns = s.execute(select(Connection, Patient.code).join(Patient, Patient.id == Connection.patient_id)
                          .where(Patient.deleted_at.is_(None)).order_by(Patient.code, Connection.vendor)
                          ).tuples().all()
        ids = [c.id for c, _ in conns]
        ledger = s.execute(select(Coverage.connection_id, Coverage.local_date, Coverage.status, Coverage.rows,
                                  Coverage.error)
                           .where(Coverage.connection_id.in_(ids), Coverage.local_date >= first,
                                  Coverage.local_date <= today)).tuples().all() if ids else []
        devices = s.scalars(select(Device).where(Device.retired_at.is_(None))).all()
        snapshot = [(c.id, c.patient_id, c.vendor, c.status, c.last_sync_at, c.last_error, code) for c, code in conns]
    per_day: dict[tuple[int, dt.date], list[tuple[str, int, str | None]]] = defaultdict(list)
    for cid, day, status, rows, error in ledger:
        per_day[(cid, day)].append((status, rows, error))
    in_use: dict[tuple[int, str], Device] = {}
    for d in devices:
        cur = in_use.get((d.patient_id, d.vendor))
        if cur is None or (d.last_seen_utc, d.id) > (cur.last_seen_utc, cur.id):
            in_use[(d.patient_id, d.vendor)] = d

    out = []
    for cid, pid, vendor, status, last_sync, last_error, code in snapshot:
        cells = []
        for i in range(days):
            day = first + dt.timedelta(days=i)
            entries = per_day.get((cid, day), [])
            st = _day_status([e[0] for e in entries])
            error = next((e[2] for e in entries if e[0] == "failed" and e[2]), None)
            cells.append(DayCell(day, st, sum(e[1] for e in entries), error))
        device = in_use.get((pid, vendor))
        verdict, headline, detail = _verdict(status, last_sync, last_error, device, cells, today, now,
                                             alert_after_days, vendor)
        out.append(ConnectionState(cid, code, vendor, status, verdict, headline, detail, last_sync,
                                   device.model if device else None, device.last_sync_utc if device else None,
                                   last_error, tuple(cells)))
    return out


def _verdict(status: str, last_sync: dt.datetime | None, last_error: str | None, device: Device | None,
             cells: list[DayCell], today: dt.date, now: dt.datetime, after_days: int,
             vendor: str) -> tuple[str, str, str]:
    label = {"fitbit": "Fitbit", "withings": "Withings", "polar": "Polar"}.get(vendor, vendor)
    if status == "needs_reconsent":
        return ("needs_reconsent", "Needs re-consent",
                f"The patient withdrew access to {label} or it expired. Reconnect them on the Patients page; "
                "nothing is downloaded until then.")
    if status in ("withdrawn", "not_connected"):
        text = "Withdrawn from the study." if status == "withdrawn" else f"{label} is not connected yet."
        return "inactive", "Not active", text
    failed = [c for c in cells if c.status == "failed"]
    if status == "error" or failed:
        why = last_error or next((c.error for c in reversed(failed) if c.error), None) or "see the log"
        days = f" on {len(failed)} day(s)" if failed else ""
        return ("download_failed", "Download failed",
                f"Our download from {label} failed{days}: {why.rstrip('.')}. WearSync tries again at the next run.")
    if device is not None and device.last_sync_utc is not None:
        age = now - device.last_sync_utc
        if age >= dt.timedelta(days=after_days):
            return ("device_not_synced", "Device not synced",
                    f"The {device.model or 'device'} has not synced to {label} for {age.days} days "
                    f"(last on {device.last_sync_utc:%d %b %H:%M} UTC). Ask the patient to open the {label} "
                    "app and sync it.")
    settled = [c for c in cells if c.day < today and c.status != "none"]
    recent = settled[-3:]
    if recent and recent[-1].status == "not_worn":
        worn_off = [c for c in recent if c.status == "not_worn"]
        return ("not_worn", "Not worn",
                f"Data arrived, but the device was not worn on {len(worn_off)} of the last {len(recent)} "
                f"day(s) ({', '.join(f'{c.day:%d %b}' for c in worn_off)}). Nothing is broken.")
    if last_sync is None:
        return "waiting", "Not downloaded yet", "Connected; the first download runs at the next update."
    return "ok", "Up to date", f"Downloads from {label} are working."


def recent_runs(db: Database, limit: int = 30) -> list[RunInfo]:
    with db.session() as s:
        rows = s.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)).all()
        return [RunInfo(r.id, r.trigger, r.started_at, r.finished_at, r.status, r.connections_ok,
                        r.connections_failed, r.rows_written, r.summary, r.connections_total) for r in rows]
