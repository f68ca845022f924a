"""Delete part of a patient's data — one device type, one metric, a range of patient-local days, or a mix —
with a preview of exactly what goes, an undo window like patient deletion (24 h, then purged), and an
audit entry (admin role).

The rows removed are kept, compressed, in `dataset_deletions` until the window closes, so an undo puts back
the same rows. The coverage ledger forgets the affected days of every data type that fills the deleted tables
(they become "not downloaded", so a later sync may fetch them again) — unless the coordinator asks that those
days are not downloaded again: then they are recorded in `sync_exclusions`, which the sync honours (it stores
nothing for an excluded day and marks the day "excluded"), and the Sync page shows.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import DeclarativeBase, Session

from db.engine import Database
from db.models import Connection, Coverage, DatasetDeletion, Patient, SyncExclusion
from db.upsert import upsert
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.config import VENDORS, check_vendor
from services.data.export import check_metric
from services.errors import InvalidInput, NotFound
from services.sync.store import TARGETS
from services.vendors.base import DataType

UNDO_WINDOW = dt.timedelta(hours=24)

# export metric -> the Records lists (tables) it covers; a night ("sleep") goes with its stages
METRIC_TABLES: dict[str, tuple[str, ...]] = {
    "heart_rate": ("heart_rate",), "steps": ("steps",), "resting_heart_rate": ("resting_heart_rate",),
    "sleep": ("sleep_sessions", "sleep_stages"), "sleep_stages": ("sleep_stages",),
    "respiratory_rate": ("respiratory",), "exercises": ("exercises",), "snoring": ("snoring",),
    "daily_activity": ("daily_activity",), "body_measures": ("body_measures",),
}


@dataclass(frozen=True)
class Selection:
    patient: str
    vendor: str | None = None
    metric: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def describe(self) -> str:
        what = self.metric.replace("_", " ") if self.metric else "all data"
        of = f" from {self.vendor}" if self.vendor else ""
        days = f", {self.start} to {self.end}" if self.start and self.end else ", every day"
        return f"{what}{of} of patient {self.patient}{days}"


@dataclass(frozen=True)
class Preview:
    selection: Selection
    rows: dict[str, int]  # table name -> rows that go
    days: list[dt.date]  # patient-local days that have any of them

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        if not self.total:
            return f"Nothing to delete: there is no {self.selection.describe()}."
        per = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in self.rows.items() if n)
        span = f"{len(self.days)} day{'s' if len(self.days) != 1 else ''}"
        return f"Deletes {self.total:,} rows ({per}) on {span}: {self.selection.describe()}."


@dataclass
class DeletionResult:
    id: int
    preview: Preview
    excluded_days: int = 0
    messages: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"Deleted {self.preview.total:,} rows: {self.preview.selection.describe()}."
        if self.excluded_days:
            text += f" Those {self.excluded_days} days will not be downloaded again."
        else:
            text += " A later download may fetch those days again."
        return text + f" You can undo this for {int(UNDO_WINDOW.total_seconds() // 3600)} hours."


@dataclass(frozen=True)
class UndoableDeletion:
    id: int
    description: str
    created_at: dt.datetime


def _encode(model: type[DeclarativeBase], rows: list[Any]) -> list[dict[str, Any]]:
    cols = [c for c in model.__table__.columns if c.name != "id"]
    out = []
    for r in rows:
        item = {}
        for c in cols:
            v = getattr(r, c.key)
            item[c.name] = v.isoformat() if isinstance(v, dt.date | dt.datetime) else v
        out.append(item)
    return out


def _decode(model: type[DeclarativeBase], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kinds = {c.name: type(c.type).__name__ for c in model.__table__.columns}
    out = []
    for item in items:
        row = {}
        for k, v in item.items():
            if v is not None and kinds.get(k) == "DateTime":
                v = dt.datetime.fromisoformat(v)
            elif v is not None and kinds.get(k) == "Date":
                v = dt.date.fromisoformat(v)
            row[k] = v
        out.append(row)
    return out


class DeletionService:
    def __init__(self, db: Database, audit: AuditLog, data_types: Callable[[str], tuple[DataType, ...]],
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        """`data_types(vendor)` names what each vendor downloads (VendorRegistry), to know which days of the
        coverage ledger a deletion makes "not downloaded"."""
        self.db = db
        self.audit = audit
        self.data_types = data_types
        # naive UTC now: the app's clock (the facade passes `app.clock.utcnow`)
        self.clock: Callable[[], dt.datetime] = clock or Clock().utcnow

    # ------------------------------------------------------------------ what goes
    def check(self, sel: Selection) -> Selection:
        code = sel.patient.strip()
        if not code:
            raise InvalidInput("Say which patient's data to delete.")
        vendor = check_vendor(sel.vendor) if sel.vendor else None
        metric = check_metric(sel.metric) if sel.metric else None
        if (sel.start is None) != (sel.end is None):
            raise InvalidInput("Give both the first and the last day, or neither (all days).")
        if sel.start and sel.end and sel.end < sel.start:
            raise InvalidInput(f"The last day {sel.end} is before the first day {sel.start}. Swap them.")
        return Selection(code, vendor, metric, sel.start, sel.end)

    def _pid(self, s: Session, code: str) -> int:
        pid = s.scalar(select(Patient.id).where(Patient.code == code, Patient.deleted_at.is_(None)))
        if pid is None:
            raise NotFound(f"There is no patient {code!r}.")
        return int(pid)

    def _targets(self, sel: Selection) -> list[str]:
        return list(METRIC_TABLES[sel.metric]) if sel.metric else list(TARGETS)

    def _where(self, model: Any, pid: int, sel: Selection) -> list[Any]:
        cond = [model.patient_id == pid]
        if sel.vendor:
            cond.append(model.vendor == sel.vendor)
        if sel.start and sel.end:
            cond += [model.local_date >= sel.start, model.local_date <= sel.end]
        return cond

    def preview(self, sel: Selection) -> Preview:
        sel = self.check(sel)
        from sqlalchemy import func

        counts: dict[str, int] = {}
        days: set[dt.date] = set()
        with self.db.session() as s:
            pid = self._pid(s, sel.patient)
            for attr in self._targets(sel):
                model: Any = TARGETS[attr][0]
                cond = self._where(model, pid, sel)
                counts[model.__tablename__] = int(s.scalar(select(func.count()).select_from(model).where(*cond)) or 0)
                days |= set(s.scalars(select(model.local_date).where(*cond).distinct()))
        return Preview(sel, counts, sorted(days))

    # ------------------------------------------------------------------ delete, undo, purge
    def delete(self, sel: Selection, actor: Actor, *, exclude: bool = False) -> DeletionResult:
        actor.require("patients.delete")
        sel = self.check(sel)
        now = self.clock()
        attrs = self._targets(sel)
        with self.db.session() as s:
            pid = self._pid(s, sel.patient)
            payload: dict[str, Any] = {"tables": {}, "coverage": [], "counts": {}}
            days: set[dt.date] = set()
            counts: dict[str, int] = {}
            for attr in attrs:
                model: Any = TARGETS[attr][0]
                cond = self._where(model, pid, sel)
                rows = list(s.scalars(select(model).where(*cond)))
                counts[model.__tablename__] = len(rows)
                if rows:
                    payload["tables"][attr] = _encode(model, rows)
                    days |= {r.local_date for r in rows}
                    s.execute(delete(model).where(*cond))
            if not sum(counts.values()):
                raise InvalidInput(Preview(sel, counts, []).describe())
            # the coverage ledger: the affected days of every data type filling these tables
            conns = s.execute(select(Connection.id, Connection.vendor).where(
                Connection.patient_id == pid, *([Connection.vendor == sel.vendor] if sel.vendor else []))).all()
            ledger_days = sorted(days) if not (sel.start and sel.end) else \
                [sel.start + dt.timedelta(days=i) for i in range((sel.end - sel.start).days + 1)]
            excluded = 0
            deletion = DatasetDeletion(
                patient_id=pid, selection=json.dumps({"vendor": sel.vendor, "metric": sel.metric,
                                                      "start": sel.start and sel.start.isoformat(),
                                                      "end": sel.end and sel.end.isoformat()}),
                counts=json.dumps(counts), payload=None, exclude=exclude, actor=actor.username[:64], created_at=now)
            s.add(deletion)
            s.flush()
            for cid, vendor in conns:
                types = [t.name for t in self.data_types(vendor) if set(t.fills()) & set(attrs)]
                if not types:
                    continue
                cov = list(s.scalars(select(Coverage).where(
                    Coverage.connection_id == cid, Coverage.data_type.in_(types),
                    Coverage.local_date.in_(ledger_days))))
                payload["coverage"] += [{"connection_id": cid, **_encode(Coverage, [c])[0]} for c in cov]
                s.execute(delete(Coverage).where(Coverage.connection_id == cid, Coverage.data_type.in_(types),
                                                 Coverage.local_date.in_(ledger_days)))
                if exclude:
                    rows_x = [{"connection_id": cid, "data_type": t, "local_date": d, "deletion_id": deletion.id,
                               "created_at": now} for t in types for d in ledger_days]
                    upsert(s, SyncExclusion, rows_x, ("connection_id", "data_type", "local_date"))
                    excluded = max(excluded, len(ledger_days))
            deletion.payload = zlib.compress(json.dumps(payload).encode("utf-8"), 6)
            preview = Preview(sel, counts, sorted(days))
            self.audit.record_in(s, actor, "data.delete", sel.patient,
                               f"{sel.describe()}: {preview.total} rows"
                               + (f"; {excluded} days excluded from download" if exclude else ""))
            return DeletionResult(int(deletion.id), preview, excluded)

    def last_undoable(self, now: dt.datetime | None = None) -> DatasetDeletion | None:
        since = (now or self.clock()) - UNDO_WINDOW
        with self.db.session() as s:
            return s.scalar(select(DatasetDeletion).where(
                DatasetDeletion.undone_at.is_(None), DatasetDeletion.purged_at.is_(None),
                DatasetDeletion.created_at > since).order_by(DatasetDeletion.id.desc()).limit(1))

    def undoable(self) -> UndoableDeletion | None:
        """The last deletion that can still be undone, in words (the window's Undo banner)."""
        row = self.last_undoable()
        if row is None:
            return None
        with self.db.session() as s:
            code = s.scalar(select(Patient.code).where(Patient.id == row.patient_id)) or "?"
        sel = json.loads(row.selection)
        desc = Selection(code, sel["vendor"], sel["metric"],
                         dt.date.fromisoformat(sel["start"]) if sel["start"] else None,
                         dt.date.fromisoformat(sel["end"]) if sel["end"] else None).describe()
        total = sum(int(n) for n in json.loads(row.counts).values())
        return UndoableDeletion(int(row.id), f"Deleted {total:,} rows: {desc}", row.created_at)

    def undo(self, actor: Actor, deletion_id: int | None = None) -> str:
        """Put back the rows of the last deletion (or `deletion_id`) inside the undo window."""
        actor.require("patients.delete")
        now = self.clock()
        with self.db.session() as s:
            q = select(DatasetDeletion).where(DatasetDeletion.undone_at.is_(None),
                                              DatasetDeletion.purged_at.is_(None))
            q = q.where(DatasetDeletion.id == deletion_id) if deletion_id else q.order_by(DatasetDeletion.id.desc())
            row = s.scalar(q.limit(1))
            if row is None or row.payload is None or row.created_at <= now - UNDO_WINDOW:
                raise InvalidInput("There is no data deletion to undo: the last one is older than "
                                   f"{int(UNDO_WINDOW.total_seconds() // 3600)} hours, or was undone already.")
            payload = json.loads(zlib.decompress(row.payload).decode("utf-8"))
            code = s.scalar(select(Patient.code).where(Patient.id == row.patient_id)) or "?"
            restored = 0
            for attr, items in payload["tables"].items():
                model, key = TARGETS[attr]
                rows = _decode(model, items)
                restored += upsert(s, model, rows, ("patient_id", "vendor", *key))
            s.execute(delete(SyncExclusion).where(SyncExclusion.deletion_id == row.id))
            if payload["coverage"]:
                upsert(s, Coverage, _decode(Coverage, payload["coverage"]),
                       ("connection_id", "data_type", "local_date"))
            row.undone_at = now
            row.payload = None
            sel = json.loads(row.selection)
            desc = Selection(code, sel["vendor"], sel["metric"],
                             dt.date.fromisoformat(sel["start"]) if sel["start"] else None,
                             dt.date.fromisoformat(sel["end"]) if sel["end"] else None).describe()
            self.audit.record_in(s, actor, "data.undo_delete", code, f"{desc}: {restored} rows restored")
            return f"Restored {restored:,} rows: {desc}."

    def purge(self, now: dt.datetime | None = None) -> int:
        """Forget the kept rows of deletions older than the undo window; returns how many were purged."""
        cutoff = (now or self.clock()) - UNDO_WINDOW
        with self.db.session() as s:
            old = list(s.scalars(select(DatasetDeletion).where(
                DatasetDeletion.purged_at.is_(None), DatasetDeletion.created_at <= cutoff)))
            for d in old:
                d.payload = None
                d.purged_at = now or self.clock()
            return len(old)


def vendors_offering(registry: Callable[[], Any]) -> Callable[[str], tuple[DataType, ...]]:
    """data_types(vendor) from the app's VendorRegistry, built only when a deletion needs it."""
    return lambda name: tuple(registry().get(name).data_types) if name in VENDORS else ()
