"""The main window: navigation on the left, one page at a time on the right, a sandbox banner on top.

The window does not decide what closing it means; it asks `close_handler` (the Shell), which
knows whether a tray exists and what the user chose.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from gui.context import PageContext
from gui.pages import PAGES, Page
from gui.widgets import install_keyboard_and_wheel_rules, label
from services.config import VERSION

ROLE_NAMES = {"admin": "Administrator", "coordinator": "Coordinator", "viewer": "Viewer"}


class MainWindow(QMainWindow):
    def __init__(self, ctx: PageContext, close_handler: Callable[[QCloseEvent], None] | None = None) -> None:
        super().__init__()
        install_keyboard_and_wheel_rules()  # Tab never trapped; the wheel changes no unfocused setting
        self.ctx = ctx
        self.close_handler = close_handler
        self.setWindowTitle("WearSync — sandbox (demo data)" if ctx.sandbox else "WearSync")
        self.setWindowIcon(theme.app_icon(sandbox=ctx.sandbox))
        self.resize(1200, 760)
        self.setMinimumSize(900, 560)

        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        if ctx.sandbox:
            outer.addWidget(self._sandbox_banner())
        row = QHBoxLayout()
        row.setSpacing(0)
        outer.addLayout(row, 1)

        row.addWidget(self._navigation())
        self.stack = QStackedWidget()
        self.stack.setObjectName("PageArea")
        row.addWidget(self.stack, 1)
        self.setCentralWidget(root)

        self.pages: dict[str, Page] = {}
        self.page_shortcuts: dict[str, QShortcut] = {}
        for number, cls in enumerate(PAGES, start=1):
            page = cls(ctx)
            self.pages[cls.key] = page
            self.stack.addWidget(page)
            item = QListWidgetItem(theme.nav_icon(cls.icon), cls.title)
            item.setData(Qt.ItemDataRole.UserRole, cls.key)
            item.setSizeHint(QSize(0, 40))
            self.nav.addItem(item)
            if number <= 9:  # Ctrl+1 … Ctrl+9, in the order of the PAGES list
                keys = QKeySequence(f"Ctrl+{number}")
                shortcut = QShortcut(keys, self)
                shortcut.activated.connect(lambda key=cls.key: self.show_page(key, focus=True))
                self.page_shortcuts[cls.key] = shortcut
                item.setToolTip(f"{cls.title} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})")
        self._shown_row = -1
        self.nav.currentRowChanged.connect(self._on_nav)
        ctx.navigate = self.show_page
        ctx.bridge.unhandled.connect(self.show_error)
        ctx.bridge.busy_changed.connect(self._show_busy)  # a method: disconnected with the window
        ctx.session.changed.connect(lambda _a: self._show_user())
        self._show_user()
        self.nav.setCurrentRow(0)

    # -- layout ---------------------------------------------------------------------------
    def _navigation(self) -> QWidget:
        box = QWidget()
        box.setObjectName("BrandBox")
        box.setFixedWidth(196)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 18, 0, 14)
        col.setSpacing(6)
        brand = QHBoxLayout()
        brand.setContentsMargins(18, 0, 12, 6)
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(28, 28))
        brand.addWidget(logo)
        name = QLabel("WearSync")
        name.setObjectName("Brand")
        brand.addWidget(name, 1)
        col.addLayout(brand)
        self.nav = QListWidget()
        self.nav.setObjectName("Nav")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFrameShape(QListWidget.Shape.NoFrame)
        self.nav.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        col.addWidget(self.nav, 1)
        foot = QVBoxLayout()
        foot.setContentsMargins(18, 0, 12, 0)
        foot.setSpacing(2)
        self.busy = label("", "help")
        self.busy.setObjectName("NavFooter")
        self.user = label("", "help")
        self.user.setObjectName("NavFooter")
        foot.addWidget(self.busy)
        foot.addWidget(self.user)
        foot.addWidget(label(f"Version {VERSION}", "help"))
        self.nav_footer = foot  # the sign-in gate adds the account menu here
        col.addLayout(foot)
        return box

    def _sandbox_banner(self) -> QWidget:
        from PySide6.QtWidgets import QFrame

        bar = QFrame()
        bar.setObjectName("sandboxBanner")
        bar.setProperty("banner", "sandbox")
        row = QHBoxLayout(bar)
        row.setContentsMargins(18, 7, 18, 7)
        text = QLabel("SANDBOX — demo data. Vendors are simulated and nothing here is a real patient; "
                      "your real data is kept apart.")
        row.addWidget(text, 1)
        return bar

    def _show_busy(self, busy: bool) -> None:
        self.busy.setText("Working…" if busy else "")

    def _show_user(self) -> None:
        actor = self.ctx.session.actor
        self.user.setText(f"{actor.username} · {ROLE_NAMES.get(actor.role, actor.role)}")

    # -- navigation -----------------------------------------------------------------------
    def _on_nav(self, row: int) -> None:
        item = self.nav.item(row)
        if item is None:
            return
        page = self.pages[str(item.data(Qt.ItemDataRole.UserRole))]
        leaving = self.stack.currentWidget()
        if isinstance(leaving, Page) and leaving is not page and not self._may_leave(leaving):
            self.nav.blockSignals(True)  # stay: the list shows the page that is still open
            self.nav.setCurrentRow(self._shown_row)
            self.nav.blockSignals(False)
            return
        self._shown_row = row
        self.stack.setCurrentWidget(page)
        page.shown()

    def _may_leave(self, page: Page) -> bool:
        """Unsaved edits are never dropped silently: Save, Discard, or stay (Cancel)."""
        if not page.has_unsaved_changes():
            return True
        answer = self.ctx.dialogs.ask_unsaved(self, page.title)
        if answer == "save":
            page.save_changes()
        elif answer == "discard":
            page.discard_changes()
        return answer in ("save", "discard")

    def show_page(self, key: str, focus: bool = False) -> Page:
        for i in range(self.nav.count()):
            if self.nav.item(i).data(Qt.ItemDataRole.UserRole) == key:
                self.nav.setCurrentRow(i)
        page = self.pages[key]
        if focus and self.stack.currentWidget() is page:
            target = page.first_focus()
            (target or self.nav).setFocus(Qt.FocusReason.ShortcutFocusReason)
        return page

    def current_page(self) -> Page:
        page = self.stack.currentWidget()
        assert isinstance(page, Page)
        return page

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState((self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
        self.raise_()
        self.activateWindow()

    # -- errors and closing ---------------------------------------------------------------
    def show_error(self, error: Exception) -> None:
        self.ctx.dialogs.error(self, error, {"settings": lambda: self.show_page("settings")})

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.close_handler is not None:
            self.close_handler(event)
        else:
            event.accept()
