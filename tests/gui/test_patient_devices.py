"""The patient page shows Withings devices like Fitbit's (issue 13): the mat's name, battery and
last sync, from a real sync against the sandbox; a mat that has not synced for days is flagged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel, QWidget

from tests.connect.conftest import _wire, connect
from tests.devices.conftest import noon_today, sandbox_on
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui


def device_lines(page: Any, vendor: str) -> list[tuple[str, str]]:
    """The device lines of the vendor's box on the side panel now (a box being replaced is skipped)."""
    boxes = [b for b in page.detail.findChildren(QWidget, f"connection_{vendor}") if b.isVisible()]
    return [(lbl.text(), str(lbl.property("role"))) for box in boxes for lbl in box.findChildren(QLabel)
            if "battery" in lbl.text() or "synced" in lbl.text()]


def test_the_patient_page_shows_the_withings_mat_with_battery_and_last_sync(qtbot: Any, make_shell: Any,
                                                                            sqlite_app: Any) -> None:
    app = sqlite_app
    now = noon_today(app)
    with sandbox_on(app) as srv:
        _wire(app, srv)
        srv.set_device_sync("withings", "emil", now - dt.timedelta(hours=5))
        srv.set_device_sync("withings", "fatma", now - dt.timedelta(days=5, hours=2))
        srv.user("withings", "fatma").battery_level = 20  # type: ignore[union-attr]
        for code, user in (("W-1", "emil"), ("W-2", "fatma")):
            assert connect(app, srv, code, "withings", user).ok
            assert app.sync.sync_connection(app.connections.connection_id(code, "withings")).ok
    shell = make_shell()
    page = shell.window.show_page("patients")
    page.refresh()
    wait_idle(qtbot, shell)

    page.select("W-1")
    mat = [("Sleep Analyzer · battery high · synced 5 h ago", "muted")]
    qtbot.waitUntil(lambda: page.detail.code.text() == "W-1" and device_lines(page, "withings") == mat)

    page.select("W-2")
    # not synced for 5 days, battery low: shown as needing attention, like a Fitbit watch
    stale = [("Sleep Analyzer · battery low · synced 5 days ago", "error")]
    qtbot.waitUntil(lambda: page.detail.code.text() == "W-2" and device_lines(page, "withings") == stale)
