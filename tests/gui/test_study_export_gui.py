"""Export for a study from the Patients page (issue 11): the chosen patients × kinds of data land in the
chosen folder or ZIP with a manifest, bad input is said next to its field and writes nothing, the place is
asked starting in the user's Documents folder, and the result offers Open folder and Copy path."""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QGuiApplication

from services.accounts.actor import Actor
from services.data.study_export import MANIFEST
from tests.gui.conftest import wait_idle
from tests.support.wearsync_data import populate

pytestmark = pytest.mark.gui


class Places:
    """Stands in for the file dialog: answers `path`, remembers what it was asked."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.asked: list[tuple[str, bool]] = []

    def __call__(self, _parent: Any, suggested: str, as_zip: bool) -> str | None:
        self.asked.append((suggested, as_zip))
        return str(self.path) if self.path else None


def open_dialog(qtbot, shell, place: Places):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.ask_study_place = place
    assert page.study_button.isEnabled()
    qtbot.mouseClick(page.study_button, Qt.MouseButton.LeftButton)
    dlg = page.study_dialog
    assert dlg.isVisible()
    return page, dlg


def tick(lst, values: set[str]) -> None:  # type: ignore[no-untyped-def]
    for i in range(lst.count()):
        item = lst.item(i)
        if item.data(Qt.ItemDataRole.UserRole) in values:
            item.setCheckState(Qt.CheckState.Checked)


def last_days(dlg, pop) -> None:  # type: ignore[no-untyped-def]
    """The days of the invented data, from the app's clock (the suite also runs on a moved date)."""
    first = pop.now.date() - dt.timedelta(days=4)
    dlg.start.setDate(QDate(first.year, first.month, first.day))
    dlg.end.setDate(QDate(pop.now.year, pop.now.month, pop.now.day))


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_the_selection_is_written_with_its_manifest(qtbot, make_shell, sqlite_app, tmp_path, monkeypatch,
                                                    as_zip: bool) -> None:
    import gui.widgets as widgets

    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    target = tmp_path / ("study.zip" if as_zip else "study")
    place = Places(target)
    shell = make_shell()
    _page, dlg = open_dialog(qtbot, shell, place)
    tick(dlg.patient_list, {"P001", "P002"})
    tick(dlg.metric_list, {"heart_rate", "sleep"})
    last_days(dlg, pop)
    (dlg.as_zip if as_zip else dlg.as_folder).setChecked(True)
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert place.asked and place.asked[0][1] is as_zip
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=15_000)
    # P001 wears Fitbit and Withings, P002 Fitbit and Polar: one file per patient, device type and metric
    expected = {f"{p}_{v}_{m}.csv" for p, vs in (("P001", ("fitbit", "withings")), ("P002", ("fitbit", "polar")))
                for v in vs for m in ("heart_rate", "sleep")}
    if as_zip:
        with zipfile.ZipFile(target) as z:
            names = set(z.namelist())
            manifest = list(csv.DictReader(z.read(MANIFEST).decode().splitlines()))
    else:
        names = {p.name for p in target.iterdir()}
        manifest = list(csv.DictReader((target / MANIFEST).read_text().splitlines()))
    assert names == expected | {MANIFEST}
    assert {r["file"] for r in manifest} == expected
    rows = sum(int(r["rows"]) for r in manifest)
    assert rows > 0
    text = dlg.done_bar.text.text()
    assert dlg.done_bar.isVisible() and f"Exported {len(expected)} files ({rows:,} rows)" in text
    assert str(target) in text and dlg.done_bar.button.text() == "Open folder"
    assert dlg.export_button.isEnabled() and not dlg.progress.isVisible()

    # Open folder: the folder of the export; when no file manager answers, its path with Copy
    opened: list[str] = []
    monkeypatch.setattr(widgets, "desktop_open", lambda url: opened.append(url.toLocalFile()) or False)
    qtbot.mouseClick(dlg.done_bar.button, Qt.MouseButton.LeftButton)
    folder = str(tmp_path if as_zip else target)
    assert opened == [folder]
    assert dlg.copy_dialog is not None and dlg.copy_dialog.field.text() == folder
    dlg.copy_dialog.close()
    qtbot.mouseClick(dlg.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == str(target) and dlg.copied.text() == "Copied."


def test_bad_input_is_said_next_to_its_field_and_writes_nothing(qtbot, make_shell, sqlite_app, tmp_path) -> None:
    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    place = Places(tmp_path / "out" / "study")
    (tmp_path / "out").mkdir()
    shell = make_shell()
    _page, dlg = open_dialog(qtbot, shell, place)
    dlg.patient_list.set_checked(set())  # the patient selected on the page came ticked
    last_days(dlg, pop)

    # nothing chosen: both lists say so, no file dialog
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert dlg.patients_error.isVisible() and "at least one patient" in dlg.patients_error.text()
    assert dlg.metrics_error.isVisible() and "at least one kind of data" in dlg.metrics_error.text()
    assert place.asked == []
    # select all fixes the first; the message goes when the field changes
    dlg.patient_list.all_box.setChecked(True)
    assert len(dlg.patient_list.checked()) == 3 and not dlg.patients_error.isVisible()
    tick(dlg.metric_list, {"steps"})
    assert dlg.metric_list.checked() == ["steps"]

    # reversed dates
    start, end = dlg.start.date(), dlg.end.date()
    dlg.start.setDate(end)
    dlg.end.setDate(start)
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert dlg.dates_error.isVisible() and "Swap" in dlg.dates_error.text() and place.asked == []
    dlg.start.setDate(start)
    dlg.end.setDate(end)

    # a place that cannot be written: the service's reason beside the place, nothing written
    place.path = tmp_path / "no-such-folder" / "study"
    qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.place_error.isVisible(), timeout=10_000)
    assert "does not exist" in dlg.place_error.text() and dlg.result_ is None
    assert not (tmp_path / "no-such-folder").exists() and list((tmp_path / "out").iterdir()) == []
    assert not any(e.action == "export.study" for e in sqlite_app.audit.entries())
    assert dlg.export_button.isEnabled()


def test_the_place_is_asked_in_documents(qtbot, make_shell, sqlite_app, tmp_path, monkeypatch) -> None:
    import platformdirs
    from PySide6.QtWidgets import QFileDialog

    home = tmp_path / "user"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))  # no user-dirs.dirs: the usual ~/Documents
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    documents = Path(platformdirs.user_documents_dir())
    assert documents == home / "Documents"
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda _p, _t, where, _f: (asked.append(where) or ("", ""))))
    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    shell = make_shell()
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    dlg = page.open_study_export()  # the real file dialog's seam, not a stand-in
    tick(dlg.patient_list, {"P001"})
    tick(dlg.metric_list, {"steps"})
    last_days(dlg, pop)
    for radio in (dlg.as_folder, dlg.as_zip):
        radio.setChecked(True)
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert [Path(a).parent for a in asked] == [documents, documents]
    assert Path(asked[0]).name.startswith("wearsync-study_") and asked[1].endswith(".zip")
    assert dlg.result_ is None and list(documents.iterdir()) == []  # cancelled: nothing written


def test_the_selected_patient_is_ticked_and_a_viewer_cannot_export(qtbot, make_shell, sqlite_app) -> None:
    populate(sqlite_app.db, sqlite_app.clock.utcnow())
    shell = make_shell()
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select("P002")
    dlg = page.open_study_export()
    assert dlg.patient_list.checked() == ["P002"] and not dlg.patient_list.all_box.isChecked()
    viewer = make_shell(actor=Actor("vic", "viewer", "gui"))
    vpage = viewer.window.show_page("patients")
    wait_idle(qtbot, viewer)
    assert not vpage.study_button.isEnabled() and "Your role (viewer)" in vpage.study_button.toolTip()
    assert vpage.open_study_export() is None


def test_both_dialogs_fit_1024x640_with_nothing_clipped(qtbot, make_shell, sqlite_app, tmp_path) -> None:
    """With the real look, in a 1024×640 window: every label and button whole, each dialog inside the screen.
    Set DELGUI_SHOTS=<folder> to keep the pictures for a look."""
    import os

    from PySide6.QtWidgets import QApplication

    from gui import theme
    from tests.gui.test_delete_data_gui import choose, days_of
    from tests.gui.test_usability import clipped

    pop = populate(sqlite_app.db, sqlite_app.clock.utcnow())
    shots = Path(os.environ.get("DELGUI_SHOTS") or tmp_path)
    app = QApplication.instance()
    before = app.styleSheet()
    theme.apply(app)
    try:
        shell = make_shell()
        shell.window.resize(1024, 640)
        page = shell.window.show_page("patients")
        wait_idle(qtbot, shell)
        page.select("P001")
        wait_idle(qtbot, shell)
        qtbot.wait(200)
        # the new buttons whole (the device list above them is the panel's own business)
        mine = [p for p in clipped(page) if any(n in p for n in ("deleteDataOpen", "withdrawButton", "studyExportOpen",
                                                                  "addPatientButton", "patientSearch"))]
        assert mine == []
        page.grab().save(str(shots / "delgui-patients.png"))
        delete = page.open_delete_data_dialog()
        start, end = days_of(pop)
        choose(qtbot, delete, "withings", None, start, end)  # the longest count: several tables
        delete.start.setDate(QDate(end.year, end.month, end.day).addDays(1))  # and the dates' message
        qtbot.wait(100)
        problems = {"delete": clipped(delete)}
        assert delete.height() <= 640 and delete.dates_error.isVisible()
        delete.grab().save(str(shots / "delgui-delete.png"))
        choose(qtbot, delete, "withings", None, start, end)
        qtbot.wait(100)
        problems["delete preview"] = clipped(delete)
        assert delete.height() <= 640
        delete.grab().save(str(shots / "delgui-delete-preview.png"))
        delete.reject()
        study = page.open_study_export()
        qtbot.mouseClick(study.export_button, Qt.MouseButton.LeftButton)  # nothing ticked: the messages
        study.patient_list.set_checked({"P001"})
        qtbot.wait(100)
        problems["study"] = clipped(study)
        assert study.height() <= 640
        study.grab().save(str(shots / "delgui-study.png"))
        study.done_bar.show_message("Exported 12 files (123,456 rows) and manifest.csv to "
                                    f"{tmp_path / 'Documents' / 'wearsync-study_2026-11-01_2026-11-30'}.", "info",
                                    "Open folder")
        study.copy_button.show()
        qtbot.wait(100)
        problems["study done"] = clipped(study)
        assert study.height() <= 640
        study.grab().save(str(shots / "delgui-study-done.png"))
        assert problems == {"delete": [], "delete preview": [], "study": [], "study done": []}
    finally:
        app.setStyleSheet(before)
