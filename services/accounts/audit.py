"""The audit trail: who did what and when. Append-only — this module only inserts and reads.

Append-only is enforced, not just promised: importing this module installs ORM guards so no
session can update or delete an AuditEntry (a unit-of-work change or a bulk `update()`/`delete()`
raises AuditTrailReadOnly), and migration 0002 adds database triggers that refuse UPDATE and
DELETE on `audit_log` for plain SQL too (see db/migrations/versions/0003_accounts.py).

Never put a password, key or token in `detail`; name what changed, not its value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session

from db.engine import Database
from db.models import AuditEntry
from services.accounts.actor import Actor
from services.clock import Clock
from services.csvtext import safe_text
from services.errors import PermissionDenied


class AuditTrailReadOnly(PermissionDenied):
    title = "The audit trail cannot be changed"


_READ_ONLY = "The audit trail is append-only: entries cannot be changed or deleted."


@event.listens_for(Session, "before_flush")
def _refuse_changed_entries(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEntry):
            raise AuditTrailReadOnly(_READ_ONLY)
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise AuditTrailReadOnly(_READ_ONLY)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(m.class_ is AuditEntry for m in state.all_mappers):
        raise AuditTrailReadOnly(_READ_ONLY)


@dataclass(frozen=True)
class AuditRecord:
    at: dt.datetime
    actor: str
    source: str
    action: str
    target: str
    detail: str


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self.clock = clock

    def record(self, actor: Actor, action: str, target: str = "", detail: str = "") -> None:
        with self._db.session() as s:
            self.record_in(s, actor, action, target, detail)

    def record_in(self, s: Session, actor: Actor, action: str, target: str = "", detail: str = "") -> None:
        """Record inside the caller's transaction, so the change and its audit entry commit together."""
        s.add(
            AuditEntry(
                at=self.clock.utcnow(),
                actor=actor.username[:64],
                source=actor.source[:8],
                action=action[:48],
                target=target[:255],
                detail=detail,
            )
        )

    def entries(
        self, since: dt.date | None = None, limit: int | None = None, *, actor: Actor | None = None
    ) -> list[AuditRecord]:
        """Oldest first. With `actor`, refused unless that role may read the audit trail."""
        if actor is not None:
            actor.require("audit")
        q = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        if since is not None:
            q = q.where(AuditEntry.at >= dt.datetime.combine(since, dt.time()))
        if limit is not None:
            q = q.limit(limit)
        with self._db.session() as s:
            return [
                AuditRecord(e.at, e.actor, e.source, e.action, e.target, e.detail) for e in s.scalars(q)
            ]

    def to_csv(self, since: dt.date | None = None, *, actor: Actor | None = None) -> str:
        entries = self.entries(since, actor=actor)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["time_utc", "user", "source", "action", "target", "detail"])
        for e in entries:
            w.writerow([e.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        *(safe_text(x) for x in (e.actor, e.source, e.action, e.target, e.detail))])
        return buf.getvalue()
