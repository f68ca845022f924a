"""Keys & Users as an administrator uses it: add a user, reset a password (shown once), unlock,
change a role, disable, remove (the last administrator protected by the service), generate a key
(shown once) and revoke it, and read and export the audit trail."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from services.accounts.actor import Actor
from tests.gui.conftest import ADMIN_PASSWORD, USER_PASSWORD, wait_idle

pytestmark = pytest.mark.gui
BOSS = Actor("admin.anna", "admin", "gui")


def open_users(qtbot, shell, tab: str = "users"):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("users")
    page.tabs.setCurrentWidget(getattr(page, tab))
    page.shown()
    wait_idle(qtbot, shell)
    return page


def rows(table) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def states(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    t = page.users.table
    return {t.item(r, 0).data(256): t.item(r, 2).data(257) for r in range(t.rowCount())}


def test_add_user_then_reset_unlock_role_disable_remove(qtbot, make_shell, sqlite_app) -> None:
    shell = make_shell()
    page = open_users(qtbot, shell)
    assert page.tabs.isVisible() and not page.not_allowed.isVisible()
    dlg = page.users.add_user()
    dlg.username.setText("cora")
    dlg.role.setCurrentIndex(dlg.role.findData("coordinator"))
    temp = dlg.password.text()
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=5000)
    wait_idle(qtbot, shell)
    assert states(page) == {"admin.anna": "active", "cora": "must_change"}
    assert sqlite_app.accounts.authenticate("cora", temp).role == "coordinator"

    # a wrong run of passwords locks cora; the admin unlocks
    for _ in range(5):
        with pytest.raises(Exception):  # noqa: B017 - the lockout messages are tested elsewhere
            sqlite_app.accounts.authenticate("cora", "wrong wrong wrong")
    page.shown()
    wait_idle(qtbot, shell)
    page.users.select("cora")
    assert states(page)["cora"] == "locked" and page.users.unlock_button.isEnabled()
    page.users.unlock_button.click()
    wait_idle(qtbot, shell)
    assert states(page)["cora"] == "must_change"

    # reset: the temporary password is shown once, with a copy button
    page.users.select("cora")
    page.users.reset_button.click()
    wait_idle(qtbot, shell)
    secret = page.last_secret
    assert secret is not None and secret.isVisible()
    new_temp = secret.value.text()
    secret.copy_button.click()
    assert QGuiApplication.clipboard().text() == new_temp
    secret.accept()
    assert secret.value.text() == ""  # gone once closed
    assert sqlite_app.accounts.authenticate("cora", new_temp).username == "cora"

    page.users.select("cora")
    role_dlg = page.users.change_role()
    role_dlg.role.setCurrentIndex(role_dlg.role.findData("viewer"))
    role_dlg.ok_button.click()
    qtbot.waitUntil(lambda: not role_dlg.isVisible(), timeout=5000)
    wait_idle(qtbot, shell)
    assert sqlite_app.accounts.get_user("cora", BOSS).role == "viewer"

    page.users.select("cora")
    page.users.disable_button.click()
    wait_idle(qtbot, shell)
    assert states(page)["cora"] == "disabled"
    page.users.select("cora")
    assert page.users.disable_button.text() == "Enable"

    page.users.select("cora")
    page.users.remove_button.click()
    wait_idle(qtbot, shell)
    assert "Remove cora?" in shell.dialogs.confirms[-1][0]
    assert list(states(page)) == ["admin.anna"]


def test_the_last_administrator_is_protected_with_the_service_message(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_users(qtbot, shell)
    page.users.select("admin.anna")
    page.users.disable_button.click()
    wait_idle(qtbot, shell)
    [error] = shell.dialogs.errors
    assert "last administrator" in error.message
    assert states(page)["admin.anna"] == "active"


def test_a_refused_new_user_keeps_the_dialog_open_with_the_reason(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_users(qtbot, shell)
    dlg = page.users.add_user()
    dlg.username.setText("x")
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: dlg.error_label.isVisible(), timeout=5000)
    assert "3 to 64 characters" in dlg.error_label.text() and dlg.isVisible()


def test_generated_key_is_shown_once_and_can_be_revoked(qtbot, make_shell, sqlite_app) -> None:
    shell = make_shell()
    page = open_users(qtbot, shell, "keys")
    dlg = page.keys.generate()
    assert dlg.until_reset.isChecked()  # the default: tonight's reset
    dlg.role.setCurrentIndex(dlg.role.findData("viewer"))
    dlg.hours.setValue(8)
    assert dlg.for_hours.isChecked()
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: page.last_secret is not None and page.last_secret.isVisible(), timeout=5000)
    wait_idle(qtbot, shell)
    key = page.last_secret.value.text()
    assert key.startswith("WS-")
    assert "not shown again" in " ".join(w.text() for w in page.last_secret.findChildren(QLabel))
    table = rows(page.keys.table)
    assert len(table) == 1 and table[0][1] == "Viewer"
    assert key not in " ".join(table[0])  # the list shows the hint only
    assert table[0][0] == f"WS-{key.split('-')[1]}-…"
    [info] = sqlite_app.keys.list_keys(BOSS)
    assert abs((info.expires_at - sqlite_app.clock.utcnow()) - dt.timedelta(hours=8)) < dt.timedelta(minutes=1)
    page.last_secret.accept()

    page.keys.table.selectRow(0)
    page.keys.revoke_button.click()
    wait_idle(qtbot, shell)
    assert page.keys.table.item(0, 2).data(257) == "key_revoked"
    assert not page.keys.revoke_button.isEnabled()
    from services.accounts.keys import KeyRefused

    with pytest.raises(KeyRefused):
        sqlite_app.accounts.register(key, "late.comer", USER_PASSWORD)


def test_audit_trail_lists_and_exports_csv(qtbot, make_shell, sqlite_app, tmp_path) -> None:
    shell = make_shell()
    sqlite_app.accounts.add_user("cora", "coordinator", USER_PASSWORD, BOSS)
    page = open_users(qtbot, shell, "audit")
    table = rows(page.audit.table)
    assert table[0][1:4] == ["admin.anna", "Added a user", "cora"]  # newest first, in plain words
    assert "Created the first administrator" in [r[2] for r in table]
    assert ADMIN_PASSWORD not in str(table) and USER_PASSWORD not in str(table)
    # later than today: nothing
    page.audit.since.setDate(page.audit.since.date().addDays(30))
    wait_idle(qtbot, shell)
    assert page.audit.table.rowCount() == 0
    page.audit.since.setDate(page.audit.since.date().addDays(-60))
    wait_idle(qtbot, shell)

    out = tmp_path / "audit.csv"
    page.audit.choose_path = lambda: str(out)  # type: ignore[method-assign]
    page.audit.export_button.click()
    wait_idle(qtbot, shell)
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "time_utc,user,source,action,target,detail"
    assert "user.add,cora" in text
    assert shell.dialogs.infos[-1][0] == "Audit trail exported"


@pytest.mark.parametrize("role", ["coordinator", "viewer"])
def test_non_admins_see_a_plain_explanation(qtbot, make_shell, role: str) -> None:
    shell = make_shell(actor=Actor(f"{role}.user", role, "gui"))
    page = open_users(qtbot, shell)
    assert not page.tabs.isVisible() and page.not_allowed.isVisible()
    assert page.users.table.rowCount() == 0
    assert f"{role}.user" in page.me_text.text() and page.password_button.isEnabled()


def test_signing_out_clears_what_the_admin_saw(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_users(qtbot, shell)
    assert page.users.table.rowCount() == 1
    shell.gate.sign_out()
    assert page.users.table.rowCount() == 0 and not page.tabs.isVisible()
