"""No silent outage, in the window: days older than the catch-up limit show on the Sync page as a
warning per connection whose Backfill button opens the Backfill dialog on exactly those days; the
dialog warns when Polar no longer keeps the first days; the limit is on Settings → General and a bad
value is refused with nothing saved."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from PySide6.QtCore import Qt

from gui.pages.sync.backfill_dialog import BackfillDialog, Prefill, pydate, qdate
from tests.flow.conftest import add_connection, days, write_coverage
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui
D = dt.timedelta


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 12, 0)


def test_a_gap_beyond_the_limit_is_a_warning_whose_backfill_opens_on_those_days(qtbot: Any, make_shell: Any,
                                                                                sqlite_app: Any) -> None:
    today = sqlite_app.clock.today()  # the app's clock: the page reads the same one
    gap = add_connection(sqlite_app, "P003", "withings", connected_at=noon(today - D(days=80)))
    write_coverage(sqlite_app, gap, days(today - D(days=80), today - D(days=41)), data_type="sleep")
    write_coverage(sqlite_app, gap, days(today - D(days=30), today - D(days=1)), data_type="sleep")  # the catch-up
    whole = add_connection(sqlite_app, "P004", "fitbit", connected_at=noon(today - D(days=80)))
    write_coverage(sqlite_app, whole, days(today - D(days=80), today - D(days=1)))

    shell = make_shell()
    page = shell.window.show_page("sync")
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: len(page.gap_banners) == 1 and page.gap_box.isVisible())
    [banner] = page.gap_banners
    first, last = today - D(days=40), today - D(days=31)
    assert banner.text.text() == (f"P003 Withings: 10 days ({first:%d %b %Y} to {last:%d %b %Y}) were not downloaded, "
                                  "for example while WearSync was off; the daily download fetches at most the last "
                                  "31 days. Backfill the rest.")
    assert banner.button.isVisible() and banner.button.text() == "Backfill…" and banner.button.isEnabled()

    qtbot.mouseClick(banner.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(page, "backfill_dialog", None) is not None)
    dialog = page.backfill_dialog
    assert pydate(dialog.start.date()) == first and pydate(dialog.end.date()) == last
    assert dialog.vendor.currentData() == "withings" and not dialog.all_patients.isChecked()
    qtbot.waitUntil(lambda: dialog.chosen_patients() == ["P003"])
    qtbot.waitUntil(lambda: dialog.estimate.text().startswith("Estimate:"), timeout=5000)
    assert "1 patient device, 10 days" in dialog.estimate.text() and dialog.start_button.isEnabled()
    assert not dialog.history_warning.isVisible()
    dialog.close()

    # once those days are downloaded, the warning goes
    write_coverage(sqlite_app, gap, days(first, last), data_type="sleep")
    page.refresh()
    qtbot.waitUntil(lambda: not page.gap_box.isVisible() and page.gap_banners == [])
    wait_idle(qtbot, shell)


def test_the_backfill_dialog_warns_when_polar_no_longer_keeps_the_first_days(qtbot: Any, make_shell: Any,
                                                                             sqlite_app: Any) -> None:
    today = sqlite_app.clock.today()
    add_connection(sqlite_app, "P-POLAR", "polar", connected_at=noon(today - D(days=90)))
    shell = make_shell()
    wait_idle(qtbot, shell)
    dialog = BackfillDialog(shell.ctx, shell.window, prefill=Prefill("P-POLAR", "polar", today - D(days=40),
                                                                     today - D(days=1)))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.history_warning.isVisible(), timeout=5000)
    oldest = today - D(days=29)
    assert dialog.history_warning.text() == (f"Polar keeps only the last 30 days: the days before {oldest:%d %b %Y} "
                                             "cannot be downloaded from Polar any more.")
    assert dialog.estimate.text().startswith("Estimate: 1 patient device, 40 days")
    dialog.start.setDate(qdate(oldest))
    qtbot.waitUntil(lambda: dialog.estimate.text().startswith("Estimate: 1 patient device, 29 days"), timeout=5000)
    assert not dialog.history_warning.isVisible()
    wait_idle(qtbot, shell)


def test_the_limit_is_on_the_settings_page_and_a_bad_value_saves_nothing(qtbot: Any, make_shell: Any,
                                                                         sqlite_app: Any) -> None:
    shell = make_shell()
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    fields = page.general.fields
    qtbot.waitUntil(lambda: fields["catchup_max_days"].value() == 31)
    assert "backfill any older days" in fields["catchup_max_days"].toolTip()
    for bad in (0, 1000):
        fields["lookback_days"].setValue(6)
        fields["catchup_max_days"].setValue(bad)
        qtbot.mouseClick(page.general.save_button, Qt.MouseButton.LeftButton)
        wait_idle(qtbot, shell)
        qtbot.waitUntil(lambda: page.general.error.isVisible())
        assert f"between 1 and 365 days, not {bad}" in page.general.error.text()
        assert sqlite_app.settings.get("catchup_max_days") == 31
        assert sqlite_app.settings.get("lookback_days") == 3, "the other change of the same Save is not kept"
    fields["catchup_max_days"].setValue(60)
    qtbot.mouseClick(page.general.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: sqlite_app.settings.get("catchup_max_days") == 60)
    assert sqlite_app.settings.get("lookback_days") == 6
