"""The pieces under the pages: error advice, the bridge, the log filter, the tunnel page's errors
and the sandbox's separate data directory."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame

from gui.bridge import Bridge
from gui.errors import advice_for
from gui.pages.log import filter_lines
from services.errors import (
    Conflict,
    InvalidInput,
    MissingSecret,
    PermissionDenied,
    SecretsLocked,
    SecretsUnavailable,
)

pytestmark = pytest.mark.gui


@pytest.mark.parametrize(("error", "level", "action", "inline"), [
    (SecretsLocked("locked"), "warning", "retry", False),
    (SecretsUnavailable("none"), "warning", None, False),
    (MissingSecret("set it"), "warning", "settings", False),
    (PermissionDenied("no"), "info", None, False),
    (InvalidInput("bad"), "warning", None, True),
    (Conflict("taken"), "warning", None, True),
    (RuntimeError("bug"), "critical", None, False),
])
def test_each_error_type_gets_its_advice(error, level, action, inline) -> None:
    advice = advice_for(error)
    assert (advice.level, advice.action, advice.inline) == (level, action, inline)
    if isinstance(error, SecretsLocked):
        assert "Unlock your keyring" in advice.message


def test_bridge_runs_off_the_ui_thread_and_answers_on_it(qtbot) -> None:
    bridge = Bridge()
    ui = threading.get_ident()
    ran_on = []
    got = []

    def work(x: int) -> int:
        ran_on.append(threading.get_ident())
        return x * 2

    task = bridge.submit(work, 21, on_result=lambda r: got.append((r, threading.get_ident())))
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    assert ran_on and ran_on[0] != ui
    assert got == [(42, ui)]
    assert bridge.pending == 0


def test_bridge_reports_unhandled_errors(qtbot) -> None:
    bridge = Bridge()

    def fail() -> None:
        raise MissingSecret("Withings client ID is not set.")

    with qtbot.waitSignal(bridge.unhandled, timeout=5000) as blocker:
        bridge.submit(fail)
    assert isinstance(blocker.args[0], MissingSecret)


def test_unhandled_error_reaches_a_dialog(qtbot, make_shell) -> None:
    shell = make_shell()

    def fail() -> None:
        raise PermissionDenied("Your role may not do that.")

    shell.bridge.submit(fail)
    qtbot.waitUntil(lambda: bool(shell.dialogs.errors), timeout=5000)
    assert isinstance(shell.dialogs.errors[0], PermissionDenied)


def test_log_filter_keeps_tracebacks_with_their_record() -> None:
    text = (
        "2026-01-01 10:00:00,001 INFO    a: started\n"
        "2026-01-01 10:00:01,001 ERROR   b: failed\n"
        "Traceback (most recent call last):\n"
        "ValueError: x\n"
        "2026-01-01 10:00:02,001 DEBUG   c: detail\n"
    )
    assert filter_lines(text, "ERROR") == [
        "2026-01-01 10:00:01,001 ERROR   b: failed", "Traceback (most recent call last):", "ValueError: x"]
    assert len(filter_lines(text, "INFO")) == 4
    assert len(filter_lines(text, "DEBUG")) == 5


def test_tunnel_without_token_says_where_to_fix_it(qtbot, make_shell) -> None:
    shell = make_shell()
    page = shell.window.show_page("tunnel")
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.error.isVisible(), timeout=10_000)
    assert "authtoken" in page.error.text.text()
    assert page.error.button.text() == "Fix in Tunnel settings"
    page.error.button.click()
    assert page.settings.authtoken.hasFocus() or page.settings.authtoken.isVisibleTo(page)


def test_sandbox_uses_its_own_data_directory(monkeypatch, tmp_path) -> None:
    import os

    from gui.application import use_sandbox_home

    monkeypatch.setenv("WEARSYNC_HOME", str(tmp_path / "real"))
    monkeypatch.setenv("WEARSYNC_DATABASE_URL", "mysql+pymysql://clinic@db/wearsync")
    # set, so that monkeypatch puts back what use_sandbox_home changes in os.environ
    monkeypatch.setenv("WEARSYNC_SANDBOX", "0")
    monkeypatch.setenv("WEARSYNC_CALLBACK_PORT", "8765")
    monkeypatch.setenv("WEARSYNC_PUBLIC_URL", "https://clinic.example.org")
    home = use_sandbox_home()
    assert home == tmp_path / "real" / "sandbox"
    assert os.environ["WEARSYNC_HOME"] == str(home)
    # demo data never goes to the real server
    assert os.environ["WEARSYNC_DATABASE_URL"] == f"sqlite:///{home / 'sandbox.sqlite3'}"
    # nor does the sandbox answer the real listener's port or tunnel
    assert os.environ["WEARSYNC_CALLBACK_PORT"] != "8765" and "WEARSYNC_PUBLIC_URL" not in os.environ


def test_sandbox_window_shows_banner(qtbot, sqlite_app) -> None:
    from gui.shell import Shell
    from tests.gui.conftest import FakeDialogs

    shell = Shell(sqlite_app, tray_available=False, sandbox=True, dialogs=FakeDialogs(), quit_fn=lambda: None)
    qtbot.addWidget(shell.window)
    shell.window.show()
    banner = shell.window.findChild(QFrame, "sandboxBanner")
    assert banner is not None and banner.isVisible()
    qtbot.waitUntil(lambda: shell.bridge.pending == 0)
    shell.quitting = True
