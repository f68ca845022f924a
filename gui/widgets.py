"""Small building blocks every page uses: page header, card, status badge, banner, empty state."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import shiboken6
from PySide6.QtCore import (
    QDate,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import QColor, QDesktopServices, QFont, QFontMetrics, QGuiApplication, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDateEdit,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gui import theme

SPACING = 12  # the one spacing unit; margins are multiples of it


def label(text: str = "", role: str | None = None, *, wrap: bool = False) -> QLabel:
    lbl = QLabel(text)
    lbl.setTextFormat(Qt.TextFormat.PlainText)  # patient IDs and messages may look like HTML
    if role:
        lbl.setProperty("role", role)
    lbl.setWordWrap(wrap)
    return lbl


class ElidedLabel(QLabel):
    """One line that never pushes its page wider: when the room is short the text ends in "…" and the
    whole of it is in the tooltip (a long client ID, a patient ID, an address)."""

    def __init__(self, text: str = "", role: str | None = None, *,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        if role:
            self.setProperty("role", role)
        self.setProperty("elided", True)  # tests: cut short on purpose, the tooltip has it all
        self._mode = mode
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(48)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, super().sizeHint().height())

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(0, self.width() - 2))
        QLabel.setText(self, shown)
        self.setToolTip(self._full if shown != self._full else "")


def button(text: str, icon_name: str | None = None, *, primary: bool = False, danger: bool = False,
           link: bool = False, on_click: Callable[[], object] | None = None) -> QPushButton:
    btn = QPushButton(text)
    if icon_name:
        colour = "#ffffff" if primary else ("#b91c1c" if danger else theme.TEXT)
        btn.setIcon(theme.icon(icon_name, colour))
        btn.setIconSize(QSize(16, 16))
    for prop, on in (("primary", primary), ("danger", danger), ("link", link)):
        if on:
            btn.setProperty(prop, True)
    btn.setCursor(Qt.CursorShape.PointingHandCursor)
    if on_click is not None:
        btn.clicked.connect(lambda _checked=False: on_click())
    return btn


def fix_width(btn: QPushButton, *texts: str) -> None:
    """A button whose text changes keeps one width, wide enough for each of its texts."""
    widest = 0
    current = btn.text()
    for text in texts:
        btn.setText(text)
        widest = max(widest, btn.sizeHint().width())
    btn.setText(current)
    btn.setFixedWidth(widest + 8)  # a focus ring is 1px wider on each side


def keep_place(widget: QWidget) -> None:
    """Hidden, the widget still holds its place, so its neighbours never move."""
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    widget.setSizePolicy(policy)


def grow_to_fit(window: QWidget) -> None:
    """After a message appeared in a dialog: make it tall enough for every wrapped line (a window
    does not grow by itself for text that wraps), so nothing is ever cut off."""

    def fit() -> None:
        lay = window.layout()
        if lay is None or not shiboken6.isValid(window):
            return
        lay.activate()
        need = (lay.totalHeightForWidth(window.width()) if lay.hasHeightForWidth()
                else lay.totalSizeHint().height())
        if need > window.height():
            window.resize(window.width(), need)

    QTimer.singleShot(0, window, fit)


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class Card(QFrame):
    def __init__(self, parent: QWidget | None = None, *, margins: int = 16) -> None:
        super().__init__(parent)
        self.setProperty("card", True)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(margins, margins, margins, margins)
        self.body.setSpacing(8)


class PageHeader(QWidget):
    """Title, one-line explanation, and room for the page's main actions on the right."""

    def __init__(self, title: str, subtitle: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        text = QVBoxLayout()
        text.setSpacing(2)
        self.title = label(title, "title")
        self.subtitle = label(subtitle, "subtitle", wrap=True)
        text.addWidget(self.title)
        text.addWidget(self.subtitle)
        row.addLayout(text, 1)
        self.action_row = QHBoxLayout()
        self.action_row.setSpacing(8)
        row.addLayout(self.action_row)


class Badge(QLabel):
    """A coloured pill: Connected / Not connected / Needs re-consent / Error ..."""

    def __init__(self, status: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.status = ""
        if status:
            self.set_status(status)

    def set_status(self, status: str, text: str | None = None) -> None:
        self.status = status
        name, bg, fg = theme.badge_style(status)
        self.setText(text or name)
        self.setStyleSheet(
            f"QLabel {{ background: {bg}; color: {fg}; border-radius: 9px; padding: 2px 10px;"
            f" font-size: 9pt; font-weight: 600; }}"
        )


class BadgeDelegate(QStyledItemDelegate):
    """Paints a table cell whose DisplayRole is a status key as a badge; empty cells as a dash."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        # rows are selected whole; a dotted frame around one cell only adds noise
        option.state &= ~QStyle.StateFlag.State_HasFocus

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        status = index.data(Qt.ItemDataRole.UserRole + 1)
        if not status:
            super().paint(painter, option, index)
            return
        # background (selection) first, without text
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.widget.style().drawControl(opt.widget.style().ControlElement.CE_ItemViewItem, opt, painter,
                                       opt.widget)
        text, bg, fg = theme.badge_style(status)
        font = QFont(option.font)
        font.setPointSizeF(max(7.5, font.pointSizeF() * 0.88))
        font.setBold(True)
        fm = QFontMetrics(font)
        r: QRect = option.rect
        pad = 20 if r.width() >= fm.horizontalAdvance(text) + 32 else 14  # tighter in a narrow column
        room = max(24, r.width() - 10)
        if fm.horizontalAdvance(text) + pad > room:  # still too narrow: "Needs re-co…", whole in the tooltip
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, room - pad)
        w = fm.horizontalAdvance(text) + pad
        h = fm.height() + 6
        pill = QRectF(r.left() + (8 if pad == 20 else 4), r.center().y() - h / 2 + 1, w, h)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(bg))
        painter.drawRoundedRect(pill, h / 2, h / 2)
        painter.setPen(QColor(fg))
        painter.setFont(font)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        size = super().sizeHint(option, index)
        status = index.data(Qt.ItemDataRole.UserRole + 1)
        if status:
            fm = QFontMetrics(option.font)
            size.setWidth(max(size.width(), fm.horizontalAdvance(theme.badge_style(status)[0]) + 40))
        return size


class Banner(QFrame):
    """A coloured strip with a message and an optional action button (kind: info|warning|error)."""

    action_clicked = Signal()
    dismissed = Signal()

    def __init__(self, kind: str = "info", parent: QWidget | None = None, *, closable: bool = False) -> None:
        super().__init__(parent)
        self.setProperty("banner", kind)
        row = QHBoxLayout(self)
        row.setContentsMargins(14, 10, 10, 10)
        self.icon = QLabel()
        self.text = label("", wrap=True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = button("")
        self.button.setAutoDefault(False)  # in a dialog, Enter stays with the dialog's own default button
        self.button.clicked.connect(self.action_clicked)
        self.button.hide()
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        if closable:
            close = QPushButton()
            close.setObjectName("bannerClose")
            close.setAutoDefault(False)
            close.setIcon(theme.icon("close", theme.MUTED))
            close.setFlat(True)
            close.setToolTip("Hide")
            close.setStyleSheet("QPushButton { border: none; background: transparent; padding: 4px; }")
            close.clicked.connect(self.hide)
            close.clicked.connect(self.dismissed)
            row.addWidget(close, 0, Qt.AlignmentFlag.AlignVCenter)
        self.set_kind(kind)
        self.hide()

    def set_kind(self, kind: str) -> None:
        self.setProperty("banner", kind)
        colour = {"error": "#b91c1c", "warning": "#92400e"}.get(kind, theme.ACCENT)
        self.icon.setPixmap(theme.icon("warning" if kind != "info" else "info", colour).pixmap(18, 18))
        repolish(self)

    def show_message(self, text: str, kind: str = "info", action: str | None = None,
                     hide_after_s: float | None = None) -> None:
        """`hide_after_s`: a result that is news now goes by itself (a newer message restarts it)."""
        self._shown_count = getattr(self, "_shown_count", 0) + 1
        if hide_after_s is not None:
            ticket = self._shown_count
            QTimer.singleShot(int(hide_after_s * 1000), self,
                              lambda: self.hide() if self._shown_count == ticket else None)
        self.set_kind(kind)
        self.text.setText(text)
        self.button.setText(action or "")
        self.button.setVisible(bool(action))
        self.show()
        if isinstance(self.window(), QDialog):
            grow_to_fit(self.window())


class EmptyState(QWidget):
    """Centered icon, a sentence saying what is missing, and the action that fixes it."""

    def __init__(self, icon_name: str, title: str, text: str, action: QPushButton | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        col = QVBoxLayout(self)
        col.setContentsMargins(24, 48, 24, 48)
        col.setSpacing(10)
        col.addStretch(1)
        pic = QLabel()
        pic.setPixmap(theme.icon(icon_name, "#9ca3af", 96).pixmap(56, 56))
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        col.addWidget(pic)
        self.title = label(title, "section")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        col.addWidget(self.title)
        self.text = label(text, "muted", wrap=True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        col.addWidget(self.text)
        if action is not None:
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(action)
            row.addStretch(1)
            col.addLayout(row)
        col.addStretch(2)


class KeyboardAndWheel(QObject):
    """One application-wide rule set for every widget, in every page and dialog, present and future:

    - Tab moves between widgets: tables, lists and text areas never trap it (arrows move inside them);
    - a drop-down or number box changes with the mouse wheel only once it has the keyboard focus
      (clicked or tabbed into); otherwise the wheel scrolls the page under it, as the user meant.
    """

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Polish:
            if isinstance(obj, QAbstractItemView):
                obj.setTabKeyNavigation(False)
            elif isinstance(obj, QPlainTextEdit | QTextEdit):
                obj.setTabChangesFocus(True)
            elif isinstance(obj, QAbstractSpinBox | QComboBox):
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus: the wheel gives no focus
        elif kind == QEvent.Type.Wheel and isinstance(obj, QAbstractSpinBox | QComboBox) and not obj.hasFocus():
            area = _scroll_area_of(obj)
            if area is not None:
                QApplication.sendEvent(area.verticalScrollBar(), event)
            return True  # the setting stays as it is
        return False


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, QAbstractItemView | QPlainTextEdit):
            return parent
        parent = parent.parentWidget()
    return None


_KEYBOARD_AND_WHEEL: KeyboardAndWheel | None = None


def install_keyboard_and_wheel_rules() -> None:
    """Idempotent: the window calls it once it exists (tests build many windows in one process)."""
    global _KEYBOARD_AND_WHEEL
    app = QApplication.instance()
    if app is None or _KEYBOARD_AND_WHEEL is not None:
        return
    _KEYBOARD_AND_WHEEL = KeyboardAndWheel(app)
    app.installEventFilter(_KEYBOARD_AND_WHEEL)


# -- "open it" with a way out when the desktop does not answer ---------------------------------------
#: how addresses and folders are handed to the desktop; tests replace it (returns False: nothing answered)
desktop_open: Callable[[QUrl], bool] = QDesktopServices.openUrl


class CopyTargetDialog(QDialog):
    """Shows an address or a folder that could not be opened, with Copy: the user opens it elsewhere."""

    def __init__(self, target: str, *, folder: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("copyTargetDialog")
        self.setWindowTitle("Open the folder yourself" if folder else "Open the address yourself")
        self.setMinimumWidth(480)
        col = QVBoxLayout(self)
        col.setContentsMargins(20, 18, 20, 16)
        col.setSpacing(10)
        col.addWidget(label(
            "No file manager opened this folder. Copy its path and open it in your file manager:" if folder else
            "No web browser opened this address. Copy it and paste it into a browser:", wrap=True))
        self.field = QLineEdit(target)
        self.field.setObjectName("copyTarget")
        self.field.setReadOnly(True)
        self.field.setCursorPosition(0)  # the start of the address shows, not its end
        col.addWidget(self.field)
        row = QHBoxLayout()
        self.copied = label("", "ok")
        row.addWidget(self.copied, 1)
        self.copy_button = button("Copy", "copy", primary=True, on_click=self.copy)
        self.copy_button.setObjectName("copyTargetCopy")
        row.addWidget(self.copy_button)
        row.addWidget(button("Close", on_click=self.accept))
        col.addLayout(row)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.field.text())
        self.field.setCursorPosition(0)
        self.copied.setText("Copied.")


def open_or_show(parent: QWidget | None, target: str, *, folder: bool = False) -> CopyTargetDialog | None:
    """Open a web address in the browser (or a folder in the file manager). When nothing answers,
    show the address or path with a Copy button instead of doing nothing. Returns that dialog, if shown."""
    url = QUrl.fromLocalFile(target) if folder else QUrl(target)
    if desktop_open(url):
        return None
    dialog = CopyTargetDialog(target, folder=folder, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def documents_folder() -> str:
    """Where every save dialog starts: the user's Documents (their home when there is none)."""
    from pathlib import Path

    from PySide6.QtCore import QStandardPaths

    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def date_range_row(on_edited: Callable[[QDate], object]) -> tuple[QHBoxLayout, QDateEdit, QDateEdit]:
    """"From [date] to [date]" with calendar pop-ups (object names startDate / endDate), calling
    `on_edited` when either changes; the caller adds what goes after them to the returned row."""
    row = QHBoxLayout()
    row.setSpacing(8)
    row.addWidget(label("From"))
    start, end = QDateEdit(), QDateEdit()
    start.setObjectName("startDate")
    end.setObjectName("endDate")
    row.addWidget(start)
    row.addWidget(label("to"))
    row.addWidget(end)
    for edit in (start, end):
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("dd MMM yyyy")
        edit.dateChanged.connect(on_edited)
    return row, start, end


def choice_box(name: str, choices: Sequence[tuple[str, object]], on_picked: Callable[[int], object],
               current: int = 0) -> QComboBox:
    """A drop-down of (words shown, value kept) pairs, calling `on_picked(index)` when the choice changes."""
    box = QComboBox()
    box.setObjectName(name)
    for words, value in choices:
        box.addItem(words, value)
    box.setCurrentIndex(current)
    box.currentIndexChanged.connect(on_picked)
    return box
