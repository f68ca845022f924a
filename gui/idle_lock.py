"""The idle lock's Qt side: notice keyboard and mouse activity anywhere in the app, and ask the
policy (services/accounts/idle_lock.py) on a timer whether the window should lock.

Only the window locks: the scheduler, sync and tray keep running. The clock is injectable so tests
move time instead of waiting; `check()` is what the timer calls.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal

from gui.format import clock as app_clock
from services.accounts.idle_lock import IdleLock

ACTIVITY = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin, QEvent.Type.HoverMove,
})
CHECK_EVERY_MS = 5000


class IdleWatcher(QObject):
    lock_due = Signal()

    def __init__(self, clock: Callable[[], float] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # seconds on the wall clock (it keeps counting through sleep): the app's clock by default
        self.clock = clock or app_clock().timestamp
        self.policy = IdleLock(0, self.clock())
        self.running = False
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_EVERY_MS)
        self.timer.timeout.connect(self.check)

    def start(self, timeout_minutes: float) -> None:
        """A user signed in (or unlocked): count idle time from now."""
        self.policy = IdleLock(timeout_minutes, self.clock())
        if not self.running:
            app = QCoreApplication.instance()
            if app is not None:
                app.installEventFilter(self)
        self.running = True
        self.timer.start()

    def stop(self) -> None:
        """Signed out or locked: nothing to watch until the next sign-in."""
        if self.running:
            app = QCoreApplication.instance()
            if app is not None:
                app.removeEventFilter(self)
        self.running = False
        self.timer.stop()

    def set_timeout(self, minutes: float) -> None:
        self.policy.set_timeout(minutes)

    def check(self) -> bool:
        """True (and `lock_due` emitted once) when the idle time has run out."""
        if self.running and self.policy.is_locked(self.clock()):
            self.stop()
            self.lock_due.emit()
            return True
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # called for every event in the app: keep it to one set lookup
        if event.type() in ACTIVITY:
            self.policy.activity(self.clock())
        return False
