"""The system tray icon: Open / Update now / Start-Stop tunnel / Quit, rebuilt each time it opens
so every entry shows the current state. Only created when the desktop has a tray."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from gui import theme
from gui.context import PageContext


class Tray(QObject):
    open_requested = Signal()
    quit_requested = Signal()

    def __init__(self, ctx: PageContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.icon = QSystemTrayIcon(theme.app_icon(sandbox=ctx.sandbox), self)  # never mistaken for the real one
        self._base_tip = "WearSync" + (" (sandbox)" if ctx.sandbox else "")
        self.icon.setToolTip(self._base_tip)
        ctx.tunnel.error_changed.connect(self.show_tunnel_error)
        self.menu = QMenu()
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self.build_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.build_menu()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def show_tunnel_error(self, error: Exception | None) -> None:
        """A failed tunnel start stays in the tooltip until the next attempt."""
        from gui.tunnel_controller import tunnel_failure_text

        tip = self._base_tip if error is None else f"{self._base_tip}\n{tunnel_failure_text(error)}"
        self.icon.setToolTip(tip)

    def notify(self, title: str, text: str) -> None:
        self.icon.showMessage(title, text, theme.app_icon(sandbox=self.ctx.sandbox), 5000)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()

    def build_menu(self) -> None:
        menu = self.menu
        menu.clear()
        self._add(menu, "Open WearSync", self.open_requested.emit)

        hook = self.ctx.sync_hook()
        update = self._add(menu, "Update now", lambda: self._update_now(hook))
        if hook is None:
            update.setEnabled(False)
            update.setToolTip("Downloads arrive with the sync service; nothing to start yet.")
        elif not self.ctx.session.can("sync.run"):
            update.setEnabled(False)

        tunnel = self.ctx.tunnel
        running = tunnel.is_running
        toggle = self._add(menu, "Stop tunnel" if running else "Start tunnel",
                           lambda: tunnel.toggle(self.ctx.session.actor))
        toggle.setEnabled(not tunnel.busy and self.ctx.session.can("tunnel"))
        if tunnel.busy:
            toggle.setToolTip("The tunnel is starting or stopping…")

        menu.addSeparator()
        self._add(menu, "Quit WearSync", self.quit_requested.emit)

    def actions(self) -> dict[str, QAction]:
        return {a.text(): a for a in self.menu.actions() if a.text()}

    @staticmethod
    def _add(menu: QMenu, text: str, slot: Callable[[], object]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _update_now(self, hook: Callable[[], object] | None) -> None:
        if hook is not None:
            self.ctx.bridge.submit(hook, actor=self.ctx.session.actor)
