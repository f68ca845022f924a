"""The PDF report drawn by gui/report_pdf.py and the Data page's "Report…" button: A4 pages, the
header, the per-day table (each day's step total as stored), page breaks with "Page n of N", no
file left behind when drawing fails, and a saved report shown with its path and a Copy button."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from gui import report_pdf
from gui.pages.data.report_saved import LocationDialog
from gui.report_pdf import render_pdf
from services.accounts.actor import Actor
from tests.gui.charts.helpers import FIRST, LAST, in_range, local_points
from tests.gui.conftest import wait_idle

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is missing")


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]


def day_steps(app: Any, code: str, first: dt.date, last: dt.date) -> dict[dt.date, int]:
    out: dict[dt.date, int] = {}
    for x, n in in_range(local_points(app, code, "step_intervals", "start_utc", cols="t.steps"), first, last):
        day = (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=x)).date()
        out[day] = out.get(day, 0) + n
    return out


@needs_poppler
def test_report_holds_header_charts_and_each_days_steps(chart_app: Any, qtbot: Any, tmp_path: Path) -> None:
    data = chart_app.reports.build("C-AKL", FIRST, LAST)
    out = tmp_path / "report.pdf"
    render_pdf(data, out)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".pdf", ".tmp")) == ["report.pdf"]
    text = pdf_text(out)
    assert "Patient C-AKL" in text
    assert "30 Oct 2026 to 02 Nov 2026 (4 days" in text
    assert "Fitbit, Withings" in text
    for title in ("Heart rate (bpm)", "Steps per hour", "Sleep per night"):
        assert title in text
    steps = day_steps(chart_app, "C-AKL", FIRST, LAST)
    assert len(steps) == 4
    for day, total in steps.items():
        line = next(line for line in text.splitlines() if day.strftime("%a %d %b %Y") in line)
        assert f"{total:,}" in line, (day, total, line)
    assert "Page 1 of 1" in text
    assert pdf_pages(out) == 1


@needs_poppler
def test_long_ranges_break_pages_and_number_them(chart_app: Any, qtbot: Any, tmp_path: Path) -> None:
    last = FIRST + dt.timedelta(days=89)
    data = chart_app.reports.build("C-LA", FIRST, last)
    out = tmp_path / "long.pdf"
    render_pdf(data, out)
    pages = pdf_pages(out)
    assert pages == len(report_pdf.layout_pages(90)) and pages >= 3
    text = pdf_text(out)
    for n in range(1, pages + 1):
        assert f"Page {n} of {pages}" in text
    for i in range(90):  # every day has its row, none lost at a page break
        day = FIRST + dt.timedelta(days=i)
        assert text.count(day.strftime("%a %d %b %Y")) == 1, day


def test_a_failure_while_drawing_leaves_no_file(chart_app: Any, qtbot: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    data = chart_app.reports.build("C-AKL", FIRST, LAST)

    def broken(self: Any, top: float) -> float:
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(report_pdf.ReportPainter, "steps_chart", broken)
    out = tmp_path / "broken.pdf"
    with pytest.raises(RuntimeError):
        render_pdf(data, out)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith((".pdf", ".tmp"))] == []


def test_report_button_saves_and_shows_the_path_with_copy(chart_app: Any, qtbot: Any, make_shell: Any,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shell = make_shell()
    page = shell.window.show_page("data")
    qtbot.waitUntil(lambda: page.patient.count() == 2, timeout=10_000)
    wait_idle(qtbot, shell)
    page.patient.setCurrentIndex(page.patient.findText("C-LA"))
    page._set_dates(FIRST, LAST)
    target = tmp_path / "saved" / "C-LA.pdf"
    target.parent.mkdir()
    asked: list[Path] = []

    def ask(suggested: Path) -> Path:
        asked.append(suggested)
        return target

    monkeypatch.setattr(page, "ask_report_path", ask)
    opened: list[str] = []
    monkeypatch.setattr(LocationDialog, "opener", staticmethod(lambda where: opened.append(where) or False))
    assert page.report_button.isEnabled()
    page.report_button.click()
    qtbot.waitUntil(lambda: getattr(page, "last_dialog", None) is not None, timeout=20_000)
    wait_idle(qtbot, shell)
    dlg = page.last_dialog
    assert target.is_file() and target.read_bytes().startswith(b"%PDF")
    assert asked[0].name == "WearSync report C-LA 2026-10-30 to 2026-11-02.pdf"
    assert dlg.field.text() == str(target)
    dlg.copy_button.click()
    assert QGuiApplication.clipboard().text() == str(target)
    # no file manager on this computer: the folder's path is shown to copy instead of nothing happening
    dlg.open_buttons["Open the folder"].click()
    assert opened == [str(target.parent)]
    assert dlg.field.text() == str(target.parent)
    assert dlg.note.isVisibleTo(dlg) and "Copy the location" in dlg.note.text()
    dlg.close()


def test_viewer_sees_the_charts_but_may_not_save_reports(chart_app: Any, qtbot: Any, make_shell: Any) -> None:
    shell = make_shell(actor=Actor("vera.viewer", "viewer", "gui"))
    page = shell.window.show_page("data")
    qtbot.waitUntil(lambda: page.view is not None and not page.drawing, timeout=10_000)
    wait_idle(qtbot, shell)
    assert page.hr.plot.isVisibleTo(page) or page.hr.empty.isVisibleTo(page)
    assert not page.report_button.isEnabled()
    assert "viewer" in page.report_button.toolTip()


def test_a_folder_that_cannot_be_written_says_so_inline(chart_app: Any, qtbot: Any, make_shell: Any,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shell = make_shell()
    page = shell.window.show_page("data")
    qtbot.waitUntil(lambda: page.patient.count() == 2, timeout=10_000)
    wait_idle(qtbot, shell)
    page.patient.setCurrentIndex(page.patient.findText("C-AKL"))
    page._set_dates(FIRST, LAST)
    missing = tmp_path / "no such folder" / "r.pdf"
    monkeypatch.setattr(page, "ask_report_path", lambda _suggested: missing)
    page.report_button.click()
    qtbot.waitUntil(lambda: page.banner.isVisibleTo(page), timeout=20_000)
    wait_idle(qtbot, shell)
    assert page.banner.text.text() == (f"WearSync could not save the report in {missing.parent}. "
                                       "Choose another folder.")
    assert not missing.parent.exists()
    assert page.report_button.isEnabled()


def test_opening_goes_through_the_shared_desktop_seam(qtbot: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gui import widgets

    asked: list[str] = []
    monkeypatch.setattr(widgets, "desktop_open", lambda url: asked.append(url.toLocalFile()) or False,
                        raising=False)
    dlg = LocationDialog("Report saved", "The report is saved here:", str(tmp_path / "r.pdf"),
                         [("Open the report", str(tmp_path / "r.pdf"))])
    qtbot.addWidget(dlg)
    assert dlg.open_buttons["Open the report"].isEnabled()
    dlg.open_buttons["Open the report"].click()
    assert asked == [str(tmp_path / "r.pdf")]
    assert dlg.note.isVisibleTo(dlg) and "No program on this computer opened it" in dlg.note.text()


def test_a_period_without_data_says_so_and_writes_nothing(chart_app: Any, qtbot: Any, make_shell: Any,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shell = make_shell()
    page = shell.window.show_page("data")
    qtbot.waitUntil(lambda: page.patient.count() == 2 and page.view is not None and not page.drawing,
                    timeout=10_000)
    wait_idle(qtbot, shell)
    page.patient.setCurrentIndex(page.patient.findText("C-AKL"))
    page._set_dates(dt.date(2026, 9, 1), dt.date(2026, 9, 7))
    out = tmp_path / "empty.pdf"
    monkeypatch.setattr(page, "ask_report_path", lambda _suggested: out)
    page.report_button.click()
    qtbot.waitUntil(lambda: page.banner.isVisibleTo(page) and "no data" in page.banner.text.text(), timeout=20_000)
    wait_idle(qtbot, shell)
    assert page.banner.text.text() == ("Patient 'C-AKL' has no data between 2026-09-01 and 2026-09-07. "
                                       "Choose another period.")
    assert not out.exists() and list(tmp_path.glob("*.pdf")) == []
