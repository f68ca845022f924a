"""The "What patients see" box of the Settings page: the clinic's name, contact and logo, shown on
every web page a patient meets (the enrolment link's introduction, the page after consent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QWidget

from gui.context import PageContext
from gui.errors import advice_for
from gui.widgets import Card, button, label
from services.settings import BY_KEY

KEYS = ("clinic_name", "clinic_contact", "clinic_logo")


class ClinicBox(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("clinicBox")
        self.pick_file: Callable[[], str] = lambda: QFileDialog.getOpenFileName(
            self, "Choose the clinic's logo", "", "Pictures (*.png *.jpg *.jpeg)")[0]
        self.body.addWidget(label("What patients see", "section"))
        self.body.addWidget(label(
            "Patients see these on every page of their enrolment link and after they connect their device "
            "account, so they know who is asking and whom to call.", "help", wrap=True))
        form = QFormLayout()
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(10)
        self.fields: dict[str, QLineEdit] = {}
        for key in KEYS:
            spec = BY_KEY[key]
            edit = QLineEdit()
            edit.setObjectName(f"setting_{key}")
            edit.setMinimumWidth(320)
            edit.setToolTip(spec.help)
            edit.setPlaceholderText(spec.help)
            self.fields[key] = edit
            cell = QWidget()
            row = QHBoxLayout(cell)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(edit, 1)
            if key == "clinic_logo":
                self.choose_button = button("Choose…", on_click=self.choose_logo)
                self.choose_button.setObjectName("clinicChooseLogo")
                row.addWidget(self.choose_button)
            form.addRow(spec.label.replace(" (shown to patients)", ""), cell)
        self.body.addLayout(form)
        self.error = label("", "error", wrap=True)
        self.error.hide()
        self.body.addWidget(self.error)
        bottom = QHBoxLayout()
        self.saved = label("", "muted")
        bottom.addWidget(self.saved, 1)
        self.save_button = button("Save", primary=True, on_click=self.save)
        self.save_button.setObjectName("saveClinic")
        bottom.addWidget(self.save_button)
        self.body.addLayout(bottom)
        self.values: dict[str, Any] = {}

    def refresh(self) -> None:
        settings = self.ctx.app.settings
        self.ctx.bridge.submit(lambda: {k: settings.get(k) for k in KEYS}, on_result=self._loaded, context=self)

    def _loaded(self, values: dict[str, Any]) -> None:
        self.values = values
        for key, edit in self.fields.items():
            edit.setText(str(values.get(key) or ""))

    def choose_logo(self) -> None:
        path = self.pick_file()
        if path:
            self.fields["clinic_logo"].setText(path)

    def apply_permissions(self) -> None:
        allowed = self.ctx.session.can("settings")
        for edit in self.fields.values():
            edit.setEnabled(allowed)
        self.choose_button.setEnabled(allowed)
        self.save_button.setEnabled(allowed)

    def save(self) -> None:
        current = {k: e.text().strip() for k, e in self.fields.items()}
        changed = {k: v for k, v in current.items() if str(self.values.get(k) or "") != v}
        if not changed:
            self.saved.setText("Nothing to save.")
            return
        settings = self.ctx.app.settings
        actor = self.ctx.session.actor

        def write() -> dict[str, Any]:
            settings.set_many(changed, actor=actor)  # all or nothing
            return {k: settings.get(k) for k in KEYS}

        self.error.hide()
        self.saved.setText("")
        self.ctx.bridge.submit(write, on_result=self._saved, on_error=self._failed, context=self)

    def _saved(self, values: dict[str, Any]) -> None:
        self._loaded(values)
        self.saved.setText("Saved. Patients see it on their next page.")

    def _failed(self, error: Exception) -> None:
        advice = advice_for(error)
        if advice.inline:
            self.error.setText(advice.message)
            self.error.show()
        else:
            self.ctx.dialogs.error(self, error)
