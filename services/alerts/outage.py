"""Two alerts against a silent outage, kept apart from the other checks of services/alerts/service.py:

- data at risk: a connection whose vendor keeps only a few weeks of data (Polar: 30 days) has had
  nothing downloaded for `AT_RISK_AFTER_DAYS` (21): what is not fetched soon is lost for good;
- WearSync did not run: the run history (sync_runs) shows no download for `not_run_alert_days`
  (a setting, default 2) - the computer was off or WearSync closed. It is read after the first pass
  at start (the catch-up), so the new run closes the gap and the alert names it once.

Each returns plain findings; the alert service turns them into alerts, dedups and e-mails them.
Patients appear by their study code only.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import case, func, select

from db.engine import Database
from db.models import Connection, Coverage, Patient, SyncRun
from services.vendors import VENDOR_CLASSES
from services.vendors.times import local_today

DATA_AT_RISK = "data_at_risk"
WEARSYNC_NOT_RUN = "wearsync_not_run"
AT_RISK_AFTER_DAYS = 21
DONE = ("complete", "not_worn", "excluded")  # services/sync/store.py SETTLED
SYNCABLE = ("connected", "error")
# an outage is reported when the run that ended it is this recent (kept well inside the 60 days for
# which the digest remembers what it sent, so one outage is never e-mailed twice)
NOT_RUN_RECENT = dt.timedelta(days=30)


class Finding(NamedTuple):
    kind: str
    patient_code: str
    vendor: str
    subject_key: str
    message: str


def data_at_risk(db: Database, now_utc: dt.datetime) -> list[Finding]:
    """Connections of a vendor that keeps few days, not downloaded for AT_RISK_AFTER_DAYS or more."""
    short = {name: cls for name, cls in VENDOR_CLASSES.items() if cls.keeps_days is not None}
    if not short:
        return []
    with db.session() as s:
        conns = s.execute(
            select(Connection.id, Patient.code, Connection.vendor, Connection.connected_at, Connection.timezone)
            .join(Patient, Patient.id == Connection.patient_id)
            .where(Patient.deleted_at.is_(None), Connection.status.in_(SYNCABLE),
                   Connection.vendor.in_(list(short)))
            .order_by(Patient.code)).tuples().all()
        ids = [c[0] for c in conns]
        done_rows = func.sum(case((Coverage.status.in_(DONE), 1), else_=0))
        last_done: dict[int, dt.date] = {}
        if ids:
            per_day = (select(Coverage.connection_id, Coverage.local_date)
                       .where(Coverage.connection_id.in_(ids))
                       .group_by(Coverage.connection_id, Coverage.local_date)
                       .having(func.count() == done_rows).subquery())
            last_done = dict(s.execute(select(per_day.c.connection_id, func.max(per_day.c.local_date))
                                       .group_by(per_day.c.connection_id)).tuples().all())
    out: list[Finding] = []
    for conn_id, code, vendor, connected_at, tz in conns:
        cls = short[vendor]
        keeps = int(cls.keeps_days or 0)
        today = local_today(tz, now_utc)
        last = last_done.get(conn_id)
        if last is not None:
            since, idle = last, (today - last).days
        elif connected_at is not None:
            since, idle = local_today(tz, connected_at), (today - local_today(tz, connected_at)).days
        else:
            continue
        if idle < AT_RISK_AFTER_DAYS:
            continue
        left = keeps - idle
        urgency = (f"download it within {left} day{'s' if left != 1 else ''}" if left > 0
                   else "some of it is already lost: download it now")
        what = f"nothing downloaded after {since:%d %b %Y}" if last is not None else \
            f"nothing downloaded since the connection on {since:%d %b %Y}"
        out.append(Finding(
            DATA_AT_RISK, code, vendor, f"conn:{conn_id}",
            f"{code}, {cls.label}: {what} ({idle} days). {cls.label} keeps only the last {keeps} days, so its "
            f"data older than that is lost for good: {urgency} (Sync → Update now; check the connection "
            "if it keeps failing).",
        ))
    return out


def wearsync_not_run(db: Database, now_utc: dt.datetime, after_days: int, tz: dt.tzinfo | None) -> list[Finding]:
    """The latest stretch of at least `after_days` without any download, from the run history: the
    one that a run ended within NOT_RUN_RECENT, or the one still going on now."""
    limit = dt.timedelta(days=max(1, after_days))
    with db.session() as s:
        runs = s.execute(select(SyncRun.started_at, SyncRun.finished_at)
                         .where(SyncRun.started_at >= now_utc - NOT_RUN_RECENT - limit)
                         .order_by(SyncRun.started_at)).tuples().all()
        before = s.execute(select(SyncRun.started_at, SyncRun.finished_at)
                           .where(SyncRun.started_at < now_utc - NOT_RUN_RECENT - limit)
                           .order_by(SyncRun.started_at.desc()).limit(1)).tuples().first()
    spans = ([before] if before is not None else []) + list(runs)
    if not spans:
        return []  # never ran: a new installation, nothing was missed
    found: tuple[dt.datetime, dt.datetime, bool] | None = None  # (from, to, still going on)
    last_end: dt.datetime | None = None
    for started, finished in spans:
        if last_end is not None and started - last_end >= limit and now_utc - started <= NOT_RUN_RECENT:
            found = (last_end, started, False)
        end = max(started, finished or started)
        last_end = end if last_end is None else max(last_end, end)
    if last_end is not None and now_utc - last_end >= limit:
        found = (last_end, now_utc, True)
    if found is None:
        return []
    start, end, ongoing = found
    days = (end - start).days
    shown = [m.replace(tzinfo=dt.UTC).astimezone(tz) for m in (start, end)]
    if ongoing:
        message = (f"WearSync has not run its daily download for {days} days (the last one was on "
                   f"{shown[0]:%a %d %b %Y %H:%M}). Check that the computer is on and WearSync is running.")
    else:
        message = (f"WearSync did not run its daily download for {days} days (from {shown[0]:%a %d %b %Y %H:%M} "
                   f"to {shown[1]:%a %d %b %Y %H:%M}): the computer was off or WearSync was closed. The missed "
                   "days are being fetched; the Sync page shows any that need a Backfill.")
    return [Finding(WEARSYNC_NOT_RUN, "", "", f"off:{start:%Y-%m-%dT%H:%M:%S}", message)]
