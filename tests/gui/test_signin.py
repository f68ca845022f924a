"""The sign-in screen as a user meets it: first administrator, sign in, lockout, registration keys,
a forced password change, and signing out. Every check runs on a worker; the window's pages stay
unreachable until the service said yes."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from services.accounts.actor import Actor
from services.clock import Clock
from tests.gui.conftest import ADMIN_PASSWORD, USER_PASSWORD, wait_idle

pytestmark = pytest.mark.gui


def gate_of(qtbot, shell, form_name: str):  # type: ignore[no-untyped-def]
    gate = shell.gate
    qtbot.waitUntil(lambda: gate.screen.current is not None and gate.screen.current.objectName() == form_name,
                    timeout=5000)
    return gate


def admin(app) -> Actor:  # type: ignore[no-untyped-def]
    return app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)


def sign_in(qtbot, gate, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    form = gate.screen.sign_in
    form.username.setText(username)
    form.password.setText(password)
    form.submit_button.click()
    qtbot.waitUntil(lambda: not form.busy, timeout=5000)


def test_first_run_creates_the_first_administrator(qtbot, make_shell, sqlite_app) -> None:
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "firstAdminForm")
    assert gate.gated and not shell.ctx.session.signed_in
    assert not shell.gate.content.isVisible()  # no page behind the screen is reachable
    form = gate.screen.first_admin
    form.username.setText("Anna.Admin")
    # a weak password: live feedback in plain words, and the service refuses it with the same rule
    form.password.first.setText("tulips")
    assert "at least 12 characters" in form.password.feedback.text()
    form.password.first.setText("password1234")
    form.password.second.setText("password1234")
    assert "common passwords" in form.password.feedback.text()
    form.submit_button.click()
    qtbot.waitUntil(lambda: form.error.isVisible(), timeout=5000)
    assert "common passwords" in form.error.text()
    assert sqlite_app.accounts.needs_first_admin() and gate.gated

    form.password.first.setText(ADMIN_PASSWORD)
    form.password.second.setText(ADMIN_PASSWORD + "x")
    form.submit_button.click()
    assert "differ" in form.error.text()
    form.password.second.setText(ADMIN_PASSWORD)
    assert form.password.feedback.text().startswith("✓")
    form.submit_button.click()
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    assert shell.ctx.session.actor == Actor("anna.admin", "admin", "gui")
    assert shell.ctx.session.can("users")
    assert form.password.first.text() == ""  # nothing typed stays in the hidden form


def test_sign_in_runs_off_the_ui_thread_and_refuses_a_wrong_password(qtbot, make_shell, sqlite_app) -> None:
    admin(sqlite_app)
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "signInForm")
    form = gate.screen.sign_in

    release = threading.Event()
    real = sqlite_app.accounts.authenticate

    def slow(username: str, password: str) -> Actor:
        release.wait(5)
        return real(username, password)

    sqlite_app.accounts.authenticate = slow
    form.username.setText("admin.anna")
    form.password.setText("not the password at all")
    form.submit_button.click()
    assert not form.submit_button.isEnabled()  # the window keeps painting; the button waits
    release.set()
    qtbot.waitUntil(lambda: form.error.isVisible(), timeout=5000)
    assert "username or password is not right" in form.error.text()
    assert form.submit_button.isEnabled() and form.password.text() == ""
    assert gate.gated and not shell.ctx.session.signed_in

    sign_in(qtbot, gate, "admin.anna", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    assert shell.ctx.session.actor.username == "admin.anna"


def test_lockout_after_failed_attempts_and_its_expiry(qtbot, make_shell, sqlite_app) -> None:
    admin(sqlite_app)
    clock = sqlite_app.clock  # every service reads it
    clock.pin(clock.utcnow())
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "signInForm")
    form = gate.screen.sign_in
    for _ in range(4):
        sign_in(qtbot, gate, "admin.anna", "wrong wrong wrong")
        assert "not right" in form.error.text()
    sign_in(qtbot, gate, "admin.anna", "wrong wrong wrong")
    assert "Too many failed attempts; try again in 1 minute" in form.error.text()
    # locked: even the right password is refused, with the same plain message
    sign_in(qtbot, gate, "admin.anna", ADMIN_PASSWORD)
    assert "try again in 1 minute" in form.error.text() and gate.gated
    clock.advance(seconds=61)
    sign_in(qtbot, gate, "admin.anna", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)


def test_disabled_account_is_told_so(qtbot, make_shell, sqlite_app) -> None:
    boss = admin(sqlite_app)
    sqlite_app.accounts.add_user("cora", "coordinator", USER_PASSWORD, boss)
    sqlite_app.accounts.set_disabled("cora", True, boss)
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "signInForm")
    sign_in(qtbot, gate, "cora", USER_PASSWORD)
    assert "disabled" in gate.screen.sign_in.error.text() and gate.gated


def _key(app, boss: Actor, clock: Clock, state: str) -> str:  # type: ignore[no-untyped-def]
    new = app.keys.generate(boss, "coordinator", hours=1)
    if state == "used":
        app.accounts.register(new.key, "early.bird", USER_PASSWORD)
    elif state == "expired":
        clock.advance(hours=2)
    elif state == "revoked":
        app.keys.revoke(new.hint, boss)
    return new.key


@pytest.mark.parametrize(("state", "message"), [
    ("valid", None),
    ("used", "already been used"),
    ("expired", "expired on"),
    ("revoked", "withdrawn by an administrator"),
    ("unknown", "not valid"),
])
def test_register_with_a_key(qtbot, make_shell, sqlite_app, state: str, message: str | None) -> None:
    boss = admin(sqlite_app)
    clock = sqlite_app.clock
    clock.pin(clock.utcnow())
    key = "WS-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE" if state == "unknown" else _key(sqlite_app, boss, clock, state)
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "signInForm")
    gate.screen.sign_in.register_link.click()
    form = gate.screen.register
    assert gate.screen.current is form
    form.key.setText(key.lower())  # typed by hand: case and dashes do not matter
    form.username.setText("new.colleague")
    form.password.first.setText(USER_PASSWORD)
    form.password.second.setText(USER_PASSWORD)
    form.submit_button.click()
    qtbot.waitUntil(lambda: not form.busy, timeout=5000)
    users = [u.username for u in sqlite_app.accounts.list_users(boss)]
    if message is None:
        assert not gate.gated
        assert shell.ctx.session.actor == Actor("new.colleague", "coordinator", "gui")
        assert "new.colleague" in users
    else:
        assert message in form.error.text()
        assert gate.gated and "new.colleague" not in users


def test_temporary_password_must_be_changed_before_any_page(qtbot, make_shell, sqlite_app) -> None:
    boss = admin(sqlite_app)
    sqlite_app.accounts.add_user("cora", "coordinator", USER_PASSWORD, boss)
    temp = sqlite_app.accounts.reset_password("cora", boss)
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "signInForm")
    sign_in(qtbot, gate, "cora", temp)
    gate = gate_of(qtbot, shell, "changePasswordForm")
    assert gate.gated and not shell.ctx.session.signed_in
    form = gate.screen.change_password
    assert not form.current.isVisibleTo(form)  # just typed: not asked twice
    form.password.first.setText("cora")
    form.submit_button.click()
    assert "12 characters" in form.error.text()
    form.password.first.setText("violet harbour morning tide")
    form.password.second.setText("violet harbour morning tide")
    form.submit_button.click()
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    assert shell.ctx.session.actor.username == "cora"
    assert not sqlite_app.accounts.get_user("cora", boss).must_change_password
    sqlite_app.accounts.authenticate("cora", "violet harbour morning tide")


def test_sign_out_and_change_my_password_from_the_account_menu(qtbot, make_shell, sqlite_app) -> None:
    shell = make_shell()
    gate = shell.gate
    assert not gate.gated and gate.account_button.isEnabled()
    dlg = gate.open_change_password()
    form = dlg.form
    form.current.setText(ADMIN_PASSWORD)
    form.password.first.setText("copper kettle winter song")
    form.password.second.setText("copper kettle winter song")
    form.submit_button.click()
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=5000)
    assert shell.dialogs.infos[-1][0] == "Password changed"

    gate.sign_out_action.trigger()
    gate = gate_of(qtbot, shell, "signInForm")
    assert gate.gated and not shell.ctx.session.signed_in
    assert not shell.ctx.session.can("view")
    wait_idle(qtbot, shell)
    assert "user.sign_out" in [e.action for e in sqlite_app.audit.entries()]
    sign_in(qtbot, gate, "admin.anna", "copper kettle winter song")
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)


def test_signed_out_tray_offers_nothing_but_open_and_quit(qtbot, make_shell) -> None:
    shell = make_shell(tray=True, signed_in=False)
    gate_of(qtbot, shell, "firstAdminForm")
    shell.tray.build_menu()
    actions = shell.tray.actions()
    assert actions["Open WearSync"].isEnabled() and actions["Quit WearSync"].isEnabled()
    assert not actions["Start tunnel"].isEnabled() and not actions["Update now"].isEnabled()


def test_expired_lock_is_computed_by_the_service_clock(sqlite_app) -> None:
    """Guard for the test above: a lock set in the past no longer refuses (the DB path)."""
    from sqlalchemy import update

    from db.models import User

    admin(sqlite_app)
    with sqlite_app.db.session() as s:
        past = sqlite_app.clock.utcnow() - dt.timedelta(minutes=1)
        s.execute(update(User).values(locked_until=past, failed_attempts=5))
    assert sqlite_app.accounts.authenticate("admin.anna", ADMIN_PASSWORD).role == "admin"


def test_enter_moves_to_the_next_empty_field_then_signs_in(qtbot, make_shell, sqlite_app) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    admin(sqlite_app)
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "signInForm")
    form = gate.screen.sign_in
    shell.window.activateWindow()
    form.username.setText("admin.anna")
    QTest.keyClick(form.username, Qt.Key.Key_Return)
    assert form.password.hasFocus() and not form.busy and not form.error.isVisible()
    form.password.setText(ADMIN_PASSWORD)
    QTest.keyClick(form.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not gate.gated, timeout=5000)
    # the keyboard carries on in the first page (its search box), not on the "My account" button
    page = shell.window.current_page()
    qtbot.waitUntil(lambda: page.isAncestorOf(QApplication.focusWidget()), timeout=5000)
    assert QApplication.focusWidget() is page.first_focus()


def test_password_problem_is_said_once_and_goes_when_the_password_is_edited(qtbot, make_shell) -> None:
    """The red error does not repeat the feedback line under the boxes, and it does not stay behind
    (stale) once the password is changed."""
    shell = make_shell(signed_in=False)
    gate = gate_of(qtbot, shell, "firstAdminForm")
    form = gate.screen.first_admin
    form.username.setText("anna.admin")
    form.password.first.setText(ADMIN_PASSWORD)
    form.password.second.setText(ADMIN_PASSWORD + "x")
    assert "differ" in form.password.feedback.text()
    form.submit_button.click()
    assert form.error.isVisible() and "differ" in form.error.text()
    assert not form.password.feedback.isVisible()  # one message, not the same one twice

    form.password.second.setText(ADMIN_PASSWORD)  # fixed: the old error must not linger
    assert not form.error.isVisible()
    assert form.password.feedback.isVisible() and form.password.feedback.text().startswith("✓")
