"""The idle lock in the window: activity postpones it, it engages after the set minutes (a fake
clock, no waiting), covers every page and open form, and opens again only with the same user's
password — or for someone else after a fresh sign-in."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from services.accounts.actor import Actor
from tests.gui.conftest import ADMIN_PASSWORD, USER_PASSWORD, wait_idle

pytestmark = pytest.mark.gui


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def signed_in_with_clock(qtbot, make_shell, sqlite_app, minutes: int = 15):  # type: ignore[no-untyped-def]
    """Sign in through the form, with the gate's clock faked from the start."""
    sqlite_app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)
    sqlite_app.settings.set("idle_lock_minutes", minutes)
    shell = make_shell(signed_in=False)
    gate = shell.gate
    clock = FakeTime()
    gate.idle.clock = clock
    qtbot.waitUntil(lambda: gate.screen.current is gate.screen.sign_in, timeout=5000)
    form = gate.screen.sign_in
    form.username.setText("admin.anna")
    form.password.setText(ADMIN_PASSWORD)
    form.submit_button.click()
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    wait_idle(qtbot, shell)  # the timeout setting has arrived
    return shell, gate, clock


def test_locks_after_the_idle_time_and_activity_postpones_it(qtbot, make_shell, sqlite_app) -> None:
    shell, gate, clock = signed_in_with_clock(qtbot, make_shell, sqlite_app)
    assert gate.idle.policy.timeout_s == 15 * 60
    clock.advance(14)
    assert not gate.idle.check()
    QTest.keyClick(shell.window.current_page(), Qt.Key.Key_Shift)  # any key or mouse use counts
    clock.advance(14)
    assert not gate.idle.check() and not gate.gated
    clock.advance(2)
    assert gate.idle.check()
    assert gate.gated and gate.screen.current is gate.screen.unlock
    assert shell.ctx.session.locked and not shell.ctx.session.can("view")
    assert "admin.anna" in gate.screen.unlock.text.text()
    page = shell.window.pages["patients"]
    assert not page.add_button.isEnabled()  # nothing is allowed while locked

    # the same user's password only
    unlock = gate.screen.unlock
    unlock.password.setText("not my password at all")
    unlock.submit_button.click()
    qtbot.waitUntil(lambda: unlock.error.isVisible(), timeout=5000)
    assert gate.gated
    unlock.password.setText(ADMIN_PASSWORD)
    unlock.submit_button.click()
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    assert shell.ctx.session.can("users") and page.add_button.isEnabled()
    wait_idle(qtbot, shell)
    actions = [e.action for e in sqlite_app.audit.entries()]
    assert "user.session_locked" in actions and "user.unlock_session" in actions
    # the clock restarts at the unlock
    clock.advance(10)
    assert not gate.idle.check()


def test_an_open_form_hides_behind_the_lock_and_returns_after_unlock(qtbot, make_shell, sqlite_app) -> None:
    shell, gate, clock = signed_in_with_clock(qtbot, make_shell, sqlite_app)
    page = shell.window.show_page("patients")
    dialog = page.open_add_dialog()
    dialog.code.setText("P-042")
    clock.advance(16)
    gate.idle.check()
    assert gate.gated and not dialog.isVisible()
    unlock = gate.screen.unlock
    unlock.password.setText(ADMIN_PASSWORD)
    unlock.submit_button.click()
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    assert dialog.isVisible() and dialog.code.text() == "P-042"


def test_sign_in_as_someone_else_from_the_lock(qtbot, make_shell, sqlite_app) -> None:
    shell, gate, _clock = signed_in_with_clock(qtbot, make_shell, sqlite_app)
    boss = Actor("admin.anna", "admin", "gui")
    sqlite_app.accounts.add_user("vera", "viewer", USER_PASSWORD, boss)
    dialog = shell.window.show_page("patients").open_add_dialog()
    gate.lock_action.trigger()  # "Lock now" from the account menu
    assert gate.gated
    gate.screen.unlock.switch_link.click()
    qtbot.waitUntil(lambda: gate.screen.current is gate.screen.sign_in, timeout=5000)
    assert not shell.ctx.session.signed_in
    assert not dialog.isVisible()  # the previous user's form is gone, not handed to the next one
    form = gate.screen.sign_in
    form.username.setText("vera")
    form.password.setText(USER_PASSWORD)
    form.submit_button.click()
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    assert shell.ctx.session.actor.role == "viewer"
    assert not dialog.isVisible()


def test_zero_minutes_never_locks_on_idle(qtbot, make_shell, sqlite_app) -> None:
    _shell, gate, clock = signed_in_with_clock(qtbot, make_shell, sqlite_app, minutes=0)
    clock.advance(60 * 24)
    assert not gate.idle.check() and not gate.gated


def test_a_changed_setting_applies_at_once(qtbot, make_shell, sqlite_app) -> None:
    shell, gate, clock = signed_in_with_clock(qtbot, make_shell, sqlite_app)
    shell.ctx.events.setting_changed.emit("idle_lock_minutes", 5)
    clock.advance(6)
    assert gate.idle.check() and gate.gated
