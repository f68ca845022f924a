"""Settings → General: "Start WearSync when I sign in" shows the real state, changes it on a worker thread,
records who changed it, and says in plain words when the change failed (the box then shows what is true)."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

from services.autostart import AutostartStatus
from services.autostart.linux import XdgAutostart
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui


class RecordingWriter(XdgAutostart):
    """The real Linux writer on a temporary folder, noting the thread of every call."""

    threads: list[threading.Thread] = []

    def enable(self, command: list[str]) -> AutostartStatus:
        self.threads.append(threading.current_thread())
        return super().enable(command)

    def disable(self) -> bool:
        self.threads.append(threading.current_thread())
        return super().disable()


class ReadOnlyFolder(XdgAutostart):
    """A folder this user may not write to (tests run as root, so the refusal is made here)."""

    def enable(self, command: list[str]) -> AutostartStatus:
        raise PermissionError(errno.EACCES, "Permission denied", str(self.folder))


def open_general(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: page.general.autostart_state is not None, timeout=5000)
    return page.general


def test_toggle_reflects_and_changes_the_real_entry(qtbot, make_shell, tmp_path: Path) -> None:
    folder = tmp_path / "autostart"
    RecordingWriter.threads = []
    XdgAutostart(folder).enable(["/opt/wearsync/wearsync", "--minimized"])  # already on before the page opens
    shell = make_shell()
    shell.ctx.autostart = lambda: RecordingWriter(folder)
    box = open_general(qtbot, shell)
    assert box.autostart.isChecked() and box.autostart.isEnabled()
    assert "starts in the tray" in box.autostart_note.text()

    box.autostart.click()  # as a mouse click or Space does
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: box.autostart.isEnabled(), timeout=5000)
    assert not (folder / "wearsync.desktop").exists()
    assert not box.autostart.isChecked() and "does not start by itself" in box.autostart_note.text()

    box.autostart.click()  # as a mouse click or Space does
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: box.autostart.isEnabled(), timeout=5000)
    assert (folder / "wearsync.desktop").exists() and box.autostart.isChecked()
    assert RecordingWriter.threads and all(t is not threading.main_thread() for t in RecordingWriter.threads)
    done = [(e.actor, e.action) for e in shell.app.audit.entries()]
    assert ("admin.anna", "autostart.disabled") in done and ("admin.anna", "autostart.enabled") in done


def test_failed_change_is_said_plainly_and_the_box_shows_the_truth(qtbot, make_shell, tmp_path: Path) -> None:
    shell = make_shell()
    shell.ctx.autostart = lambda: ReadOnlyFolder(tmp_path / "autostart")
    box = open_general(qtbot, shell)
    assert not box.autostart.isChecked()

    box.autostart.click()  # as a mouse click or Space does
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: box.autostart_error.isVisible(), timeout=5000)
    text = box.autostart_error.text()
    assert "could not turn on starting when you sign in" in text and "Traceback" not in text
    assert not box.autostart.isChecked()  # it is not on, whatever was clicked
    assert not shell.dialogs.errors


def test_viewer_cannot_change_it(qtbot, make_shell, tmp_path: Path) -> None:
    from services.accounts.actor import Actor

    shell = make_shell(actor=Actor("vera", "viewer", "gui"))
    shell.ctx.autostart = lambda: XdgAutostart(tmp_path / "autostart")
    box = open_general(qtbot, shell)
    assert not box.autostart.isEnabled()
