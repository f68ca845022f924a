"""The window ends cleanly when the session ends (issue 13): on Qt's commitDataRequest (log-off,
power-off) and aboutToQuit the scheduler stops, the running download stops between two requests, or
is given up on after a bounded wait, is recorded as interrupted, and the database is closed, all
within 5 s of the UI thread. The next start says on the Sync page what was interrupted."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from PySide6.QtCore import SIGNAL, QCoreApplication
from sqlalchemy import select

from db.models import Coverage, SyncRun
from services.sandbox import SandboxServer
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui

BOUND_S = 5.0


def statuses(app: Any) -> list[str]:
    with app.db.session() as s:
        return list(s.scalars(select(SyncRun.status).order_by(SyncRun.id)))


def done_days(app: Any) -> int:
    with app.db.session() as s:
        return len(s.scalars(select(Coverage.id).where(Coverage.status.in_(("complete", "not_worn")))).all())


def start_backfill(qtbot: Any, shell: Any, app: Any, srv: SandboxServer) -> Any:
    """A 40-day download of one Fitbit account through the bridge, as the Backfill dialog runs it."""
    from tests.gui.test_connect_gui import connect_in_services, wire

    wire(app, srv)
    connect_in_services(app, srv, "P-OFF", "fitbit", "anna")
    today = app.clock.today()
    task = shell.bridge.submit(app.sync.sync_all, start=today - dt.timedelta(days=40), end=today,
                               trigger="backfill", on_error=lambda _e: None)
    qtbot.waitUntil(lambda: done_days(app) > 0, timeout=120_000)  # mid-way: a chunk is in
    assert statuses(app) == ["running"]
    return task


def test_log_off_stops_the_running_download_between_requests(qtbot: Any, make_shell: Any, sqlite_app: Any) -> None:
    qapp = QCoreApplication.instance()
    assert qapp is not None
    before = qapp.receivers(SIGNAL("commitDataRequest(QSessionManager&)"))
    shell = make_shell()
    assert qapp.receivers(SIGNAL("commitDataRequest(QSessionManager&)")) == before + 1, \
        "the window listens for the session ending"
    with SandboxServer(seed=1, today=sqlite_app.clock.today()) as srv:
        srv.inject("fitbit", "timeout", times=1000, seconds=0.3)  # every request takes a while
        task = start_backfill(qtbot, shell, sqlite_app, srv)
        t0 = time.monotonic()
        shell.end_session(None)  # what commitDataRequest calls (a QSessionManager cannot be made here)
        took = time.monotonic() - t0
        assert took < BOUND_S, f"the session end took {took:.1f} s of the UI thread"
        assert shell.quits == [True], "then the event loop ends"
        qtbot.waitUntil(lambda: task.done, timeout=10_000)
        # the download stopped between two requests: its workers end (no request left hanging)
        qtbot.waitUntil(lambda: not [t for t in threading.enumerate() if t.name.startswith("wearsync-sync")],
                        timeout=5_000)
        [status] = statuses(sqlite_app)
        assert status == "interrupted"
        with sqlite_app.db.session() as s:
            summary = s.scalar(select(SyncRun.summary))
        assert summary.startswith("The download of ") and "for P-OFF (Fitbit) was interrupted" in summary
        assert sqlite_app.scheduler is None or not sqlite_app.scheduler.status().started


def test_quit_gives_up_on_a_stuck_download_within_the_bound(qtbot: Any, make_shell: Any, sqlite_app: Any) -> None:
    shell = make_shell()
    release = threading.Event()
    stuck = threading.Event()

    def hang(*_a: Any) -> None:  # a worker that does not come back (a vendor that never answers)
        stuck.set()
        release.wait(30)

    with SandboxServer(seed=1, today=sqlite_app.clock.today()) as srv:
        try:
            sqlite_app.sync.after_chunk = hang
            start_backfill(qtbot, shell, sqlite_app, srv)
            assert stuck.wait(30)
            t0 = time.monotonic()
            QCoreApplication.instance().aboutToQuit.emit()  # type: ignore[union-attr]
            took = time.monotonic() - t0
            assert took < BOUND_S, f"quitting took {took:.1f} s of the UI thread"
            assert shell.shut_down
            assert statuses(sqlite_app) == ["interrupted"], "the run cut short is recorded, not left 'running'"
        finally:
            release.set()
            wait_idle(qtbot, shell)


def test_the_sync_page_says_what_was_interrupted(qtbot: Any, make_shell: Any, sqlite_app: Any) -> None:
    from tests.flow.conftest import add_connection

    cid = add_connection(sqlite_app, "P003", "fitbit")
    started = sqlite_app.clock.utcnow()
    run_id = sqlite_app.sync.start_run("schedule", 1)
    day = sqlite_app.clock.today() - dt.timedelta(days=5)
    sqlite_app.sync.store.reserve_days(cid, {"steps": [day]}, started)
    sqlite_app.sync.leases.release(run_id)  # the process "died": its lease is free
    sqlite_app.sync.leases.directory.mkdir(parents=True, exist_ok=True)
    (sqlite_app.sync.leases.directory / f"{run_id}.{sqlite_app.sync.leases.key}.lease").touch()
    sqlite_app.sync._runs.clear()
    notes = sqlite_app.interruptions()  # what the next start does
    assert statuses(sqlite_app) == ["interrupted"]
    expected = f"The download of {day.day} {day:%b} for P003 (Fitbit) was interrupted"
    assert notes and notes[0].startswith(expected), notes
    shell = make_shell()
    page = shell.window.show_page("sync")
    wait_idle(qtbot, shell)
    banner = page.interrupted
    qtbot.waitUntil(banner.isVisible)
    assert banner.text.text().startswith(expected) and "it was resumed" in banner.text.text()
    qtbot.waitUntil(lambda: page.history.rowCount() == 1)
    assert page.history.item(0, 5).text().startswith(expected)
