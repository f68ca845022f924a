"""Issue 14: what a first-time coordinator tripped over, each checked the way they met it."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.gui.conftest import wait_idle
from tests.gui.shells import home_shell  # noqa: F401 - fixture
from tests.gui.test_tunnel_page import ngrok, tunnel_page  # noqa: F401 - fixture


# -- 1. a failed tunnel start stays visible until the next attempt -------------------------------
def test_tunnel_failure_stays_on_the_page_and_in_the_tray(qtbot, home_shell, ngrok) -> None:  # noqa: F811
    from gui.tray import Tray

    shell = home_shell()
    shell.app.settings.set("ngrok_path", str(ngrok))  # a program, but no authtoken
    tray = Tray(shell.ctx)
    page = tunnel_page(qtbot, shell)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.error.isVisible(), timeout=10_000)
    wait_idle(qtbot, shell)
    assert "authtoken" in page.error.text.text()
    assert "authtoken" in tray.icon.toolTip()

    # the polls that follow report "stopped"; the reason must not vanish with them
    for _ in range(3):
        shell.ctx.tunnel.refresh()
        wait_idle(qtbot, shell)
        qtbot.wait(50)
    assert shell.ctx.tunnel.status.state != "up"
    assert page.error.isVisible()
    assert "authtoken" in page.error.text.text()
    assert "authtoken" in tray.icon.toolTip()

    # the next attempt clears it (and shows its own outcome)
    shell.ctx.tunnel.last_error = None
    shell.ctx.tunnel.error_changed.emit(None)
    assert not page.error.isVisible()
    assert "authtoken" not in tray.icon.toolTip()
    tray.hide()
