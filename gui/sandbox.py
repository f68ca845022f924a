"""Sandbox mode in the window: download the demo days in the background once the window is up,
and start a separate sandbox WearSync from Settings ("Try with sandbox vendors").

The sandbox process has its own data directory (`<home>/sandbox`), so it has its own single-instance
lock and runs next to the real window; a second click only brings its window to the front.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QProcess

if TYPE_CHECKING:
    from gui.shell import Shell

log = logging.getLogger(__name__)

MAIN = Path(__file__).resolve().parents[1] / "main.py"


def download_demo_data(shell: Shell, days: int | None = None) -> None:
    """The demo patients' last days, on a worker; the Patients page refreshes when they are in."""
    from services.sandbox.mode import DEMO_DAYS, download_demo_days

    n = days or DEMO_DAYS
    cancel = threading.Event()
    # quitting must not wait for a week of demo data: stop at the next chunk
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(cancel.set)
    shell.demo_cancel = cancel  # type: ignore[attr-defined]
    bar = shell.window.statusBar()
    bar.showMessage(f"Sandbox: downloading {n} days of demo data in the background…")

    def done(results: list[object]) -> None:
        rows = sum(int(getattr(r, "rows_written", 0)) for r in results)
        bar.showMessage(f"Sandbox: demo data ready ({rows:,} rows for {len(results)} demo accounts).", 15_000)
        shell.ctx.events.patients_changed.emit()

    def failed(error: Exception) -> None:
        log.warning("sandbox: downloading the demo data failed: %s", error)
        bar.showMessage("Sandbox: the demo data could not be downloaded. Use Sync now on a demo patient.")

    shell.bridge.submit(download_demo_days, shell.app, n, None, cancel, on_result=done, on_error=failed)


def sandbox_command() -> tuple[str, list[str]]:
    """How to start this WearSync again with --sandbox (a frozen build is its own executable)."""
    if getattr(sys, "frozen", False):
        return sys.executable, ["--sandbox"]
    return sys.executable, [str(MAIN), "--sandbox"]


def launch_sandbox(start: Callable[[str, list[str]], bool] | None = None) -> bool:
    """Start a sandbox WearSync next to this one; False when the process could not be started."""
    program, args = sandbox_command()
    ok = (start or _start_detached)(program, args)
    log.info("sandbox WearSync %s", "started" if ok else "could not be started")
    return ok


def _start_detached(program: str, args: list[str]) -> bool:
    started = QProcess.startDetached(program, args)
    return bool(started[0] if isinstance(started, tuple) else started)
