"""Add patient and Rename patient dialogs. Service errors (InvalidInput, Conflict, NotFound) are
shown inline under the field and the dialog stays open; nothing changes until the service accepts.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.errors import advice_for
from gui.format import vendor_label
from gui.widgets import grow_to_fit, label, repolish
from services.config import VENDORS
from services.patients.service import MAX_CODE_LEN, PatientInfo


class _ServiceDialog(QDialog):
    """A small form whose OK runs one service call through the bridge."""

    def __init__(self, ctx: PageContext, title: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(title)
        self.setModal(True)
        self.setMinimumWidth(440)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(22, 20, 22, 18)
        self.body.setSpacing(10)
        self.error_label = label("", "error", wrap=True)
        self.error_label.setObjectName("inlineError")
        self.error_label.hide()
        self.buttons = QDialogButtonBox()
        self.ok_button: QPushButton = self.buttons.addButton(ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setProperty("primary", True)
        self.ok_button.setDefault(True)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

    def finish_layout(self) -> None:
        self.body.addWidget(self.error_label)
        self.body.addSpacing(6)
        self.body.addWidget(self.buttons)

    def show_error(self, text: str, field: QLineEdit | None = None) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        grow_to_fit(self)
        if field is not None:
            field.setProperty("invalid", True)
            repolish(field)
            field.setFocus()

    def clear_error(self, field: QLineEdit | None = None) -> None:
        self.error_label.hide()
        if field is not None and field.property("invalid"):
            field.setProperty("invalid", False)
            repolish(field)

    def run(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        self.ok_button.setEnabled(False)
        task = self.ctx.bridge.submit(fn, *args, on_result=self.on_done, on_error=self.on_failed, context=self)
        task.finished.connect(lambda: self.ok_button.setEnabled(True))

    def on_done(self, result: object) -> None:
        self.accept()

    def on_failed(self, error: Exception) -> None:
        advice = advice_for(error)
        if advice.inline:
            self.show_error(advice.message, self.primary_field())
        else:
            self.ctx.dialogs.error(self, error, {"settings": lambda: self.ctx.navigate("settings")})

    def primary_field(self) -> QLineEdit | None:
        return None

    def submit(self) -> None:
        raise NotImplementedError


class AddPatientDialog(_ServiceDialog):
    added = Signal(PatientInfo)

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, "Add patient", "Add patient", parent)
        self.body.addWidget(label("Patient ID", "section"))
        self.code = QLineEdit()
        self.code.setObjectName("patientCode")
        self.code.setPlaceholderText("for example P-001")
        self.code.setMaxLength(MAX_CODE_LEN + 20)  # longer input is refused with a clear message
        self.code.textEdited.connect(lambda _t: self.clear_error(self.code))
        self.body.addWidget(self.code)
        self.body.addWidget(label("Use the study's pseudonymous ID, never a name: letters, digits, '-', '_' and "
                                  "'.' only. The same ID can be used for one device of each type.", "help",
                                  wrap=True))
        self.body.addSpacing(6)
        self.body.addWidget(label("Device types", "section"))
        row = QHBoxLayout()
        self.vendor_boxes: dict[str, QCheckBox] = {}
        for v in VENDORS:
            box = QCheckBox(vendor_label(v))
            box.setObjectName(f"vendor_{v}")
            box.toggled.connect(lambda _on: self.clear_error())
            self.vendor_boxes[v] = box
            row.addWidget(box)
        row.addStretch(1)
        self.body.addLayout(row)
        self.finish_layout()

    def primary_field(self) -> QLineEdit:
        return self.code

    def chosen(self) -> list[str]:
        return [v for v, box in self.vendor_boxes.items() if box.isChecked()]

    def submit(self) -> None:
        if not self.code.text().strip():
            self.show_error("Enter a patient ID (for example P-001).", self.code)
            return
        if not self.chosen():
            self.show_error("Choose at least one device type the patient will wear.")
            return
        self.run(self.ctx.app.patients.add, self.code.text(), self.chosen(), self.ctx.session.actor)

    def on_done(self, result: object) -> None:
        if isinstance(result, PatientInfo):
            self.added.emit(result)
        super().on_done(result)


class RenamePatientDialog(_ServiceDialog):
    renamed = Signal(str)  # the undo description, e.g. "Rename P-001 → P-101"

    def __init__(self, ctx: PageContext, patient: PatientInfo, parent: QWidget | None = None) -> None:
        super().__init__(ctx, f"Rename {patient.code}", "Rename", parent)
        self.patient = patient
        self.body.addWidget(label(f"Current ID: {patient.code}", "muted"))
        self.body.addWidget(label("New patient ID", "section"))
        self.code = QLineEdit(patient.code)
        self.code.setObjectName("newCode")
        self.code.selectAll()
        self.code.textEdited.connect(lambda _t: self.clear_error(self.code))
        self.body.addWidget(self.code)
        self.body.addWidget(label("Letters, digits, '-', '_' and '.' only.", "help"))
        self.body.addSpacing(6)
        self.body.addWidget(label("Apply to", "section"))
        self.scope = QButtonGroup(self)
        self.all_types = QRadioButton("All device types — the patient gets the new ID")
        self.all_types.setObjectName("scopeAll")
        self.one_type = QRadioButton("Only this device type:")
        self.one_type.setObjectName("scopeOne")
        self.vendor = QComboBox()
        self.vendor.setObjectName("scopeVendor")
        for v in patient.vendors:
            self.vendor.addItem(vendor_label(v), v)
        self.scope.addButton(self.all_types)
        self.scope.addButton(self.one_type)
        self.all_types.setChecked(True)
        self.body.addWidget(self.all_types)
        one = QHBoxLayout()
        one.addWidget(self.one_type)
        one.addWidget(self.vendor, 1)
        self.body.addLayout(one)
        self.one_type.setEnabled(bool(patient.vendors))
        self.vendor.setEnabled(False)
        self.one_type.toggled.connect(self.vendor.setEnabled)
        self.body.addWidget(label("Moving one device type takes its connection and downloaded data to the new "
                                  "ID (which may already exist with other device types). You can undo either.",
                                  "help", wrap=True))
        self.finish_layout()
        self.code.setFocus(Qt.FocusReason.OtherFocusReason)

    def primary_field(self) -> QLineEdit:
        return self.code

    def submit(self) -> None:
        vendor = self.vendor.currentData() if self.one_type.isChecked() else None
        self.run(self.ctx.app.patients.rename, self.patient.code, self.code.text(), self.ctx.session.actor,
                 vendor)

    def on_done(self, result: object) -> None:
        self.renamed.emit(str(result))
        super().on_done(result)
