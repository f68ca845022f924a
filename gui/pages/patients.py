"""Patients: the enrolled IDs with their device types and connection status; add, rename
(one device type or all), delete with a confirmation that says what goes, and undo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QStackedWidget,
    QTableView,
    QWidget,
)

from gui import theme
from gui.context import PageContext
from gui.format import ago, vendor_label
from gui.pages.base import Page
from gui.pages.patient_detail import PatientDetail
from gui.pages.patient_dialogs import AddPatientDialog, RenamePatientDialog
from gui.widgets import BadgeDelegate, Banner, EmptyState, button
from services.config import VENDORS
from services.patients import DeletionPreview, PatientInfo, UndoInfo

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
CODE_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class PatientsView:
    """What one refresh loads in the worker: the list and what can be undone."""

    patients: list[PatientInfo]
    undoable: list[UndoInfo]


class PatientTableModel(QAbstractTableModel):
    HEADERS = ("Patient ID", *(vendor_label(v) for v in VENDORS), "Last sync")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[PatientInfo] = []

    def set_rows(self, rows: list[PatientInfo]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        p = self.rows[index.row()]
        col = index.column()
        if role == CODE_ROLE:
            return p.code
        vendor_col = 1 <= col <= len(VENDORS)
        conn = next((c for c in p.connections if c.vendor == VENDORS[col - 1]), None) if vendor_col else None
        if role == STATUS_ROLE:
            return conn.status if conn else None
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return p.code
            if vendor_col:
                return "" if conn else "—"
            synced = [c.last_sync_at for c in p.connections if c.last_sync_at]
            return ago(max(synced)) if synced else "Never"
        if role == Qt.ItemDataRole.ForegroundRole and ((vendor_col and conn is None) or col == len(self.HEADERS) - 1):
            return QColor(theme.MUTED)
        if role == Qt.ItemDataRole.FontRole and col == 0:
            font = QFont()
            font.setWeight(QFont.Weight.DemiBold)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and conn is not None:
            return conn.last_error or theme.badge_style(conn.status)[0]
        return None


class PatientsPage(Page):
    key = "patients"
    title = "Patients"
    icon = "patients"
    subtitle = "Everyone enrolled, the devices they wear, and whether each vendor account is connected."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.all_rows: list[PatientInfo] = []
        self.loaded = False

        self.search = QLineEdit()
        self.search.setObjectName("patientSearch")
        self.search.setPlaceholderText("Search patient ID")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(theme.icon("search", theme.MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setFixedWidth(240)
        self.search.textChanged.connect(lambda _t: self._apply_filter())
        self.add_button = button("Add patient", "add", primary=True, on_click=self.open_add_dialog)
        self.add_button.setObjectName("addPatientButton")
        self.header.actions.addWidget(self.search)
        self.header.actions.addWidget(self.add_button)

        self.error_banner = Banner("error")
        self.error_banner.action_clicked.connect(self.refresh)
        self.layout_.addWidget(self.error_banner)
        self.undo_bar = Banner("info", closable=True)
        self.undo_bar.setObjectName("undoBar")
        self.undo_bar.action_clicked.connect(self.undo)
        self.undo_bar.dismissed.connect(self._undo_dismissed)
        self._dismissed_undo: int | None = None
        self.layout_.addWidget(self.undo_bar)
        self.last_undo: UndoInfo | None = None

        self.model = PatientTableModel()
        self.table = QTableView()
        self.table.setObjectName("patientsTable")
        self.table.setModel(self.model)
        self.table.setItemDelegate(BadgeDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(False)
        self.table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(40)
        hdr = self.table.horizontalHeader()
        hdr.setHighlightSections(False)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, self.model.columnCount()):
            hdr.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            hdr.resizeSection(col, 144 if col <= len(VENDORS) else 100)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.table.doubleClicked.connect(lambda _i: self.open_rename_dialog())

        self.empty = EmptyState(
            "patients", "No patients yet",
            "Click Add patient to enrol the first one. You will choose an ID and the devices they wear.",
            button("Add patient", "add", primary=True, on_click=self.open_add_dialog),
        )
        self.no_match = EmptyState("search", "No patient matches your search",
                                   "Check the spelling, or clear the search box to see everyone.")
        self.stack = QStackedWidget()
        for w in (self.table, self.empty, self.no_match):
            self.stack.addWidget(w)

        self.detail = PatientDetail()
        self.detail.rename_button.clicked.connect(lambda: self.open_rename_dialog())
        self.detail.delete_button.clicked.connect(lambda: self.delete_selected())
        self.detail.withdraw_button.clicked.connect(lambda: self.open_withdraw_dialog())

        row = QHBoxLayout()
        row.setSpacing(16)
        row.addWidget(self.stack, 1)
        row.addWidget(self.detail)
        self.layout_.addLayout(row, 1)
        ctx.events.patients_changed.connect(self.refresh)
        self.apply_permissions()

    # -- loading --------------------------------------------------------------------------
    def shown(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        svc = self.ctx.app.patients
        self.ctx.bridge.submit(lambda: PatientsView(svc.list_patients(), svc.undoable()),
                               on_result=self._loaded, on_error=self._load_failed, context=self)

    def _loaded(self, view: PatientsView) -> None:
        self.loaded = True
        self.error_banner.hide()
        selected = self.selected_code()
        self.all_rows = view.patients
        self._apply_filter(select=selected)
        self._show_undo(view.undoable[0] if view.undoable else None)
        n = len(view.patients)
        self.header.subtitle.setText(
            f"{n} patient{'s' if n != 1 else ''} enrolled. Select one to see devices and last download."
            if n else self.subtitle)

    def _load_failed(self, error: Exception) -> None:
        from gui.errors import advice_for

        self.error_banner.show_message(f"The patient list could not be loaded. {advice_for(error).message}",
                                       "error", "Try again")

    def _apply_filter(self, select: str | None = None) -> None:
        select = select if select is not None else self.selected_code()
        needle = self.search.text().strip().casefold()
        rows = [p for p in self.all_rows if needle in p.code.casefold()] if needle else self.all_rows
        self.model.set_rows(rows)
        self.detail.setVisible(bool(self.all_rows))  # nothing to select: let the empty state breathe
        if not self.all_rows:
            self.stack.setCurrentWidget(self.empty)
        elif not rows:
            self.stack.setCurrentWidget(self.no_match)
        else:
            self.stack.setCurrentWidget(self.table)
        for i, p in enumerate(rows):
            if p.code == select:
                self.table.selectRow(i)
                break
        self._selection_changed()

    # -- selection ------------------------------------------------------------------------
    def selected_code(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return str(rows[0].data(CODE_ROLE)) if rows else None

    def selected_patient(self) -> PatientInfo | None:
        code = self.selected_code()
        return next((p for p in self.model.rows if p.code == code), None)

    def select(self, code: str) -> None:
        for i, p in enumerate(self.model.rows):
            if p.code == code:
                self.table.selectRow(i)
                return

    def _selection_changed(self) -> None:
        self.detail.show_patient(self.selected_patient())
        self.apply_permissions()

    def apply_permissions(self) -> None:
        self.guard(self.add_button, "patients.edit")
        self.guard(self.detail.rename_button, "patients.edit")
        self.guard(self.detail.delete_button, "patients.delete")
        self.guard(self.detail.withdraw_button, "patients.delete")
        self.undo_bar.button.setEnabled(self.ctx.session.can("patients.edit"))

    # -- actions --------------------------------------------------------------------------
    def open_add_dialog(self) -> AddPatientDialog | None:
        if not self.ctx.session.can("patients.edit"):
            return None
        dlg = AddPatientDialog(self.ctx, self)
        dlg.code.setText(self.search.text().strip())
        dlg.added.connect(self._added)
        dlg.open()
        return dlg

    def _added(self, patient: PatientInfo) -> None:
        self.search.clear()
        self.all_rows = [*[p for p in self.all_rows if p.code != patient.code], patient]
        self.all_rows.sort(key=lambda p: p.code)
        self._apply_filter(select=patient.code)
        self.refresh()

    def open_rename_dialog(self) -> RenamePatientDialog | None:
        patient = self.selected_patient()
        if patient is None or not self.ctx.session.can("patients.edit"):
            return None
        dlg = RenamePatientDialog(self.ctx, patient, self)
        dlg.renamed.connect(lambda _desc: self.ctx.events.patients_changed.emit())
        dlg.open()
        return dlg

    def delete_selected(self) -> None:
        patient = self.selected_patient()
        if patient is None or not self.ctx.session.can("patients.delete"):
            return
        self.ctx.bridge.submit(self.ctx.app.patients.preview_delete, patient.code,
                               on_result=self._confirm_delete, context=self)

    def open_withdraw_dialog(self) -> QDialog | None:
        from gui.pages.withdraw_dialog import WithdrawDialog

        patient = self.selected_patient()
        if patient is None or not self.ctx.session.can("patients.delete"):
            return None
        dlg = WithdrawDialog(self.ctx, patient.code, self)
        dlg.withdrawn.connect(lambda _r: self.ctx.events.patients_changed.emit())
        dlg.open()
        return dlg

    def _confirm_delete(self, preview: DeletionPreview) -> None:
        if not self.ctx.dialogs.confirm(self, f"Delete {preview.code}?", preview.describe(),
                                        "Delete patient", danger=True):
            return
        self.ctx.bridge.submit(self.ctx.app.patients.delete, preview.code, self.ctx.session.actor,
                               on_result=lambda _p: self.ctx.events.patients_changed.emit(), context=self)

    def undo(self) -> None:
        self.ctx.bridge.submit(self.ctx.app.patients.undo, self.ctx.session.actor,
                               on_result=self._undone, context=self)

    def _undone(self, description: str) -> None:
        self.last_undo = None
        self.ctx.events.patients_changed.emit()

    def _undo_dismissed(self) -> None:
        self._dismissed_undo = self.last_undo.id if self.last_undo else None

    def _show_undo(self, item: UndoInfo | None) -> None:
        self.last_undo = item
        if item is None or item.id == self._dismissed_undo:
            self.undo_bar.hide()
            return
        self.undo_bar.show_message(f"Last change: {item.description}. You can undo it for 24 hours.",
                                   "info", "Undo")
        self.undo_bar.button.setIcon(theme.icon("undo"))
        self.undo_bar.button.setIconSize(QSize(16, 16))
