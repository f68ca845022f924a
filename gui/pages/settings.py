"""Settings: secrets (keyring), general settings from the declared specs, and the database."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.pages.base import Page
from gui.pages.settings_general import GeneralBox
from gui.pages.settings_sandbox import SandboxBox
from gui.pages.settings_secrets import SecretsBox
from gui.widgets import Card, button, label


class DatabaseBox(Card):
    """Where the data lives. The MySQL/MariaDB set-up wizard (a later issue) plugs in here."""

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.addWidget(label("Database", "section"))
        db = ctx.app.db
        kind = {"sqlite": "Built-in database (SQLite)", "mysql": "MySQL / MariaDB"}.get(db.dialect, db.dialect)
        self.url = label(db.safe_url(), "mono", wrap=True)  # never shows a password
        self.url.setObjectName("databaseUrl")
        self.body.addWidget(label(kind))
        self.body.addWidget(self.url)
        row = QHBoxLayout()
        row.addWidget(label("Moving to a MySQL/MariaDB server (so Grafana can read the data) will be done with "
                            "a set-up wizard here. Until then, set WEARSYNC_DATABASE_URL before starting WearSync.",
                            "help", wrap=True), 1)
        self.wizard_button = button("Set up MySQL…", "database")
        self.wizard_button.setObjectName("databaseWizard")
        self.wizard_button.setEnabled(False)
        self.wizard_button.setToolTip("Coming in a later version.")
        row.addWidget(self.wizard_button)
        self.body.addLayout(row)


class SettingsPage(Page):
    key = "settings"
    title = "Settings"
    icon = "settings"
    subtitle = "Vendor credentials, when downloads run, the tunnel, and where data is kept."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.secrets = SecretsBox(ctx)
        self.general = GeneralBox(ctx)
        self.database = DatabaseBox(ctx)
        self.sandbox = SandboxBox(ctx)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 8, 0)
        col.setSpacing(16)
        for box in (self.secrets, self.general, self.database, self.sandbox):
            col.addWidget(box)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.layout_.addWidget(scroll, 1)
        self.apply_permissions()

    def shown(self) -> None:
        self.secrets.refresh()
        self.general.refresh()

    def apply_permissions(self) -> None:
        self.secrets.apply_permissions()
        self.general.apply_permissions()
