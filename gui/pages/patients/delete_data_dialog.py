"""Delete part of one patient's data: a device type, optionally one kind of data, optionally some
patient-local days (services/data/deletion.py). Administrators only.

What would go is counted on a worker each time the choice changes (rows per table, days); the
Delete button works only on the count shown, once the patient ID is typed. The deletion can be
undone for 24 hours from the Patients page's banner; the service records it in the audit trail.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QFormLayout, QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.errors import advice_for
from gui.format import today as clock_today
from gui.format import vendor_label
from gui.pages.patients.export_dialog import METRIC_LABELS
from gui.widgets import button, choice_box, date_range_row, grow_to_fit, label
from services.data.deletion import DeletionResult, Preview, Selection
from services.patients.service import PatientInfo

PREVIEW_DELAY_MS = 250  # a burst of edits (typing a date) asks for one count, not one per key
DEFAULT_DAYS = 7
DELETE_LABELS = {**METRIC_LABELS, "sleep": "Sleep (each night with its stages)"}


def to_qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def from_qdate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


def preview_words(preview: Preview) -> str:
    """What goes, for a coordinator: rows per kind of data and the days they fall on."""
    if not preview.total:
        return "Nothing to delete: there is no data of this kind on these days."
    days = preview.days
    n = len(days)
    span = f"{days[0]:%d %b %Y}" if n == 1 else f"{days[0]:%d %b %Y} to {days[-1]:%d %b %Y}"
    lines = [f"This deletes {preview.total:,} rows on {n} day{'s' if n != 1 else ''} of the patient's "
             f"calendar ({span}):"]
    lines += [f"    {rows:,} {table.replace('_', ' ')}" for table, rows in preview.rows.items() if rows]
    return "\n".join(lines)


class DeleteDataDialog(QDialog):
    deleted = Signal(object)  # DeletionResult

    def __init__(self, ctx: PageContext, patient: PatientInfo, parent: QWidget | None = None,
                 *, today: dt.date | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.code = patient.code
        self.preview_result: Preview | None = None  # the count for the choice shown now, once it arrived
        self.result_: DeletionResult | None = None
        self.busy = False
        self._ticket = 0  # a count that arrives after the choice changed again is dropped
        self._built = False  # the fields call _changed while they are set up: not yet
        self.setObjectName("deleteDataDialog")
        self.setWindowTitle(f"Delete data of {patient.code}")
        self.setModal(True)
        self.setMinimumWidth(560)
        col = QVBoxLayout(self)
        col.setContentsMargins(24, 20, 24, 18)
        col.setSpacing(10)
        col.addWidget(label(f"Delete data of patient {patient.code}", "title"))
        col.addWidget(label("Removes downloaded data of one device type: all of it, one kind of data, or some days. "
                            "The patient stays enrolled and connected. You can undo this for 24 hours.",
                            "muted", wrap=True))

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        self.vendor_box = choice_box("deleteVendor", [(vendor_label(v), v) for v in patient.vendors],
                                     lambda _i: self._changed())
        form.addRow("Device type", self.vendor_box)
        self.metric_box = choice_box("deleteMetric", [("Every kind of data", None),
                                                      *((text, key) for key, text in DELETE_LABELS.items())],
                                     lambda _i: self._changed())
        form.addRow("Data", self.metric_box)
        self.some_days = QCheckBox("Only these days (the patient's own calendar days):")
        self.some_days.setObjectName("deleteSomeDays")
        self.some_days.toggled.connect(lambda _on: self._changed())
        form.addRow("Days", self.some_days)
        dates, self.start, self.end = date_range_row(lambda _d: self._changed())
        dates.addStretch(1)
        today = today or clock_today()
        self.start.setDate(to_qdate(today - dt.timedelta(days=DEFAULT_DAYS - 1)))
        self.end.setDate(to_qdate(today))
        form.addRow("", dates)
        self.dates_error = label("", "error", wrap=True)
        self.dates_error.setObjectName("deleteDatesError")
        self.dates_error.hide()
        form.addRow("", self.dates_error)
        col.addLayout(form)

        self.preview = label("", wrap=True)
        self.preview.setObjectName("deletePreview")
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.preview)
        self.exclude = QCheckBox("Do not download these days again")
        self.exclude.setObjectName("deleteExclude")
        col.addWidget(self.exclude)
        hint = label("Without this tick, the next download may fetch these days from the vendor again. With it, "
                     "the Sync page lists them as excluded.", "help", wrap=True)
        hint.setContentsMargins(26, 0, 0, 0)
        col.addWidget(hint)

        self.confirm_text = label(f"To confirm, type the patient ID {patient.code}:", wrap=True)
        self.confirm_text.setObjectName("deleteConfirmText")
        col.addWidget(self.confirm_text)
        self.confirm = QLineEdit()
        self.confirm.setObjectName("deleteConfirm")
        self.confirm.setPlaceholderText(patient.code)
        self.confirm.textChanged.connect(lambda _t: self._update())
        col.addWidget(self.confirm)
        self.error = label("", "error", wrap=True)
        self.error.setObjectName("deleteError")
        self.error.hide()
        col.addWidget(self.error)

        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_button = button("Cancel", on_click=self.reject)
        self.delete_button = button("Delete data", "trash", danger=True, on_click=self.delete)
        self.delete_button.setObjectName("deleteDataButton")
        self.delete_button.setAutoDefault(False)  # Enter in the ID field must not delete by itself
        row.addWidget(self.cancel_button)
        row.addWidget(self.delete_button)
        col.addLayout(row)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._ask_preview)
        self._built = True
        self._changed()

    # -- the choice and its count ---------------------------------------------------------------
    def selection(self) -> Selection | None:
        """The choice in the fields, or None (with the reason shown) when the dates are reversed."""
        start = end = None
        if self.some_days.isChecked():
            start, end = from_qdate(self.start.date()), from_qdate(self.end.date())
            if end < start:
                self.dates_error.setText(f"The last day ({end:%d %b %Y}) is before the first day "
                                         f"({start:%d %b %Y}). Swap the two dates.")
                self.dates_error.show()
                grow_to_fit(self)
                return None
        self.dates_error.hide()
        vendor = self.vendor_box.currentData()
        metric = self.metric_box.currentData()
        return Selection(self.code, str(vendor) if vendor else None, str(metric) if metric else None, start, end)

    def _changed(self) -> None:
        if not self._built:
            return
        for edit in (self.start, self.end):
            edit.setEnabled(self.some_days.isChecked() and not self.busy)
        self._ticket += 1
        self.preview_result = None
        self.error.hide()
        if self.vendor_box.currentData() is None:
            self.preview.setText("This patient has no device type, so there is no data to delete.")
        elif self.selection() is None:
            self.preview.setText("")
        else:
            self.preview.setText("Counting what would be deleted…")
            self._timer.start()
        self._update()

    def _ask_preview(self) -> None:
        sel = self.selection()
        if sel is None or sel.vendor is None:
            return
        ticket = self._ticket
        self.ctx.bridge.submit(self.ctx.app.deletions.preview, sel,
                               on_result=lambda p: self._previewed(ticket, p),
                               on_error=lambda e: self._preview_failed(ticket, e), context=self)

    def _previewed(self, ticket: int, preview: Preview) -> None:
        if ticket != self._ticket:
            return  # the choice changed meanwhile; its own count is on the way
        self.preview_result = preview
        self.preview.setText(preview_words(preview))
        self._update()
        grow_to_fit(self)

    def _preview_failed(self, ticket: int, error: Exception) -> None:
        if ticket != self._ticket:
            return
        self.preview.setText(advice_for(error).message)

    def _update(self) -> None:
        p = self.preview_result
        self.delete_button.setEnabled(
            p is not None and p.total > 0 and not self.busy and self.confirm.text().strip() == self.code
            and self.ctx.session.can("patients.delete"))

    # -- deleting --------------------------------------------------------------------------------
    def delete(self) -> None:
        preview = self.preview_result
        if preview is None or not self.delete_button.isEnabled():
            return
        self.busy = True
        for w in (self.vendor_box, self.metric_box, self.some_days, self.start, self.end, self.exclude,
                  self.confirm):
            w.setEnabled(False)
        self._update()
        self.preview.setText(f"Deleting {preview.total:,} rows…")
        self.ctx.bridge.submit(self.ctx.app.deletions.delete, preview.selection, self.ctx.session.actor,
                               exclude=self.exclude.isChecked(), on_result=self._done, on_error=self._failed,
                               context=self)

    def _done(self, result: DeletionResult) -> None:
        self.busy = False
        self.result_ = result
        self.deleted.emit(result)
        self.accept()

    def _failed(self, error: Exception) -> None:
        self.busy = False
        for w in (self.vendor_box, self.metric_box, self.some_days, self.exclude, self.confirm):
            w.setEnabled(True)
        self.error.setText(advice_for(error).message)
        self.error.show()
        self._changed()
        self.error.show()  # _changed hides it; the reason stays until the next change
        grow_to_fit(self)
