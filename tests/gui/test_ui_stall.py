"""Nothing slow on the UI thread while a download runs (issue 15): the Log page does not re-read
the log file for every line a sync writes, and the GUI process is set up so the background threads
do not hold the UI thread back (the garbage collector's full passes, the GIL's switch interval)."""

from __future__ import annotations

import dataclasses
import gc
import sys
from pathlib import Path

import pytest

import gui.pages.log as logmod
from gui.pages.log import RELOAD_MS, LogPage


def _write_lines(path: Path, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"2026-11-30 10:00:00,{i:03d} INFO    services.sync.service: chunk {i} stored\n")


@pytest.fixture
def log_page(qtbot, make_shell, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "wearsync.log"
    _write_lines(path, 1)
    shell = make_shell()
    page = LogPage(dataclasses.replace(shell.ctx, log_path=path))
    qtbot.addWidget(page)
    reads: list[Path] = []
    real = logmod.read_tail

    def counting(p: Path, limit: int = logmod.TAIL_BYTES) -> str:
        reads.append(p)
        return real(p, limit)

    monkeypatch.setattr(logmod, "read_tail", counting)
    page.reads = reads  # type: ignore[attr-defined]
    page.path_ = path  # type: ignore[attr-defined]
    return page


def test_hidden_log_page_does_not_read_the_log_while_a_sync_writes(qtbot, log_page) -> None:  # type: ignore[no-untyped-def]
    path = log_page.path_
    for burst in range(4):  # a sync writes a few lines, again and again
        _write_lines(path, 5, start=10 * burst)
        qtbot.wait(RELOAD_MS // 2)
    qtbot.wait(RELOAD_MS * 2)
    assert log_page.reads == []
    log_page.show()  # shown: the page reads what came meanwhile
    log_page.shown()
    assert len(log_page.reads) == 1
    assert "chunk 34 stored" in log_page.view.toPlainText()


def test_shown_log_page_reads_a_burst_of_lines_once(qtbot, log_page) -> None:  # type: ignore[no-untyped-def]
    log_page.show()
    log_page.shown()
    log_page.reads.clear()
    for i in range(20):  # one line at a time, as the logging handler flushes them
        _write_lines(log_page.path_, 1, start=100 + i)
        qtbot.wait(5)
    qtbot.waitUntil(lambda: "chunk 119 stored" in log_page.view.toPlainText(), timeout=5_000)
    qtbot.wait(RELOAD_MS * 2)
    assert 1 <= len(log_page.reads) <= 2, log_page.reads


class _FakeShell:
    """Stands in for gui.shell.Shell in run_gui: records the process state when the background
    work would start (the scheduler, the sandbox download)."""

    made: list[_FakeShell] = []

    def __init__(self, app, **_kw) -> None:  # type: ignore[no-untyped-def]
        from PySide6.QtWidgets import QMainWindow

        self.window = QMainWindow()
        self.restart_requested = False
        self.frozen_at_build = gc.get_freeze_count()
        self.at_start: tuple[int, float, int] | None = None
        _FakeShell.made.append(self)

    def show_window(self) -> None:
        self.window.show()

    def start(self, start_tunnel: bool = False, flow: bool = False) -> None:
        self.at_start = (gc.get_freeze_count(), sys.getswitchinterval(), gc.get_threshold()[0])

    def quit(self) -> None:
        pass

    def shutdown(self) -> None:
        self.window.close()


def test_run_gui_tunes_the_collector_and_the_gil_before_background_work(
        qapp, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import signal
    from types import SimpleNamespace

    from PySide6.QtWidgets import QApplication

    import gui.application as appmod
    import gui.shell

    class Crash:
        log_path = None
        on_quit = None

        def install(self) -> None:
            pass

        def connect_ui(self) -> None:
            pass

    class Instance:
        raise_requested = SimpleNamespace(connect=lambda _f: None)

        def __init__(self, _name: str) -> None:
            pass

        def notify_running(self) -> bool:
            return False

        def listen(self) -> None:
            pass

        def close(self) -> None:
            pass

    monkeypatch.setenv("WEARSYNC_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(appmod, "CrashHandler", Crash)
    monkeypatch.setattr(appmod, "SingleInstance", Instance)
    monkeypatch.setattr(appmod, "setup_logging", lambda _d: tmp_path / "wearsync.log")
    monkeypatch.setattr(appmod.theme, "apply", lambda _q: None)
    monkeypatch.setattr(appmod, "open_with_splash", lambda _s: appmod.Started(object(), "ask", False))
    monkeypatch.setattr(gui.shell, "Shell", _FakeShell)
    monkeypatch.setattr(QApplication, "exec", lambda _self: 0)
    monkeypatch.setattr(signal, "signal", lambda *_a: None)
    quit_on_close = qapp.quitOnLastWindowClosed()
    switch = sys.getswitchinterval()
    frozen = gc.get_freeze_count()
    threshold = gc.get_threshold()
    _FakeShell.made.clear()
    try:
        assert appmod.run_gui() == 0
        shell = _FakeShell.made[-1]
        assert shell.at_start is not None
        objects_frozen, interval, young = shell.at_start
        # start-up's objects (the window's among them) frozen before the background work allocates
        assert objects_frozen > max(frozen, shell.frozen_at_build)
        assert interval == appmod.GIL_SWITCH_S < 0.005
        assert young == appmod.GC_THRESHOLD[0] > 700  # the young generation collected less often
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        sys.setswitchinterval(switch)
        qapp.setQuitOnLastWindowClosed(quit_on_close)
