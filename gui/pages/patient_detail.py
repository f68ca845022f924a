"""The side panel of the Patients page: one patient's connections, last sync and actions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from gui.format import ago, vendor_label, when
from gui.grafana_open import OpenInGrafanaButton
from gui.widgets import Badge, Card, button, label
from services.patients import PatientInfo


class PatientDetail(Card):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, margins=18)
        self.setObjectName("patientDetail")
        self.setFixedWidth(270)
        self.code = label("", "title")
        self.code.setTextFormat(Qt.TextFormat.PlainText)  # IDs that look like HTML stay literal
        self.code.setWordWrap(True)
        self.enrolled = label("", "muted")
        self.body.addWidget(self.code)
        self.body.addWidget(self.enrolled)
        self.body.addSpacing(8)
        self.devices_title = label("Devices", "section")
        self.body.addWidget(self.devices_title)
        self.devices = QVBoxLayout()
        self.devices.setSpacing(10)
        self.body.addLayout(self.devices)
        self.body.addStretch(1)
        self.grafana_button = OpenInGrafanaButton(self)  # shows only with a patient (gui/grafana_open.py)
        self.body.addWidget(self.grafana_button)
        actions = QHBoxLayout()
        self.rename_button = button("Rename…", "edit")
        self.rename_button.setObjectName("renameButton")
        self.delete_button = button("Delete…", "trash", danger=True)
        self.delete_button.setObjectName("deleteButton")
        actions.addWidget(self.rename_button)
        actions.addStretch(1)
        actions.addWidget(self.delete_button)
        self.body.addLayout(actions)
        self.placeholder = label("Select a patient to see their devices and last download.", "muted", wrap=True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.insertWidget(0, self.placeholder)
        self.patient: PatientInfo | None = None
        self.show_patient(None)

    def show_patient(self, patient: PatientInfo | None) -> None:
        self.patient = patient
        for w in (self.code, self.enrolled, self.devices_title, self.rename_button, self.delete_button):
            w.setVisible(patient is not None)
        self.placeholder.setVisible(patient is None)
        self._clear_devices()
        if patient is None:
            return
        self.code.setText(patient.code)
        self.enrolled.setText(f"Enrolled {when(patient.created_at)}")
        if not patient.connections:
            self.devices.addWidget(label("No device type yet. Add one with Add patient, using this ID.",
                                         "muted", wrap=True))
        for c in patient.connections:
            box = QWidget()
            grid = QGridLayout(box)
            grid.setContentsMargins(0, 0, 0, 0)
            grid.setHorizontalSpacing(8)
            grid.setVerticalSpacing(2)
            grid.addWidget(label(vendor_label(c.vendor), "section"), 0, 0)
            badge = Badge(c.status)
            badge.setObjectName(f"badge_{c.vendor}")
            grid.addWidget(badge, 0, 1, Qt.AlignmentFlag.AlignRight)
            synced = "Not downloaded yet" if c.last_sync_at is None else \
                f"Last download {ago(c.last_sync_at).lower()}"
            last = label(synced, "muted", wrap=True)
            last.setToolTip(when(c.last_sync_at))
            grid.addWidget(last, 1, 0, 1, 2)
            if c.last_error:
                grid.addWidget(label(c.last_error, "error", wrap=True), 2, 0, 1, 2)
            if c.scopes_missing:
                grid.addWidget(label(f"Missing permissions: {c.scopes_missing}. Ask the patient to connect "
                                     "again and tick every box.", "help", wrap=True), 3, 0, 1, 2)
            self.devices.addWidget(box)

    def _clear_devices(self) -> None:
        while self.devices.count():
            item = self.devices.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
