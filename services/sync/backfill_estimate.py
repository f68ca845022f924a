"""The estimate a backfill shows before it starts: which connections, how many days each still
lacks (days already complete are skipped, so a resumed backfill is estimated for what is left),
and the requests and time that costs under each vendor's quota; and a warning where a vendor no longer
keeps the first days asked for (Polar keeps 30 days)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import case, func, select

from db.engine import Database
from db.models import Connection, Coverage, Patient
from services.errors import InvalidInput
from services.sync.catchup import DONE, SYNCABLE
from services.sync.quota import Estimate, combine, requests_for, vendor_estimate
from services.vendors import VENDOR_CLASSES

MAX_RANGE_DAYS = 3 * 366


def estimate_range(db: Database, start: dt.date, end: dt.date, *, patient_codes: list[str] | None = None,
                   vendor: str | None = None, skip_done: bool = True) -> Estimate:
    """Estimate a backfill of patient-local days `start..end` (inclusive)."""
    if start > end:
        raise InvalidInput(f"The start date {start} is after the end date {end}; swap them.")
    span = (end - start).days + 1
    if span > MAX_RANGE_DAYS:
        raise InvalidInput(f"A backfill can cover at most {MAX_RANGE_DAYS} days at once; this range has {span}.")
    with db.session() as s:
        q = (select(Connection.id, Connection.vendor).join(Patient, Patient.id == Connection.patient_id)
             .where(Patient.deleted_at.is_(None), Connection.status.in_(SYNCABLE)))
        if patient_codes is not None:
            q = q.where(Patient.code.in_(patient_codes))
        if vendor is not None:
            q = q.where(Connection.vendor == vendor)
        conns = list(s.execute(q).tuples())
        polar_users = int(s.scalar(select(func.count()).select_from(Connection).where(
            Connection.vendor == "polar", Connection.status.in_(SYNCABLE),
            Connection.registered_at.is_not(None))) or 0)
        done_days: dict[int, int] = defaultdict(int)
        if skip_done and conns:
            done_rows = func.sum(case((Coverage.status.in_(DONE), 1), else_=0))
            per_day = (select(Coverage.connection_id, Coverage.local_date)
                       .where(Coverage.connection_id.in_([c for c, _ in conns]),
                              Coverage.local_date >= start, Coverage.local_date <= end)
                       .group_by(Coverage.connection_id, Coverage.local_date)
                       .having(func.count() == done_rows))
            for conn_id, _day in s.execute(per_day).tuples():
                done_days[conn_id] += 1
    per_vendor: dict[str, list[int]] = defaultdict(list)
    for conn_id, v in conns:
        per_vendor[v].append(requests_for(v, span - done_days[conn_id]))
    return combine([vendor_estimate(v, counts, users=max(polar_users, len(counts)) if v == "polar" else None)
                    for v, counts in per_vendor.items()])


def history_warnings(db: Database, start: dt.date, today: dt.date, *, patient_codes: list[str] | None = None,
                     vendor: str | None = None) -> list[str]:
    """Plain sentences for each chosen vendor that no longer keeps the range's first days."""
    with db.session() as s:
        q = (select(Connection.vendor).join(Patient, Patient.id == Connection.patient_id)
             .where(Patient.deleted_at.is_(None), Connection.status.in_(SYNCABLE)).distinct())
        if patient_codes is not None:
            q = q.where(Patient.code.in_(patient_codes))
        if vendor is not None:
            q = q.where(Connection.vendor == vendor)
        vendors = sorted(s.scalars(q))
    out = []
    for name in vendors:
        cls = VENDOR_CLASSES.get(name)
        if cls is None or cls.keeps_days is None:
            continue
        oldest = today - dt.timedelta(days=cls.keeps_days - 1)
        if start < oldest:
            out.append(f"{cls.label} keeps only the last {cls.keeps_days} days: the days before "
                       f"{oldest:%d %b %Y} cannot be downloaded from {cls.label} any more.")
    return out
