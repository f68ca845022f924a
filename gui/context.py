"""What every page receives: the facade, the bridge to run its calls, the user, and the dialogs.

A page from another engineer is built as `MyPage(ctx)`; it reaches its service as
`ctx.app.<service>` and calls it with `ctx.bridge.submit(fn, *args, on_result=..., context=self)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gui.bridge import Bridge
from gui.dialogs import Dialogs
from gui.format import use_clock
from gui.session import UserSession
from services.autostart import Autostart, for_this_computer

if TYPE_CHECKING:
    from gui.tunnel_controller import TunnelController
    from services.app import WearSync


class Events(QObject):
    """UI-thread notifications between pages (never emitted from worker threads)."""

    setting_changed = Signal(str, object)  # key, new value
    patients_changed = Signal()
    background_started = Signal()  # app.start_background() returned (callback listener up, or why not)


@dataclass
class PageContext:
    app: WearSync
    bridge: Bridge
    session: UserSession
    dialogs: Dialogs
    tunnel: TunnelController
    events: Events
    sandbox: bool = False
    log_path: Path | None = None
    navigate: Callable[[str], Any] = field(default=lambda _key: None)
    restart: Callable[[], Any] = field(default=lambda: None)  # Shell.restart: quit cleanly, start again
    # start at sign-in on this computer (Settings → General); tests hand in a writer on a temporary home
    autostart: Callable[[], Autostart] = field(default=lambda: for_this_computer())

    def __post_init__(self) -> None:
        clock = getattr(self.app, "clock", None)  # the window reads time through the app's clock
        if clock is not None:
            use_clock(clock)

    def sync_hook(self) -> Callable[[], Any] | None:
        """The "Update now" entry point once the sync service exists (issue 3), else None."""
        sync = getattr(self.app, "sync", None)
        hook = getattr(sync, "update_now", None) if sync is not None else None
        return hook if callable(hook) else None
