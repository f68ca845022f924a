"""Tray, closing, single instance and the crash dialog: the app's lifetime as a user meets it."""

from __future__ import annotations

import sys
import uuid

import pytest
from PySide6.QtGui import QGuiApplication

from gui.crash import CrashHandler
from gui.single_instance import SingleInstance, server_name
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui


def test_without_tray_closing_the_window_quits(qtbot, make_shell) -> None:
    shell = make_shell(tray=False)
    assert shell.tray is None
    shell.window.close()
    assert shell.quits == [True]
    assert shell.dialogs.close_asks == 0


def test_with_tray_close_asks_once_then_hides_to_tray(qtbot, make_shell) -> None:
    shell = make_shell(tray=True)
    shell.dialogs.close_answer = "tray"
    shell.window.close()
    assert not shell.window.isVisible()
    assert shell.quits == []
    wait_idle(qtbot, shell)
    assert shell.app.settings.get("close_to_tray") == "tray"  # remembered

    shell.show_window()
    assert shell.window.isVisible()
    shell.window.close()
    assert shell.dialogs.close_asks == 1  # asked once only
    assert not shell.window.isVisible()
    assert shell.quits == []


def test_close_choice_quit_is_remembered(qtbot, make_shell) -> None:
    shell = make_shell(tray=True)
    shell.dialogs.close_answer = "quit"
    shell.window.close()
    assert shell.quits == [True]
    wait_idle(qtbot, shell)
    assert shell.app.settings.get("close_to_tray") == "quit"


def test_cancelling_the_close_question_keeps_the_window(qtbot, make_shell) -> None:
    shell = make_shell(tray=True)
    shell.dialogs.close_answer = None
    shell.window.close()
    assert shell.window.isVisible()
    assert shell.quits == []
    assert shell.close_to_tray == "ask"


def test_stored_choice_is_followed_without_asking(qtbot, make_shell) -> None:
    shell = make_shell(tray=True, close_to_tray="tray")
    shell.window.close()
    assert shell.dialogs.close_asks == 0
    assert not shell.window.isVisible()


def test_tray_menu_open_and_quit(qtbot, make_shell) -> None:
    shell = make_shell(tray=True, close_to_tray="tray")
    shell.window.close()
    shell.tray.build_menu()  # what aboutToShow does
    actions = shell.tray.actions()
    assert set(actions) >= {"Open WearSync", "Update now", "Start tunnel", "Quit WearSync"}
    actions["Open WearSync"].trigger()
    assert shell.window.isVisible()
    actions["Quit WearSync"].trigger()
    assert shell.quits == [True]


def test_tray_update_now_runs_the_sync_services_update_now(qtbot, make_shell) -> None:
    from services.accounts.actor import Actor

    viewer = make_shell(tray=True, actor=Actor("val.viewer", "viewer", "gui"))
    viewer.tray.build_menu()
    assert not viewer.tray.actions()["Update now"].isEnabled()

    shell = make_shell(tray=True)
    calls = []

    class FakeSync:  # the sync service's surface the shell uses
        def update_now(self, actor=None) -> None:
            calls.append(actor)

        def shutdown(self, timeout: float | None = None) -> None:
            pass

        def reopen(self) -> None:
            pass

    shell.app.sync = FakeSync()
    shell.tray.build_menu()
    update = shell.tray.actions()["Update now"]
    assert update.isEnabled()
    update.trigger()
    wait_idle(qtbot, shell)
    assert calls == [shell.ctx.session.actor]  # the signed-in user, for the service to check and record


def test_setting_change_updates_close_behaviour(qtbot, make_shell) -> None:
    shell = make_shell(tray=True, close_to_tray="tray")
    shell.ctx.events.setting_changed.emit("close_to_tray", "quit")
    shell.window.close()
    assert shell.quits == [True]


def test_second_instance_asks_the_first_to_raise(qtbot) -> None:
    name = f"wearsync-test-{uuid.uuid4().hex[:8]}"
    first = SingleInstance(name)
    assert first.listen()
    try:
        with qtbot.waitSignal(first.raise_requested, timeout=5000):
            assert SingleInstance(name).notify_running()
        assert not SingleInstance(name + "-other").notify_running()
    finally:
        first.close()


def test_raise_request_shows_hidden_window(qtbot, make_shell) -> None:
    shell = make_shell(tray=True, close_to_tray="tray")
    shell.window.close()
    name = f"wearsync-test-{uuid.uuid4().hex[:8]}"
    first = SingleInstance(name)
    first.raise_requested.connect(shell.show_window)
    first.listen()
    try:
        with qtbot.waitSignal(first.raise_requested, timeout=5000):
            SingleInstance(name).notify_running()
        assert shell.window.isVisible()
    finally:
        first.close()


def test_server_name_depends_on_data_directory(tmp_path) -> None:
    assert server_name(tmp_path / "a") != server_name(tmp_path / "b")
    assert server_name(tmp_path / "a") == server_name(tmp_path / "a")


def test_crash_handler_shows_dialog_with_summary_and_log(qtbot, tmp_path, caplog) -> None:
    shown = []
    handler = CrashHandler(tmp_path / "wearsync.log", present=lambda dlg: shown.append(dlg) or 1)
    try:
        raise ValueError("boom access_token=abcdefghijkl")
    except ValueError:
        handler(*sys.exc_info())
    (dialog,) = shown
    qtbot.addWidget(dialog)
    assert "ValueError: boom" in dialog.summary.text()
    assert "abcdefghijkl" not in dialog.summary.text()  # redacted
    assert str(tmp_path / "wearsync.log") in dialog.log_label.text()
    dialog.copy_button.click()
    assert "Traceback" in QGuiApplication.clipboard().text()
    assert "uncaught error" in caplog.text


def test_crash_handler_leaves_keyboard_interrupt_alone(tmp_path, monkeypatch) -> None:
    shown = []
    seen = []
    monkeypatch.setattr(sys, "__excepthook__", lambda *info: seen.append(info[0]))
    handler = CrashHandler(tmp_path / "x.log", present=lambda dlg: shown.append(dlg) or 1)
    handler(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert shown == [] and seen == [KeyboardInterrupt]
