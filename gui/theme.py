"""Look and feel: the stylesheet, tinted SVG icons and the status badge colours in one place."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICONS = RESOURCES / "icons"

ACCENT = "#0f766e"
TEXT = "#374151"
MUTED = "#6b7280"

# status -> (label, background, foreground); the keys are Connection.status values
BADGES: dict[str, tuple[str, str, str]] = {
    "connected": ("Connected", "#dcfce7", "#166534"),
    "not_connected": ("Not connected", "#eef1f4", "#4b5563"),
    "needs_reconsent": ("Needs re-consent", "#fef3c7", "#92400e"),
    "error": ("Error", "#fee2e2", "#991b1b"),
    "withdrawn": ("Withdrawn", "#eef1f4", "#6b7280"),
    "syncing": ("Syncing…", "#e0ecff", "#1e40af"),  # a "Sync now" in flight (not stored)
    # not connection states, but drawn the same way
    "environment": ("Set at start-up", "#e0ecff", "#1e40af"),
    "keyring": ("Saved", "#dcfce7", "#166534"),
    "missing": ("Missing", "#fef3c7", "#92400e"),
    "not_set": ("Not set", "#eef1f4", "#4b5563"),  # an optional secret nobody needs yet
    "up": ("Running", "#dcfce7", "#166534"),
    "down": ("Stopped", "#eef1f4", "#4b5563"),
    "starting": ("Starting…", "#e0ecff", "#1e40af"),
    "reconnecting": ("Reconnecting…", "#fef3c7", "#92400e"),
    # accounts and registration keys (Keys & Users)
    "active": ("Active", "#dcfce7", "#166534"),
    "locked": ("Locked", "#fef3c7", "#92400e"),
    "disabled": ("Disabled", "#eef1f4", "#4b5563"),
    "must_change": ("Must change password", "#e0ecff", "#1e40af"),
    "key_active": ("Unused", "#dcfce7", "#166534"),
    "key_used": ("Used", "#eef1f4", "#4b5563"),
    "key_expired": ("Expired", "#eef1f4", "#6b7280"),
    "key_revoked": ("Revoked", "#fee2e2", "#991b1b"),
}


def badge_style(status: str) -> tuple[str, str, str]:
    return BADGES.get(status, (status.replace("_", " ").capitalize(), "#eef1f4", "#4b5563"))


def apply(app: QApplication) -> None:
    app.setStyle("Fusion")  # the same base everywhere, so the stylesheet looks the same on every OS
    qss = (RESOURCES / "style.qss").read_text(encoding="utf-8")
    app.setStyleSheet(qss.replace("@ICONS@", ICONS.as_posix()))
    app.setWindowIcon(app_icon())


@cache
def icon(name: str, color: str = TEXT, size: int = 40) -> QIcon:
    """A line icon from resources/icons, stroked in `color` (rendered at 2x for sharp edges)."""
    svg = (ICONS / f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", color)
    pix = QPixmap()
    pix.loadFromData(QByteArray(svg.encode()), "SVG")
    if pix.isNull():  # no SVG plugin: an empty icon beats a crash
        return QIcon()
    return QIcon(pix.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation))


def nav_icon(name: str) -> QIcon:
    """Grey when idle, accent when selected."""
    ic = QIcon()
    for mode, colour in ((QIcon.Mode.Normal, TEXT), (QIcon.Mode.Selected, ACCENT)):
        ic.addPixmap(icon(name, colour).pixmap(40, 40), mode)
    return ic


@cache
def app_icon(sandbox: bool = False) -> QIcon:
    """WearSync's icon; the sandbox's carries an amber "S" disc in its corner, so its tray icon is never
    taken for the real one."""
    pix = QPixmap()
    pix.loadFromData(QByteArray((ICONS / "app.svg").read_bytes()), "SVG")
    if pix.isNull():
        return QIcon()
    if sandbox:
        pix = _sandbox_mark(pix)
    return QIcon(pix)


SANDBOX_MARK = "#d97706"  # the sandbox banner's amber


def _sandbox_mark(pix: QPixmap) -> QPixmap:
    marked = QPixmap(pix)
    size = min(marked.width(), marked.height())
    disc = max(8, size * 11 // 20)
    painter = QPainter(marked)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("white"), max(1, size // 32)))
    painter.setBrush(QColor(SANDBOX_MARK))
    rect = QRect(marked.width() - disc, marked.height() - disc, disc - 1, disc - 1)
    painter.drawEllipse(rect)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(6, disc * 2 // 3))
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "S")
    painter.end()
    return marked
