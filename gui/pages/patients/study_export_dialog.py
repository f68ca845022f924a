"""Export for a study: chosen patients × kinds of data × days, one CSV per patient, device type and
kind of data, in a new folder or a ZIP, with manifest.csv (services/data/study_export.py).

The choice is checked here first (nothing chosen, dates reversed: a message next to the field and no
file dialog); the place is asked in a file dialog that starts in the user's Documents folder; the
files are written on a worker. When done: how many files and rows, "Open folder" (with a way out when
no file manager answers) and "Copy path".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.errors import advice_for
from gui.format import today as clock_today
from gui.pages.patients.delete_data_dialog import from_qdate, to_qdate
from gui.pages.patients.export_dialog import METRIC_LABELS
from gui.widgets import (
    Banner,
    CopyTargetDialog,
    button,
    date_range_row,
    documents_folder,
    grow_to_fit,
    label,
    open_or_show,
)
from services.data.study_export import StudyExport, export_study
from services.patients.service import PatientInfo

AskPlace = Callable[[QWidget, str, bool], "str | None"]  # (parent, suggested name, as ZIP) -> path or None
DEFAULT_DAYS = 30
LIST_ROWS = 10  # every kind of data in view


def ask_study_place(parent: QWidget, suggested: str, as_zip: bool) -> str | None:
    """A save dialog that starts in Documents: a ZIP file's name, or the name of a new folder."""
    start = str(Path(documents_folder()) / suggested)
    if as_zip:
        path, _f = QFileDialog.getSaveFileName(parent, "Save the study export as", start, "ZIP files (*.zip)")
        if path and not path.lower().endswith(".zip"):
            path += ".zip"
    else:
        path, _f = QFileDialog.getSaveFileName(parent, "Name the new folder for the study export", start,
                                               "Folders (*)")
    return path or None


class CheckList(QListWidget):
    """A list of checkable rows (value in UserRole) with a "Select all" box above it."""

    def __init__(self, name: str, rows: list[tuple[str, str]], on_changed: Callable[[], object]) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for text, value in rows:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, value)
            item.setToolTip(text)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        self.all_box = QCheckBox("Select all")
        self.all_box.setObjectName(name + "All")
        self.all_box.toggled.connect(self._all_toggled)
        self._on_changed = on_changed
        self.itemChanged.connect(lambda _i: self._item_changed())

    def fit_rows(self, rows: int) -> None:
        """As high as `rows` rows (more scroll), so the lists side by side line up."""
        row = self.sizeHintForRow(0) if self.count() else self.fontMetrics().height() + 4
        self.setFixedHeight(row * rows + 2 * self.frameWidth() + 2)

    def rows(self) -> list[QListWidgetItem]:
        return [self.item(i) for i in range(self.count())]

    def checked(self) -> list[str]:
        return [str(i.data(Qt.ItemDataRole.UserRole)) for i in self.rows() if i.checkState() == Qt.CheckState.Checked]

    def set_checked(self, values: set[str]) -> None:
        for i in self.rows():
            want = str(i.data(Qt.ItemDataRole.UserRole)) in values
            i.setCheckState(Qt.CheckState.Checked if want else Qt.CheckState.Unchecked)

    def _all_toggled(self, on: bool) -> None:
        self.blockSignals(True)
        for i in self.rows():
            i.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.blockSignals(False)
        self.viewport().update()
        self._on_changed()

    def _item_changed(self) -> None:
        every = bool(self.count()) and len(self.checked()) == self.count()
        self.all_box.blockSignals(True)
        self.all_box.setChecked(every)
        self.all_box.blockSignals(False)
        self._on_changed()


class StudyExportDialog(QDialog):
    def __init__(self, ctx: PageContext, patients: list[PatientInfo], selected: str | None = None, *,
                 ask_place: AskPlace = ask_study_place, today: dt.date | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.ask_place = ask_place
        self.result_: StudyExport | None = None
        self.busy = False
        self.copy_dialog: CopyTargetDialog | None = None
        self.setObjectName("studyExportDialog")
        self.setWindowTitle("Export for a study")
        self.setModal(True)
        self.setMinimumWidth(620)
        col = QVBoxLayout(self)
        col.setContentsMargins(24, 20, 24, 18)
        col.setSpacing(8)
        col.addWidget(label("Export for a study", "title"))
        col.addWidget(label("One CSV file per patient, device type and kind of data, with a manifest.csv that lists "
                            "them. Times are in UTC and in the patient's local time; a day is the patient's own "
                            "calendar day.", "muted", wrap=True))

        # each problem is said next to its field (made first: the fields clear them as they are filled)
        self.patients_error, self.metrics_error, self.dates_error, self.place_error = (
            label("", "error", wrap=True) for _ in range(4))
        for err, name in ((self.patients_error, "studyPatientsError"), (self.metrics_error, "studyMetricsError"),
                          (self.dates_error, "studyDatesError"), (self.place_error, "studyPlaceError")):
            err.setObjectName(name)
            err.hide()
        lists = QHBoxLayout()
        lists.setSpacing(16)
        self.patient_list = CheckList("studyPatients", [(p.code, p.code) for p in patients if p.vendors],
                                      self._clear_errors)
        self.metric_list = CheckList("studyMetrics", [(text, key) for key, text in METRIC_LABELS.items()],
                                     self._clear_errors)
        for title, lst, err, stretch in (("Patients", self.patient_list, self.patients_error, 2),
                                         ("Kinds of data", self.metric_list, self.metrics_error, 3)):
            box = QVBoxLayout()
            box.setSpacing(4)
            head = QHBoxLayout()
            head.addWidget(label(title, "section"))
            head.addStretch(1)
            head.addWidget(lst.all_box)
            box.addLayout(head)
            box.addWidget(lst)
            box.addWidget(err)
            box.addStretch(1)  # a message under one list does not move the other
            lists.addLayout(box, stretch)
        for lst in (self.patient_list, self.metric_list):
            lst.fit_rows(min(LIST_ROWS, max(self.metric_list.count(), 1)))
        col.addLayout(lists)
        if selected is not None:
            self.patient_list.set_checked({selected})
            self.patient_list._item_changed()

        dates, self.start, self.end = date_range_row(lambda _d: self._clear_errors())
        dates.addStretch(1)
        today = today or clock_today()
        self.start.setDate(to_qdate(today - dt.timedelta(days=DEFAULT_DAYS - 1)))
        self.end.setDate(to_qdate(today))
        col.addLayout(dates)
        col.addWidget(self.dates_error)

        place = QHBoxLayout()
        place.setSpacing(12)
        place.addWidget(label("Save as"))
        self.as_folder = QRadioButton("A new folder")
        self.as_folder.setObjectName("studyAsFolder")
        self.as_zip = QRadioButton("A ZIP file")
        self.as_zip.setObjectName("studyAsZip")
        self.as_folder.setChecked(True)
        group = QButtonGroup(self)
        for r in (self.as_folder, self.as_zip):
            group.addButton(r)
            place.addWidget(r)
        place.addStretch(1)
        col.addLayout(place)
        col.addWidget(self.place_error)

        self.progress = QProgressBar()
        self.progress.setObjectName("studyProgress")
        self.progress.setRange(0, 0)  # "working": the service does not report per file
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(8)
        self.progress.hide()
        col.addWidget(self.progress)
        self.done_bar = Banner("info")
        self.done_bar.setObjectName("studyDone")
        self.done_bar.action_clicked.connect(self.open_folder)
        col.addWidget(self.done_bar)

        row = QHBoxLayout()
        self.copy_button = button("Copy path", "copy", on_click=self.copy_path)
        self.copy_button.setObjectName("studyCopyPath")
        self.copy_button.hide()
        self.copied = label("", "ok")
        row.addWidget(self.copy_button)
        row.addWidget(self.copied)
        row.addStretch(1)
        self.close_button = button("Close", on_click=self.reject)
        self.export_button = button("Export…", "import", primary=True, on_click=self.export)
        self.export_button.setObjectName("studyExportButton")
        row.addWidget(self.close_button)
        row.addWidget(self.export_button)
        col.addLayout(row)
        self.export_button.setDefault(True)

    # -- checking the choice -------------------------------------------------------------------
    def _clear_errors(self) -> None:
        for err in (self.patients_error, self.metrics_error, self.dates_error, self.place_error):
            err.hide()

    def _problem(self, where: QLabel, text: str) -> None:
        where.setText(text)
        where.show()
        grow_to_fit(self)

    def check(self) -> tuple[list[str], list[str], dt.date, dt.date] | None:
        """The choice, or None with each problem shown next to its field."""
        self._clear_errors()
        patients, metrics = self.patient_list.checked(), self.metric_list.checked()
        start, end = from_qdate(self.start.date()), from_qdate(self.end.date())
        ok = True
        if not patients:
            self._problem(self.patients_error, "Tick at least one patient.")
            ok = False
        if not metrics:
            self._problem(self.metrics_error, "Tick at least one kind of data.")
            ok = False
        if end < start:
            self._problem(self.dates_error, f"The last day ({end:%d %b %Y}) is before the first day "
                                            f"({start:%d %b %Y}). Swap the two dates.")
            ok = False
        return (patients, metrics, start, end) if ok else None

    def suggested_name(self, start: dt.date, end: dt.date) -> str:
        return f"wearsync-study_{start}_{end}" + (".zip" if self.as_zip.isChecked() else "")

    # -- exporting -----------------------------------------------------------------------------
    def export(self) -> None:
        if self.busy:
            return
        choice = self.check()
        if choice is None:
            return
        patients, metrics, start, end = choice
        as_zip = self.as_zip.isChecked()
        path = self.ask_place(self, self.suggested_name(start, end), as_zip)
        if not path:
            return
        self._set_busy(True)
        self.done_bar.hide()
        self.copy_button.hide()
        self.copied.setText("")
        app = self.ctx.app
        self.ctx.bridge.submit(export_study, app.db, app.audit, self.ctx.session.actor, Path(path), patients, metrics,
                               start, end, as_zip=as_zip, on_result=self._done, on_error=self._failed, context=self)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.progress.setVisible(busy)
        self.export_button.setEnabled(not busy)
        self.export_button.setText("Exporting…" if busy else "Export…")
        for w in (self.patient_list, self.patient_list.all_box, self.metric_list, self.metric_list.all_box,
                  self.start, self.end, self.as_folder, self.as_zip):
            w.setEnabled(not busy)

    def _done(self, result: StudyExport) -> None:
        self._set_busy(False)
        self.result_ = result
        n = len(result.files)
        self.done_bar.show_message(
            f"Exported {n} file{'s' if n != 1 else ''} ({result.rows:,} rows) and manifest.csv to {result.path}.",
            "info", "Open folder")
        self.copy_button.show()

    def _failed(self, error: Exception) -> None:
        self._set_busy(False)
        self._problem(self.place_error, advice_for(error).message)

    def folder(self) -> str | None:
        """The folder to open: the export folder, or the one holding the ZIP."""
        if self.result_ is None:
            return None
        path = Path(self.result_.path)
        return str(path if path.is_dir() else path.parent)

    def open_folder(self) -> None:
        folder = self.folder()
        if folder is not None:
            self.copy_dialog = open_or_show(self, folder, folder=True)

    def copy_path(self) -> None:
        if self.result_ is not None:
            QGuiApplication.clipboard().setText(str(self.result_.path))
            self.copied.setText("Copied.")
