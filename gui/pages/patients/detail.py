"""The side panel of the Patients page: one patient's connections (status in plain words, last
download, the devices with battery and last sync), what to do about each, and the patient actions."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QScrollArea, QVBoxLayout, QWidget

from gui.format import ago, now_utc, vendor_label, when
from gui.grafana_open import OpenInGrafanaButton
from gui.widgets import Badge, Card, button, label
from services.connect.service import scope_labels
from services.patients.service import ConnectionInfo, PatientInfo
from services.sync.devices import DeviceInfo

STATUS_WORDS = {
    "not_connected": "Not connected yet. Connect here with the patient, or send them a link.",
    "needs_reconsent": "The patient's permission was withdrawn or has run out, so nothing is downloaded. "
                       "Reconnect with the patient, or send them a new link.",
    "withdrawn": "Access was withdrawn. Data already downloaded is kept.",
}


LOW_BATTERY = 20
STALE_DAYS = 3


def device_needs_attention(d: DeviceInfo, now: dt.datetime | None = None) -> bool:
    """Low battery, or the device has not synced with its vendor for days: worth a call to the patient."""
    now = now or now_utc()
    stale = d.last_sync_at is not None and now - d.last_sync_at > dt.timedelta(days=STALE_DAYS)
    return stale or (d.battery_level is not None and d.battery_level < LOW_BATTERY)


def device_line(d: DeviceInfo) -> str:
    parts = [d.name]
    if d.battery_level is not None:
        parts.append(f"battery {d.battery_level} %" + (" (low)" if d.battery_level < LOW_BATTERY else ""))
    elif d.battery_status:
        parts.append(f"battery {d.battery_status.lower()}")
    parts.append(f"synced {ago(d.last_sync_at).lower()}" if d.last_sync_at else "never synced")
    return " · ".join(parts)


class PatientDetail(Card):
    connect_requested = Signal(str)  # vendor
    link_requested = Signal(str)
    sync_requested = Signal(str)
    export_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, margins=18)
        self.setObjectName("patientDetail")
        self.setFixedWidth(272)
        self.code = label("", "title")
        self.code.setTextFormat(Qt.TextFormat.PlainText)  # IDs that look like HTML stay literal
        self.code.setWordWrap(True)
        self.enrolled = label("", "muted")
        self.body.addWidget(self.code)
        self.body.addWidget(self.enrolled)
        self.body.addSpacing(6)
        self.devices_title = label("Device types", "section")
        self.body.addWidget(self.devices_title)
        inner = QWidget()
        self.devices = QVBoxLayout(inner)
        self.devices.setContentsMargins(0, 0, 4, 0)
        self.devices.setSpacing(14)
        self.devices_area = QScrollArea()
        self.devices_area.setWidgetResizable(True)
        self.devices_area.setWidget(inner)
        self.devices_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.body.addWidget(self.devices_area, 1)
        self.grafana_button = OpenInGrafanaButton(self)  # shows only with a patient (gui/grafana_open.py)
        self.body.addWidget(self.grafana_button)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        self.rename_button = button("Rename…", "edit")
        self.rename_button.setObjectName("renameButton")
        self.delete_button = button("Delete…", "trash", danger=True)
        self.delete_button.setObjectName("deleteButton")
        actions.addWidget(self.rename_button)
        actions.addStretch(1)
        actions.addWidget(self.delete_button)
        self.body.addLayout(actions)
        # consent withdrawal (issue 6): revoke at the vendors, then delete or keep the data
        self.withdraw_button = button("Withdraw…", danger=True)
        self.withdraw_button.setObjectName("withdrawButton")
        self.withdraw_button.setToolTip("The patient withdrew consent: revoke vendor access, then delete or keep "
                                        "their data.")
        self.withdraw_button.setProperty("tip", self.withdraw_button.toolTip())
        # part of the data (issue 11): one device type, one kind of data, some days; undo for 24 hours
        self.delete_data_button = button("Delete data…", danger=True)
        self.delete_data_button.setObjectName("deleteDataOpen")
        self.delete_data_button.setProperty("tip", "Delete one device type's data, one kind of data or some days "
                                            "of this patient (administrators; undo for 24 hours).")
        self.delete_data_button.setToolTip(str(self.delete_data_button.property("tip")))
        more = QHBoxLayout()
        more.setSpacing(6)
        more.addWidget(self.delete_data_button)
        more.addStretch(1)
        more.addWidget(self.withdraw_button)
        self.body.addLayout(more)
        self.placeholder = label("Select a patient to see their devices and last download.", "muted", wrap=True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.insertWidget(0, self.placeholder)
        self.patient: PatientInfo | None = None
        self.now: dt.datetime | None = None  # set by the page with each load: the table and this panel agree
        # per vendor: the action buttons shown, so pages can guard them and tests can press them
        self.action_buttons: dict[str, dict[str, QPushButton]] = {}
        self.show_patient(None)

    def show_patient(self, patient: PatientInfo | None, devices: list[DeviceInfo] | None = None,
                     syncing: set[str] | None = None) -> None:
        self.patient = patient
        for w in (self.code, self.enrolled, self.devices_title, self.devices_area, self.rename_button,
                  self.delete_button, self.delete_data_button, self.withdraw_button):
            w.setVisible(patient is not None)
        self.placeholder.setVisible(patient is None)
        self._clear_devices()
        self.action_buttons = {}
        if patient is None:
            return
        self.code.setText(patient.code)
        self.enrolled.setText(f"Enrolled {when(patient.created_at)}")
        if not patient.connections:
            self.devices.addWidget(label("No device type yet. Add one with Add patient, using this ID.",
                                         "muted", wrap=True))
        for c in patient.connections:
            mine = [d for d in devices or [] if d.vendor == c.vendor and not d.retired]
            self.devices.addWidget(self._connection_box(c, mine, c.vendor in (syncing or set())))
        self.devices.addStretch(1)

    def _connection_box(self, c: ConnectionInfo, devices: list[DeviceInfo], syncing: bool) -> QWidget:
        box = QWidget()
        box.setObjectName(f"connection_{c.vendor}")
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(3)
        grid.addWidget(label(vendor_label(c.vendor), "section"), 0, 0)
        badge = Badge("syncing" if syncing else c.status)
        badge.setObjectName(f"badge_{c.vendor}")
        grid.addWidget(badge, 0, 1, Qt.AlignmentFlag.AlignRight)
        lines: list[tuple[str, str]] = []  # (text, role)
        if c.status in STATUS_WORDS:
            lines.append((STATUS_WORDS[c.status], "help"))
        if c.status in ("connected", "error", "needs_reconsent") or c.last_sync_at:
            synced = ("Not downloaded yet" if c.last_sync_at is None
                      else f"Last download {ago(c.last_sync_at, self.now).lower()}")
            lines.append((synced, "muted"))
        for d in devices:
            lines.append((device_line(d), "error" if device_needs_attention(d) else "muted"))
        if c.last_error and c.status in ("error", "needs_reconsent"):
            lines.append((c.last_error, "error"))
        missing = scope_labels(c.vendor, c.scopes_missing)
        if missing and c.status == "connected":
            names = ", ".join(missing)
            lines.append((f"Not shared by the patient: {names}. Ask them to reconnect and tick every box.", "error"))
        row = 1
        for text, role in lines:
            lbl = label(text, role, wrap=True)
            if text.startswith("Last download"):
                lbl.setToolTip(when(c.last_sync_at))
            grid.addWidget(lbl, row, 0, 1, 2)
            row += 1
        grid.addLayout(self._actions(c, bool(missing), syncing, has_data=c.last_sync_at is not None), row, 0, 1, 2)
        return box

    def _actions(self, c: ConnectionInfo, missing: bool, syncing: bool, has_data: bool) -> QGridLayout:
        row = QGridLayout()  # two to a line: three side by side do not fit the panel at 1024×640
        row.setContentsMargins(0, 2, 0, 0)
        row.setHorizontalSpacing(2)
        row.setVerticalSpacing(0)
        v = c.vendor
        wanted: list[tuple[str, str]] = []  # (action, text)
        if c.status in ("not_connected", "withdrawn"):
            wanted += [("connect", "Connect here"), ("link", "Send link")]
        elif c.status in ("needs_reconsent", "error"):
            wanted += [("reconnect", "Reconnect"), ("link", "Send link")]
            if c.status == "error":
                wanted.append(("sync", "Try again"))
        else:
            wanted.append(("sync", "Syncing…" if syncing else "Sync now"))
            wanted.append(("reconnect", "Reconnect") if missing else ("link", "Send link"))
        if has_data:
            wanted.append(("export", "Export…"))
        buttons: dict[str, QPushButton] = {}
        for action, text in wanted:
            b = button(text, link=True)
            b.setObjectName(f"{action}_{v}")
            signal = {"connect": self.connect_requested, "reconnect": self.connect_requested,
                      "link": self.link_requested, "sync": self.sync_requested,
                      "export": self.export_requested}[action]
            b.clicked.connect(lambda _c=False, s=signal: s.emit(v))
            if action == "sync" and syncing:
                b.setEnabled(False)
            buttons[action] = b
            row.addWidget(b, *divmod(len(buttons) - 1, 2), Qt.AlignmentFlag.AlignLeft)
        row.setColumnStretch(2, 1)
        self.action_buttons[v] = buttons
        return row

    def focus_order(self) -> list[QWidget]:
        """Tab order inside the panel: each device type's actions top to bottom, then the patient's."""
        order: list[QWidget] = [b for buttons in self.action_buttons.values() for b in buttons.values()]
        return [*order, self.grafana_button, self.rename_button, self.delete_button, self.delete_data_button,
                self.withdraw_button]

    def _clear_devices(self) -> None:
        while self.devices.count():
            item = self.devices.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
