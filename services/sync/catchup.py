"""Which days each connection still needs, read from the coverage ledger rather than the timer.

After the machine slept, was switched off or the app was closed, the days to fetch are: every day
after the connection's last complete day up to today, plus any day in the look-back window that
is not yet done (partial, missing or failed: a watch that synced to the vendor two days late).
A day is done when the ledger holds rows for it and all of them are `complete` or `not_worn`.
A day a download reserved and never fetched ("missing", no attempt: the download was interrupted by a
shutdown or a crash) is fetched whatever its age within the cap, so an interrupted download resumes.
Because the plan comes from what is stored, running the catch-up twice fetches nothing twice.

The catch-up goes back at most `catchup_max_days` (a setting, default 31). Older days it did not
fetch are never skipped silently: `gaps_beyond()` finds them per connection, and the Sync page shows
each as a warning with a Backfill button (the scheduler also reports them after its pass).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select

from db.engine import Database
from db.models import Connection, Coverage, Patient
from services.settings import BY_KEY, Settings
from services.vendors import VENDOR_CLASSES
from services.vendors.times import local_today

DONE = ("complete", "not_worn", "excluded")  # services/sync/store.py SETTLED
SYNCABLE = ("connected", "error")  # an error may be transient; re-consent and withdrawal are not
# the default of the `catchup_max_days` setting: a longer gap is a backfill the coordinator starts
MAX_DAYS: int = BY_KEY["catchup_max_days"].default
GAP_HORIZON_DAYS = 3 * 366  # how far back a gap is looked for (the longest backfill, backfill_estimate.py)


def max_days_setting(settings: Settings) -> int:
    """The stored cap, or the default when the stored value is unusable (never below one day)."""
    try:
        return max(1, int(settings.get("catchup_max_days")))
    except (TypeError, ValueError):
        return MAX_DAYS

Plan = dict[int, list[dt.date]]


def missing_days(db: Database, today: dt.date, lookback_days: int, max_days: int = MAX_DAYS,
                 connection_ids: list[int] | None = None) -> Plan:
    """Days to fetch per connection id (only connections that have any), oldest first.

    `today` is included: its data is partial until the day ends, and the look-back re-fetches it.
    At most `max_days` days back from today are considered.
    """
    floor = today - dt.timedelta(days=max(1, max_days) - 1)
    recheck_from = max(floor, today - dt.timedelta(days=max(0, lookback_days)))
    with db.session() as s:
        q = (select(Connection.id, Connection.connected_at)
             .join(Patient, Patient.id == Connection.patient_id)
             .where(Patient.deleted_at.is_(None), Connection.status.in_(SYNCABLE)))
        if connection_ids is not None:
            q = q.where(Connection.id.in_(connection_ids))
        conns = list(s.execute(q.order_by(Connection.id)).tuples())
        if not conns:
            return {}
        done_rows = func.sum(case((Coverage.status.in_(DONE), 1), else_=0))
        reserved_rows = func.sum(case((and_(Coverage.status == "missing", Coverage.attempts == 0), 1), else_=0))
        ledger = s.execute(
            select(Coverage.connection_id, Coverage.local_date, func.count(), done_rows, reserved_rows)
            .where(Coverage.local_date >= floor, Coverage.local_date <= today,
                   Coverage.connection_id.in_([c for c, _ in conns]))
            .group_by(Coverage.connection_id, Coverage.local_date)
        ).tuples()
        done: dict[int, set[dt.date]] = defaultdict(set)
        tried: dict[int, set[dt.date]] = defaultdict(set)  # days with ledger rows, done or not
        reserved: dict[int, set[dt.date]] = defaultdict(set)  # reserved by a download that was cut short
        for conn_id, day, n, n_done, n_reserved in ledger:
            tried[conn_id].add(day)
            if int(n_reserved or 0):
                reserved[conn_id].add(day)
            if n and int(n_done or 0) == int(n):
                done[conn_id].add(day)
        # a connection last complete before the window: every day in the window is after it
        earlier: dict[int, dt.date] = dict(s.execute(
            select(Coverage.connection_id, func.max(Coverage.local_date))
            .where(Coverage.local_date < floor, Coverage.status.in_(DONE),
                   Coverage.connection_id.in_([c for c, _ in conns]))
            .group_by(Coverage.connection_id)
        ).tuples().all())

    plan: Plan = {}
    for conn_id, connected_at in conns:
        start = floor
        if connected_at is not None:
            # a day before the consent holds nothing to fetch (a backfill asks for history);
            # one day of slack because connected_at is UTC and the ledger is patient-local
            start = max(start, connected_at.date() - dt.timedelta(days=1))
        days_done = done.get(conn_id, set())
        last_done = max(days_done) if days_done else earlier.get(conn_id)
        # a day before the consent that a backfill tried and did not finish is retried in the look-back
        cut_short = reserved.get(conn_id, set())
        retry = sorted(d for d in tried.get(conn_id, set()) - days_done
                       if (recheck_from <= d or d in cut_short) and d < start)
        days = list(retry)
        day = start
        while day <= today:
            after_last = last_done is None or day > last_done
            if day not in days_done and (day >= recheck_from or (after_last and last_done is not None)
                                         or day in cut_short):
                days.append(day)
            day += dt.timedelta(days=1)
        if days:
            plan[conn_id] = days
    return plan


def group_by_days(plan: Plan) -> list[tuple[list[dt.date], list[int]]]:
    """Connections needing the same days, together: one sync call per group, oldest days first."""
    groups: dict[tuple[dt.date, ...], list[int]] = defaultdict(list)
    for conn_id, days in plan.items():
        groups[tuple(days)].append(conn_id)
    return [(list(days), sorted(ids)) for days, ids in sorted(groups.items())]


@dataclass(frozen=True)
class Gap:
    """Days of one connection before the catch-up window that are not downloaded completely."""

    connection_id: int
    patient_code: str
    vendor: str
    start: dt.date  # the first day not downloaded
    end: dt.date  # the last one (the day before the catch-up window)
    days: int  # days in start..end not downloaded (those in between that are done are not counted)
    max_days: int  # the catch-up cap at the time

    def message(self) -> str:
        """One plain sentence for the Sync page (and the scheduler's report)."""
        label = VENDOR_CLASSES[self.vendor].label if self.vendor in VENDOR_CLASSES else self.vendor
        n = f"{self.days} day{'s' if self.days != 1 else ''}"
        span = f"{self.start:%d %b %Y}" if self.start == self.end else f"{self.start:%d %b %Y} to {self.end:%d %b %Y}"
        return (f"{self.patient_code} {label}: {n} ({span}) were not downloaded, for example while WearSync was "
                f"off; the daily download fetches at most the last {self.max_days} days. Backfill the rest.")


def gaps_beyond(db: Database, today: dt.date, max_days: int, connection_ids: list[int] | None = None) -> list[Gap]:
    """Per connection that can sync, the days since its consent and before the catch-up window
    (`max_days` back from `today`) that are not done: what a backfill must fetch. Days a vendor no
    longer keeps (Polar: 30) are left out, since no backfill can fetch them. Oldest patient first."""
    floor = today - dt.timedelta(days=max(1, max_days) - 1)
    last = floor - dt.timedelta(days=1)
    horizon = floor - dt.timedelta(days=GAP_HORIZON_DAYS)
    with db.session() as s:
        q = (select(Connection.id, Patient.code, Connection.vendor, Connection.connected_at, Connection.timezone)
             .join(Patient, Patient.id == Connection.patient_id)
             .where(Patient.deleted_at.is_(None), Connection.status.in_(SYNCABLE)))
        if connection_ids is not None:
            q = q.where(Connection.id.in_(connection_ids))
        conns = list(s.execute(q.order_by(Patient.code, Connection.vendor)).tuples())
        if not conns:
            return []
        ids = [c[0] for c in conns]
        first_seen: dict[int, dt.date] = dict(s.execute(
            select(Coverage.connection_id, func.min(Coverage.local_date))
            .where(Coverage.connection_id.in_(ids)).group_by(Coverage.connection_id)).tuples().all())
        done_rows = func.sum(case((Coverage.status.in_(DONE), 1), else_=0))
        done: dict[int, set[dt.date]] = defaultdict(set)
        for conn_id, day in s.execute(
                select(Coverage.connection_id, Coverage.local_date)
                .where(Coverage.connection_id.in_(ids), Coverage.local_date >= horizon, Coverage.local_date <= last)
                .group_by(Coverage.connection_id, Coverage.local_date)
                .having(func.count() == done_rows)).tuples():
            done[conn_id].add(day)

    out: list[Gap] = []
    for conn_id, code, vendor, connected_at, tz in conns:
        # history before the consent is a backfill's choice, not a gap
        start = local_today(tz, connected_at) if connected_at is not None else first_seen.get(conn_id)
        if start is None:
            continue
        keeps = VENDOR_CLASSES[vendor].keeps_days if vendor in VENDOR_CLASSES else None
        if keeps is not None:
            start = max(start, today - dt.timedelta(days=keeps - 1))
        start = max(start, horizon)
        missing = []
        day = start
        while day <= last:
            if day not in done[conn_id]:
                missing.append(day)
            day += dt.timedelta(days=1)
        if missing:
            out.append(Gap(conn_id, code, vendor, missing[0], missing[-1], len(missing), max(1, max_days)))
    return out
