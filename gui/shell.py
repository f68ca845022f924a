"""The running GUI: window, tray, tunnel controller and what closing and quitting mean.

Built by `gui.application.run_gui` after the facade is open, and directly by the tests (with tray
availability, dialogs and the quit function injected).

Ending (quit, SIGTERM, the session logging off, the computer shutting down): `shutdown()` runs once,
from Qt's commitDataRequest (log-off) or aboutToQuit, within SHUTDOWN_S seconds: the scheduler stops,
the running download stops between two requests (recorded as interrupted if it had to be cut short;
the next start says so and resumes it), the bridge's calls end, and the database is closed.

Closing the window:
- no system tray: the window is the app, so closing it quits;
- with a tray: the first close asks once (tray or quit) and remembers the answer in the
  `close_to_tray` setting (ask|tray|quit); later closes follow it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtGui import QCloseEvent, QGuiApplication, QSessionManager

from gui.bridge import Bridge
from gui.context import Events, PageContext
from gui.dialogs import Dialogs
from gui.main_window import MainWindow
from gui.session import UserSession
from gui.signin import SessionGate
from gui.tray import Tray
from gui.tunnel_controller import TunnelController

if TYPE_CHECKING:
    from services.app import WearSync

log = logging.getLogger(__name__)

SHUTDOWN_S = 5.0  # the whole shutdown; the UI thread is never blocked longer
SYNC_STOP_S = 3.0  # of which the running download gets this much to stop between two requests


class Shell(QObject):
    def __init__(
        self,
        app: WearSync,
        *,
        tray_available: bool,
        sandbox: bool = False,
        log_path: Path | None = None,
        dialogs: Dialogs | None = None,
        session: UserSession | None = None,
        close_to_tray: str = "ask",
        quit_fn: Callable[[], Any] | None = None,
        tunnel: TunnelController | None = None,
    ) -> None:
        super().__init__()
        self.app = app
        self.bridge = Bridge(parent=self)
        self.close_to_tray = close_to_tray if close_to_tray in ("ask", "tray", "quit") else "ask"
        self._quit_fn = quit_fn or QCoreApplication.quit
        self.quitting = False
        self.shut_down = False
        self.restart_requested = False  # run_gui starts WearSync again after a clean shutdown
        self._told_about_tray = False
        events = Events(self)
        self.ctx = PageContext(
            app=app,
            bridge=self.bridge,
            session=session or UserSession(parent=self),
            dialogs=dialogs or Dialogs(),
            tunnel=tunnel or TunnelController(app, self.bridge, parent=self),
            events=events,
            sandbox=sandbox,
            log_path=log_path,
        )
        self.ctx.restart = self.restart
        events.setting_changed.connect(self._setting_changed)
        # the gate opens the first page on signing in: behind the sign-in screen no page is built
        self.window = MainWindow(self.ctx, close_handler=self.handle_close, open_first=False)
        self.gate = SessionGate(self.ctx, self.window)  # sign-in screen, idle lock, account menu
        self.tray: Tray | None = None
        if tray_available:
            self.tray = Tray(self.ctx, self)
            self.tray.open_requested.connect(self.show_window)
            self.tray.quit_requested.connect(self.quit)
            self.tray.show()
        self.ctx.tunnel.failed.connect(self._tunnel_failed)
        from gui.sync_notify import FlowNotifier  # alert digest -> tray message or window banner

        self.flow = FlowNotifier(self)
        qapp = QCoreApplication.instance()
        if isinstance(qapp, QGuiApplication):
            qapp.commitDataRequest.connect(self.end_session)  # log-off, shutdown (Windows, X11 sessions)
        if qapp is not None:
            qapp.aboutToQuit.connect(self.shutdown)

    # -- window ---------------------------------------------------------------------------
    def show_window(self) -> None:
        """Also what a second launch triggers (single instance)."""
        self.window.bring_to_front()

    def handle_close(self, event: QCloseEvent) -> None:
        if self.quitting or self.tray is None:
            event.accept()
            self.quit()
            return
        choice = self.close_to_tray
        if choice == "ask":
            answer = self.ctx.dialogs.ask_close_behaviour(self.window)
            if answer is None:
                event.ignore()
                return
            choice = answer
            self.remember_close_choice(answer)
        if choice == "tray":
            event.ignore()
            self.window.hide()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.tray.notify("WearSync is still running",
                                 "Downloads continue in the background. Open WearSync from this icon.")
            return
        event.accept()
        self.quit()

    def remember_close_choice(self, choice: str) -> None:
        self.close_to_tray = choice
        self.bridge.submit(self.app.settings.set, "close_to_tray", choice)

    def _setting_changed(self, key: str, value: object) -> None:
        if key == "close_to_tray" and value in ("ask", "tray", "quit"):
            self.close_to_tray = str(value)

    def _tunnel_failed(self, error: Exception) -> None:
        if self.tray is not None and not self.window.isVisible():
            self.tray.notify("Tunnel problem", getattr(error, "message", str(error)))

    # -- lifetime -------------------------------------------------------------------------
    def start(self, start_tunnel: bool = False, flow: bool = False) -> None:
        """After the window is shown: background services, and the tunnel if the user asked for it.

        `flow` (the app's start): first attach the daily download, catch-up and alert digest — built on
        the worker, so the scheduler and the sync service are not imported before the window shows."""
        self.bridge.submit(self._start_background, flow,
                           on_result=lambda _r: self.ctx.events.background_started.emit())
        self.ctx.tunnel.refresh()
        self.ctx.tunnel.start_polling()
        # an administrator chose to start the tunnel with the app: it runs signed out too, like sync
        if start_tunnel:
            self.ctx.tunnel.start()

    def _start_background(self, flow: bool) -> None:
        """A worker thread."""
        if flow:
            self.app.attach_flow()
            self.flow.attach()
        self.app.start_background()

    def quit(self) -> None:
        if self.quitting:
            return
        self.quitting = True
        log.info("quitting")
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        self._quit_fn()

    def restart(self) -> None:
        """Quit cleanly (background work stopped, database closed), then start again: how a
        changed database takes effect without leaving the app half on the old one."""
        log.info("restart requested")
        self.restart_requested = True
        self.quit()

    def end_session(self, _manager: QSessionManager | None = None) -> None:
        """The session is ending (log-off, power-off): the system may end the process right after
        this returns, so stop cleanly now, then leave the event loop."""
        log.info("the session is ending")
        self.shutdown()
        self.quit()

    def shutdown(self) -> None:
        """Stop what runs in the background and close the database, once, within SHUTDOWN_S seconds
        (aboutToQuit, the session ending, or after the event loop ends)."""
        if self.shut_down:
            return
        self.shut_down = True
        import time

        deadline = time.monotonic() + SHUTDOWN_S
        self.flow.detach()
        self.ctx.tunnel.stop_polling()
        try:
            # the scheduler first, then the download (bounded): the bridge's calls waiting on it end too
            self.app.stop_background(timeout=SYNC_STOP_S)
        finally:
            self.bridge.shutdown(timeout_ms=max(0, int(min(1.0, deadline - time.monotonic() - 1.0) * 1000)))
            self.ctx.tunnel.shutdown()
            self.app.close()
        log.info("stopped in %.1f s", SHUTDOWN_S - (deadline - time.monotonic()))
