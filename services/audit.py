"""The audit trail: who did what and when. Append-only — this module only inserts and reads."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select

from db.engine import Database, utcnow
from db.models import AuditEntry
from services.actor import Actor


@dataclass(frozen=True)
class AuditRecord:
    at: dt.datetime
    actor: str
    source: str
    action: str
    target: str
    detail: str


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, actor: Actor, action: str, target: str = "", detail: str = "") -> None:
        with self._db.session() as s:
            s.add(
                AuditEntry(
                    at=utcnow(),
                    actor=actor.username[:64],
                    source=actor.source[:8],
                    action=action[:48],
                    target=target[:255],
                    detail=detail,
                )
            )

    def entries(self, since: dt.date | None = None, limit: int | None = None) -> list[AuditRecord]:
        q = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        if since is not None:
            q = q.where(AuditEntry.at >= dt.datetime.combine(since, dt.time()))
        if limit is not None:
            q = q.limit(limit)
        with self._db.session() as s:
            return [
                AuditRecord(e.at, e.actor, e.source, e.action, e.target, e.detail) for e in s.scalars(q)
            ]

    def to_csv(self, since: dt.date | None = None) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["time_utc", "user", "source", "action", "target", "detail"])
        for e in self.entries(since):
            w.writerow([e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor, e.source, e.action, e.target, e.detail])
        return buf.getvalue()
