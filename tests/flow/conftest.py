"""Fixtures for the scheduler, catch-up, quota and alert tests: a fake clock that APScheduler
reads, a stepped scheduler, a recording stand-in for the sync service, and ledger helpers."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Connection, Coverage, Device, Patient
from db.upsert import upsert
from services.accounts.actor import HOST
from services.clock import Clock
from tests.support.stepped_scheduler import FakeClock, SteppedScheduler, frozen_apscheduler

TZ = ZoneInfo("Europe/Berlin")


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Clock:
    """The app's own clock when the test has an app (so the services, the scheduler and APScheduler
    all read one time), else a clock of its own; pinned at 2026-11-20 09:00 in Berlin."""
    start = at(2026, 11, 20, 9, 0)
    for name in ("sqlite_app", "app"):
        if name in request.fixturenames:
            shared: Clock = request.getfixturevalue(name).clock
            shared.tz = TZ
            shared.pin(start)
            return shared
    return FakeClock(start)


@pytest.fixture
def stepped(clock: Clock) -> Iterator[SteppedScheduler]:
    with frozen_apscheduler(clock):
        sched = SteppedScheduler(clock, TZ)
        yield sched
        if sched.running:
            sched.shutdown(wait=False)
        sched.executor.wait_idle(timeout=10)


def add_connection(app, code: str, vendor: str, status: str = "connected",
                   connected_at: dt.datetime | None = dt.datetime(2026, 11, 1, 12, 0)) -> int:
    if not app.patients.exists(code):
        app.patients.add(code, [], HOST)
    now = dt.datetime(2026, 11, 1, 12, 0)
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        conn = Connection(patient_id=pid, vendor=vendor, status=status, connected_at=connected_at,
                          created_at=now, updated_at=now, scopes_granted="", scopes_missing="")
        s.add(conn)
        s.flush()
        return conn.id


def write_coverage(app, conn_id: int, days: list[dt.date], status: str = "complete",
                   data_type: str = "steps", error: str | None = None,
                   attempted: dt.datetime = dt.datetime(2026, 11, 20, 8, 0)) -> None:
    rows = [{"connection_id": conn_id, "data_type": data_type, "local_date": d, "status": status,
             "rows": 10 if status == "complete" else 0, "attempts": 1, "last_attempt_at": attempted,
             "error": error} for d in days]
    with app.db.session() as s:
        upsert(s, Coverage, rows, key=["connection_id", "data_type", "local_date"])


def add_device(app, code: str, vendor: str, external_id: str, model: str, last_seen: dt.datetime,
               last_sync: dt.datetime | None, retired: dt.datetime | None = None) -> int:
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        dev = Device(patient_id=pid, vendor=vendor, external_id=external_id, device_type="TRACKER",
                     model=model, first_seen_utc=dt.datetime(2026, 10, 1), last_seen_utc=last_seen,
                     last_sync_utc=last_sync, retired_at=retired)
        s.add(dev)
        s.flush()
        return dev.id


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


class FakeSync:
    """Stands in for SyncService.sync_all: records each call and marks the days complete.

    `block` (an Event) holds the first call until the test sets it, to model a long download.
    """

    def __init__(self, app, clock: Clock, status: str = "complete", today_status: str = "complete") -> None:
        self.app = app
        self.clock = clock
        self.status = status
        self.today_status = today_status  # "partial" is what a real sync writes for a day not over
        self.calls: list[tuple[str, list[dt.date], list[int] | None, dt.datetime]] = []
        self.block: threading.Event | None = None
        self.entered = threading.Event()
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def __call__(self, trigger: str, days: list[dt.date] | None, connection_ids: list[int] | None = None):
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls.append((trigger, list(days or []), connection_ids, self.clock.local_now()))
            first = len(self.calls) == 1
        try:
            self.entered.set()
            if first and self.block is not None:
                assert self.block.wait(10), "test never released the blocked sync"
            today = self.clock.local_now().date()
            for cid in connection_ids or []:
                past = [d for d in days or [] if d != today]
                write_coverage(self.app, cid, past, self.status)
                if today in (days or []):
                    write_coverage(self.app, cid, [today], self.today_status)
            return {"trigger": trigger, "days": len(days or [])}
        finally:
            with self._lock:
                self.active -= 1

    def requested(self) -> Counter[tuple[int, dt.date]]:
        """How many times each (connection, day) was asked for."""
        c: Counter[tuple[int, dt.date]] = Counter()
        for _trigger, ds, cids, _at in self.calls:
            for cid in cids or []:
                for d in ds:
                    c[(cid, d)] += 1
        return c
