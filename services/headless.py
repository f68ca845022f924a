"""`main.py --headless`: the app without a window, for a server or a systemd unit."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from services import config
from services.app import WearSync
from services.logging_setup import setup_logging

log = logging.getLogger(__name__)


def run_headless(stop: threading.Event | None = None) -> int:
    paths = config.paths().ensure()
    setup_logging(paths.logs, console=True)
    app = WearSync.open()
    stop = stop or threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s received, stopping", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    log.info("WearSync %s running headless on %s", config.VERSION, app.db.safe_url())
    from services.reach.tunnel_setup import attach_tunnel

    attach_tunnel(app)  # honours "Start the tunnel when WearSync starts"
    try:
        app.attach_flow()  # daily download, catch-up, housekeeping, alert digest
        app.start_background()
        stop.wait()
    finally:
        app.stop_background()
        app.close()
    log.info("WearSync stopped")
    return 0
