"""`main.py` without a subcommand: build the GUI in order, like Vorta's __main__.

excepthook (crash dialog) -> data directories -> rotating log -> QApplication -> single instance
-> open the facade (may migrate the database; a splash appears if that is slow) -> window -> tray.

`--sandbox` runs against simulated vendors in its own data directory (`<WEARSYNC_HOME>/sandbox`,
see services/sandbox/mode.py) so demo patients never mix with real ones; the demo days download in
the background after the window is shown.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QSystemTrayIcon

from gui import theme
from gui.crash import CrashHandler
from gui.single_instance import SingleInstance, server_name
from services import config
from services.errors import WearSyncError
from services.logging_setup import setup_logging

log = logging.getLogger(__name__)

SPLASH_AFTER_MS = 400
# measurement hook (tests/benchmarks/app.py, docs/PERFORMANCE.md): with this set to 1, a line
# WINDOW_SHOWN_MARK goes to stdout when the event loop first runs with the window shown
ANNOUNCE_ENV = "WEARSYNC_ANNOUNCE_WINDOW"
WINDOW_SHOWN_MARK = "wearsync: window shown"


@dataclass
class Started:
    """What the opening worker hands to the UI: the facade and the settings the shell needs first."""

    app: Any  # services.app.WearSync
    close_to_tray: str
    start_tunnel: bool
    sandbox_note: str = ""


# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms). The UI
# thread needs the GIL for every Qt event it hands to Python (slots, event filters, the bridge's
# deliveries); during a download the sync workers (and in sandbox mode the simulated vendors) keep
# asking for it too, and each time the UI thread loses the race it waits another interval: at 5 ms
# that added up to 100-175 ms late ticks on a busy two-core machine, at 1 ms to 74-81 (three
# alternating runs each, with the start-up heap frozen; issue 15).
GIL_SWITCH_S = 0.001


def share_gil_with_ui() -> None:
    """Let the UI thread get the GIL back sooner from the background threads."""
    sys.setswitchinterval(GIL_SWITCH_S)


# Python collects its youngest generation every 700 net allocations of container objects. A
# download allocates them by the hundred thousand (parsed JSON, rows), so the collector ran some 1,400
# times during the sandbox's demo download, each pass holding the GIL, every tenth one a larger pass:
# at 10,000 about 120 passes run (a young pass over 10,000 objects takes around a millisecond).
# Measured beside the two other settings here, worst lateness median 113 -> 90 ms over four
# alternating runs on a busy two-core machine: a small gain, within that machine's noise (issue 15).
GC_THRESHOLD = (10_000, 10, 10)


def collect_less_often() -> None:
    gc.set_threshold(*GC_THRESHOLD)


def freeze_startup_heap() -> None:
    """Hide what start-up built from the garbage collector: the modules, the window's widgets and
    their wrappers, SQLAlchemy's mappings live as long as the process. Left in the oldest
    generation, every full collection walks them all over again — a download allocates enough rows
    to start one every second or so, each holding the GIL for 150-350 ms on a busy two-core machine:
    the window freezes (issue 15). Frozen, a full collection walks only what was made since. The few
    cyclic leftovers of start-up that are frozen with them stay (a one-time, small cost)."""
    gc.freeze()


def use_sandbox_home() -> Path:
    """Make this process a sandbox one before anything opens (logs, lock, database): its own data
    directory `<home>/sandbox`, its own SQLite file and callback port, never a production database."""
    from services.sandbox.mode import prepare_environ

    env = prepare_environ(os.environ)
    for key in set(os.environ) - set(env):
        del os.environ[key]
    os.environ.update(env)
    return Path(env["WEARSYNC_HOME"])


def open_facade(sandbox: bool) -> Started:
    """Runs on a worker thread: open (and migrate) the database; in sandbox mode start the simulated
    vendors and connect the demo patients (a second or so; their data downloads later). The daily
    download, catch-up and alert digest are attached after the window shows (`Shell.start(flow=True)`)."""
    if sandbox:
        from services.sandbox.mode import open_sandbox

        app = open_sandbox(os.environ).app
    else:
        from services.app import WearSync

        app = WearSync.open()
    app.interruptions()  # downloads the last run of WearSync left unfinished: the Sync page says so
    return Started(app, str(app.settings.get("close_to_tray")), bool(app.settings.get("start_tunnel_with_app")))


def open_with_splash(sandbox: bool) -> Started | BaseException:
    """Open the facade off the UI thread; show a small progress window if it takes a while."""
    outcome: list[Started | BaseException] = []
    loop = QEventLoop()

    def work() -> None:
        try:
            outcome.append(open_facade(sandbox))
        except BaseException as exc:  # reported in a dialog by the caller
            outcome.append(exc)
        QTimer.singleShot(0, loop, loop.quit)

    splash = QProgressDialog("Opening the WearSync database…", "", 0, 0)
    splash.setWindowTitle("WearSync")
    splash.setCancelButton(None)
    splash.setWindowModality(Qt.WindowModality.ApplicationModal)
    splash.setMinimumDuration(0)
    splash.reset()  # hidden until the timer decides it is slow
    show_timer = QTimer(singleShot=True, interval=SPLASH_AFTER_MS)

    def show_splash() -> None:
        splash.setRange(0, 0)
        splash.show()

    show_timer.timeout.connect(show_splash)
    show_timer.start()
    worker = threading.Thread(target=work, name="wearsync-open", daemon=True)
    worker.start()
    if not outcome:
        loop.exec()
    show_timer.stop()
    splash.close()
    worker.join(timeout=1)
    return outcome[0]


def explain_open_failure(error: BaseException, log_path: Path | None) -> str:
    if isinstance(error, WearSyncError):
        return error.message
    from services.config import database_url

    try:
        from sqlalchemy.engine import make_url

        where = make_url(database_url()).render_as_string(hide_password=True)
    except Exception:
        where = "(the configured database)"
    return (f"WearSync could not open its database at {where}.\n\n{type(error).__name__}: {error}\n\n"
            "If it is a MySQL/MariaDB server, check that it is running and reachable, and that "
            f"WEARSYNC_DATABASE_URL is right. Details are in the log: {log_path}")


def run_gui(sandbox: bool = False, minimized: bool = False) -> int:
    crash = CrashHandler()
    crash.install()
    share_gil_with_ui()
    collect_less_often()

    if sandbox:
        use_sandbox_home()
    paths = config.paths().ensure()
    log_path = setup_logging(paths.logs)
    crash.log_path = log_path
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin at each start
    log.info("WearSync %s starting (GUI%s) with data in %s", config.VERSION, ", sandbox" if sandbox else "",
             paths.home)

    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("WearSync")
    qapp.setApplicationVersion(config.VERSION)
    qapp.setDesktopFileName("wearsync")
    theme.apply(qapp)
    crash.connect_ui()

    instance = SingleInstance(server_name(paths.home))
    if instance.notify_running():
        log.info("WearSync is already running for %s; asked it to show its window", paths.home)
        return 0
    instance.listen()

    tray_available = QSystemTrayIcon.isSystemTrayAvailable()
    # with a tray the app lives on after the window closes; without one the window is the app
    qapp.setQuitOnLastWindowClosed(not tray_available)

    started = open_with_splash(sandbox)
    if not isinstance(started, Started):
        log.error("could not open WearSync", exc_info=(type(started), started, started.__traceback__))
        QMessageBox.critical(None, "WearSync cannot start", explain_open_failure(started, log_path))
        instance.close()
        return 1

    from gui.shell import Shell

    shell = Shell(started.app, tray_available=tray_available, sandbox=sandbox, log_path=log_path,
                  close_to_tray=started.close_to_tray)
    instance.raise_requested.connect(shell.show_window)
    crash.on_quit = shell.quit
    if started.sandbox_note:
        shell.window.statusBar().showMessage(started.sandbox_note)
    if not minimized:
        shell.show_window()
    elif not tray_available:  # started at sign-in without a tray: a window in the task bar, not in the way
        shell.window.showMinimized()
    freeze_startup_heap()  # before the background work starts allocating
    shell.start(start_tunnel=started.start_tunnel, flow=True)
    if sandbox:
        from gui.sandbox import download_demo_data

        download_demo_data(shell)
    log.info("%s (tray %s)", "started minimised" if minimized else "window shown",
             "available" if tray_available else "not available")
    if os.environ.get(ANNOUNCE_ENV) == "1":
        QTimer.singleShot(0, lambda: print(WINDOW_SHOWN_MARK, flush=True))
    # SIGTERM (log-out, systemctl stop) ends the loop normally so the database is closed cleanly;
    # the idle timer lets Python run its signal handler while Qt waits.
    signal.signal(signal.SIGTERM, lambda *_: shell.quit())  # quit, never "keep running in tray?"
    wake = QTimer(interval=500)
    wake.timeout.connect(lambda: None)
    wake.start()
    try:
        code = qapp.exec()
    finally:
        instance.close()
        shell.shutdown()
    log.info("WearSync stopped")
    if shell.restart_requested:
        relaunch()
    return int(code)


def relaunch() -> None:
    """Start a new WearSync with the same arguments; this one is already shut down."""
    import subprocess

    frozen = getattr(sys, "frozen", False)  # PyInstaller: the executable is the app
    command = [sys.executable, *sys.argv[1:]] if frozen else [sys.executable, *sys.argv]
    log.info("starting WearSync again")
    subprocess.Popen(command, close_fds=True, start_new_session=os.name == "posix")
