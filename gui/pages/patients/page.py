"""Patients: the enrolled IDs with their device types and connection status; add, rename
(one device type or all), delete with a confirmation that says what goes, and undo; connect each
vendor account (here, or by enrolment link), sync one patient now, and export to CSV. Administrators
delete part of a patient's data (with its own 24-hour Undo banner); anyone who may export writes a
study's selection of patients × kinds of data to a folder or ZIP.

The table refreshes by itself when a consent arrives at the callback listener (gui/connect_events.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut
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
from gui.connect_events import ConnectEvents, sync_words
from gui.context import PageContext
from gui.format import ago, now_utc, vendor_label
from gui.pages.base import Page
from gui.pages.patients.connect_dialog import (
    ConnectChoiceDialog,
    ConnectWaitDialog,
    EnrolmentLinkDialog,
    open_in_browser,
)
from gui.pages.patients.delete_data_dialog import DeleteDataDialog
from gui.pages.patients.detail import PatientDetail
from gui.pages.patients.dialogs import AddPatientDialog, RenamePatientDialog
from gui.pages.patients.export_dialog import ExportDialog, ask_save_path
from gui.pages.patients.study_export_dialog import StudyExportDialog, ask_study_place
from gui.widgets import BadgeDelegate, Banner, EmptyState, button
from services.config import VENDORS
from services.connect.service import ConnectOutcome
from services.data.deletion import DeletionResult, UndoableDeletion
from services.patients.service import CODE_RULE, DeletionPreview, PatientInfo, UndoInfo, is_valid_code
from services.sync.devices import DeviceInfo, devices_by_patient

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
RESULT_SHOWN_S = 30.0  # how long a "Downloaded …" line stays
CODE_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class PatientsView:
    """What one refresh loads in the worker: the list and what can be undone."""

    patients: list[PatientInfo]
    undoable: list[UndoInfo]
    devices: dict[str, list[DeviceInfo]] = field(default_factory=dict)
    listener_problem: str | None = None  # why consent answers cannot be received (busy port)
    now: dt.datetime | None = None  # one "now" for every "… ago" on the page (the app's clock)
    data_undoable: UndoableDeletion | None = None  # the last deletion of part of a patient's data


class PatientTableModel(QAbstractTableModel):
    HEADERS = ("Patient ID", *(vendor_label(v) for v in VENDORS), "Last sync")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[PatientInfo] = []
        self.syncing: set[tuple[str, str]] = set()  # (patient ID, vendor) with a "Sync now" in flight
        self.now: dt.datetime | None = None  # the time the rows were loaded: every "… ago" agrees

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
            if conn is not None and (p.code, conn.vendor) in self.syncing:
                return "syncing"
            return conn.status if conn else None
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return p.code
            if vendor_col:
                return "" if conn else "—"
            synced = [c.last_sync_at for c in p.connections if c.last_sync_at]
            return ago(max(synced), self.now) if synced else "Never"
        if role == Qt.ItemDataRole.ForegroundRole and ((vendor_col and conn is None) or col == len(self.HEADERS) - 1):
            return QColor(theme.MUTED)
        if role == Qt.ItemDataRole.FontRole and col == 0:
            font = QFont()
            font.setWeight(QFont.Weight.DemiBold)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and col == 0:
            return p.code
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
        self.study_button = button("Export for a study…", "import", on_click=self.open_study_export)
        self.study_button.setObjectName("studyExportOpen")
        self.study_button.setProperty("tip", "Several patients and kinds of data at once, to a folder or a ZIP.")
        self.header.action_row.addWidget(self.search)
        self.header.action_row.addWidget(self.study_button)
        self.header.action_row.addWidget(self.add_button)

        self.error_banner = Banner("error")
        self.error_banner.action_clicked.connect(self.refresh)
        self.layout_.addWidget(self.error_banner)
        self.listener_banner = Banner("error")
        self.listener_banner.setObjectName("listenerBanner")
        self.layout_.addWidget(self.listener_banner)
        self.ids_banner = Banner("warning")
        self.ids_banner.setObjectName("idsBanner")
        self.layout_.addWidget(self.ids_banner)
        self.ids_banner.hide()
        self.sync_bar = Banner("info", closable=True)
        self.sync_bar.setObjectName("syncBar")
        self.layout_.addWidget(self.sync_bar)
        self.undo_bar = Banner("info", closable=True)
        self.undo_bar.setObjectName("undoBar")
        self.undo_bar.action_clicked.connect(self.undo)
        self.undo_bar.dismissed.connect(self._undo_dismissed)
        self._dismissed_undo: int | None = None
        self.layout_.addWidget(self.undo_bar)
        self.last_undo: UndoInfo | None = None
        # a rename's Undo is offered in the window it was made in, not after a restart (a delete's stays:
        # the patient is gone and Undo is the way back); to the second, as the database keeps it
        self.opened_at = self.ctx.app.clock.utcnow().replace(microsecond=0)
        self.data_undo_bar = Banner("info", closable=True)
        self.data_undo_bar.setObjectName("dataUndoBar")
        self.data_undo_bar.action_clicked.connect(self.undo_data_deletion)
        self.data_undo_bar.dismissed.connect(self._data_undo_dismissed)
        self.layout_.addWidget(self.data_undo_bar)
        self.data_undo: UndoableDeletion | None = None
        self._dismissed_data_undo: int | None = None

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
        # the ID and "Last sync" as wide as their contents, the device types share the rest: every
        # column in view at 1024×640 (an overlong ID ends in "…"; its tooltip has it whole)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setMaximumSectionSize(220)
        for col in range(1, self.model.columnCount()):
            last = col == self.model.columnCount() - 1
            hdr.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents if last
                                     else QHeaderView.ResizeMode.Stretch)
        hdr.setMinimumSectionSize(40)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.table.doubleClicked.connect(lambda _i: self.open_rename_dialog())
        # the keyboard on the table: Enter/Space go to the patient's actions, F2 renames, Delete deletes
        for key, slot in ((Qt.Key.Key_Return, self.focus_actions), (Qt.Key.Key_Enter, self.focus_actions),
                          (Qt.Key.Key_Space, self.focus_actions), (Qt.Key.Key_F2, self.open_rename_dialog),
                          (Qt.Key.Key_Delete, self.delete_selected)):
            shortcut = QShortcut(QKeySequence(key), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self.table.setToolTip("Enter: this patient's actions · F2: rename · Delete: delete")

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

        self.devices: dict[str, list[DeviceInfo]] = {}
        # seams for tests: how a consent page is opened, where an export is saved
        self.open_url = open_in_browser
        self.ask_path = ask_save_path
        self.ask_study_place = ask_study_place
        self.connect_events = ConnectEvents(ctx.app, ctx.bridge, ctx.tunnel, parent=self)
        self.connect_events.connection_changed.connect(self._connection_changed)
        self.connect_events.sync_started.connect(lambda _c, _v: self._show_syncing())
        self.connect_events.sync_finished.connect(self._sync_finished)
        ctx.events.background_started.connect(self.refresh)

        self.detail = PatientDetail()
        self.detail.rename_button.clicked.connect(lambda: self.open_rename_dialog())
        self.detail.delete_button.clicked.connect(lambda: self.delete_selected())
        self.detail.withdraw_button.clicked.connect(lambda: self.open_withdraw_dialog())
        self.detail.delete_data_button.clicked.connect(lambda: self.open_delete_data_dialog())
        self.detail.export_requested.connect(lambda v: self.open_export_dialog(v))
        self.detail.connect_requested.connect(lambda v: self.connect_here(self.selected_code(), v))
        self.detail.link_requested.connect(lambda v: self.send_link(self.selected_code(), v))
        self.detail.sync_requested.connect(lambda v: self.sync_now(self.selected_code(), v))

        row = QHBoxLayout()
        row.setSpacing(16)
        row.addWidget(self.stack, 1)
        row.addWidget(self.detail)
        self.layout_.addLayout(row, 1)
        ctx.events.patients_changed.connect(self.refresh)
        # "Just now" does not stay "Just now": the page reloads each minute while it is shown
        self.ago_timer = QTimer(self)
        self.ago_timer.setInterval(60_000)
        self.ago_timer.timeout.connect(self.refresh)
        self.apply_permissions()

    # -- loading --------------------------------------------------------------------------
    def shown(self) -> None:
        self.refresh()
        self.ago_timer.start()

    def hideEvent(self, event: Any) -> None:
        self.ago_timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        app = self.ctx.app
        svc = app.patients
        self.ctx.bridge.submit(lambda: PatientsView(svc.list_patients(), svc.undoable(), devices_by_patient(app.db),
                                                    listener_problem(app), app.clock.utcnow(),
                                                    app.deletions.undoable()),
                               on_result=self._loaded, on_error=self._load_failed, context=self)

    def _loaded(self, view: PatientsView) -> None:
        self.loaded = True
        self.error_banner.hide()
        selected = self.selected_code()
        self.all_rows = view.patients
        self.devices = view.devices
        self.model.now = view.now
        self.detail.now = view.now
        if view.listener_problem:
            self.listener_banner.show_message("Connecting accounts will not work until this is fixed: "
                                              + view.listener_problem, "error")
        else:
            self.listener_banner.hide()
        to_rename = [p.code for p in view.patients if not is_valid_code(p.code)]
        if to_rename:
            shown = ", ".join(to_rename[:5]) + (", …" if len(to_rename) > 5 else "")
            self.ids_banner.show_message(
                f"Please rename these patient IDs: {shown}. A patient ID may now contain only {CODE_RULE}. "
                "Select the patient and choose Rename.", "warning")
        else:
            self.ids_banner.hide()
        offered = [u for u in view.undoable if u.kind == "delete" or u.created_at >= self.opened_at]
        self._show_undo(offered[0] if offered else None)
        self._show_data_undo(view.data_undoable)
        # "yet" only on a fresh start: after a deletion the list is empty, not new
        deleted = self.last_undo is not None and not view.patients
        self.empty.title.setText("No patients enrolled" if deleted else "No patients yet")
        self.empty.text.setText(
            "The last patient was deleted; Undo above brings them back. Add patient enrols someone new." if deleted
            else "Click Add patient to enrol the first one. You will choose an ID and the devices they wear.")
        self._apply_filter(select=selected)
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
        else:
            if rows and not self.table.selectionModel().hasSelection():
                self.table.selectRow(0)  # the side panel shows someone rather than an empty card
        self._selection_changed()

    # -- selection ------------------------------------------------------------------------
    def selected_code(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return str(rows[0].data(CODE_ROLE)) if rows else None

    def selected_patient(self) -> PatientInfo | None:
        code = self.selected_code()
        return next((p for p in self.model.rows if p.code == code), None)

    def focus_actions(self) -> None:
        """Enter on a patient: the focus moves to the first thing one can do for them (side panel)."""
        if self.selected_patient() is None:
            return
        for buttons in self.detail.action_buttons.values():
            for b in buttons.values():
                if b.isEnabled() and not b.isHidden():
                    b.setFocus(Qt.FocusReason.TabFocusReason)
                    return
        target = next((b for b in (self.detail.grafana_button, self.detail.rename_button)
                       if b.isEnabled() and not b.isHidden()), None)
        if target is not None:
            target.setFocus(Qt.FocusReason.TabFocusReason)

    def select(self, code: str) -> None:
        for i, p in enumerate(self.model.rows):
            if p.code == code:
                self.table.selectRow(i)
                return

    def _selection_changed(self) -> None:
        patient = self.selected_patient()
        syncing = {v for c, v in self.connect_events.syncing if patient is not None and c == patient.code}
        self.detail.show_patient(patient, self.devices.get(patient.code, []) if patient else [], syncing)
        # buttons made just now would come last in the window's Tab order: put them after the table
        chain: list[QWidget] = [self.table, *self.detail.focus_order()]
        for before, after in itertools.pairwise(chain):
            QWidget.setTabOrder(before, after)
        self.apply_permissions()

    def apply_permissions(self) -> None:
        self.guard(self.add_button, "patients.edit")
        self.guard(self.detail.rename_button, "patients.edit")
        self.guard(self.detail.delete_button, "patients.delete")
        self.guard(self.detail.withdraw_button, "patients.delete")
        self.guard(self.detail.delete_data_button, "patients.delete")
        self.guard(self.study_button, "export")
        for buttons in self.detail.action_buttons.values():
            for action, b in buttons.items():
                permission = {"sync": "sync.run", "export": "export"}.get(action, "connections.edit")
                if b.isEnabled() or not self.ctx.session.can(permission):  # "Syncing…" stays disabled
                    self.guard(b, permission)
        self.undo_bar.button.setEnabled(self.ctx.session.can("patients.edit"))
        self.data_undo_bar.button.setEnabled(self.ctx.session.can("patients.delete"))

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
        if patient.vendors and self.ctx.session.can("connections.edit"):
            self.open_connect_choice(patient)

    # -- connecting ----------------------------------------------------------------------
    def open_connect_choice(self, patient: PatientInfo) -> ConnectChoiceDialog:
        dlg = ConnectChoiceDialog(patient.code, patient.vendors, self)
        dlg.connect_here.connect(lambda v: self.connect_here(patient.code, v, parent=dlg))
        dlg.send_link.connect(lambda v: self.send_link(patient.code, v, parent=dlg))
        self.connect_events.connection_changed.connect(dlg.mark)
        self._keep("choice_dialog", dlg)
        dlg.open()
        return dlg

    def connect_here(self, code: str | None, vendor: str, parent: QWidget | None = None) -> ConnectWaitDialog | None:
        if code is None or not self.ctx.session.can("connections.edit"):
            return None
        dlg = ConnectWaitDialog(self.ctx, code, vendor, open_url=self.open_url, parent=parent or self)
        self._keep("wait_dialog", dlg)
        dlg.open()
        dlg.start()
        return dlg

    def send_link(self, code: str | None, vendor: str, parent: QWidget | None = None) -> EnrolmentLinkDialog | None:
        if code is None or not self.ctx.session.can("connections.edit"):
            return None
        patient = next((p for p in self.all_rows if p.code == code), None)
        conn = next((c for c in patient.connections if c.vendor == vendor), None) if patient else None
        if conn is not None and conn.status == "connected" and not self.ctx.dialogs.confirm(
                parent or self, "Already connected",
                f"{code}'s {vendor_label(vendor)} account is already connected and downloading. A new link is "
                "only needed if they want to use a different account. Make a new link anyway?",
                "Make a new link"):
            return None
        dlg = EnrolmentLinkDialog(self.ctx, code, vendor, parent=parent or self)
        self._keep("link_dialog", dlg)
        dlg.open()
        dlg.start()
        return dlg

    def _keep(self, name: str, dialog: QWidget) -> None:
        """Remember the latest dialog of a kind (tests look at it); free the closed one before it,
        so a window open for months does not collect them."""
        old = getattr(self, name, None)
        if old is not None and shiboken6.isValid(old) and not old.isVisible():
            old.deleteLater()
        setattr(self, name, dialog)

    def _connection_changed(self, outcome: ConnectOutcome) -> None:
        self.refresh()

    # -- downloading and exporting -------------------------------------------------------
    def sync_now(self, code: str | None, vendor: str) -> None:
        if code is None or not self.ctx.session.can("sync.run"):
            return
        self.sync_bar.hide()
        self.connect_events.sync_now(code, vendor, self.ctx.session.actor)

    def _show_syncing(self) -> None:
        self.model.syncing = set(self.connect_events.syncing)
        self.model.layoutChanged.emit()
        self._selection_changed()

    def _sync_finished(self, code: str, vendor: str, result: object) -> None:
        self._show_syncing()
        ok, text = sync_words(result, code, vendor_label(vendor))  # type: ignore[arg-type]
        # a good result goes after a while; a problem stays until it is read and closed
        self.sync_bar.show_message(text, "info" if ok else "warning", hide_after_s=RESULT_SHOWN_S if ok else None)
        self.refresh()

    def open_export_dialog(self, vendor: str | None = None) -> ExportDialog | None:
        if not self.ctx.session.can("export") or not self.all_rows:
            return None
        dlg = ExportDialog(self.ctx, self.all_rows, self.selected_code(), vendor, ask_path=self.ask_path,
                           parent=self)
        self._keep("export_dialog", dlg)
        dlg.open()
        return dlg

    def open_study_export(self) -> StudyExportDialog | None:
        if not self.ctx.session.can("export"):
            return None
        dlg = StudyExportDialog(self.ctx, self.all_rows, self.selected_code(), ask_place=self.ask_study_place,
                                parent=self)
        self._keep("study_dialog", dlg)
        dlg.open()
        return dlg

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
        from gui.pages.patients.withdraw_dialog import WithdrawDialog

        patient = self.selected_patient()
        if patient is None or not self.ctx.session.can("patients.delete"):
            return None
        dlg = WithdrawDialog(self.ctx, patient.code, self)
        dlg.withdrawn.connect(lambda _r: self.ctx.events.patients_changed.emit())
        dlg.open()
        return dlg

    def open_delete_data_dialog(self) -> DeleteDataDialog | None:
        patient = self.selected_patient()
        if patient is None or not self.ctx.session.can("patients.delete"):
            return None
        dlg = DeleteDataDialog(self.ctx, patient, self)
        dlg.deleted.connect(self._data_deleted)
        self._keep("delete_data_dialog", dlg)
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


    # -- undoing a deletion of part of the data ----------------------------------------------------
    def _data_deleted(self, result: DeletionResult) -> None:
        self._dismissed_data_undo = None
        text = f"Deleted {result.preview.total:,} rows: {result.preview.selection.describe()}"
        if result.excluded_days:
            text += f". Those {result.excluded_days} days will not be downloaded again"
        self._show_data_undo(UndoableDeletion(result.id, text, now_utc()))
        self.ctx.events.patients_changed.emit()

    def _show_data_undo(self, item: UndoableDeletion | None) -> None:
        """Offer Undo for the last deletion of part of the data; a "Restored …" line is left to go by itself."""
        offering = not self.data_undo_bar.isHidden() and not self.data_undo_bar.button.isHidden()
        self.data_undo = item
        if item is None or item.id == self._dismissed_data_undo:
            if offering:
                self.data_undo_bar.hide()
            return
        self.data_undo_bar.show_message(f"{item.description}. You can undo this for 24 hours.", "info", "Undo")
        self.data_undo_bar.button.setIcon(theme.icon("undo"))
        self.data_undo_bar.button.setIconSize(QSize(16, 16))
        self.data_undo_bar.button.setEnabled(self.ctx.session.can("patients.delete"))

    def _data_undo_dismissed(self) -> None:
        self._dismissed_data_undo = self.data_undo.id if self.data_undo else None

    def undo_data_deletion(self) -> None:
        item = self.data_undo
        if item is None or not self.ctx.session.can("patients.delete"):
            return
        self.data_undo_bar.button.setEnabled(False)
        self.ctx.bridge.submit(self.ctx.app.deletions.undo, self.ctx.session.actor, item.id,
                               on_result=self._data_undone, on_error=self._data_undo_failed, context=self)

    def _data_undone(self, description: str) -> None:
        self.data_undo = None
        self.data_undo_bar.show_message(description, "info", hide_after_s=RESULT_SHOWN_S)
        self.ctx.events.patients_changed.emit()

    def _data_undo_failed(self, error: Exception) -> None:
        from gui.errors import advice_for

        self.data_undo_bar.show_message(advice_for(error).message, "warning")


def listener_problem(app: Any) -> str | None:
    """Worker thread: why consent answers cannot be received, in the service's own words."""
    error = app.connections.listener_error
    return str(error.message) if error is not None else None
