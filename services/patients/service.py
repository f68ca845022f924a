"""Patients: add, list, rename (for one device type or all), delete with undo.

The seed's rules: a patient ID is unique per device type and may be shared across device types
(the same person on Fitbit and Withings). Here a patient is one ID, holding at most one
connection per vendor; "change" moves one vendor's connection and data to another ID, "change all"
renames the ID itself. A delete hides the patient at once and purges its data when the undo
window closes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import (
    MEASUREMENT_TABLES,
    Connection,
    Coverage,
    Device,
    Patient,
    UndoAction,
)
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.config import VENDOR_LABELS, VENDORS, check_vendor
from services.connect.oauth.states import void_pending
from services.errors import Conflict, InvalidInput, NotFound

MAX_CODE_LEN = 64
UNDO_WINDOW = dt.timedelta(hours=24)


# Pseudonymous codes only (DESIGN.md): nothing a query, a link or a file name could mistake for syntax.
CODE_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
CODE_RULE = "letters, digits, '-', '_' and '.' (1 to 64 characters, no spaces)"


def is_valid_code(code: str) -> bool:
    return CODE_PATTERN.fullmatch(code) is not None


def check_new_code(raw: str) -> str:
    """A patient ID about to be created or given by a rename: `validate_code`, and only the characters
    of CODE_RULE. Existing IDs outside that set can still be found, renamed and deleted."""
    code = validate_code(raw)
    if not is_valid_code(code):
        raise InvalidInput(f"A patient ID may contain only {CODE_RULE}, for example P-001.")
    return code


def validate_code(raw: str) -> str:
    """The patient ID as typed to find a patient (trimmed, not empty, not too long, no control
    characters), or InvalidInput saying what is wrong with it. New IDs: `check_new_code`."""
    if not isinstance(raw, str):
        raise InvalidInput("A patient ID must be text.")
    code = raw.strip()
    if not code:
        raise InvalidInput("Enter a patient ID (for example P-001).")
    if len(code) > MAX_CODE_LEN:
        raise InvalidInput(f"A patient ID can be at most {MAX_CODE_LEN} characters; this one has {len(code)}.")
    for ch in code:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            raise InvalidInput(
                "A patient ID cannot contain tabs, line breaks or invisible control characters."
            )
    return code


@dataclass(frozen=True)
class ConnectionInfo:
    vendor: str
    status: str
    last_sync_at: dt.datetime | None
    last_error: str | None
    scopes_missing: str


@dataclass(frozen=True)
class PatientInfo:
    code: str
    created_at: dt.datetime
    connections: list[ConnectionInfo] = field(default_factory=list)

    @property
    def vendors(self) -> list[str]:
        return [c.vendor for c in self.connections]


@dataclass(frozen=True)
class DeletionPreview:
    code: str
    vendors: list[str]
    rows_by_table: dict[str, int]

    @property
    def total_rows(self) -> int:
        return sum(self.rows_by_table.values())

    def describe(self) -> str:
        devices = ", ".join(VENDOR_LABELS[v] for v in self.vendors) or "no device"
        return (
            f"Patient {self.code} ({devices}) and {self.total_rows:,} downloaded data rows will be "
            f"deleted. You can undo this for {int(UNDO_WINDOW.total_seconds() // 3600)} hours."
        )


@dataclass(frozen=True)
class UndoInfo:
    id: int
    description: str
    created_at: dt.datetime
    kind: str = ""  # rename_all | move_vendor | delete


class PatientService:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self.clock = clock

    # ------------------------------------------------------------------ queries
    def list_patients(self) -> list[PatientInfo]:
        with self._db.session() as s:
            patients = s.scalars(
                select(Patient).where(Patient.deleted_at.is_(None)).order_by(Patient.code)
            ).all()
            conns = s.scalars(select(Connection).order_by(Connection.vendor)).all()
        by_patient: dict[int, list[ConnectionInfo]] = {}
        order = {v: i for i, v in enumerate(VENDORS)}
        for c in sorted(conns, key=lambda c: order.get(c.vendor, 99)):
            by_patient.setdefault(c.patient_id, []).append(
                ConnectionInfo(c.vendor, c.status, c.last_sync_at, c.last_error, c.scopes_missing)
            )
        return [PatientInfo(p.code, p.created_at, by_patient.get(p.id, [])) for p in patients]

    def get(self, code: str) -> PatientInfo:
        code = validate_code(code)
        for p in self.list_patients():
            if p.code == code:
                return p
        raise NotFound(f"There is no patient {code!r}.")

    def row_id(self, code: str) -> int:
        """The patient's row id: what Grafana's patient variable holds (never the ID text)."""
        code = validate_code(code)
        with self._db.session() as s:
            return self._require(s, code).id

    def codes_to_rename(self) -> list[str]:
        """Existing patient IDs with characters outside CODE_RULE (made before the rule): rename them."""
        with self._db.session() as s:
            codes = s.scalars(select(Patient.code).where(Patient.deleted_at.is_(None)).order_by(Patient.code)).all()
        return [c for c in codes if not is_valid_code(c)]

    def exists(self, code: str) -> bool:
        with self._db.session() as s:
            return self._find(s, code) is not None

    # ------------------------------------------------------------------ add
    def add(self, code: str, vendors: list[str] | None, actor: Actor) -> PatientInfo:
        actor.require("patients.edit")
        code = validate_code(code)
        if not is_valid_code(code) and not self.exists(code):
            check_new_code(code)  # a new patient: the rule applies; an older ID may still get a device
        wanted = [check_vendor(v) for v in (vendors or [])]
        if len(set(wanted)) != len(wanted):
            raise InvalidInput("Each device type can be chosen once.")
        with self._db.session() as s:
            self._purge_deleted_code(s, code)
            patient = self._find(s, code)
            if patient is None:
                patient = Patient(code=code, note="", created_at=self.clock.utcnow())
                s.add(patient)
                s.flush()
                created = True
            else:
                created = False
                if not wanted:
                    raise Conflict(f"Patient {code!r} already exists.")
            existing = {c.vendor for c in s.scalars(select(Connection).where(Connection.patient_id == patient.id))}
            for v in wanted:
                if v in existing:
                    raise Conflict(
                        f"Patient {code!r} already has a {VENDOR_LABELS[v]} device. A patient ID can be "
                        f"used once per device type; choose another ID or another device type."
                    )
                now = self.clock.utcnow()
                s.add(Connection(patient_id=patient.id, vendor=v, status="not_connected",
                                 created_at=now, updated_at=now))
        what = ", ".join(wanted) if wanted else "no device yet"
        self._audit.record(actor, "patient.add" if created else "patient.add_device", code, what)
        return self.get(code)

    def ensure(self, code: str, vendor: str, actor: Actor) -> None:
        """Make sure the patient and its connection row for `vendor` exist (used by connect)."""
        code = validate_code(code)
        vendor = check_vendor(vendor)
        with self._db.session() as s:
            p = self._find(s, code)
            if p is not None and s.scalar(
                select(Connection.id).where(Connection.patient_id == p.id, Connection.vendor == vendor)
            ):
                return
        self.add(code, [vendor], actor)

    # ------------------------------------------------------------------ rename
    def rename(self, old: str, new: str, actor: Actor, vendor: str | None = None) -> str:
        """Rename for all device types (vendor=None, the seed's "change all") or move one device type."""
        actor.require("patients.edit")
        old = validate_code(old)
        new = check_new_code(new)
        if old == new:
            raise InvalidInput("The new patient ID is the same as the old one.")
        if vendor is None:
            payload = self._rename_all(old, new)
            desc = f"Rename {old} → {new}"
        else:
            vendor = check_vendor(vendor)
            payload = self._move_vendor(old, new, vendor)
            desc = f"Move {VENDOR_LABELS[vendor]} of {old} → {new}"
        self._remember(payload, desc, actor)
        self._audit.record(actor, "patient.rename", old, f"{new} ({vendor or 'all devices'})")
        return desc

    def _rename_all(self, old: str, new: str) -> dict[str, Any]:
        with self._db.session() as s:
            self._purge_deleted_code(s, new)
            p = self._require(s, old)
            if self._find(s, new) is not None:
                raise Conflict(f"Patient ID {new!r} is already in use. Choose another ID.")
            p.code = new
            void_pending(s, p.id, None, self.clock.utcnow())  # links sent under the old ID must not connect anyone
        return {"kind": "rename_all", "old": old, "new": new}

    def _move_vendor(self, old: str, new: str, vendor: str) -> dict[str, Any]:
        with self._db.session() as s:
            self._purge_deleted_code(s, new)
            src = self._require(s, old)
            conn = s.scalar(select(Connection).where(Connection.patient_id == src.id, Connection.vendor == vendor))
            if conn is None:
                raise NotFound(f"Patient {old!r} has no {VENDOR_LABELS[vendor]} device to move.")
            dst = self._find(s, new)
            created_new = dst is None
            if dst is None:
                dst = Patient(code=new, note="", created_at=self.clock.utcnow())
                s.add(dst)
                s.flush()
            elif s.scalar(select(Connection.id).where(Connection.patient_id == dst.id, Connection.vendor == vendor)):
                raise Conflict(
                    f"Patient {new!r} already has a {VENDOR_LABELS[vendor]} device. Choose another ID."
                )
            self._move_rows(s, src.id, dst.id, vendor)
            void_pending(s, src.id, vendor, self.clock.utcnow())
            remaining = s.scalar(select(func.count()).select_from(Connection).where(Connection.patient_id == src.id))
            removed_old = False
            if not remaining:
                # an ID left with no device is an empty shell: drop it (undo recreates it)
                s.delete(src)
                removed_old = True
        return {"kind": "move_vendor", "old": old, "new": new, "vendor": vendor,
                "created_new": created_new, "removed_old": removed_old}

    @staticmethod
    def _move_rows(s: Session, src_id: int, dst_id: int, vendor: str) -> None:
        for model in (Connection, Device, *MEASUREMENT_TABLES):
            s.execute(
                update(model)
                .where(model.patient_id == src_id, model.vendor == vendor)
                .values(patient_id=dst_id)
            )

    # ------------------------------------------------------------------ delete
    def preview_delete(self, code: str) -> DeletionPreview:
        code = validate_code(code)
        with self._db.session() as s:
            p = self._require(s, code)
            counts = {}
            for model in (Device, *MEASUREMENT_TABLES):
                n = s.scalar(select(func.count()).select_from(model).where(model.patient_id == p.id))
                if n:
                    counts[model.__tablename__] = int(n)
            vendors = [c.vendor for c in s.scalars(select(Connection).where(Connection.patient_id == p.id))]
        return DeletionPreview(code, sorted(vendors, key=VENDORS.index), counts)

    def delete(self, code: str, actor: Actor) -> DeletionPreview:
        actor.require("patients.delete")
        preview = self.preview_delete(code)
        with self._db.session() as s:
            p = self._require(s, preview.code)
            p.deleted_at = self.clock.utcnow()
            pid = p.id
            # the patient's pending consent links die with it
            void_pending(s, pid, None, p.deleted_at)
        self._remember({"kind": "delete", "patient_id": pid, "code": preview.code},
                       f"Delete {preview.code}", actor)
        self._audit.record(actor, "patient.delete", preview.code, f"{preview.total_rows} rows")
        return preview

    def purge_deleted(self, now: dt.datetime | None = None) -> int:
        """Remove, with all their data, patients deleted longer ago than the undo window."""
        cutoff = (now or self.clock.utcnow()) - UNDO_WINDOW
        with self._db.session() as s:
            ids = list(s.scalars(select(Patient.id).where(Patient.deleted_at.is_not(None),
                                                          Patient.deleted_at < cutoff)))
            for pid in ids:
                self.erase(s, pid)
        return len(ids)

    @staticmethod
    def erase(s: Session, pid: int) -> None:
        """Remove a patient with all its data now, inside the caller's transaction (no undo).

        Used when the undo window closes, and for a consent withdrawal that deletes the data.
        """
        conn_ids = list(s.scalars(select(Connection.id).where(Connection.patient_id == pid)))
        if conn_ids:
            s.execute(delete(Coverage).where(Coverage.connection_id.in_(conn_ids)))
        for model in (*MEASUREMENT_TABLES, Device, Connection):
            s.execute(delete(model).where(model.patient_id == pid))
        s.execute(delete(Patient).where(Patient.id == pid))

    # ------------------------------------------------------------------ undo
    def undoable(self) -> list[UndoInfo]:
        since = self.clock.utcnow() - UNDO_WINDOW
        with self._db.session() as s:
            rows = s.scalars(
                select(UndoAction)
                .where(UndoAction.undone_at.is_(None), UndoAction.created_at >= since)
                .order_by(UndoAction.id.desc())
            ).all()
        return [UndoInfo(r.id, r.description, r.created_at, r.kind) for r in rows]

    def undo(self, actor: Actor, action_id: int | None = None) -> str:
        actor.require("patients.edit")
        todo = self.undoable()
        if not todo:
            raise NotFound("There is nothing to undo.")
        target = todo[0] if action_id is None else next((u for u in todo if u.id == action_id), None)
        if target is None:
            raise NotFound("That change can no longer be undone.")
        if action_id is not None and target.id != todo[0].id:
            raise InvalidInput("Undo the most recent change first.")
        with self._db.session() as s:
            row = s.get(UndoAction, target.id)
            assert row is not None
            payload = json.loads(row.payload)
            kind = payload["kind"]
            if kind == "rename_all":
                renamed = self._require(s, payload["new"])
                if self._find(s, payload["old"]) is not None:
                    raise Conflict(f"Patient ID {payload['old']!r} has been taken again; cannot undo.")
                renamed.code = payload["old"]
            elif kind == "move_vendor":
                self._undo_move(s, payload)
            elif kind == "delete":
                gone = s.get(Patient, payload["patient_id"])
                if gone is None:
                    raise NotFound("The deleted patient has already been purged; cannot undo.")
                if self._find(s, gone.code) is not None:
                    raise Conflict(f"Patient ID {gone.code!r} is in use again; cannot undo the delete.")
                gone.deleted_at = None
            row.undone_at = self.clock.utcnow()
        self._audit.record(actor, "patient.undo", "", target.description)
        return str(target.description)

    def _undo_move(self, s: Session, payload: dict[str, Any]) -> None:
        vendor = payload["vendor"]
        dst = self._require(s, payload["new"])
        src = self._find(s, payload["old"])
        if src is None:
            src = Patient(code=payload["old"], note="", created_at=self.clock.utcnow())
            s.add(src)
            s.flush()
        elif s.scalar(select(Connection.id).where(Connection.patient_id == src.id, Connection.vendor == vendor)):
            raise Conflict(f"Patient {payload['old']!r} has a {VENDOR_LABELS[vendor]} device again; cannot undo.")
        self._move_rows(s, dst.id, src.id, vendor)
        if payload["created_new"]:
            left = s.scalar(select(func.count()).select_from(Connection).where(Connection.patient_id == dst.id))
            if not left:
                s.delete(dst)

    def _remember(self, payload: dict[str, Any], description: str, actor: Actor) -> None:
        with self._db.session() as s:
            s.add(UndoAction(kind=payload["kind"], payload=json.dumps(payload), description=description,
                             actor=actor.username, created_at=self.clock.utcnow()))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _find(s: Session, code: str) -> Patient | None:
        return s.scalar(select(Patient).where(Patient.code == code, Patient.deleted_at.is_(None)))

    def _require(self, s: Session, code: str) -> Patient:
        p = self._find(s, code)
        if p is None:
            raise NotFound(f"There is no patient {code!r}.")
        return p

    def _purge_deleted_code(self, s: Session, code: str) -> None:
        """A deleted patient's ID is free again: re-using it ends that delete's undo."""
        for pid in s.scalars(select(Patient.id).where(Patient.code == code, Patient.deleted_at.is_not(None))):
            self.erase(s, pid)
