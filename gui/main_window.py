"""The main window: navigation on the left, one page at a time on the right, a sandbox banner on top.

Pages are built when first shown or first asked for (`window.pages[key]`, `show_page`,
`ctx.navigate`); until then an empty placeholder holds the page's place in the stack, so starting
the app imports and builds only the first page (issue 15: start-up time and idle memory).

The window does not decide what closing it means; it asks `close_handler` (the Shell), which
knows whether a tray exists and what the user chose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

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
from gui.pages import PAGES, Page, PageEntry, page_class
from gui.widgets import install_keyboard_and_wheel_rules, label
from services.config import VERSION

ROLE_NAMES = {"admin": "Administrator", "coordinator": "Coordinator", "viewer": "Viewer"}
NAV_WIDTH = 196


class MainWindow(QMainWindow):
    def __init__(self, ctx: PageContext, close_handler: Callable[[QCloseEvent], None] | None = None,
                 open_first: bool = True) -> None:
        """`open_first=False`: the first page is built when someone opens it (the sign-in gate does,
        on signing in), so a window that opens on the sign-in screen builds no page at all."""
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

        self.pages: Mapping[str, Page] = _Pages(self)
        self._entries: dict[str, PageEntry] = {}
        self._built: dict[str, Page] = {}
        self._placeholders: dict[str, QWidget] = {}
        self.page_shortcuts: dict[str, QShortcut] = {}
        for number, entry in enumerate(PAGES, start=1):
            self._entries[entry.key] = entry
            placeholder = QWidget()
            placeholder.setObjectName(f"unbuilt_{entry.key}")
            self._placeholders[entry.key] = placeholder
            self.stack.addWidget(placeholder)
            item = QListWidgetItem(theme.nav_icon(entry.icon), entry.title)
            item.setData(Qt.ItemDataRole.UserRole, entry.key)
            item.setSizeHint(QSize(0, 40))
            self.nav.addItem(item)
            if number <= 9:  # Ctrl+1 … Ctrl+9, in the order of the PAGES list
                keys = QKeySequence(f"Ctrl+{number}")
                shortcut = QShortcut(keys, self)
                shortcut.activated.connect(lambda key=entry.key: self.show_page(key, focus=True))
                self.page_shortcuts[entry.key] = shortcut
                item.setToolTip(f"{entry.title} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})")
        self._shown_row = -1
        self.nav.currentRowChanged.connect(self._on_nav)
        ctx.navigate = self.show_page
        ctx.bridge.unhandled.connect(self.show_error)
        ctx.bridge.busy_changed.connect(self._show_busy)  # a method: disconnected with the window
        ctx.session.changed.connect(lambda _a: self._show_user())
        self._show_user()
        if open_first:
            self.nav.setCurrentRow(0)

    # -- layout ---------------------------------------------------------------------------
    def _navigation(self) -> QWidget:
        box = QWidget()
        box.setObjectName("BrandBox")
        box.setFixedWidth(NAV_WIDTH)
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
        """Who is signed in, on two lines that fit the navigation column (a long name is shortened in
        the middle; the tooltip has it whole)."""
        actor = self.ctx.session.actor
        role = ROLE_NAMES.get(actor.role, actor.role)
        room = NAV_WIDTH - 18 - 12  # the footer's margins
        name = self.user.fontMetrics().elidedText(actor.username, Qt.TextElideMode.ElideMiddle, room)
        self.user.setText(f"{name}\n{role}" if actor.username else "")
        self.user.setToolTip(f"Signed in as {actor.username} ({role})" if actor.username else "")

    # -- pages, built on first use ---------------------------------------------------------
    def built_page(self, key: str) -> Page | None:
        """The page if it has been built, else None (never builds it)."""
        return self._built.get(key)

    def _page(self, key: str) -> Page:
        page = self._built.get(key)
        if page is not None:
            return page
        page = page_class(self._entries[key])(self.ctx)  # KeyError for an unknown key, as before
        self._built[key] = page
        placeholder = self._placeholders.pop(key)
        showing = self.stack.currentWidget() is placeholder
        self.stack.insertWidget(self.stack.indexOf(placeholder), page)
        if showing:
            self.stack.setCurrentWidget(page)
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        return page

    # -- navigation -----------------------------------------------------------------------
    def _on_nav(self, row: int) -> None:
        item = self.nav.item(row)
        if item is None:
            return
        key = str(item.data(Qt.ItemDataRole.UserRole))
        leaving = self.stack.currentWidget()
        if isinstance(leaving, Page) and leaving is not self._built.get(key) and not self._may_leave(leaving):
            self.nav.blockSignals(True)  # stay: the list shows the page that is still open
            self.nav.setCurrentRow(self._shown_row)
            self.nav.blockSignals(False)
            return
        self._shown_row = row
        page = self.pages[key]  # built on its first visit
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


class _Pages(Mapping[str, Page]):
    """`window.pages`: every page's key, in navigation order; looking a page up builds it."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window

    def __getitem__(self, key: str) -> Page:
        return self._window._page(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._window._entries)

    def __len__(self) -> int:
        return len(self._window._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._window._entries
