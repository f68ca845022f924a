"""Delete data of one patient from the Patients page (issue 11): the preview counted off the UI thread is
exactly what the deletion removes, the confirmation names the patient, only administrators reach it, the
"do not download again" tick makes exclusions, and the page's Undo banner restores the same rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from sqlalchemy import func, select

from db.models import HeartRateSample, SyncExclusion
from services.accounts.actor import Actor
from services.data.deletion import Selection
from tests.data_export.test_dataset_deletion import digest
from tests.gui.conftest import wait_idle
from tests.support.wearsync_data import populate

pytestmark = pytest.mark.gui


def days_of(pop: Any) -> tuple[dt.date, dt.date]:
    """Two whole patient-local days inside the invented data (it spans the three days before the app's now)."""
    first = pop.now.date() - dt.timedelta(days=2)
    return first, first + dt.timedelta(days=1)


def qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def heart_rows(app: Any, start: dt.date, end: dt.date) -> int:
    with app.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(HeartRateSample).where(
            HeartRateSample.patient_id == 1, HeartRateSample.vendor == "fitbit",
            HeartRateSample.local_date.between(start, end))) or 0)


def open_for(qtbot, shell, code: str = "P001"):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select(code)
    assert page.detail.delete_data_button.isVisible() and page.detail.delete_data_button.isEnabled()
    qtbot.mouseClick(page.detail.delete_data_button, Qt.MouseButton.LeftButton)
    dlg = page.delete_data_dialog
    assert dlg.isVisible() and dlg.code == code
    return page, dlg


def choose(qtbot, dlg, vendor: str, metric: str | None, start: dt.date | None = None,  # type: ignore[no-untyped-def]
           end: dt.date | None = None) -> Any:
    """Set the fields as a coordinator would and wait for the count of exactly that choice."""
    dlg.vendor_box.setCurrentIndex(dlg.vendor_box.findData(vendor))
    dlg.metric_box.setCurrentIndex(dlg.metric_box.findData(metric))
    dlg.some_days.setChecked(start is not None)
    if start is not None and end is not None:
        dlg.start.setDate(qdate(start))
        dlg.end.setDate(qdate(end))
    want = Selection(dlg.code, vendor, metric, start, end)
    qtbot.waitUntil(lambda: dlg.preview_result is not None and dlg.preview_result.selection == want, timeout=10_000)
    return dlg.preview_result


def test_preview_is_what_goes_and_the_banner_undoes_it(qtbot, make_shell, sqlite_app) -> None:
    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    start, end = days_of(pop)
    expected = heart_rows(sqlite_app, start, end)
    assert expected > 0
    before = digest(sqlite_app)
    shell = make_shell()
    page, dlg = open_for(qtbot, shell)
    preview = choose(qtbot, dlg, "fitbit", "heart_rate", start, end)
    assert preview.rows == {"heart_rate_samples": expected}  # against an independent count
    assert f"{expected:,} heart rate samples" in dlg.preview.text() and "2 days" in dlg.preview.text()
    # the confirmation names the patient, and the button waits for the typed ID
    assert "P001" in dlg.confirm_text.text()
    assert not dlg.delete_button.isEnabled()
    qtbot.keyClicks(dlg.confirm, "P00")
    assert not dlg.delete_button.isEnabled()
    qtbot.keyClicks(dlg.confirm, "1")
    assert dlg.delete_button.isEnabled()
    qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=10_000)
    after = digest(sqlite_app)
    assert before["heart_rate_samples"][0] - after["heart_rate_samples"][0] == expected
    assert heart_rows(sqlite_app, start, end) == 0
    assert all(after[t] == before[t] for t in before if t not in ("heart_rate_samples", "coverage"))
    assert not dlg.isVisible()
    # the service wrote the audit entry, in the signed-in user's name
    [entry] = [e for e in sqlite_app.audit.entries() if e.action == "data.delete"]
    assert entry.actor == "admin.anna" and f"{expected} rows" in entry.detail

    bar = page.data_undo_bar
    qtbot.waitUntil(lambda: bar.isVisible() and bar.button.isVisible(), timeout=5000)
    assert f"Deleted {expected:,} rows" in bar.text.text() and "undo" in bar.text.text()
    wait_idle(qtbot, shell)  # the page's reload keeps offering it
    assert bar.isVisible() and bar.button.text() == "Undo"
    qtbot.mouseClick(bar.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.text.text().startswith("Restored"), timeout=10_000)
    assert f"Restored {expected:,} rows" in bar.text.text() and not bar.button.isVisible()
    assert digest(sqlite_app) == before  # the same rows and coverage, checksums equal
    assert "data.undo_delete" in [e.action for e in sqlite_app.audit.entries()]
    wait_idle(qtbot, shell)
    assert bar.isVisible() and not bar.button.isVisible()  # the reload leaves the result line alone


def test_undo_is_offered_again_after_the_page_reloads(qtbot, make_shell, sqlite_app) -> None:
    """A deletion made elsewhere (or before a restart) inside its window: the page offers its Undo."""
    from services.accounts.actor import HOST

    populate(sqlite_app.db, sqlite_app.clock.utcnow())
    sqlite_app.deletions.delete(Selection("P002", "polar"), HOST)
    shell = make_shell()
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    bar = page.data_undo_bar
    qtbot.waitUntil(lambda: bar.isVisible(), timeout=5000)
    assert "P002" in bar.text.text() and bar.button.text() == "Undo"
    qtbot.mouseClick(bar.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.text.text().startswith("Restored"), timeout=10_000)
    assert sqlite_app.deletions.undoable() is None


@pytest.mark.parametrize("tick", [True, False], ids=["excluded", "may-download-again"])
def test_the_tick_keeps_the_days_from_being_downloaded_again(qtbot, make_shell, sqlite_app, tick: bool) -> None:
    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    start, end = days_of(pop)
    shell = make_shell()
    _page, dlg = open_for(qtbot, shell)
    choose(qtbot, dlg, "fitbit", "steps", start, end)
    dlg.exclude.setChecked(tick)
    qtbot.keyClicks(dlg.confirm, "P001")
    qtbot.mouseClick(dlg.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=10_000)
    with sqlite_app.db.session() as s:
        rows = s.execute(select(SyncExclusion.data_type, SyncExclusion.local_date, SyncExclusion.deletion_id)).all()
    if tick:
        assert {(t, d) for t, d, _ in rows} == {("steps", start), ("steps", end)}
        assert {i for _, _, i in rows} == {dlg.result_.id}
    else:
        assert rows == []


def test_reversed_days_say_so_and_count_nothing(qtbot, make_shell, sqlite_app) -> None:
    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    start, end = days_of(pop)
    shell = make_shell()
    _page, dlg = open_for(qtbot, shell)
    choose(qtbot, dlg, "fitbit", None)
    dlg.some_days.setChecked(True)
    dlg.start.setDate(qdate(end))
    dlg.end.setDate(qdate(start))
    assert dlg.dates_error.isVisible() and "Swap" in dlg.dates_error.text()
    qtbot.keyClicks(dlg.confirm, "P001")
    qtbot.wait(400)  # longer than the count's delay: no count is asked for reversed days
    wait_idle(qtbot, shell)
    assert dlg.preview_result is None and not dlg.delete_button.isEnabled()


@pytest.mark.parametrize("role", ["coordinator", "viewer"])
def test_only_administrators_reach_it(qtbot, make_shell, sqlite_app, role: str) -> None:
    populate(sqlite_app.db, sqlite_app.clock.utcnow())
    shell = make_shell(actor=Actor("cora", role, "gui"))
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select("P001")
    button = page.detail.delete_data_button
    assert button.isVisible() and not button.isEnabled()
    assert f"Your role ({role}) may not" in button.toolTip()
    assert page.open_delete_data_dialog() is None
    assert getattr(page, "delete_data_dialog", None) is None
