"""The flow wired into the app: `attach_flow()` + `start_background()` run the real SyncService
against the sandbox from the scheduler (catch-up on start, then the daily job at its time), stop
cleanly, and `--headless` attaches the same flow."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Coverage, SyncRun
from services.alerts.service import DigestResult
from services.sandbox import SandboxServer
from tests.connect.conftest import TODAY, _wire, connect
from tests.flow.conftest import TZ, at


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


def data_calls(srv: SandboxServer) -> int:
    return sum(1 for c in srv.calls if c.kind == "api")


def test_attached_flow_runs_the_real_sync_on_start_and_at_the_daily_time(sqlite_app: Any, srv: SandboxServer,
                                                                         stepped: Any, clock: Any) -> None:
    app = _wire(sqlite_app, srv)
    clock.set(at(2026, 11, 28, 9, 0))  # the app's own clock: every service reads it
    assert connect(app, srv, "P-001", "fitbit", "anna").ok
    cid = app.connections.connection_id("P-001", "fitbit")
    digests: list[DigestResult] = []
    sched = app.attach_flow(clock=clock, scheduler=stepped, timezone=TZ)
    assert app.attach_flow() is sched  # once per app
    real_run = app.alerts.run
    app.alerts.run = lambda: digests.append(real_run()) or digests[-1]  # type: ignore[method-assign]
    sched._check_alerts = app.alerts.run

    app.start_background()
    stepped.process()  # the catch-up on start
    with app.db.session() as s:
        runs = s.execute(select(SyncRun.trigger, SyncRun.status)).tuples().all()
        ledger = {(c.data_type, c.local_date): (c.status, c.attempts) for c in s.scalars(select(Coverage))}
    assert runs == [("catchup", "ok")]
    assert ledger[("steps", dt.date(2026, 11, 27))] == ("complete", 1)
    assert ledger[("steps", dt.date(2026, 11, 28))][0] == "partial"  # the day is not over
    assert len(digests) == 1, "the alert check runs after each pass"
    first_calls = data_calls(srv)
    assert first_calls > 0

    stepped.advance(at(2026, 11, 29, 0, 0) - clock.local_now(), step=dt.timedelta(minutes=4))
    with app.db.session() as s:
        runs = s.execute(select(SyncRun.trigger).order_by(SyncRun.id)).scalars().all()
        yesterday = s.scalar(select(Coverage.attempts).where(
            Coverage.connection_id == cid, Coverage.data_type == "steps", Coverage.local_date == dt.date(2026, 11, 27)))
        today = s.scalar(select(Coverage.attempts).where(
            Coverage.connection_id == cid, Coverage.data_type == "steps", Coverage.local_date == dt.date(2026, 11, 28)))
    assert runs == ["catchup", "schedule"], "the daily job ran once, at its time"
    assert yesterday == 1, "a complete day is not fetched again"
    assert today == 2, "the day that was partial is fetched again"
    assert data_calls(srv) > first_calls

    app.stop_background()
    assert not sched.status().started
    assert app.sync._executor is None, "the sync workers are stopped"


def test_shutdown_releases_whoever_waits_on_a_queued_sync(lapp_like: Any) -> None:
    app, cid = lapp_like
    gate = threading.Event()
    entered = threading.Event()

    def hold(*_a: Any) -> None:
        entered.set()
        gate.wait(10)

    app.sync.after_chunk = hold
    running = app.sync.submit(cid, dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    assert entered.wait(10)
    queued = app.sync.submit(cid, dt.date(2026, 11, 1), dt.date(2026, 11, 2))  # waits behind the first
    stopper = threading.Thread(target=app.sync.shutdown)
    stopper.start()
    gate.set()
    stopper.join(20)
    assert not stopper.is_alive()
    assert running.result(5).cancelled or running.result(5).ok
    assert queued.cancelled(), "a queued sync is dropped at shutdown, and its waiter released"


@pytest.fixture
def lapp_like(sqlite_app: Any, srv: SandboxServer) -> tuple[Any, int]:
    app = _wire(sqlite_app, srv)
    assert connect(app, srv, "P-001", "fitbit", "anna").ok
    return app, app.connections.connection_id("P-001", "fitbit")


def test_headless_attaches_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    from services import headless
    from services.app import WearSync

    seen: list[str] = []
    real_attach = WearSync.attach_flow

    def attach(self: WearSync, **kw: Any) -> Any:
        seen.append("attach")
        return real_attach(self, **kw)

    monkeypatch.setattr(WearSync, "attach_flow", attach)
    monkeypatch.setattr(WearSync, "start_background", lambda self: seen.append(
        "start" if self.scheduler is not None else "start without scheduler"))
    monkeypatch.setattr(WearSync, "stop_background", lambda self: seen.append("stop"))
    stop = threading.Event()
    stop.set()
    assert headless.run_headless(stop) == 0
    assert seen == ["attach", "start", "stop"]
