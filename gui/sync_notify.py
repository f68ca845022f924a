"""Scheduler events in the GUI: an alert digest becomes a tray notification, or — when the desktop
has no tray (or it is hidden) — a non-modal banner at the top of the window. Download start and
end refresh the Sync page.

The scheduler calls its listeners on its own thread; this adapter turns each event into a typed
Qt signal, delivered on the UI thread (queued across threads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QBoxLayout

from gui.widgets import Banner

if TYPE_CHECKING:
    from gui.shell import Shell
    from services.sync.scheduler import SchedulerEvent

ALERT_TITLE = "WearSync: data needs attention"


def alert_text(event: SchedulerEvent, limit: int = 3) -> str:
    """The digest's one-line summary and its first few alerts, for a notification."""
    lines = [event.message]
    digest = event.digest
    if digest is not None:
        lines += [a.message for a in digest.alerts[:limit]]
        if len(digest.alerts) > limit:
            lines.append(f"… and {len(digest.alerts) - limit} more on the Sync page.")
    return "\n".join(lines)


def private_text(text: str, count: int, *, signed_in: bool, window_open: bool) -> str:
    """What a notification may say: patient details only to someone signed in with the window open;
    otherwise a count and where to look (a tray message is seen by whoever passes the screen)."""
    if signed_in and window_open:
        return text
    things = f"{count} thing{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention"
    if not signed_in:
        return f"{things}. Open WearSync and sign in to see what."
    return f"{things}. Open WearSync to see what."


class FlowNotifier(QObject):
    alert = Signal(str, str, int)  # title, text, how many alerts
    activity = Signal(str, str)  # kind (started, finished, error, ...), message

    def __init__(self, shell: Shell) -> None:
        super().__init__(shell)
        self.shell = shell
        self.banner = Banner("warning", closable=True)
        self.banner.setObjectName("alertBanner")
        self.banner.action_clicked.connect(lambda: shell.ctx.navigate("sync"))
        self.banner.dismissed.connect(self._forget_banner_alert)
        #: the alert the banner shows (text, count): said again as the signed-in user may see it when
        #: someone signs in, unlocks, signs out or the window locks
        self._banner_alert: tuple[str, int] | None = None
        shell.ctx.session.changed.connect(self._session_changed)
        central_widget = shell.window.centralWidget()
        central = central_widget.layout() if central_widget is not None else None
        if isinstance(central, QBoxLayout):
            central.insertWidget(central.count() - 1, self.banner)
        self.alert.connect(self.show_alert)
        self.activity.connect(self._activity)
        self.attach()

    def attach(self) -> None:
        """Listen to the app's scheduler, once it has one (the app attaches it after the window shows)."""
        scheduler = getattr(self.shell.app, "scheduler", None)
        if scheduler is not None and self.on_event not in scheduler.listeners:
            scheduler.listeners.append(self.on_event)

    def on_event(self, event: SchedulerEvent) -> None:
        """Scheduler thread: hand over to the UI thread."""
        if event.kind == "alerts":
            count = len(event.digest.alerts) if event.digest is not None else 1
            self.alert.emit(ALERT_TITLE, alert_text(event), max(1, count))
        else:
            self.activity.emit(event.kind, event.message)

    def show_alert(self, title: str, text: str, count: int = 1) -> None:
        session = self.shell.ctx.session
        signed_in = session.signed_in and not session.locked
        window = self.shell.window
        open_now = window.isVisible() and not window.isMinimized()
        tray = self.shell.tray
        if tray is not None and tray.icon.isVisible():
            tray.notify(title, private_text(text, count, signed_in=signed_in, window_open=open_now))
        else:
            self._banner_alert = (text, count)
            self.banner.show_message(private_text(text, count, signed_in=signed_in, window_open=True),
                                     "warning", action="Open Sync")

    def _session_changed(self, _actor: object) -> None:
        if self._banner_alert is None or self.banner.isHidden():
            return
        session = self.shell.ctx.session
        text, count = self._banner_alert
        self.banner.show_message(private_text(text, count, signed_in=session.signed_in and not session.locked,
                                              window_open=True), "warning", action="Open Sync")

    def _forget_banner_alert(self) -> None:
        self._banner_alert = None

    def _activity(self, kind: str, _message: str) -> None:
        if kind in ("started", "finished", "error"):
            page = self.shell.window.built_page("sync")  # a page not built yet refreshes when first shown
            if page is None:
                return
            from gui.pages.sync.page import SyncPage  # imported already: the page is built

            if isinstance(page, SyncPage) and page.isVisible():
                page.refresh()

    def detach(self) -> None:
        scheduler = getattr(self.shell.app, "scheduler", None)
        if scheduler is not None and self.on_event in scheduler.listeners:
            scheduler.listeners.remove(self.on_event)
