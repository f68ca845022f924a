"""Settings → "What patients see": the clinic's name, contact and logo, saved all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from services.connect.patient_pages import Clinic, render, simple
from tests.gui.conftest import wait_idle
from tests.patient_pages.conftest import logo_png

pytestmark = pytest.mark.gui


def open_clinic_box(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    return page.clinic


def test_clinic_identity_is_saved_and_reaches_the_patient_pages(qtbot, make_shell, tmp_path: Path) -> None:
    shell = make_shell()
    box = open_clinic_box(qtbot, shell)
    logo = tmp_path / "logo.png"
    logo.write_bytes(logo_png(32))
    box.pick_file = lambda: str(logo)
    box.fields["clinic_name"].setText("  Riverside   Sleep Clinic ")
    box.fields["clinic_contact"].setText("030 1234 5678")
    qtbot.mouseClick(box.choose_button, Qt.MouseButton.LeftButton)
    assert box.fields["clinic_logo"].text() == str(logo)
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert box.error.isHidden() and box.saved.text().startswith("Saved")
    settings = shell.app.settings
    assert settings.get("clinic_name") == "Riverside Sleep Clinic"  # spaces tidied
    assert settings.get("clinic_logo") == str(logo.resolve())
    clinic = shell.app.connections.clinic()
    page = render(simple(clinic, "root"), clinic).decode()
    assert "Riverside Sleep Clinic" in page and "030 1234 5678" in page and 'src="/clinic-logo"' in page
    assert [e.action for e in shell.app.audit.entries()].count("setting.changed") == 3


@pytest.mark.parametrize(("logo", "words"), [("notes.txt", "PNG or JPEG"), ("missing.png", "no file"),
                                             ("huge.png", "larger than 512 KB")])
def test_a_bad_logo_changes_nothing(qtbot, make_shell, tmp_path: Path, logo: str, words: str) -> None:
    shell = make_shell()
    box = open_clinic_box(qtbot, shell)
    path = tmp_path / logo
    if logo != "missing.png":
        path.write_bytes(b"x" * (600 * 1024 if logo == "huge.png" else 10))
    box.fields["clinic_name"].setText("Riverside Sleep Clinic")
    box.fields["clinic_logo"].setText(str(path))
    qtbot.mouseClick(box.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert not box.error.isHidden() and words in box.error.text()
    assert "\n" not in box.error.text() and "Traceback" not in box.error.text()  # one plain sentence or two
    assert shell.app.settings.get("clinic_name") == "" and shell.app.settings.get("clinic_logo") == ""


def test_viewer_cannot_change_what_patients_see(qtbot, make_shell) -> None:
    from services.accounts.actor import Actor

    shell = make_shell(actor=Actor("vera", "viewer", "gui"))
    box = open_clinic_box(qtbot, shell)
    assert not box.save_button.isEnabled() and not box.fields["clinic_name"].isEnabled()


def test_no_clinic_name_reads_the_clinic() -> None:
    page = render(simple(Clinic(), "notfound"), Clinic()).decode()
    assert "the clinic" in page and "<img" not in page
