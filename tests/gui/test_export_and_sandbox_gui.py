"""The Export dialog (the same CSV as `main.py export`, audited, reversed dates refused) and the
window in sandbox mode (demo patients connected, the banner, Settings → Try with sandbox vendors)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QFrame, QLabel

from db.models import Connection, HeartRateSample, Patient
from db.upsert import upsert
from services.accounts.actor import HOST
from tests.gui.conftest import FakeDialogs, wait_idle

pytestmark = pytest.mark.gui


def add_heart_rate(app, code: str) -> None:  # type: ignore[no-untyped-def]
    """Three samples in Berlin (UTC+1): the first lies on the previous UTC date but on 20 Nov locally."""
    app.patients.add(code, ["fitbit"], HOST)
    with app.db.session() as s:
        pid = s.query(Patient.id).filter(Patient.code == code).scalar()
        # downloaded once: the side panel offers Export… for this device type
        s.query(Connection).filter(Connection.patient_id == pid).update(
            {"status": "connected", "last_sync_at": dt.datetime(2026, 11, 21, 9, 0)})
        rows = [
            {"patient_id": pid, "vendor": "fitbit", "kind": "sample", "ts_utc": dt.datetime(2026, 11, 19, 23, 30),
             "utc_offset_s": 3600, "local_date": dt.date(2026, 11, 20), "bpm": 58},
            {"patient_id": pid, "vendor": "fitbit", "kind": "sample", "ts_utc": dt.datetime(2026, 11, 20, 12, 0),
             "utc_offset_s": 3600, "local_date": dt.date(2026, 11, 20), "bpm": 71},
            {"patient_id": pid, "vendor": "fitbit", "kind": "sample", "ts_utc": dt.datetime(2026, 11, 21, 8, 0),
             "utc_offset_s": 3600, "local_date": dt.date(2026, 11, 21), "bpm": 64},
        ]
        upsert(s, HeartRateSample, rows, ["patient_id", "vendor", "kind", "ts_utc"])


def open_export(qtbot, shell, tmp_path: Path, code: str):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select(code)
    asked: list[str] = []

    def ask(_parent, suggested: str) -> str:  # type: ignore[no-untyped-def]
        asked.append(suggested)
        return str(tmp_path / suggested)

    page.ask_path = ask
    qtbot.mouseClick(page.detail.action_buttons["fitbit"]["export"], Qt.MouseButton.LeftButton)
    dlg = page.export_dialog
    dlg.metric_box.setCurrentIndex(dlg.metric_box.findData("heart_rate"))
    dlg.start.setDate(QDate(2026, 11, 20))
    dlg.end.setDate(QDate(2026, 11, 20))
    return dlg, asked


def test_export_writes_the_expected_csv_and_audits_it(qtbot, make_shell, sqlite_app, tmp_path) -> None:
    add_heart_rate(sqlite_app, "P-400")
    shell = make_shell()
    dlg, asked = open_export(qtbot, shell, tmp_path, "P-400")
    assert dlg.patient_box.currentData() == "P-400" and dlg.vendor_box.currentData() == "fitbit"
    qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.saved_bar.isVisible())
    assert asked == ["P-400_fitbit_heart_rate_2026-11-20_2026-11-20.csv"]
    out = tmp_path / asked[0]
    assert out.read_text(encoding="utf-8") == (
        "timestamp,bpm,kind,date,local_time\n"
        "2026-11-19T23:30:00Z,58,sample,2026-11-20,2026-11-20T00:30:00+01:00\n"  # the civil day decides
        "2026-11-20T12:00:00Z,71,sample,2026-11-20,2026-11-20T13:00:00+01:00\n"
    )
    assert dlg.saved_bar.text.text() == f"Saved 2 rows to {out}."
    assert not (tmp_path / (asked[0] + ".part")).exists()
    entry = [e for e in sqlite_app.audit.entries() if e.action == "export"][-1]
    assert entry.target == "P-400/fitbit" and "heart_rate 2026-11-20..2026-11-20: 2 rows" in entry.detail
    assert entry.source == "gui"


def test_export_refuses_reversed_dates_and_writes_nothing(qtbot, make_shell, sqlite_app, tmp_path) -> None:
    add_heart_rate(sqlite_app, "P-401")
    shell = make_shell()
    dlg, asked = open_export(qtbot, shell, tmp_path, "P-401")
    dlg.start.setDate(QDate(2026, 11, 21))
    dlg.end.setDate(QDate(2026, 11, 20))
    qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    assert dlg.error_label.isVisible() and "Swap the two dates" in dlg.error_label.text()
    assert asked == [] and list(tmp_path.glob("*.csv")) == []
    assert dlg.isVisible()


def test_export_into_a_missing_folder_says_so(qtbot, make_shell, sqlite_app, tmp_path) -> None:
    add_heart_rate(sqlite_app, "P-402")
    shell = make_shell()
    dlg, _asked = open_export(qtbot, shell, tmp_path, "P-402")
    dlg.ask_path = lambda _p, name: str(tmp_path / "gone" / name)
    qtbot.mouseClick(dlg.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.error_label.isVisible())
    assert "does not exist" in dlg.error_label.text()


# -- sandbox mode -----------------------------------------------------------------------------------
@pytest.fixture
def sandbox_session(monkeypatch):  # type: ignore[no-untyped-def]
    from services.sandbox.mode import open_sandbox

    session = open_sandbox(dict(os.environ), today=dt.date(2026, 11, 28))
    yield session
    session.close()


def test_sandbox_window_opens_with_demo_patients_connected(qtbot, sandbox_session) -> None:
    from gui.shell import Shell
    from services.sandbox.mode import DEMO_PATIENTS

    shell = Shell(sandbox_session.app, tray_available=False, sandbox=True, dialogs=FakeDialogs(),
                  quit_fn=lambda: None)
    qtbot.addWidget(shell.window)
    shell.window.show()
    banner = shell.window.findChild(QFrame, "sandboxBanner")
    assert banner.isVisible() and "SANDBOX — demo data" in banner.findChild(QLabel).text()
    page = shell.window.show_page("patients")
    qtbot.waitUntil(lambda: len(page.model.rows) == len(DEMO_PATIENTS))
    shown = {(p.code, c.vendor): c.status for p in page.model.rows for c in p.connections}
    assert shown == {(code, vendor): "connected" for code, vendor, _ in DEMO_PATIENTS}
    # Settings explains that this window is the sandbox, and offers no second one
    settings = shell.window.pages["settings"]
    assert not settings.sandbox.try_button.isVisibleTo(settings) and "This window is the sandbox" in \
        settings.sandbox.text.text()
    wait_idle(qtbot, shell)
    shell.bridge.shutdown()


def test_try_with_sandbox_vendors_starts_a_second_wearsync(qtbot, make_shell) -> None:
    from gui.sandbox import sandbox_command

    shell = make_shell()
    box = shell.window.show_page("settings").sandbox
    started: list[bool] = []
    box.launcher = lambda: started.append(True) or True
    shell.dialogs.confirm_answer = False
    qtbot.mouseClick(box.try_button, Qt.MouseButton.LeftButton)
    assert started == [] and "Your real patients" in shell.dialogs.confirms[-1][1]
    shell.dialogs.confirm_answer = True
    qtbot.mouseClick(box.try_button, Qt.MouseButton.LeftButton)
    assert started == [True] and box.status.isVisible()
    program, args = sandbox_command()
    assert args[-1] == "--sandbox" and Path(args[0]).name == "main.py" and Path(program).exists()


def test_the_sandbox_process_has_its_own_single_instance_lock(tmp_path) -> None:
    from gui.single_instance import server_name
    from services import config
    from services.sandbox.mode import prepare_environ

    real = {"WEARSYNC_HOME": str(tmp_path / "real")}
    sandbox = prepare_environ(real)
    assert server_name(config.paths(real).home) != server_name(config.paths(sandbox).home)
    with socket.socket() as s:  # its callback port is free, so it does not fight the real listener
        s.bind(("127.0.0.1", int(sandbox["WEARSYNC_CALLBACK_PORT"])))
