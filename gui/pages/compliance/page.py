"""The clinic compliance grid: patients × days for one device type, each day marked valid or not.

Colours are told apart by colour-blind readers too: blue and orange (not green and red), and each
cell also carries a mark (✓ valid, ✗ worn too little, – nothing) and a tooltip in words. Rows are
sorted worst compliance first; clicking a day opens that patient's day on the Data page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from gui.context import PageContext
from gui.format import vendor_label
from gui.pages.base import Page
from gui.pages.data.page import MAX_DAYS, clinic_today, from_qdate, to_qdate
from gui.widgets import Banner, Card, button, choice_box, date_range_row, label
from services.config import VENDORS

# cell state -> (background, text colour, mark, words in the legend)
CELL_STYLE: dict[str, tuple[str, str, str, str]] = {
    "valid": ("#2c7bb6", "#ffffff", "✓", "Valid day"),
    "short": ("#fdae61", "#422006", "✗", "Worn, but not enough for a valid day"),
    "none": ("#eef1f4", "#6b7280", "–", "Nothing recorded"),
}
RULES = {
    "fitbit": "Fitbit: a valid day has at least {minutes} minutes ({hours}) with a heart-rate reading.",
    "withings": "Withings: a valid day is one whose morning ends a recorded night on the sleep mat.",
    "polar": "Polar: a valid day has at least one recorded exercise.",
}
RANGES: list[tuple[str, int | None]] = [("Last 7 days", 7), ("Last 14 days", 14), ("Last 30 days", 30),
                                        ("Custom dates", None)]
CELL_ROLE = Qt.ItemDataRole.UserRole + 1  # (patient, date, state) of a day cell
WEAR_ROLE = Qt.ItemDataRole.UserRole + 2  # the day's wear, short ("11h", "45m"), drawn under the mark


def short_wear(minutes: int) -> str:
    """The wear in a cell: whole hours from an hour on (never rounded up past a threshold), else minutes."""
    if minutes <= 0:
        return ""
    return f"{minutes // 60}h" if minutes >= 60 else f"{minutes}m"


class DayCellDelegate(QStyledItemDelegate):
    """Paints a day cell as a coloured tile with its mark (the stylesheet would hide item colours)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        cell = index.data(CELL_ROLE)
        if not cell:
            super().paint(painter, option, index)
            return
        bg, fg, mark, _words = CELL_STYLE[cell[2]]
        r = QRectF(option.rect).adjusted(2, 3, -2, -3)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(bg))
        painter.drawRoundedRect(r, 4, 4)
        if option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(QColor("#111827"))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(r, 4, 4)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor(fg))
        wear = str(index.data(WEAR_ROLE) or "")
        if wear:
            top, bottom = QRectF(r.left(), r.top() + 1, r.width(), r.height() * 0.55), QRectF(
                r.left(), r.top() + r.height() * 0.5, r.width(), r.height() * 0.5 - 1)
            painter.drawText(top, Qt.AlignmentFlag.AlignCenter, mark)
            small = QFont(option.font)
            small.setPointSizeF(max(6.5, option.font.pointSizeF() * 0.78))
            painter.setFont(small)
            painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter, wear)
        else:
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, mark)
        painter.restore()


@dataclass(frozen=True)
class Grid:
    vendor: str
    start: dt.date
    end: dt.date
    rows: list[Any]  # ComplianceRow
    summary: list[Any]  # ComplianceSummary, worst first
    threshold: int


def load_grid(app: Any, vendor: str, start: dt.date, end: dt.date) -> Grid:
    """Runs on a worker."""
    rows = app.compliance.rows(start, end, vendor=vendor)
    return Grid(vendor, start, end, rows, app.compliance.summary(rows), app.compliance.threshold())


def cell_state(row: Any) -> str:
    if row.valid:
        return "valid"
    return "short" if row.wear_minutes > 0 else "none"


def wear_words(vendor: str, minutes: int) -> str:
    if minutes <= 0:
        return "nothing recorded"
    h, m = divmod(minutes, 60)
    amount = f"{h} h {m:02d} min" if h else f"{m} min"
    return {"fitbit": f"worn {amount}", "withings": f"{amount} on the sleep mat",
            "polar": f"{amount} of exercise"}.get(vendor, amount)


class CompliancePage(Page):
    key = "compliance"
    title = "Compliance"
    icon = "check"
    subtitle = "Which patients wore their device enough, day by day. Least compliant first; click a day to see it."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        card = Card(margins=12)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(label("Device type"))
        self.vendor = QComboBox()
        self.vendor.setObjectName("vendorPicker")
        for v in VENDORS:
            self.vendor.addItem(vendor_label(v), v)
        self.vendor.currentIndexChanged.connect(lambda _i: self.reload())
        row.addWidget(self.vendor)
        row.addSpacing(16)
        row.addWidget(label("Show"))
        self.range = choice_box("rangePicker", RANGES, self._range_picked, current=1)
        row.addWidget(self.range)
        row.addStretch(1)
        self.status = label("", "muted")
        row.addWidget(self.status)
        card.body.addLayout(row)
        row, self.start_edit, self.end_edit = date_range_row(self._dates_edited)
        row.addStretch(1)
        row.addWidget(button("Refresh", "refresh", on_click=self.reload))
        card.body.addLayout(row)
        self.rule = label("", "help", wrap=True)
        self.rule.setObjectName("ruleText")
        card.body.addWidget(self.rule)
        card.body.addLayout(self._legend())
        self.layout_.addWidget(card)
        self.banner = Banner("error", closable=True)
        self.layout_.addWidget(self.banner)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("complianceGrid")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setMouseTracking(True)
        self.table.cellClicked.connect(self._clicked)
        self.table.setItemDelegate(DayCellDelegate(self.table))
        self.table.setStyleSheet("QTableView::item { padding: 0px 2px; }")
        self.layout_.addWidget(self.table, 1)
        self.empty = label("No patient is enrolled for this device type yet.", "muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.hide()
        self.layout_.addWidget(self.empty)
        self.grid: Grid | None = None
        self._generation = 0
        self._set_days(14)

    def _legend(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(14)
        for _state, (bg, fg, mark, words) in CELL_STYLE.items():
            chip = label(mark)
            chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            chip.setFixedSize(22, 20)
            chip.setStyleSheet(f"QLabel {{ background: {bg}; color: {fg}; border-radius: 4px; font-weight: 700;"
                               " border: 1px solid #d1d5db; }")
            pair = QHBoxLayout()
            pair.setSpacing(6)
            pair.addWidget(chip)
            pair.addWidget(label(words, "help"))
            row.addLayout(pair)
        row.addStretch(1)
        return row

    # -- range -------------------------------------------------------------------------------
    def _set_dates(self, start: dt.date, end: dt.date) -> None:
        for edit, d in ((self.start_edit, start), (self.end_edit, end)):
            edit.blockSignals(True)
            edit.setDate(to_qdate(d))
            edit.blockSignals(False)

    def _set_days(self, days: int) -> None:
        end = clinic_today(self.ctx.app)
        self._set_dates(end - dt.timedelta(days=days - 1), end)

    def _range_picked(self, _i: int) -> None:
        days = self.range.currentData()
        if days is not None:
            self._set_days(int(days))
            self.reload()

    def _dates_edited(self, _d: QDate) -> None:
        self.range.blockSignals(True)
        self.range.setCurrentIndex(len(RANGES) - 1)
        self.range.blockSignals(False)
        self.reload()

    def dates(self) -> tuple[dt.date, dt.date]:
        return from_qdate(self.start_edit.date()), from_qdate(self.end_edit.date())

    # -- loading -------------------------------------------------------------------------------
    def shown(self) -> None:
        self.reload()

    def reload(self) -> None:
        start, end = self.dates()
        if end < start:
            self.banner.show_message("The end date is before the start date. Pick an end date on or after the "
                                     "start.", "warning")
            return
        if (end - start).days + 1 > MAX_DAYS:
            self.banner.show_message(f"That is more than {MAX_DAYS} days. Pick a shorter period.", "warning")
            return
        self.banner.hide()
        self._generation += 1
        gen = self._generation
        vendor = str(self.vendor.currentData())
        self.status.setText("Loading…")
        self.ctx.bridge.submit(load_grid, self.ctx.app, vendor, start, end,
                               on_result=lambda g: self._loaded(gen, g), on_error=lambda e: self._failed(gen, e),
                               context=self)

    def _failed(self, gen: int, error: Exception) -> None:
        from gui.errors import advice_for

        if gen != self._generation:
            return
        self.status.setText("")
        self.banner.show_message(advice_for(error).message, "error")

    def _loaded(self, gen: int, grid: Grid) -> None:
        if gen != self._generation:
            return  # a newer choice is on its way
        self.status.setText("")
        self.show_grid(grid)

    def show_grid(self, grid: Grid) -> None:
        self.grid = grid
        hours = f"{grid.threshold // 60} h" + (f" {grid.threshold % 60:02d} min" if grid.threshold % 60 else "")
        self.rule.setText(RULES.get(grid.vendor, "").format(minutes=grid.threshold, hours=hours)
                          + " Each cell shows a mark (its colour says the same) and the day's wear; point at it "
                          "for the details.")
        days = [grid.start + dt.timedelta(days=i) for i in range((grid.end - grid.start).days + 1)]
        by_key = {(r.patient, r.date): r for r in grid.rows}
        order = [s for s in grid.summary if s.vendor == grid.vendor]
        self.table.clear()
        self.table.setRowCount(len(order))
        self.table.setColumnCount(2 + len(days))
        today = clinic_today(self.ctx.app)
        headers = ["Patient", "Valid days"] + ["Today\n" + str(d.day) if d == today else f"{d:%a}\n{d.day}"
                                               for d in days]
        self.table.setHorizontalHeaderLabels(headers)
        for c, d in enumerate(days, start=2):
            head = self.table.horizontalHeaderItem(c)
            if head is not None:
                head.setToolTip(f"{d:%A %d %B %Y}")
        bold = QFont()
        bold.setBold(True)
        for r, summ in enumerate(order):
            name = QTableWidgetItem(summ.patient)
            name.setFont(bold)
            self.table.setItem(r, 0, name)
            ratio = QTableWidgetItem(f"{summ.valid_days} / {summ.days}")
            ratio.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            ratio.setToolTip(f"{summ.patient}: {summ.valid_days} valid days out of {summ.days}")
            if summ.days and summ.valid_days / summ.days < 0.5:
                ratio.setForeground(QBrush(QColor("#9a3412")))
                ratio.setFont(bold)
            self.table.setItem(r, 1, ratio)
            for c, d in enumerate(days, start=2):
                row = by_key.get((summ.patient, d))
                state = cell_state(row) if row is not None else "none"
                bg, fg, mark, _words = CELL_STYLE[state]
                item = QTableWidgetItem(mark)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(QBrush(QColor(bg)))
                item.setForeground(QBrush(QColor(fg)))
                item.setData(CELL_ROLE, (summ.patient, d, state))
                item.setData(WEAR_ROLE, short_wear(row.wear_minutes if row is not None else 0))
                wear = wear_words(grid.vendor, row.wear_minutes if row is not None else 0)
                verdict = {"valid": "a valid day", "short": "not a valid day", "none": "not a valid day"}[state]
                so_far = " so far (the day is not over yet)" if d == today else ""
                item.setToolTip(f"{summ.patient} · {d:%a %d %b %Y}: {wear}{so_far} — {verdict}. "
                                "Click to see this day.")
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for c in range(2, 2 + len(days)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
            # wide enough for its own header ("Wed", "Today"): a day name is never cut
            head = self.table.horizontalHeaderItem(c)
            lines = head.text().splitlines() if head is not None else []
            needed = max((header.fontMetrics().horizontalAdvance(t) for t in lines), default=0) + 20
            self.table.setColumnWidth(c, max(36 if len(days) > 20 else 44, needed))
        self.table.verticalHeader().setDefaultSectionSize(40)
        self.table.setVisible(bool(order))
        self.empty.setVisible(not order)

    def _clicked(self, r: int, c: int) -> None:
        item = self.table.item(r, c)
        cell = item.data(CELL_ROLE) if item is not None else None
        if not cell:
            return
        patient, day, _state = cell
        self.open_day(patient, day)

    def open_day(self, patient: str, day: dt.date) -> None:
        page = self.ctx.navigate("data")
        if page is not None and hasattr(page, "open_day"):
            page.open_day(patient, day)
