"""The General box of the Settings page: a form generated from services/settings.py SPECS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLineEdit, QSpinBox, QWidget

from gui.context import PageContext
from gui.errors import advice_for
from gui.widgets import Card, button, label
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.autostart import Autostart, AutostartStatus, launch_command, read_status, switch
from services.settings import SPECS, SettingSpec

# Settings whose values are a fixed set of words get a drop-down (the specs only know "str").
CHOICES: dict[str, list[tuple[str, str]]] = {
    "close_to_tray": [("Ask me", "ask"), ("Keep running in the tray", "tray"), ("Quit WearSync", "quit")],
}
# Shown on other pages (the tunnel options are on the Tunnel page) or not meant to be switched here.
HIDDEN = {"sandbox_mode", "start_tunnel_with_app", "ngrok_domain", "ngrok_path", "grafana_tunnel_user",
          "grafana_tunnel_allow", "grafana_tunnel_open", "grafana_domain",
          "clinic_name", "clinic_contact", "clinic_logo"}  # clinic: its own box


class GeneralBox(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.body.addWidget(label("General", "section"))
        self._build_autostart()
        self.form = QFormLayout()
        self.form.setHorizontalSpacing(18)
        self.form.setVerticalSpacing(10)
        self.fields: dict[str, QWidget] = {}
        for spec in SPECS:
            if spec.key in HIDDEN:
                continue
            field = self._field(spec)
            field.setObjectName(f"setting_{spec.key}")
            field.setToolTip(spec.help)
            self.fields[spec.key] = field
            cell = QWidget()
            col = QHBoxLayout(cell)
            col.setContentsMargins(0, 0, 0, 0)
            col.addWidget(field)
            if spec.help and spec.type is not bool:
                col.addWidget(label(spec.help, "help", wrap=True), 1)
            else:
                col.addStretch(1)
            self.form.addRow(spec.label, cell)
        self.body.addLayout(self.form)
        self.error = label("", "error", wrap=True)
        self.error.hide()
        self.body.addWidget(self.error)
        row = QHBoxLayout()
        self.saved = label("", "muted")
        row.addWidget(self.saved, 1)
        self.save_button = button("Save settings", primary=True, on_click=self.save)
        self.save_button.setObjectName("saveSettings")
        row.addWidget(self.save_button)
        self.body.addLayout(row)
        self.values: dict[str, Any] = {}

    # -- start at sign-in: applied at once (it is this computer's setting, not the database's) ----------
    def _build_autostart(self) -> None:
        self.autostart = QCheckBox("Start WearSync when I sign in")
        self.autostart.setObjectName("autostart")
        self.autostart.setToolTip("WearSync starts in the tray when you sign in to this computer, so the daily "
                                  "downloads run without anyone opening it. Changed at once, no Save needed.")
        self.autostart.setEnabled(False)  # until its state is known
        self.autostart.clicked.connect(self._autostart_clicked)  # clicks only: showing the state is no change
        self.autostart_note = label("Checking…", "help", wrap=True)
        self.autostart_note.setObjectName("autostartNote")
        self.autostart_error = label("", "error", wrap=True)
        self.autostart_error.setObjectName("autostartError")
        self.autostart_error.hide()
        self.autostart_state: AutostartStatus | None = None
        self.body.addWidget(self.autostart)
        self.body.addWidget(self.autostart_note)
        self.body.addWidget(self.autostart_error)

    def _autostart_allowed(self) -> bool:
        return self.ctx.session.can("settings") and not self.ctx.sandbox

    def refresh_autostart(self) -> None:
        writer = self.ctx.autostart
        self.ctx.bridge.submit(lambda: read_status(writer()), on_result=self._autostart_loaded,
                               on_error=self._autostart_failed, context=self)

    def _autostart_loaded(self, status: AutostartStatus) -> None:
        self.autostart_state = status
        self.autostart.setChecked(status.enabled)
        self.autostart_note.setText(status.describe())
        self.autostart.setEnabled(self._autostart_allowed())
        if self.ctx.sandbox:
            self.autostart.setToolTip("The sandbox never changes how the real WearSync starts.")

    def _autostart_clicked(self, on: bool) -> None:
        self.autostart.setEnabled(False)  # one change at a time
        self.autostart_error.hide()
        self.autostart_note.setText("Turning on…" if on else "Turning off…")
        writer = self.ctx.autostart
        actor = self.ctx.session.actor
        command = launch_command()
        self.ctx.bridge.submit(change_autostart, writer, on, command, actor, self.ctx.app.audit,
                               on_result=self._autostart_loaded, on_error=self._autostart_failed, context=self)

    def _autostart_failed(self, error: Exception) -> None:
        state = self.autostart_state
        self.autostart.setChecked(bool(state and state.enabled))  # what is really on, not what was clicked
        self.autostart.setEnabled(state is not None and self._autostart_allowed())
        self.autostart_note.setText(state.describe() if state else "")
        self.autostart_error.setText(advice_for(error).message)
        self.autostart_error.show()

    @staticmethod
    def _field(spec: SettingSpec) -> QWidget:
        if spec.key in CHOICES:
            combo = QComboBox()
            for text, value in CHOICES[spec.key]:
                combo.addItem(text, value)
            return combo
        if spec.type is bool:
            return QCheckBox()
        if spec.type is int:
            spin = QSpinBox()
            spin.setRange(0, 65535)
            spin.setMinimumWidth(90)
            return spin
        edit = QLineEdit()
        edit.setMinimumWidth(260)
        edit.setPlaceholderText(str(spec.default) or "")
        return edit

    def refresh(self) -> None:
        self.ctx.bridge.submit(self.ctx.app.settings.all, on_result=self._loaded, context=self)
        self.refresh_autostart()

    def _loaded(self, values: dict[str, Any]) -> None:
        self.values = values
        for key, field in self.fields.items():
            value = values.get(key)
            if isinstance(field, QComboBox):
                field.setCurrentIndex(max(0, field.findData(value)))
            elif isinstance(field, QCheckBox):
                field.setChecked(bool(value))
            elif isinstance(field, QSpinBox):
                field.setValue(int(value or 0))
            elif isinstance(field, QLineEdit):
                field.setText(str(value or ""))

    def current(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            if isinstance(field, QComboBox):
                out[key] = field.currentData()
            elif isinstance(field, QCheckBox):
                out[key] = field.isChecked()
            elif isinstance(field, QSpinBox):
                out[key] = field.value()
            elif isinstance(field, QLineEdit):
                out[key] = field.text().strip()
        return out

    def has_unsaved_changes(self) -> bool:
        if not self.values or not self.ctx.session.can("settings"):
            return False  # not loaded yet, or nothing this person could have changed
        return any(self.values.get(k) != v for k, v in self.current().items())

    def apply_permissions(self) -> None:
        allowed = self.ctx.session.can("settings")
        for field in self.fields.values():
            field.setEnabled(allowed)
        self.save_button.setEnabled(allowed)
        self.autostart.setEnabled(self.autostart_state is not None and self._autostart_allowed())

    def save(self) -> None:
        changed = {k: v for k, v in self.current().items() if self.values.get(k) != v}
        if not changed:
            self.saved.setText("Nothing to save.")
            return
        settings = self.ctx.app.settings
        actor = self.ctx.session.actor  # as signed in now: the service checks the role and records it

        def write() -> dict[str, Any]:
            settings.set_many(changed, actor=actor)  # one bad value: nothing is saved
            return changed

        self.error.hide()
        self.ctx.bridge.submit(write, on_result=self._saved, on_error=self._failed, context=self)

    def _saved(self, changed: dict[str, Any]) -> None:
        self.values.update(changed)
        self.saved.setText("Saved.")
        for k, v in changed.items():
            self.ctx.events.setting_changed.emit(k, v)

    def _failed(self, error: Exception) -> None:
        advice = advice_for(error)
        if advice.inline:
            self.error.setText(advice.message)
            self.error.show()
        else:
            self.ctx.dialogs.error(self, error)


def change_autostart(writer: Callable[[], Autostart], on: bool, command: list[str], actor: Actor,
                     audit: AuditLog) -> AutostartStatus:
    """Worker side of the toggle: the role check, the change read back, and who did it."""
    actor.require("settings")
    status = switch(writer(), on, command)
    audit.record(actor, "autostart.enabled" if on else "autostart.disabled", status.where)
    return status
