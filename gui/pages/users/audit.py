"""The Audit trail tab of Keys & Users: recent entries since a chosen day, and Export CSV. Read-only:
the trail is append-only in the database too (services/accounts/audit.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QDateEdit, QFileDialog, QHBoxLayout, QTableWidgetItem, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.format import today as clock_today
from gui.format import when
from gui.pages.users.common import table
from gui.widgets import button, documents_folder, label
from services.accounts.audit import AuditRecord

SHOWN = 2000  # the newest entries; the CSV holds them all


# what each recorded action means, in the words of the people who read the trail
ACTION_WORDS = {
    "alerts.recipient_add": "Added an alert recipient", "alerts.recipient_import": "Imported alert recipients",
    "alerts.recipient_remove": "Removed an alert recipient", "connection.connect": "Connected a device account",
    "connection.revoke": "Disconnected a device account", "database.switch": "Changed the database",
    "enrolment.create": "Made an enrolment link", "key.generate": "Made a registration key",
    "key.purge": "Removed expired keys", "key.revoke": "Revoked a registration key",
    "patient.add": "Added a patient", "patient.add_device": "Added a device type",
    "patient.delete": "Deleted a patient", "patient.rename": "Renamed a patient", "patient.undo": "Undid a change",
    "patient.withdraw": "Withdrew a patient", "patient.withdraw_failed": "Withdrawal not finished",
    "secret.changed": "Changed a password or key", "secret.viewed": "Looked at a password or key",
    "setting.changed": "Changed a setting", "sync.started": "Started a download",
    "tunnel.started": "Started the tunnel", "tunnel.stopped": "Stopped the tunnel",
    "user.add": "Added a user", "user.change_password": "Changed their password", "user.disable": "Disabled a user",
    "user.enable": "Enabled a user", "user.first_admin": "Created the first administrator",
    "user.locked": "Account locked (wrong passwords)", "user.register": "Registered with a key",
    "user.remove": "Deleted a user", "user.reset_password": "Reset a password", "user.set_role": "Changed a role",
    "user.sign_in": "Signed in", "user.sign_in_failed": "Sign-in failed", "user.sign_in_refused": "Sign-in refused",
    "user.unlock": "Unlocked an account",
}


def readable(action: str, target: str) -> tuple[str, str]:
    """("setting.changed", "grafana_tunnel_allow") -> ("Changed a setting", "Grafana tunnel allowed addresses")."""
    from services.settings import BY_KEY

    words = ACTION_WORDS.get(action, action)
    if action == "setting.changed" and target in BY_KEY:
        target = BY_KEY[target].label
    return words, target


class AuditTab(QWidget):
    def __init__(self, ctx: PageContext) -> None:
        super().__init__()
        self.ctx = ctx
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 12, 0, 0)
        col.setSpacing(10)
        bar = QHBoxLayout()
        bar.addWidget(label("Since", "section"))
        week_ago = clock_today() - dt.timedelta(days=7)
        self.since = QDateEdit(QDate(week_ago.year, week_ago.month, week_ago.day))
        self.since.setObjectName("auditSince")
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("d MMM yyyy")
        self.since.dateChanged.connect(lambda _d: self.refresh())
        bar.addWidget(self.since)
        self.count = label("", "muted")
        bar.addWidget(self.count, 1)
        self.export_button = button("Export CSV…", "import", on_click=self.export)
        self.export_button.setObjectName("exportAudit")
        bar.addWidget(self.export_button)
        col.addLayout(bar)
        self.table = table(["Time", "User", "Action", "Target", "Detail"], "auditTable")
        col.addWidget(self.table, 1)
        col.addWidget(label("Sign-ins, changes to patients, connections, exports, secrets, the tunnel, users "
                            "and keys. Entries cannot be changed or deleted.", "help", wrap=True))

    def since_date(self) -> dt.date:
        d = self.since.date()
        return dt.date(d.year(), d.month(), d.day())

    def refresh(self) -> None:
        if not self.ctx.session.can("audit"):
            return
        audit, actor, since = self.ctx.app.audit, self.ctx.session.actor, self.since_date()
        self.ctx.bridge.submit(lambda: audit.entries(since, actor=actor), on_result=self._loaded,
                               on_error=lambda e: self.ctx.dialogs.error(self, e), context=self)

    def _loaded(self, entries: list[AuditRecord]) -> None:
        if not self.ctx.session.can("audit"):
            return
        newest = list(reversed(entries))[:SHOWN]
        self.table.setRowCount(len(newest))
        for i, e in enumerate(newest):
            actor = e.actor if e.source == "gui" else f"{e.actor} ({e.source})"
            action, target = readable(e.action, e.target)
            for c, text in enumerate((when(e.at), actor, action, target, e.detail)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{text}\n({e.action} {e.target})" if c in (2, 3) else text)
                self.table.setItem(i, c, item)
        n = len(entries)
        self.count.setText(f"{n} entr{'y' if n == 1 else 'ies'}" + (f", newest {SHOWN} shown" if n > SHOWN else ""))

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.count.setText("")

    def choose_path(self) -> str:
        """Where to save the CSV (tests replace this)."""
        name = f"wearsync-audit-since-{self.since_date():%Y-%m-%d}.csv"
        path, _f = QFileDialog.getSaveFileName(self, "Export audit trail", str(Path(documents_folder()) / name),
                                               "CSV files (*.csv)")
        return path

    def export(self) -> None:
        path = self.choose_path()
        if not path:
            return
        audit, actor, since = self.ctx.app.audit, self.ctx.session.actor, self.since_date()

        def write() -> str:
            Path(path).write_text(audit.to_csv(since, actor=actor), encoding="utf-8")
            return path

        self.ctx.bridge.submit(write, on_result=lambda p: self.ctx.dialogs.info(
            self, "Audit trail exported", f"Saved to {p}."), on_error=lambda e: self.ctx.dialogs.error(self, e),
            context=self)
