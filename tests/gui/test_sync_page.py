"""The Sync page, the Backfill dialog, the Alerts page and the alert notification, in the real window.

- the status view tells "device not synced", "download failed" and "not worn" apart;
- the backfill dialog validates dates inline, shows the estimate before anything starts, advances
  its progress bar while the rest of the window keeps answering input, and cancels;
- "Update now" while a scheduled download runs syncs no connection twice (real sandbox);
- an alert digest becomes a tray message, or a banner in the window when there is no tray.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from gui.pages.sync.page import STATUS_ROLE
from gui.pages.sync.strip import CELLS_ROLE
from services.alerts.service import Alert, DigestResult
from services.sandbox import SandboxServer
from services.sync.progress import ProgressTracker
from services.sync.scheduler import SchedulerEvent, SchedulerStatus
from tests.connect.conftest import TODAY, _wire, connect
from tests.flow.conftest import add_connection, add_device, days, write_coverage
from tests.gui.conftest import wait_idle

D = dt.date


def sync_page(qtbot: Any, shell: Any) -> Any:
    page = shell.window.show_page("sync")
    wait_idle(qtbot, shell)
    return page


def test_status_view_tells_the_three_cases_apart(qtbot: Any, make_shell: Any, sqlite_app: Any) -> None:
    today = sqlite_app.clock.today()  # the app's clock: the page reads the same one
    now = sqlite_app.clock.utcnow()
    ok_days = days(today - dt.timedelta(days=13), today - dt.timedelta(days=1))
    # P-ASLEEP: the watch stopped syncing to Fitbit five days ago
    a = add_connection(sqlite_app, "P-ASLEEP", "fitbit")
    write_coverage(sqlite_app, a, ok_days[:-5])
    write_coverage(sqlite_app, a, ok_days[-5:], status="missing")
    add_device(sqlite_app, "P-ASLEEP", "fitbit", "w1", "Pixel Watch 3", last_seen=now,
               last_sync=now - dt.timedelta(days=5, hours=1))
    # P-FAILED: the device is fine, our download failed
    b = add_connection(sqlite_app, "P-FAILED", "withings", status="error")
    write_coverage(sqlite_app, b, ok_days[:-1])
    write_coverage(sqlite_app, b, ok_days[-1:], status="failed", error="Withings had a temporary problem (HTTP 503).")
    with sqlite_app.db.session() as s:
        from db.models import Connection

        s.get(Connection, b).last_error = "sleep: Withings had a temporary problem (HTTP 503)."
    # P-OFFWRIST: everything downloaded, the watch lay on the table yesterday
    c = add_connection(sqlite_app, "P-OFFWRIST", "fitbit")
    write_coverage(sqlite_app, c, ok_days[:-1])
    write_coverage(sqlite_app, c, ok_days[-1:], status="not_worn")
    add_device(sqlite_app, "P-OFFWRIST", "fitbit", "w2", "Charge 6", last_seen=now,
               last_sync=now - dt.timedelta(hours=2))

    shell = make_shell()
    page = sync_page(qtbot, shell)
    table = page.table
    qtbot.waitUntil(lambda: table.rowCount() == 3)
    rows = {table.item(i, 0).text(): i for i in range(3)}
    verdict = {code: table.item(i, 2).data(STATUS_ROLE) for code, i in rows.items()}
    assert verdict == {"P-ASLEEP": "sync:device_not_synced", "P-FAILED": "sync:download_failed",
                       "P-OFFWRIST": "sync:not_worn"}
    words = {code: table.item(i, 4).text() for code, i in rows.items()}
    assert "has not synced to Fitbit for 5 days" in words["P-ASLEEP"] and "Ask the patient" in words["P-ASLEEP"]
    assert "Our download from Withings failed" in words["P-FAILED"] and "HTTP 503" in words["P-FAILED"]
    assert "not worn" in words["P-OFFWRIST"] and "Nothing is broken" in words["P-OFFWRIST"]
    strip = table.item(rows["P-FAILED"], 3).data(CELLS_ROLE)
    assert len(strip) == 14 and strip[-2].status == "failed" and "HTTP 503" in strip[-2].describe()
    assert strip[-1].status == "none"  # today: nothing fetched yet
    assert [c.status for c in table.item(rows["P-ASLEEP"], 3).data(CELLS_ROLE)[-6:-1]] == ["missing"] * 5


def test_run_history_and_daily_time(qtbot: Any, make_shell: Any, sqlite_app: Any) -> None:
    from db.models import SyncRun

    with sqlite_app.db.session() as s:
        s.add(SyncRun(trigger="schedule", started_at=dt.datetime(2026, 11, 20, 23, 0),
                      finished_at=dt.datetime(2026, 11, 20, 23, 5), status="partial", connections_total=2,
                      connections_ok=1, connections_failed=1, rows_written=1234,
                      summary="P-1 fitbit: 1234 rows\nP-2 withings: 0 rows; problems: sleep: HTTP 503"))
    shell = make_shell()
    shell.dialogs.text_answer = "25:00"
    page = sync_page(qtbot, shell)
    qtbot.waitUntil(lambda: page.history.rowCount() == 1)
    assert page.history.item(0, 1).text() == "Daily schedule"
    assert page.history.item(0, 2).data(STATUS_ROLE) == "run:partial"
    assert "HTTP 503" in page.history.item(0, 5).text() and page.history.item(0, 4).text() == "1,234"
    page.change_time()
    qtbot.waitUntil(lambda: page.notice.isVisible())
    assert "HH:MM" in page.notice.text.text() or "time" in page.notice.text.text().lower()
    assert sqlite_app.settings.get("sync_time") == "00:00", "a bad time changes nothing"
    shell.dialogs.text_answer = "6:30"
    page.change_time()
    qtbot.waitUntil(lambda: sqlite_app.settings.get("sync_time") == "06:30")
    qtbot.waitUntil(lambda: "06:30" in page.schedule_label.text())


def test_the_daily_time_shows_beside_a_scheduler_that_has_finished_a_run(qtbot: Any, make_shell: Any,
                                                                          sqlite_app: Any) -> None:
    """The scheduler says when its last pass ended in local time (aware), the run history in the
    database's naive UTC: the page shows the later of the two, converted, instead of failing."""
    import dataclasses

    from db.models import SyncRun
    from gui.format import local

    ended = dt.datetime(2026, 11, 20, 23, 5)  # naive UTC, as stored
    with sqlite_app.db.session() as s:
        s.add(SyncRun(trigger="schedule", started_at=ended - dt.timedelta(minutes=5), finished_at=ended,
                      status="ok", connections_total=1, connections_ok=1, connections_failed=0, rows_written=1,
                      summary=""))
    shell = make_shell()
    page = sync_page(qtbot, shell)
    qtbot.waitUntil(lambda: page.history.rowCount() == 1)
    scheduler_end = (ended + dt.timedelta(hours=2)).replace(tzinfo=dt.UTC).astimezone(
        dt.timezone(dt.timedelta(hours=5)))  # aware, in another zone than the host's
    status = SchedulerStatus(started=True, busy=False, current_trigger=None, sync_time="00:00", next_run=None,
                             last_started=None, last_finished=scheduler_end, last_error=None)
    page._loaded(dataclasses.replace(page.view, scheduler=status))
    assert f"last finished: {local(ended + dt.timedelta(hours=2)):%a %d %b %H:%M}" in page.schedule_label.text()
    older = dataclasses.replace(status, last_finished=scheduler_end - dt.timedelta(hours=4))
    page._loaded(dataclasses.replace(page.view, scheduler=older))  # now the history's run is the later one
    assert f"last finished: {local(ended):%a %d %b %H:%M}" in page.schedule_label.text()


# --------------------------------------------------------------------------- backfill


class SteppedBackfill:
    """Stands in for services.sync.backfill.run_backfill: one unit of progress each time the test says so."""

    def __init__(self, total: int = 4) -> None:
        self.total = total
        self.go = threading.Semaphore(0)
        self.calls = 0
        self.cancelled = False

    def __call__(self, app: Any, plan: Any, *, on_progress: Any, cancel: threading.Event, actor: Any = None) -> str:
        self.calls += 1
        tracker = ProgressTracker(self.total, estimate_s=plan.estimate.seconds, on_change=on_progress)
        tracker.advance(0, "P-001 · Fitbit · steps")
        for _ in range(self.total):
            while not self.go.acquire(timeout=0.05):
                if cancel.is_set():
                    self.cancelled = True
                    tracker.cancel()
                    return "cancelled"
            tracker.advance(1, "P-001 · Fitbit · steps")
        return "done"


def test_backfill_dialog_validates_estimates_first_progresses_and_cancels(qtbot: Any, make_shell: Any,
                                                                         sqlite_app: Any) -> None:
    from gui.pages.sync.backfill_dialog import BackfillDialog, qdate

    add_connection(sqlite_app, "P-001", "fitbit")
    add_connection(sqlite_app, "P-002", "withings")
    shell = make_shell()
    alerts_page = shell.window.show_page("alerts")  # another widget that must keep answering
    wait_idle(qtbot, shell)
    runner = SteppedBackfill()
    today = dt.date(2026, 11, 28)
    dialog = BackfillDialog(shell.ctx, shell.window, runner=runner, today=today)
    qtbot.addWidget(dialog)
    dialog.show()

    dialog.start.setDate(qdate(D(2026, 11, 20)))
    dialog.end.setDate(qdate(D(2026, 11, 10)))
    assert dialog.error.isVisible() and "Swap" in dialog.error.text()
    assert not dialog.start_button.isEnabled()
    dialog.end.setDate(qdate(D(2026, 12, 5)))
    assert "future" in dialog.error.text() and not dialog.start_button.isEnabled()
    dialog.all_patients.setChecked(False)
    dialog.end.setDate(qdate(D(2026, 11, 27)))
    assert "Choose at least one patient" in dialog.error.text()
    qtbot.waitUntil(lambda: dialog.patients.count() == 2)
    dialog.patients.item(0).setSelected(True)
    # the estimate is shown before anything starts
    qtbot.waitUntil(lambda: dialog.estimate.text().startswith("Estimate:"), timeout=5000)
    assert "1 patient device, 8 days" in dialog.estimate.text() and "requests" in dialog.estimate.text()
    assert dialog.start_button.isEnabled() and runner.calls == 0

    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.maximum() == 4)
    assert dialog.progress.value() == 0 and "0 of 4" in dialog.status.text()
    runner.go.release()
    qtbot.waitUntil(lambda: dialog.progress.value() == 1)
    assert "1 of 4" in dialog.status.text() and "left" in dialog.status.text()
    # the window answers while the download runs
    qtbot.keyClicks(alerts_page.address, "typed@clinic.org")
    assert alerts_page.address.text() == "typed@clinic.org"
    runner.go.release()
    qtbot.waitUntil(lambda: dialog.progress.value() == 2)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.running)
    assert runner.cancelled and dialog.progress.value() == 2
    assert "Cancelled" in dialog.status.text() and "resume" in dialog.status.text()
    assert dialog.start_button.text() == "Start again (resume)"
    qtbot.waitUntil(lambda: dialog.estimate.text().startswith("Estimate:"))  # re-estimated for the resume
    wait_idle(qtbot, shell)


# --------------------------------------------------------------------------- Update now vs the schedule


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


def test_update_now_while_the_schedule_runs_syncs_each_connection_once(qtbot: Any, make_shell: Any, sqlite_app: Any,
                                                                      srv: SandboxServer,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from services.sync import service as sync_module

    app = _wire(sqlite_app, srv)
    app.clock.pin(dt.datetime(2026, 11, 28, 10, 0))  # the app's one clock
    for code, vendor, user in (("P-001", "fitbit", "anna"), ("P-002", "withings", "emil")):
        assert connect(app, srv, code, vendor, user).ok
    runs: Counter[int] = Counter()
    real_run = sync_module._ConnectionSync.run

    def counted(self: Any) -> Any:
        runs[self.cid] += 1
        return real_run(self)

    monkeypatch.setattr(sync_module._ConnectionSync, "run", counted)
    gate = threading.Event()
    entered: set[int] = set()

    def hold(cid: int, *_a: Any) -> None:  # the scheduled download is slow
        entered.add(cid)
        gate.wait(20)

    app.sync.after_chunk = hold
    scheduled = threading.Thread(target=app.sync.sync_days, args=("schedule", [D(2026, 11, 27), D(2026, 11, 28)]))
    scheduled.start()
    qtbot.waitUntil(lambda: len(entered) == 2, timeout=10_000)

    shell = make_shell()
    page = sync_page(qtbot, shell)
    qtbot.mouseClick(page.update_button, Qt.MouseButton.LeftButton)
    assert page.progress_box.isVisible() and not page.update_button.isEnabled()

    def joined() -> bool:  # both requesters wait on each running download before it may end
        slots = [app.sync._slots.get(cid) for cid in (1, 2)]
        return all(s is not None and s.running is not None and len(s.running.cancels) == 2 for s in slots)

    qtbot.waitUntil(joined, timeout=10_000)
    gate.set()
    qtbot.waitUntil(lambda: page.running is None, timeout=20_000)
    scheduled.join(20)
    assert dict(runs) == {1: 1, 2: 1}, "Update now joined the scheduled downloads"
    assert "2 patient devices updated" in page.notice.text.text()
    qtbot.waitUntil(lambda: page.history.rowCount() == 2)
    assert {page.history.item(i, 1).text() for i in range(2)} == {"Daily schedule", "Update now"}


# --------------------------------------------------------------------------- alert notification


def digest_event() -> SchedulerEvent:
    alert = Alert("device_not_synced", "P-001", "fitbit", "device:1",
                  "P-001, Fitbit: the device last synced to Fitbit 4 days ago. Ask the patient to sync it.")
    digest = DigestResult((alert,), (alert,))
    return SchedulerEvent("alerts", digest.summary(), dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC), digest)


def test_alert_digest_without_a_tray_shows_a_banner(qtbot: Any, make_shell: Any) -> None:
    shell = make_shell(tray=False)
    threading.Thread(target=shell.flow.on_event, args=(digest_event(),)).start()  # the scheduler's thread
    qtbot.waitUntil(lambda: shell.flow.banner.isVisible())
    assert "1 device not synced" in shell.flow.banner.text.text()
    assert "Ask the patient" in shell.flow.banner.text.text()
    shell.flow.banner.action_clicked.emit()
    assert shell.window.current_page().key == "sync"


def test_alert_digest_with_a_tray_is_a_tray_message(qtbot: Any, make_shell: Any, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    shell = make_shell(tray=True)
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(shell.tray.icon, "isVisible", lambda: True)
    monkeypatch.setattr(shell.tray, "notify", lambda title, text: shown.append((title, text)))
    threading.Thread(target=shell.flow.on_event, args=(digest_event(),)).start()
    qtbot.waitUntil(lambda: bool(shown))
    assert "1 device not synced" in shown[0][1] and not shell.flow.banner.isVisible()


def test_alerts_page_manages_recipients_in_plain_words(qtbot: Any, make_shell: Any, sqlite_app: Any) -> None:
    shell = make_shell()
    page = shell.window.show_page("alerts")
    wait_idle(qtbot, shell)
    qtbot.keyClicks(page.address, "not an address")
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert page.input_error.isVisible() and "coordinator@clinic.org" in page.input_error.text()
    page.address.clear()
    qtbot.keyClicks(page.address, "Team@Clinic.org")
    qtbot.keyClick(page.address, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.recipients.count() == 1)
    assert page.recipients.item(0).text() == "team@clinic.org" and page.address.text() == ""
    sqlite_app.environ.update({"WEARSYNC_SMTP_HOST": "127.0.0.1", "WEARSYNC_SMTP_PORT": "9",
                               "WEARSYNC_SMTP_TLS": "none", "DATA_PLATFORM_EMAIL": "sender@clinic.org",
                               "DATA_PLATFORM_PASSWORD": "x"})
    sqlite_app.__dict__.pop("alerts", None)  # rebuilt on the new mail settings
    page.recipients.setCurrentRow(0)
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.notice.property("banner") == "error")
    assert "mail server" in page.notice.text.text() and "Traceback" not in page.notice.text.text()
    page.remove()
    qtbot.waitUntil(lambda: page.recipients.count() == 0)
