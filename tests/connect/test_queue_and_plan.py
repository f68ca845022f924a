"""The sync queue (one per connection, merged requests), the incremental plan and the coverage record."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from sqlalchemy import select

from db.models import Connection, Coverage, Device, DeviceSync, SyncRun
from services.accounts.actor import HOST
from services.sandbox import SandboxServer

from .conftest import connect

NOON = dt.datetime(2026, 11, 28, 12, 0)


def cid_of(app: Any, code: str, vendor: str) -> int:
    return int(app.connections.connection_id(code, vendor))


def test_one_queue_per_connection_merges_requests(sapp: Any, srv: SandboxServer) -> None:
    assert connect(sapp, srv, "Q-1", "polar", "greta").ok
    cid = cid_of(sapp, "Q-1", "polar")
    gate, entered = threading.Event(), threading.Event()
    active, peak, ranges = [0], [0], []
    lock = threading.Lock()
    real_run = sapp.sync._run

    def tracked(c: int, start: dt.date, end: dt.date, *a: Any) -> Any:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            ranges.append((start, end))
        entered.set()
        gate.wait(10)
        try:
            return real_run(c, start, end, *a)
        finally:
            with lock:
                active[0] -= 1

    sapp.sync._run = tracked
    d = dt.date
    first = sapp.sync.submit(cid, d(2026, 11, 16), d(2026, 11, 17))
    assert entered.wait(5)
    same = sapp.sync.submit(cid, d(2026, 11, 16), d(2026, 11, 16))  # covered by the running one
    later = sapp.sync.submit(cid, d(2026, 11, 18), d(2026, 11, 18))  # queued behind it
    merged = sapp.sync.submit(cid, d(2026, 11, 14), d(2026, 11, 15))  # merged into the queued one
    assert same is first and merged is later and later is not first
    gate.set()
    assert first.result(30).ok and later.result(30).ok
    assert peak[0] == 1  # never two syncs of one account at once
    assert ranges == [(d(2026, 11, 16), d(2026, 11, 17)), (d(2026, 11, 14), d(2026, 11, 18))]
    sapp.sync.shutdown()


def test_sync_all_records_a_run_and_skips_unconnected(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "A-1", "withings", "emil").ok
    assert connect(lapp, srv, "A-2", "polar", "greta").ok
    lapp.patients.add("A-3", ["fitbit"], HOST)
    run = lapp.sync.sync_all(start=dt.date(2026, 11, 16), end=dt.date(2026, 11, 16), trigger="manual")
    assert run.ok and [r.patient_code for r in run.results] == ["A-1", "A-2"]
    with lapp.db.session() as s:
        row = s.get(SyncRun, run.run_id)
        assert row is not None and row.status == "ok" and row.connections_total == 2 and row.connections_ok == 2
        assert row.rows_written == run.rows_written > 0 and row.finished_at is not None
        assert s.scalar(select(Connection.last_sync_at).where(Connection.id == cid_of(lapp, "A-1", "withings")))


def test_incremental_plan(lapp: Any, srv: SandboxServer) -> None:
    lapp.clock.pin(NOON)  # the app's one clock: the plan and the connection both read it
    assert connect(lapp, srv, "I-1", "fitbit", "anna").ok
    cid = cid_of(lapp, "I-1", "fitbit")
    today = dt.date(2026, 11, 28)
    assert lapp.sync.plan(cid) == (today - dt.timedelta(days=6), today)  # first sync: the last 7 days
    lapp.settings.set("lookback_days", 2)
    assert lapp.sync.sync_connection(cid, dt.date(2026, 11, 20), dt.date(2026, 11, 24)).ok
    # from the last complete day, re-checking the look-back window
    assert lapp.sync.plan(cid) == (dt.date(2026, 11, 24), today)
    lapp.settings.set("lookback_days", 6)
    assert lapp.sync.plan(cid) == (dt.date(2026, 11, 22), today)
    # Polar: no history before the connection (connected at NOON by the app's clock, not the real date)
    assert connect(lapp, srv, "I-2", "polar", "greta").ok
    assert lapp.sync.plan(cid_of(lapp, "I-2", "polar")) == (NOON.date(), NOON.date())


def test_coverage_and_devices(sapp: Any, srv: SandboxServer) -> None:
    sapp.clock.pin(NOON)
    assert connect(sapp, srv, "C-1", "fitbit", "chiara").ok  # watch last synced 5 days ago
    cid = cid_of(sapp, "C-1", "fitbit")
    assert sapp.sync.sync_connection(cid, dt.date(2026, 11, 21), dt.date(2026, 11, 24)).ok
    with sapp.db.session() as s:
        cov = {(c.data_type, c.local_date.day): c.status for c in s.scalars(select(Coverage))}
        dev = s.scalars(select(Device)).one()
        assert dev.battery_level == 12 and dev.last_sync_utc and dev.retired_at is None
        assert dev.last_sync_utc.date() == dt.date(2026, 11, 23)
        assert len(s.scalars(select(DeviceSync)).all()) == 1
    assert cov[("heart_rate", 21)] == "complete" and cov[("heart_rate", 22)] == "complete"
    assert cov[("heart_rate", 23)] == "partial"  # the watch synced during that day
    assert cov[("heart_rate", 24)] == "missing"  # nothing synced yet: not "not worn"
    assert cov[("resting_heart_rate", 24)] == "missing"


def test_swapped_watch_keeps_history(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "S-1", "fitbit", "ben").ok
    cid = cid_of(lapp, "S-1", "fitbit")
    day = dt.date(2026, 11, 27)
    assert lapp.sync.sync_connection(cid, day, day).ok
    srv.user("fitbit", "ben").device = "Charge 6"  # type: ignore[union-attr]
    assert lapp.sync.sync_connection(cid, day, day).ok
    with lapp.db.session() as s:
        devices = {d.model: d for d in s.scalars(select(Device))}
    assert set(devices) == {"Pixel Watch 3", "Charge 6"}
    assert devices["Pixel Watch 3"].retired_at is not None and devices["Charge 6"].retired_at is None
    in_use = devices["Charge 6"]
    assert lapp.sync.store.device_last_sync(in_use.patient_id, "fitbit") == in_use.last_sync_utc
