"""The Backfill dialog: choose patients, vendor and days; see the estimate BEFORE starting; then a
progress bar with "N of M · about X minutes left", Cancel, and resume (running it again skips the
days already complete).

The estimate and the download run off the UI thread (ctx.bridge); progress arrives through the
typed signals of `BackfillSignals`, emitted from the sync workers and delivered on the UI thread.
Non-modal: the rest of the window keeps working while it downloads. Opened from a Sync-page warning
about days WearSync did not download, it starts pre-filled with that patient, device and range. When
a chosen vendor no longer keeps the first days (Polar keeps 30), a warning says so.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QDate, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.widgets import button, fix_width, keep_place, label
from services.errors import WearSyncError
from services.sync.backfill import BackfillPlan, plan_backfill, run_backfill, validate_range
from services.sync.progress import Progress

Runner = Callable[..., Any]  # run_backfill(app, plan, on_progress=..., cancel=...)


@dataclass(frozen=True)
class Prefill:
    """What the dialog starts with when it is opened for one connection's missing days."""

    patient_code: str
    vendor: str
    start: dt.date
    end: dt.date


class BackfillSignals(QObject):
    progress = Signal(int, int, str)  # done, total, "N of M · about X minutes left" (+ what is downloading)


def qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def pydate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


class BackfillDialog(QDialog):
    finished_run = Signal(object)  # the SyncRunResult

    def __init__(self, ctx: PageContext, parent: QWidget | None = None, *, runner: Runner = run_backfill,
                 today: dt.date | None = None, prefill: Prefill | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.prefill = prefill
        self.patients_ready = False
        self.runner = runner
        self.today = today or ctx.app.clock.today()
        self.plan: BackfillPlan | None = None
        self.cancel_event: threading.Event | None = None
        self.running = False
        self.signals = BackfillSignals(self)
        self.signals.progress.connect(self._on_progress)
        self.setWindowTitle("Backfill past days")
        self.setObjectName("backfillDialog")
        self.setMinimumWidth(520)
        col = QVBoxLayout(self)
        col.setSpacing(10)
        col.addWidget(label("Download a range of past days for chosen patients. Days already downloaded "
                            "completely are skipped, so you can run the same backfill again to resume it.",
                            "muted", wrap=True))
        form = QFormLayout()
        self.all_patients = QCheckBox("All patients")
        self.all_patients.setChecked(prefill is None)
        self.all_patients.toggled.connect(self._changed)
        self.patients = QListWidget()
        self.patients.setObjectName("backfillPatients")
        self.patients.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.patients.setMaximumHeight(120)
        self.patients.setEnabled(prefill is not None)
        self.patients.itemSelectionChanged.connect(self._changed)
        self.all_patients.toggled.connect(lambda on: self.patients.setEnabled(not on))
        pcol = QVBoxLayout()
        pcol.addWidget(self.all_patients)
        pcol.addWidget(self.patients)
        form.addRow("Patients", pcol)
        self.vendor = QComboBox()
        self.vendor.setObjectName("backfillVendor")
        for text, value in (("All devices", None), ("Fitbit", "fitbit"), ("Withings", "withings"),
                            ("Polar", "polar")):
            self.vendor.addItem(text, value)
        if prefill is not None:
            self.vendor.setCurrentIndex(max(0, self.vendor.findData(prefill.vendor)))
        self.vendor.currentIndexChanged.connect(self._changed)
        form.addRow("Devices", self.vendor)
        first, last = ((prefill.start, prefill.end) if prefill is not None
                       else (self.today - dt.timedelta(days=30), self.today - dt.timedelta(days=1)))
        self.start = QDateEdit(qdate(first))
        self.end = QDateEdit(qdate(last))
        for w, name in ((self.start, "backfillStart"), (self.end, "backfillEnd")):
            w.setObjectName(name)
            w.setCalendarPopup(True)
            w.setDisplayFormat("dd MMM yyyy")
            w.dateChanged.connect(self._changed)
        days = QHBoxLayout()
        days.addWidget(self.start)
        days.addWidget(label("to"))
        days.addWidget(self.end)
        days.addStretch(1)
        form.addRow("Days", days)
        col.addLayout(form)
        self.error = label("", wrap=True)
        self.error.setObjectName("backfillError")
        self.error.setStyleSheet("color: #b91c1c;")
        self.error.hide()
        col.addWidget(self.error)
        self.estimate = label("", wrap=True)
        self.estimate.setObjectName("backfillEstimate")
        col.addWidget(self.estimate)
        self.history_warning = label("", wrap=True)
        self.history_warning.setObjectName("backfillHistoryWarning")
        self.history_warning.setStyleSheet("color: #92400e;")
        self.history_warning.hide()
        col.addWidget(self.history_warning)
        self.progress = QProgressBar()
        self.progress.setObjectName("backfillProgress")
        self.progress.setTextVisible(False)
        keep_place(self.progress)  # its room is kept, so the buttons below do not jump when it shows
        self.progress.hide()
        col.addWidget(self.progress)
        self.status = label("", "muted", wrap=True)
        self.status.setObjectName("backfillStatus")
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 2 + 4)  # one or two lines
        col.addWidget(self.status)
        # fixed places and sizes: nothing moves under the pointer when a label or a button changes
        buttons = QHBoxLayout()
        self.cancel_button = button("Cancel download", danger=True, on_click=self.cancel)
        self.cancel_button.setObjectName("backfillCancel")
        keep_place(self.cancel_button)
        self.cancel_button.hide()
        self.close_button = button("Close", on_click=self.close)
        self.close_button.setObjectName("backfillClose")
        self.start_button = button("Start backfill", "play", primary=True, on_click=self.start_backfill)
        self.start_button.setObjectName("backfillStartButton")
        self.start_button.setEnabled(False)
        fix_width(self.start_button, "Start backfill", "Start again (resume)")
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.start_button)
        col.addStretch(1)  # spare room goes here: the buttons stay at the bottom edge
        col.addLayout(buttons)
        # a size of its own (not "follow the contents"), so a longer status line does not grow it
        hint = self.sizeHint()
        self.resize(max(560, hint.width()), hint.height() + 60)
        # the estimate follows the choices, but not on every keystroke of a date
        self.debounce = QTimer(self, singleShot=True, interval=250)
        self.debounce.timeout.connect(self.update_estimate)
        ctx.bridge.submit(ctx.app.patients.list_patients, on_result=self._patients_loaded, context=self)
        self._changed()

    # -- choices and estimate ---------------------------------------------------------------
    def _patients_loaded(self, patients: list[Any]) -> None:
        self.patients_ready = True
        for p in patients:
            if any(c.status in ("connected", "error") for c in p.connections):
                item = QListWidgetItem(p.code)
                self.patients.addItem(item)
                if self.prefill is not None and p.code == self.prefill.patient_code:
                    item.setSelected(True)  # selection changed: the estimate follows
        if self.prefill is not None and not self.patients.selectedItems():
            self._changed()  # the patient is no longer connected: say "choose a patient"

    def chosen_patients(self) -> list[str] | None:
        if self.all_patients.isChecked():
            return None
        return [i.text() for i in self.patients.selectedItems()]

    def _changed(self) -> None:
        if self.running:
            return
        self.plan = None
        self.start_button.setEnabled(False)
        try:
            validate_range(pydate(self.start.date()), pydate(self.end.date()), self.today)
        except WearSyncError as exc:
            self._show_error(exc.message)
            return
        if self.chosen_patients() == [] and self.prefill is not None and not self.patients_ready:
            self.estimate.setText("Loading the patients…")  # the pre-filled one is selected when they arrive
            return
        if self.chosen_patients() == []:
            self._show_error("Choose at least one patient, or tick \"All patients\".")
            return
        self.error.hide()
        self.history_warning.hide()
        self.estimate.setText("Estimating…")
        self.debounce.start()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.history_warning.hide()
        self.estimate.setText("")

    def update_estimate(self) -> None:
        self.ctx.bridge.submit(plan_backfill, self.ctx.app, pydate(self.start.date()), pydate(self.end.date()),
                               patient_codes=self.chosen_patients(), vendor=self.vendor.currentData(),
                               today=self.today, on_result=self._planned, on_error=self._plan_failed, context=self)

    def _planned(self, plan: BackfillPlan) -> None:
        if self.running:
            return
        self.plan = plan
        self.estimate.setText("Estimate: " + plan.describe(warnings=False))
        self.history_warning.setText(" ".join(plan.warnings))
        self.history_warning.setVisible(bool(plan.warnings))
        self.start_button.setEnabled(self.ctx.session.can("sync.run") and plan.estimate.requests > 0)
        if plan.estimate.requests == 0:
            self.estimate.setText("Every chosen day is already downloaded completely. Nothing to do.")

    def _plan_failed(self, error: Exception) -> None:
        self._show_error(getattr(error, "message", str(error)))

    # -- running ----------------------------------------------------------------------------
    def start_backfill(self) -> None:
        if self.plan is None or self.running:
            return
        self.running = True
        self.cancel_event = threading.Event()
        for w in (self.all_patients, self.patients, self.vendor, self.start, self.end, self.start_button):
            w.setEnabled(False)
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText("Starting…")

        def on_progress(p: Progress) -> None:  # a sync worker thread
            text = p.describe() + (f" — {p.label}" if p.label and not p.cancelled else "")
            self.signals.progress.emit(p.done, p.total, text)

        self.ctx.bridge.submit(self.runner, self.ctx.app, self.plan, on_progress=on_progress,
                               cancel=self.cancel_event, actor=self.ctx.session.actor,
                               on_result=self._done, on_error=self._failed, context=self)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.status.setText(text)

    def cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling… what is downloaded is kept.")

    def _done(self, run: Any) -> None:
        self._finish()
        cancelled = self.cancel_event is not None and self.cancel_event.is_set()
        if cancelled:
            self.status.setText(getattr(run, "summary", "") if getattr(run, "cancelled", False) else
                                "Cancelled. What was downloaded is kept; start the same backfill again to resume.")
        else:
            self.status.setText(getattr(run, "summary", "Done."))
            if self.progress.maximum() > 0:
                self.progress.setValue(self.progress.maximum())
        self.finished_run.emit(run)

    def _failed(self, error: Exception) -> None:
        self._finish()
        self.status.setText(getattr(error, "message", f"The backfill stopped: {error}"))

    def _finish(self) -> None:
        self.running = False
        self.cancel_button.hide()
        for w in (self.all_patients, self.vendor, self.start, self.end):
            w.setEnabled(True)
        self.patients.setEnabled(not self.all_patients.isChecked())
        self.start_button.setText("Start again (resume)")
        self._changed()

    def closeEvent(self, event: Any) -> None:
        # closing does not stop a running download silently: it keeps going, the window shows it
        if self.running:
            self.hide()
            event.ignore()
            return
        super().closeEvent(event)



