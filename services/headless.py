"""`main.py --headless`: the app without a window, for a server or a systemd unit.

SIGTERM (systemctl stop, shutdown, log-off) and SIGINT stop it cleanly within SHUTDOWN_S seconds:
no new download starts, the running one stops between two requests (a chunk of days commits whole or
not at all, so the coverage ledger stays true), a download cut short is recorded as "interrupted",
the database is closed and the exit status is 0. The next start logs what was interrupted and the
catch-up resumes it. installer/linux/wearsync-headless.service gives systemd a matching TimeoutStopSec.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time
from types import FrameType

from services import config
from services.logging_setup import setup_logging

log = logging.getLogger(__name__)

SHUTDOWN_S = 5.0  # the bound from the signal to the exit
SYNC_STOP_S = 2.5  # of which stopping the services may take this much (the download: 0.5 s less)


def log_safe(note: str) -> str:
    """A note without patient IDs, for the log (which holds no patient data)."""
    return re.sub(r"for [A-Za-z0-9._-]+ \(([A-Za-z ]+)\)", r"for a patient's \1 device", note)


def run_headless(stop: threading.Event | None = None, *, exit_when_stuck: bool = False) -> int:
    """`exit_when_stuck`: the process is ours alone (main.py): if a download thread is still stuck in
    a vendor request when the time is up, end the process at once rather than wait for it (its chunk
    did not commit, so the next start fetches it again)."""
    stop = stop or threading.Event()
    stopped_at: list[float] = []

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stopped_at:
            stopped_at.append(time.monotonic())
        log.info("signal %s received, stopping", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        # before the database opens: a SIGTERM during a slow start still ends cleanly
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
    paths = config.paths().ensure()
    setup_logging(paths.logs, console=True)
    from services.app import WearSync

    app = WearSync.open()
    notes = app.interruptions()
    log.info("WearSync %s running headless on %s", config.VERSION, app.db.safe_url())
    from services.reach.tunnel_setup import attach_tunnel

    try:
        attach_tunnel(app)  # honours "Start the tunnel when WearSync starts"
        app.attach_flow()  # daily download, catch-up, housekeeping, alert digest
        app.start_background()
        for note in notes:  # the catch-up that started above fetches what they left undone
            log.info("%s", log_safe(note))
        stop.wait()
    finally:
        app.shutdown(timeout=SYNC_STOP_S)
    log.info("WearSync stopped")
    if exit_when_stuck:
        _exit_if_stuck(min(time.monotonic() + 0.3, (stopped_at or [time.monotonic()])[0] + SHUTDOWN_S - 1.0))
    return 0


def _exit_if_stuck(deadline: float) -> None:
    """Download threads still busy (a vendor that does not answer) would hold the interpreter's exit
    until their request times out: past the deadline, end the process now, with status 0."""
    def busy() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.is_alive() and t.name.startswith(("wearsync-sync", "first-"))]

    while busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    if busy():
        log.warning("a download was still waiting for a vendor; it is fetched again at the next start")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
