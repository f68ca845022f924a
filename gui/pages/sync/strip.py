"""The coverage strip: one small coloured cell per day for a connection, with a tooltip per cell.

The table item holds the connection's `DayCell`s (services/sync/status.py) in CELLS_ROLE; the
delegate paints them and explains the cell under the mouse in plain words.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from services.sync.status import DayCell

CELLS_ROLE = Qt.ItemDataRole.UserRole + 2

# day status -> (fill, label for the legend)
COLOURS: dict[str, tuple[str, str]] = {
    "complete": ("#16a34a", "Complete"),
    "partial": ("#86efac", "Partial (day not over / not synced yet)"),
    "missing": ("#fbbf24", "No data yet (device not synced)"),
    "not_worn": ("#cbd5e1", "Not worn"),
    "failed": ("#dc2626", "Download failed"),
    "none": ("#f1f5f9", "Not downloaded"),
    "excluded": ("#7c3aed", "Deleted, not downloaded again"),
}
CELL_W, CELL_GAP, CELL_H = 12, 3, 16


class CoverageStripDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        cells: list[DayCell] = index.data(CELLS_ROLE) or []
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        r = option.rect
        top = r.center().y() - CELL_H / 2
        for i, cell in enumerate(cells):
            painter.setBrush(QColor(COLOURS.get(cell.status, COLOURS["none"])[0]))
            painter.drawRoundedRect(QRectF(r.left() + 8 + i * (CELL_W + CELL_GAP), top, CELL_W, CELL_H), 2, 2)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        n = len(index.data(CELLS_ROLE) or [])
        return QSize(16 + n * (CELL_W + CELL_GAP), CELL_H + 12)

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        if event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        cell = cell_at(index.data(CELLS_ROLE) or [], event.pos().x() - option.rect.left())
        if cell is None:
            QToolTip.hideText()
            return True
        QToolTip.showText(event.globalPos(), cell.describe(), view)
        return True


def cell_at(cells: list[DayCell], x: int) -> DayCell | None:
    """The cell under horizontal position `x` (relative to the item's left edge)."""
    i = (x - 8) // (CELL_W + CELL_GAP)
    return cells[i] if 0 <= i < len(cells) and x >= 8 else None


def strip_tooltip(cells: list[DayCell]) -> str:
    """All days in one text (for a screen reader or when hovering between cells)."""
    return "\n".join(c.describe() for c in reversed(cells))
