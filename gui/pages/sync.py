"""Sync: every vendor connection and when it last downloaded. The scheduler, "Update now",
backfill and the coverage grid arrive with the sync service (issue 3); until then this page shows
the real state of each connection and says plainly what is not there yet."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStackedWidget, QTableWidget, QTableWidgetItem, QWidget

from gui.context import PageContext
from gui.format import ago, vendor_label, when
from gui.pages.base import Page
from gui.widgets import BadgeDelegate, Banner, EmptyState, button
from services.patients import PatientInfo

STATUS_ROLE = 257  # Qt.UserRole + 1, read by BadgeDelegate


class SyncPage(Page):
    key = "sync"
    title = "Sync"
    icon = "sync"
    subtitle = "When each patient's devices last downloaded."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.update_button = button("Update now", "refresh", primary=True, on_click=self.update_now)
        self.update_button.setObjectName("updateNowButton")
        self.header.actions.addWidget(self.update_button)
        self.notice = Banner("info")
        self.layout_.addWidget(self.notice)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("syncTable")
        self.table.setHorizontalHeaderLabels(["Patient", "Device", "Status", "Last download", "Problem"])
        self.table.setItemDelegateForColumn(2, BadgeDelegate(self.table))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.setShowGrid(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        hdr = self.table.horizontalHeader()
        hdr.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hdr.setHighlightSections(False)
        hdr.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 180), (1, 110), (2, 160), (3, 190)):
            hdr.resizeSection(col, width)
        self.empty = EmptyState("sync", "Nothing to download yet",
                                "Add a patient on the Patients page and connect their vendor account; "
                                "their downloads will be listed here.",
                                button("Go to Patients", on_click=lambda: ctx.navigate("patients")))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        self.layout_.addWidget(self.stack, 1)
        ctx.events.patients_changed.connect(self.refresh)
        self.apply_permissions()

    def apply_permissions(self) -> None:
        hook = self.ctx.sync_hook()
        self.update_button.setProperty("tip", None if hook else
                                       "Downloads arrive with the sync service; nothing to start yet.")
        self.guard(self.update_button, "sync.run")
        if hook is None:
            self.update_button.setEnabled(False)
            self.notice.show_message(
                "Scheduled downloads are not set up in this version yet. Once they are, WearSync downloads "
                "every connected device daily and this page shows each run; \"Update now\" starts one at once.")
        else:
            self.notice.hide()

    def shown(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.ctx.bridge.submit(self.ctx.app.patients.list_patients, on_result=self._loaded, context=self)

    def _loaded(self, patients: list[PatientInfo]) -> None:
        rows = [(p, c) for p in patients for c in p.connections]
        self.table.setRowCount(len(rows))
        for i, (p, c) in enumerate(rows):
            status = QTableWidgetItem("")
            status.setData(STATUS_ROLE, c.status)
            last = QTableWidgetItem(ago(c.last_sync_at, never="Not downloaded yet"))
            last.setToolTip(when(c.last_sync_at))
            for col, item in enumerate((QTableWidgetItem(p.code), QTableWidgetItem(vendor_label(c.vendor)),
                                        status, last, QTableWidgetItem(c.last_error or ""))):
                self.table.setItem(i, col, item)
        self.stack.setCurrentWidget(self.table if rows else self.empty)

    def update_now(self) -> None:
        hook = self.ctx.sync_hook()
        if hook is not None:
            self.ctx.bridge.submit(hook, on_result=lambda _r: self.refresh(), context=self)
