"""The Compliance page: every cell's colour and mark match the valid-day rule computed here from the
stored heart-rate rows (Auckland and Los Angeles, far from the host's zone), the summary column says
"valid days / days", the worst patient comes first, and clicking a day opens it on the Data page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from PySide6.QtCore import Qt

from gui.pages.compliance.page import CELL_ROLE, CELL_STYLE, WEAR_ROLE
from tests.gui.charts.helpers import FIRST, LAST, in_range, local_points
from tests.gui.conftest import wait_idle

DAYS = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def fitbit_wear(app: Any, code: str) -> dict[dt.date, int]:
    """Distinct patient-local minutes holding at least one Fitbit heart-rate sample, per local day."""
    pts = in_range(local_points(app, code, "heart_rate_samples", "ts_utc",
                                "AND t.vendor = 'fitbit' AND t.bpm > 0"), FIRST, LAST)
    minutes: dict[dt.date, set[int]] = {}
    for (x,) in pts:
        day = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=x)).date()
        minutes.setdefault(day, set()).add(int(x // 60))
    return {d: len(minutes.get(d, set())) for d in DAYS}


def open_grid(qtbot: Any, make_shell: Any, threshold: int | None = None) -> tuple[Any, Any]:
    shell = make_shell()
    if threshold is not None:
        shell.ctx.app.settings.set("valid_day_minutes", threshold)
    page = shell.window.show_page("compliance")
    wait_idle(qtbot, shell)
    page.vendor.setCurrentIndex(page.vendor.findData("fitbit"))
    page._set_dates(FIRST, LAST)
    page.reload()
    qtbot.waitUntil(lambda: page.grid is not None and page.grid.start == FIRST and page.grid.end == LAST,
                    timeout=10_000)
    wait_idle(qtbot, shell)
    return shell, page


def test_cells_follow_the_valid_day_rule_and_the_worst_patient_comes_first(
        chart_app: Any, qtbot: Any, make_shell: Any) -> None:
    wear = {code: fitbit_wear(chart_app, code) for code in ("C-AKL", "C-LA")}
    # a threshold between the patients' daily wear, so both states appear
    every = sorted(m for w in wear.values() for m in w.values() if m)
    threshold = every[len(every) // 2]
    _shell, page = open_grid(qtbot, make_shell, threshold)
    table = page.table
    valid = {code: sum(1 for d in DAYS if w[d] >= threshold) for code, w in wear.items()}
    order = sorted(valid, key=lambda c: (valid[c], c))
    assert [table.item(r, 0).text() for r in range(table.rowCount())] == order
    states_seen = set()
    for r, code in enumerate(order):
        assert table.item(r, 1).text() == f"{valid[code]} / {len(DAYS)}"
        for c, day in enumerate(DAYS, start=2):
            item = table.item(r, c)
            minutes = wear[code][day]
            state = "valid" if minutes >= threshold else ("short" if minutes else "none")
            states_seen.add(state)
            bg, _fg, mark, _words = CELL_STYLE[state]
            assert item.data(CELL_ROLE) == (code, day, state), (code, day, minutes)
            assert item.background().color().name() == bg
            assert item.text() == mark  # readable without colour
            assert item.data(WEAR_ROLE) == ("" if not minutes else f"{minutes // 60}h" if minutes >= 60
                                            else f"{minutes}m")
            assert f"{minutes // 60} h {minutes % 60:02d} min" in item.toolTip() or minutes < 60
    assert {"valid", "short"} <= states_seen
    assert "at least" in page.rule.text() and str(threshold) in page.rule.text()


def test_clicking_a_day_opens_it_on_the_data_page(chart_app: Any, qtbot: Any, make_shell: Any) -> None:
    shell, page = open_grid(qtbot, make_shell)
    table = page.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "C-LA")
    day = DAYS[2]
    rect = table.visualItemRect(table.item(row, 2 + 2))
    assert shell.window.built_page("data") is None  # built by the click (pages are built on first visit)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    data = shell.window.current_page()
    assert data.key == "data"
    qtbot.waitUntil(lambda: data.view is not None and data.view.request.patient == "C-LA"
                    and data.view.request.start == day and not data.drawing, timeout=10_000)
    wait_idle(qtbot, shell)  # nothing left in flight when the window closes
    assert (data.view.request.start, data.view.request.end) == (day, day)
    assert data.patient.currentText() == "C-LA"


@pytest.mark.parametrize("vendor", ["withings", "polar"])
def test_other_device_types_list_only_their_patients(chart_app: Any, qtbot: Any, make_shell: Any,
                                                      vendor: str) -> None:
    shell, page = open_grid(qtbot, make_shell)
    page.vendor.setCurrentIndex(page.vendor.findData(vendor))
    qtbot.waitUntil(lambda: page.grid is not None and page.grid.vendor == vendor, timeout=10_000)
    wait_idle(qtbot, shell)
    expected = {"withings": ["C-AKL"], "polar": ["C-LA"]}[vendor]
    assert [page.table.item(r, 0).text() for r in range(page.table.rowCount())] == expected
