"""The Registration keys tab of Keys & Users: generate a one-time key (shown once), list, revoke."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QTableWidgetItem, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.format import when
from gui.pages.users.common import ROLE_NAMES, table
from gui.pages.users.dialogs import GenerateKeyDialog, OneTimeSecretDialog
from gui.widgets import BadgeDelegate, button, label
from services.accounts.keys import KeyInfo, NewKey

if TYPE_CHECKING:
    from gui.pages.users.page import UsersPage

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole


class KeysTab(QWidget):
    def __init__(self, ctx: PageContext, page: UsersPage) -> None:
        super().__init__()
        self.ctx = ctx
        self.page = page
        self.keys: list[KeyInfo] = []
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 12, 0, 0)
        col.setSpacing(10)
        bar = QHBoxLayout()
        bar.addWidget(label("A key lets one colleague create their own account with the role you choose. "
                            "Hand it over in person or by phone.", "muted", wrap=True), 1)
        self.revoke_button = button("Revoke", on_click=self.revoke)
        self.revoke_button.setObjectName("revokeKey")
        self.generate_button = button("Generate key…", "keys", primary=True, on_click=self.generate)
        self.generate_button.setObjectName("generateKey")
        bar.addWidget(self.revoke_button)
        bar.addWidget(self.generate_button)
        col.addLayout(bar)
        self.table = table(["Key", "Role", "State", "Expires", "Made by", "Used by"], "keysTable")
        self.table.setItemDelegateForColumn(2, BadgeDelegate(self.table))
        self.table.itemSelectionChanged.connect(self.update_buttons)
        col.addWidget(self.table, 1)
        self.update_buttons()

    def refresh(self) -> None:
        keys, actor = self.ctx.app.keys, self.ctx.session.actor
        self.ctx.bridge.submit(keys.list_keys, actor, on_result=self._loaded,
                               on_error=lambda e: self.ctx.dialogs.error(self, e), context=self)

    def _loaded(self, keys: list[KeyInfo]) -> None:
        if not self.ctx.session.can("keys"):
            return
        self.keys = keys
        self.table.setRowCount(len(keys))
        for i, k in enumerate(keys):
            hint = QTableWidgetItem(f"WS-{k.hint}-…")
            hint.setData(ID_ROLE, k.id)
            state = QTableWidgetItem("")
            state.setData(STATUS_ROLE, "key_" + k.state)
            used = f"{k.used_by} ({when(k.used_at)})" if k.used_by else "—"
            for c, item in enumerate((hint, QTableWidgetItem(ROLE_NAMES.get(k.role, k.role)), state,
                                      QTableWidgetItem(when(k.expires_at)), QTableWidgetItem(k.created_by),
                                      QTableWidgetItem(used))):
                self.table.setItem(i, c, item)
        self.update_buttons()

    def clear(self) -> None:
        self.keys = []
        self.table.setRowCount(0)

    def selected(self) -> KeyInfo | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        if item is None:
            return None
        key_id = item.data(ID_ROLE)
        return next((k for k in self.keys if k.id == key_id), None)

    def update_buttons(self) -> None:
        allowed = self.ctx.session.can("keys")
        k = self.selected()
        self.generate_button.setEnabled(allowed)
        self.revoke_button.setEnabled(allowed and k is not None and k.state == "active")

    def generate(self) -> GenerateKeyDialog:
        dlg = GenerateKeyDialog(self.ctx, self)
        dlg.generated.connect(self._generated)
        dlg.open()
        return dlg

    def _generated(self, new: NewKey) -> None:
        self.refresh()
        role = ROLE_NAMES.get(new.role, new.role)
        dialog = OneTimeSecretDialog(
            "New registration key",
            f"Give this key to the new colleague. On the sign-in screen they choose \"I have a registration key\" "
            f"and create their account as {role}. It works once, until {when(new.expires_at)}.", new.key, self)
        self.page.last_secret = dialog
        dialog.open()

    def revoke(self) -> None:
        k = self.selected()
        if k is None or not self.ctx.dialogs.confirm(
                self, f"Revoke key WS-{k.hint}?", "Nobody can register with this key afterwards.", "Revoke key"):
            return
        self.ctx.bridge.submit(self.ctx.app.keys.revoke, k.id, self.ctx.session.actor,
                               on_result=lambda _r: self.refresh(),
                               on_error=lambda e: self.ctx.dialogs.error(self, e), context=self)
