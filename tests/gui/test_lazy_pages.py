"""Pages are built on their first visit (issue 15): a started window has not imported the chart
libraries (pyqtgraph, numpy) until the Data page opens, and the Data page opens however it is asked
for — the navigation list, its Ctrl+number shortcut, or another page calling `ctx.navigate`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from gui.pages import PAGES, PageRef
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
CHART_LIBRARIES = ("pyqtgraph", "numpy")
# loaded on the first vendor call, tunnel start or Grafana provisioning, never to show the window
NETWORK_LIBRARIES = ("requests", "oauthlib", "requests_oauthlib", "urllib3", "pyngrok", "yaml")


def test_each_line_of_the_pages_list_names_its_page() -> None:
    refs = [entry for entry in PAGES if isinstance(entry, PageRef)]
    assert refs, "the pages list names pages by module so the window can import them on first visit"
    for ref in refs:
        cls = ref.load()
        assert (cls.key, cls.title, cls.icon) == (ref.key, ref.title, ref.icon), ref.module


def test_a_started_window_has_not_imported_the_chart_or_network_libraries(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "import gui.application\n"
        "from gui.shell import Shell\n"
        "from services.app import WearSync\n"
        "qapp = QApplication([])\n"
        "app = WearSync.open()\n"
        "shell = Shell(app, tray_available=False)\n"
        "shell.show_window()\n"
        "qapp.processEvents()\n"
        "shell.window.pages['patients']\n"  # what signing in opens
        f"loaded = lambda: sorted(m for m in sys.modules if m.split('.')[0] in {CHART_LIBRARIES!r})\n"
        "print('started', loaded())\n"
        f"print('network', sorted(m for m in sys.modules if m.split('.')[0] in {NETWORK_LIBRARIES!r}))\n"
        "shell.window.nav.setCurrentRow(1)\n"
        "print('opened', type(shell.window.current_page()).__name__, bool(loaded()))\n"
        "shell.shutdown()\n"
    )
    env = {**os.environ, "WEARSYNC_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    env.pop("WEARSYNC_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(("started", "network", "opened"))]
    assert lines == ["started []", "network []", "opened DataPage True"], done.stdout[-2000:]


def _data_key_row(window: Any) -> int:
    return next(i for i in range(window.nav.count())
                if window.nav.item(i).data(Qt.ItemDataRole.UserRole) == "data")


def test_only_the_first_page_is_built_at_start(qtbot: Any, make_shell: Any) -> None:
    window = make_shell().window
    assert window.current_page().key == "patients"
    assert [key for key in window.pages if window.built_page(key) is not None] == ["patients"]
    assert list(window.pages) == [entry.key for entry in PAGES]  # every page listed, in order
    assert window.nav.count() == len(PAGES) == window.stack.count()


def test_the_data_page_opens_from_the_navigation_list(qtbot: Any, make_shell: Any) -> None:
    shell = make_shell()
    window = shell.window
    window.nav.setCurrentRow(_data_key_row(window))
    page = window.current_page()
    assert page.key == "data" and window.built_page("data") is page and page.isVisible()
    assert window.stack.count() == len(PAGES)  # the placeholder gave way to the page
    wait_idle(qtbot, shell)


def test_the_data_page_opens_from_its_shortcut(qtbot: Any, make_shell: Any) -> None:
    shell = make_shell()
    window = shell.window
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    number = _data_key_row(window) + 1
    qtbot.keyClick(window, getattr(Qt.Key, f"Key_{number}"), Qt.KeyboardModifier.ControlModifier)
    page = window.current_page()
    assert page.key == "data" and page.isVisible()
    assert window.nav.currentItem().data(Qt.ItemDataRole.UserRole) == "data"
    wait_idle(qtbot, shell)


def test_the_data_page_opens_when_another_page_navigates_to_it(qtbot: Any, make_shell: Any) -> None:
    shell = make_shell()
    window = shell.window
    page = shell.ctx.navigate("data")  # what the compliance grid's click does
    assert page is window.current_page() is window.pages["data"]
    assert page.key == "data" and page.isVisible()
    assert window.nav.currentItem().data(Qt.ItemDataRole.UserRole) == "data"
    wait_idle(qtbot, shell)


def test_asking_for_a_page_builds_it_once_without_showing_it(qtbot: Any, make_shell: Any) -> None:
    shell = make_shell()
    window = shell.window
    settings = window.pages["settings"]
    assert window.pages["settings"] is settings is window.built_page("settings")
    assert window.current_page().key == "patients" and not settings.isVisible()
    assert window.show_page("settings") is settings and settings.isVisible()
    wait_idle(qtbot, shell)


def test_building_a_page_in_the_shown_window_opens_no_other_window(qtbot: Any, make_shell: Any) -> None:
    """A page is now built while the window is on screen: a widget it shows before it has a parent would
    flash up as a window of its own and take the focus from the main window."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QWidget

    class WindowsShown(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Show and isinstance(obj, QWidget) and obj.isWindow():
                self.seen.append(f"{type(obj).__name__} {obj.objectName()}")
            return False

    shell = make_shell()
    window = shell.window
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    spy = WindowsShown()
    qapp = QApplication.instance()
    assert qapp is not None
    qapp.installEventFilter(spy)
    try:
        for key in window.pages:
            window.show_page(key)
    finally:
        qapp.removeEventFilter(spy)
    assert spy.seen == []
    assert window.isActiveWindow()
    wait_idle(qtbot, shell)


def test_the_flow_is_attached_after_the_window_and_the_notifier_hears_it(qtbot: Any, make_shell: Any) -> None:
    """The scheduler (daily download, catch-up, alert digest) is built on the worker once the window is
    up (`Shell.start(flow=True)`, what run_gui does), and the window's alert notifier listens to it."""
    import socket

    from gui.application import open_facade

    opened = open_facade(sandbox=False)  # what run_gui has before it builds the window
    try:
        assert opened.app.scheduler is None
    finally:
        opened.app.close()
    shell = make_shell()
    app = shell.app
    with socket.socket() as probe:  # a free port for the callback listener
        probe.bind(("127.0.0.1", 0))
        app.environ["WEARSYNC_CALLBACK_PORT"] = str(probe.getsockname()[1])
    assert app.scheduler is None
    started: list[bool] = []
    shell.ctx.events.background_started.connect(lambda: started.append(True))
    try:
        shell.start(flow=True)
        qtbot.waitUntil(lambda: started == [True], timeout=20_000)
        assert app.scheduler is not None
        assert app.scheduler.listeners.count(shell.flow.on_event) == 1
        jobs = app.scheduler._scheduler  # the start's one-off catch-up has run before stopping
        qtbot.waitUntil(lambda: jobs.get_job("catch-up") is None, timeout=10_000)
    finally:
        app.stop_background(timeout=5)


def test_behind_the_sign_in_screen_no_page_is_built(qtbot: Any, make_shell: Any) -> None:
    from tests.gui.conftest import account_for

    shell = make_shell(signed_in=False)
    window = shell.window
    assert shell.gate.gated
    assert [key for key in window.pages if window.built_page(key) is not None] == []
    shell.gate.enter(account_for(shell.app, None))  # what a successful sign-in does
    page = window.current_page()
    assert page.key == "patients" and page.isVisible()
    assert window.nav.currentItem().data(Qt.ItemDataRole.UserRole) == "patients"
    wait_idle(qtbot, shell)
