"""Keys & Users: who may use WearSync, with which role; the registration keys that let a colleague
sign up; and the audit trail. Administrators only — everyone else sees who they are signed in as,
can change their own password, and reads why the rest is not there."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.format import ago, when
from gui.pages.base import Page
from gui.pages.users.audit import AuditTab
from gui.pages.users.common import ROLE_NAMES, table
from gui.pages.users.dialogs import (
    AddUserDialog,
    ChangeRoleDialog,
    OneTimeSecretDialog,
)
from gui.pages.users.keys import KeysTab
from gui.widgets import BadgeDelegate, Card, button, label
from services.accounts.service import UserInfo

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
NAME_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class UsersView:
    users: list[UserInfo]
    now: dt.datetime  # the service clock's now, so "locked" agrees with the service


def user_state(u: UserInfo, now: dt.datetime) -> str:
    """The badge for a user row: active | locked | disabled | must_change."""
    state = u.state(now)
    if state == "active" and u.must_change_password:
        return "must_change"
    return state


class UsersTab(QWidget):
    def __init__(self, ctx: PageContext, page: UsersPage) -> None:
        super().__init__()
        self.ctx = ctx
        self.page = page
        self.view: UsersView | None = None
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 12, 0, 0)
        col.setSpacing(10)
        bar = QHBoxLayout()
        bar.setSpacing(8)
        self.add_button = button("Add user…", "add", primary=True, on_click=self.add_user)
        self.reset_button = button("Reset password…", on_click=self.reset_password)
        self.unlock_button = button("Unlock", "lock", on_click=lambda: self._act(ctx.app.accounts.unlock))
        self.role_button = button("Change role…", on_click=self.change_role)
        self.disable_button = button("Disable", on_click=self.toggle_disabled)
        self.remove_button = button("Remove…", "trash", danger=True, on_click=self.remove)
        for name, b in (("addUser", self.add_button), ("resetPassword", self.reset_button),
                        ("unlockUser", self.unlock_button), ("changeRole", self.role_button),
                        ("disableUser", self.disable_button), ("removeUser", self.remove_button)):
            b.setObjectName(name)
            bar.addWidget(b)
        bar.insertStretch(1, 1)
        col.addLayout(bar)
        self.table = table(["Username", "Role", "State", "Last sign-in"], "usersTable")
        self.table.setItemDelegateForColumn(2, BadgeDelegate(self.table))
        self.table.itemSelectionChanged.connect(self.update_buttons)
        col.addWidget(self.table, 1)
        col.addWidget(label("Disabling keeps the account and its history; an administrator can enable it again. "
                            "WearSync always keeps at least one active administrator.", "help", wrap=True))
        self.update_buttons()

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        accounts, actor = self.ctx.app.accounts, self.ctx.session.actor
        self.ctx.bridge.submit(lambda: UsersView(accounts.list_users(actor), accounts.clock.utcnow()),
                               on_result=self._loaded, on_error=self._failed, context=self)

    def _loaded(self, view: UsersView) -> None:
        if not self.ctx.session.can("users"):
            return  # signed out meanwhile
        selected = self.selected()
        self.view = view
        self.table.setRowCount(len(view.users))
        for i, u in enumerate(view.users):
            name = QTableWidgetItem(u.username + ("  (you)" if u.username == self.ctx.session.actor.username else ""))
            name.setData(NAME_ROLE, u.username)
            state = QTableWidgetItem("")
            state.setData(STATUS_ROLE, user_state(u, view.now))
            if u.locked_until and u.locked_until > view.now:
                state.setToolTip(f"Locked until {when(u.locked_until)} after {u.failed_attempts} failed sign-ins")
            you = u.username == self.ctx.session.actor.username and self.ctx.session.signed_in
            last = QTableWidgetItem("Signed in now" if you else ago(u.last_login_at, never="Never signed in"))
            last.setToolTip(when(u.last_login_at))
            for c, item in enumerate((name, QTableWidgetItem(ROLE_NAMES.get(u.role, u.role)), state, last)):
                self.table.setItem(i, c, item)
            if u.username == selected:
                self.table.selectRow(i)
        self.update_buttons()

    def _failed(self, error: Exception) -> None:
        self.ctx.dialogs.error(self, error)

    def clear(self) -> None:
        self.view = None
        self.table.setRowCount(0)

    # -- selection ------------------------------------------------------------------------
    def selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return str(item.data(NAME_ROLE)) if item is not None else None

    def selected_user(self) -> UserInfo | None:
        name = self.selected()
        return next((u for u in self.view.users if u.username == name), None) if self.view else None

    def select(self, username: str) -> None:
        for i in range(self.table.rowCount()):
            item = self.table.item(i, 0)
            if item is not None and item.data(NAME_ROLE) == username:
                self.table.selectRow(i)

    def update_buttons(self) -> None:
        allowed = self.ctx.session.can("users")
        u = self.selected_user()
        now = self.view.now if self.view else dt.datetime.min
        self.add_button.setEnabled(allowed)
        for b in (self.reset_button, self.role_button, self.disable_button, self.remove_button):
            b.setEnabled(allowed and u is not None)
        self.unlock_button.setEnabled(allowed and u is not None and (u.state(now) == "locked" or u.failed_attempts > 0))
        self.disable_button.setText("Enable" if u is not None and u.disabled else "Disable")

    # -- actions --------------------------------------------------------------------------
    def _act(self, fn, *extra, on_result=None) -> None:  # type: ignore[no-untyped-def]
        name = self.selected()
        if name is None:
            return
        self.ctx.bridge.submit(fn, name, *extra, self.ctx.session.actor,
                               on_result=on_result or (lambda _r: self.refresh()), on_error=self._failed,
                               context=self)

    def add_user(self) -> AddUserDialog:
        dlg = AddUserDialog(self.ctx, self)
        dlg.added.connect(self._added)
        dlg.open()
        return dlg

    def _added(self, username: str, _password: str) -> None:
        self.refresh()
        self.ctx.dialogs.info(self, "User added", f"{username} can now sign in with the temporary password "
                              "you gave them, and will then choose their own.")

    def reset_password(self) -> None:
        name = self.selected()
        if name is None or not self.ctx.dialogs.confirm(
                self, f"Reset the password of {name}?",
                f"{name} gets a temporary password that works once: they must choose a new one when they sign "
                "in. Their current password stops working now, and a lockout is lifted.", "Reset password"):
            return
        self.ctx.bridge.submit(self.ctx.app.accounts.reset_password, name, self.ctx.session.actor,
                               on_result=lambda temp: self._show_temporary(name, temp), on_error=self._failed,
                               context=self)

    def _show_temporary(self, name: str, temp: str) -> None:
        self.refresh()
        dialog = OneTimeSecretDialog(
            "Temporary password", f"Give this temporary password to {name}. They sign in with it once and then "
            "choose their own.", temp, self)
        self.page.last_secret = dialog
        dialog.open()

    def change_role(self) -> ChangeRoleDialog | None:
        u = self.selected_user()
        if u is None:
            return None
        dlg = ChangeRoleDialog(self.ctx, u.username, u.role, self)
        dlg.changed.connect(self.refresh)
        dlg.open()
        return dlg

    def toggle_disabled(self) -> None:
        u = self.selected_user()
        if u is not None:
            self._act(self.ctx.app.accounts.set_disabled, not u.disabled)

    def remove(self) -> None:
        name = self.selected()
        if name is None or not self.ctx.dialogs.confirm(
                self, f"Remove {name}?",
                f"The account {name} is deleted and can no longer sign in. What they did stays in the audit "
                "trail. Disabling the account instead keeps it, so it can be enabled again.",
                "Remove account", danger=True):
            return
        self._act(self.ctx.app.accounts.remove_user)


class UsersPage(Page):
    key = "users"
    title = "Keys & Users"
    icon = "keys"
    subtitle = "Who may open WearSync, with which role, the keys that let a colleague register, and the audit trail."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.last_secret: OneTimeSecretDialog | None = None
        me = Card()
        row = QHBoxLayout()
        self.me_text = label("", wrap=True)
        self.me_text.setObjectName("currentUser")
        row.addWidget(self.me_text, 1)
        self.password_button = button("Change my password…", on_click=self.change_my_password)
        self.password_button.setObjectName("changeMyPassword")
        row.addWidget(self.password_button)
        me.body.addLayout(row)
        self.layout_.addWidget(me)

        self.not_allowed = Card()
        self.not_allowed.setObjectName("usersNotAllowed")
        self.not_allowed.body.addWidget(label("Accounts, keys and the audit trail", "section"))
        self.not_allowed.body.addWidget(label(
            "Only administrators add colleagues, reset passwords, hand out registration keys and read the audit "
            "trail. Ask an administrator if you need a different role or a new password.", "muted", wrap=True))
        self.layout_.addWidget(self.not_allowed)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("usersTabs")
        self.users = UsersTab(ctx, self)
        self.keys = KeysTab(ctx, self)
        self.audit = AuditTab(ctx)
        self.tabs.addTab(self.users, "Users")
        self.tabs.addTab(self.keys, "Registration keys")
        self.tabs.addTab(self.audit, "Audit trail")
        self.tabs.currentChanged.connect(lambda _i: self.shown())
        self.layout_.addWidget(self.tabs, 1)
        self.spacer = QWidget()
        self.layout_.addWidget(self.spacer, 1)
        self.apply_permissions()

    def apply_permissions(self) -> None:
        s = self.ctx.session
        actor = s.actor
        self.me_text.setText(f"Signed in as {actor.username} — {ROLE_NAMES.get(actor.role, actor.role)}."
                             if s.signed_in else "Signed out.")
        self.password_button.setEnabled(s.signed_in and not s.locked)
        admin = s.can("users")
        self.tabs.setVisible(admin)
        self.spacer.setVisible(not admin)
        self.not_allowed.setVisible(not admin and s.signed_in)
        if not admin:  # nothing an earlier administrator saw stays behind
            self.users.clear()
            self.keys.clear()
            self.audit.clear()
        self.users.update_buttons()
        self.keys.update_buttons()

    def shown(self) -> None:
        if not self.ctx.session.can("users"):
            return
        current = self.tabs.currentWidget()
        if current is self.users:
            self.users.refresh()
        elif current is self.keys:
            self.keys.refresh()
        else:
            self.audit.refresh()

    def change_my_password(self) -> None:
        from gui.signin_forms import ChangePasswordDialog

        ChangePasswordDialog(self.ctx, self).open()
