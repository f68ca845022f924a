"""Export one metric of one patient as CSV (the same file as `main.py export`), off the UI thread.

The save location comes from `ask_path` (a file dialog; tests pass a function). The export is
recorded in the audit trail by the service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.errors import advice_for
from gui.format import today as clock_today
from gui.format import vendor_label
from gui.widgets import Banner, documents_folder, label, open_or_show
from services.data.export import ExportResult, export_to_file
from services.patients.service import PatientInfo

AskPath = Callable[[QWidget, str], "str | None"]

# DESIGN.md's metrics first, in its order, then the extra ones the export also knows
METRIC_LABELS: dict[str, str] = {
    "heart_rate": "Heart rate (every sample)",
    "steps": "Steps (per minute)",
    "resting_heart_rate": "Resting heart rate (per day)",
    "sleep": "Sleep (one row per night or nap)",
    "sleep_stages": "Sleep stages",
    "respiratory_rate": "Breathing rate",
    "exercises": "Exercises",
    "snoring": "Snoring",
    "daily_activity": "Daily activity",
    "body_measures": "Body measures (weight, pulse)",
}
DEFAULT_DAYS = 7


def ask_save_path(parent: QWidget, suggested: str) -> str | None:
    folder = documents_folder()
    path, _filter = QFileDialog.getSaveFileName(parent, "Save the export as", str(Path(folder) / suggested),
                                                "CSV files (*.csv)")
    if not path:
        return None
    return path if path.lower().endswith(".csv") else path + ".csv"


def to_date(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


class ExportDialog(QDialog):
    error_label: QLabel

    def __init__(self, ctx: PageContext, patients: list[PatientInfo], patient_code: str | None = None,
                 vendor: str | None = None, *, ask_path: AskPath = ask_save_path,
                 today: dt.date | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ask_path = ask_path
        self.patients = {p.code: p for p in patients}
        self.export_result: ExportResult | None = None
        self.setWindowTitle("Export to CSV")
        self.setModal(True)
        self.setMinimumWidth(500)
        v = QVBoxLayout(self)
        v.setContentsMargins(22, 20, 22, 18)
        v.setSpacing(10)
        v.addWidget(label("Export to CSV", "title"))
        v.addWidget(label("One metric of one patient, as the vendor delivered it. Times are UTC (ending in Z); a "
                          "day is the patient's own calendar day.", "muted", wrap=True))
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        self.patient_box = QComboBox()
        self.patient_box.setObjectName("exportPatient")
        for code in self.patients:
            self.patient_box.addItem(code, code)
        self.vendor_box = QComboBox()
        self.vendor_box.setObjectName("exportVendor")
        self.metric_box = QComboBox()
        self.metric_box.setObjectName("exportMetric")
        for key, text in METRIC_LABELS.items():
            self.metric_box.addItem(text, key)
        today = today or clock_today()
        self.start = QDateEdit(QDate(*(today - dt.timedelta(days=DEFAULT_DAYS - 1)).timetuple()[:3]))
        self.start.setObjectName("exportStart")
        self.end = QDateEdit(QDate(today.year, today.month, today.day))
        self.end.setObjectName("exportEnd")
        for d in (self.start, self.end):
            d.setCalendarPopup(True)
            d.setDisplayFormat("dd MMM yyyy")
            d.dateChanged.connect(lambda _d: self.error_label.hide())
        form.addRow("Patient", self.patient_box)
        form.addRow("Device type", self.vendor_box)
        form.addRow("Metric", self.metric_box)
        dates = QHBoxLayout()
        dates.setSpacing(8)
        dates.addWidget(self.start)
        dates.addWidget(label("to", "muted"))
        dates.addWidget(self.end)
        dates.addStretch(1)
        form.addRow("Days", dates)
        v.addLayout(form)
        self.error_label = label("", "error", wrap=True)
        self.error_label.setObjectName("exportError")
        self.error_label.hide()
        v.addWidget(self.error_label)
        self.saved_bar = Banner("info")
        self.saved_bar.setObjectName("exportDone")
        self.saved_bar.action_clicked.connect(self._show_folder)
        v.addWidget(self.saved_bar)
        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton("Save as…", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("exportSave")
        self.save_button.setProperty("primary", True)
        self.save_button.setDefault(True)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        v.addWidget(buttons)
        self.save_button.setDefault(True)  # again, now that it is in the dialog: Enter saves
        self.patient_box.currentIndexChanged.connect(lambda _i: self._fill_vendors())
        if patient_code in self.patients:
            self.patient_box.setCurrentIndex(self.patient_box.findData(patient_code))
        self._fill_vendors(vendor)

    def _fill_vendors(self, prefer: str | None = None) -> None:
        p = self.patients.get(str(self.patient_box.currentData()))
        self.vendor_box.clear()
        for v in p.vendors if p else []:
            self.vendor_box.addItem(vendor_label(v), v)
        if prefer is not None and self.vendor_box.findData(prefer) >= 0:
            self.vendor_box.setCurrentIndex(self.vendor_box.findData(prefer))

    def suggested_name(self) -> str:
        return (f"{self.patient_box.currentData()}_{self.vendor_box.currentData()}_{self.metric_box.currentData()}_"
                f"{to_date(self.start.date())}_{to_date(self.end.date())}.csv")

    def save(self) -> None:
        self.saved_bar.hide()
        start, end = to_date(self.start.date()), to_date(self.end.date())
        if self.patient_box.currentData() is None or self.vendor_box.currentData() is None:
            self._show_error("Choose a patient with at least one device type.")
            return
        if end < start:
            self._show_error(f"The last day ({end:%d %b %Y}) is before the first day ({start:%d %b %Y}). "
                             "Swap the two dates.")
            return
        path = self.ask_path(self, self.suggested_name())
        if not path:
            return
        self.save_button.setEnabled(False)
        app = self.ctx.app
        task = self.ctx.bridge.submit(
            export_to_file, app.db, app.audit, self.ctx.session.actor, Path(path), str(self.vendor_box.currentData()),
            str(self.patient_box.currentData()), str(self.metric_box.currentData()), start, end,
            on_result=self._saved, on_error=lambda e: self._show_error(advice_for(e).message), context=self)
        task.finished.connect(lambda: self.save_button.setEnabled(True))

    def _saved(self, result: ExportResult) -> None:
        self.export_result = result
        rows = f"{result.rows:,} row{'s' if result.rows != 1 else ''}"
        extra = "" if result.rows else " (no data on those days: the file has only the header)"
        self.saved_bar.show_message(f"Saved {rows} to {result.path}{extra}.", "info", "Show in folder")

    def _show_folder(self) -> None:
        result = getattr(self, "export_result", None)
        if result is not None:
            self.folder_dialog = open_or_show(self, str(Path(result.path).parent), folder=True)

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
