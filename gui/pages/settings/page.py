"""Settings: secrets (keyring), general settings from the declared specs, and the database."""

from __future__ import annotations

from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.pages.base import Page
from gui.pages.settings.clinic import ClinicBox
from gui.pages.settings.database import DatabaseBox
from gui.pages.settings.general import GeneralBox
from gui.pages.settings.grafana import GrafanaBox
from gui.pages.settings.sandbox import SandboxBox
from gui.pages.settings.secrets import SecretsBox


class SettingsPage(Page):
    key = "settings"
    title = "Settings"
    icon = "settings"
    subtitle = "Vendor credentials, when downloads run, the tunnel, and where data is kept."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.secrets = SecretsBox(ctx)
        self.general = GeneralBox(ctx)
        self.clinic = ClinicBox(ctx)
        self.database = DatabaseBox(ctx)
        self.sandbox = SandboxBox(ctx)
        self.grafana = GrafanaBox(ctx)
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 8, 0)
        col.setSpacing(16)
        for box in (self.secrets, self.general, self.clinic, self.database, self.grafana, self.sandbox):
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
        self.clinic.refresh()
        self.database.refresh()
        self.grafana.refresh()

    def has_unsaved_changes(self) -> bool:
        return self.general.has_unsaved_changes()

    def save_changes(self) -> None:
        self.general.save()

    def discard_changes(self) -> None:
        self.general.refresh()

    def apply_permissions(self) -> None:
        self.secrets.apply_permissions()
        self.general.apply_permissions()
        self.clinic.apply_permissions()
        self.database.apply_permissions()
        self.grafana.apply_permissions()
