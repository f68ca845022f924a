"""The Patients page driven as a coordinator would: add, duplicate and invalid IDs, rename one
device type or all, delete with confirmation, undo, and what a viewer may not do."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from services.accounts.actor import HOST, Actor
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui


def codes(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.code for p in page.model.rows]


def service_view(app) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {p.code: p.vendors for p in app.patients.list_patients()}


def open_patients(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("patients")
    page.refresh()
    wait_idle(qtbot, shell)
    return page


def add_via_dialog(qtbot, shell, page, code: str, vendors: list[str]):  # type: ignore[no-untyped-def]
    dlg = page.open_add_dialog()
    dlg.code.setText(code)
    for v in vendors:
        dlg.vendor_boxes[v].setChecked(True)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    return dlg


def test_empty_state_says_what_to_do(qtbot, make_shell) -> None:
    page = open_patients(qtbot, make_shell())
    assert page.stack.currentWidget() is page.empty
    assert "Add patient" in page.empty.text.text()


def test_add_patient(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_patients(qtbot, shell)
    dlg = add_via_dialog(qtbot, shell, page, "P-100", ["fitbit", "polar"])
    assert not dlg.isVisible()
    assert codes(page) == ["P-100"]
    assert page.stack.currentWidget() is page.table
    assert page.detail.code.text() == "P-100"  # the new patient is selected and shown
    assert service_view(shell.app) == {"P-100": ["fitbit", "polar"]}


def test_duplicate_id_shows_inline_error_and_changes_nothing(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.patients.add("P-1", ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    before = service_view(shell.app)
    dlg = add_via_dialog(qtbot, shell, page, "P-1", ["fitbit"])
    assert dlg.isVisible()
    assert dlg.error_label.isVisible()
    assert "already has a Fitbit" in dlg.error_label.text()
    assert shell.dialogs.errors == []  # inline, not a pop-up
    assert service_view(shell.app) == before


@pytest.mark.parametrize(("raw", "expected"), [
    ("   ", "Enter a patient ID"),
    ("A\tB", "control characters"),
    ("X" * 65, "at most 64"),
])
def test_invalid_id_is_refused_inline(qtbot, make_shell, raw: str, expected: str) -> None:
    shell = make_shell()
    page = open_patients(qtbot, shell)
    dlg = add_via_dialog(qtbot, shell, page, raw, ["withings"])
    assert dlg.isVisible()
    assert expected in dlg.error_label.text()
    assert service_view(shell.app) == {}


def test_no_device_type_chosen(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_patients(qtbot, shell)
    dlg = add_via_dialog(qtbot, shell, page, "P-5", [])
    assert "at least one device type" in dlg.error_label.text()
    assert service_view(shell.app) == {}


def test_sql_and_html_looking_ids_are_refused_in_one_sentence(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_patients(qtbot, shell)
    dlg = add_via_dialog(qtbot, shell, page, "<b>x</b>'; DROP TABLE patients;--", ["fitbit"])
    assert dlg.error_label.isVisible()
    assert dlg.error_label.text() == ("A patient ID may contain only letters, digits, '-', '_' and '.' "
                                      "(1 to 64 characters, no spaces), for example P-001.")
    assert service_view(shell.app) == {}


def test_older_ids_outside_the_rule_are_flagged_for_renaming_and_shown_literally(qtbot, make_shell) -> None:
    shell = make_shell()
    add_legacy_patient(shell.app, "<b>x</b>'; DROP")
    shell.app.patients.add("P-1", [], HOST)
    page = open_patients(qtbot, shell)
    assert page.ids_banner.isVisible()
    assert page.ids_banner.text.text().startswith("Please rename these patient IDs: <b>x</b>'; DROP.")
    assert page.ids_banner.text.textFormat() != Qt.TextFormat.RichText
    page.select("<b>x</b>'; DROP")
    assert page.detail.code.text() == "<b>x</b>'; DROP"
    assert page.detail.code.textFormat() == Qt.TextFormat.PlainText
    shell.app.patients.rename("<b>x</b>'; DROP", "P-2", HOST)  # an older ID can still be renamed
    page.refresh()
    wait_idle(qtbot, shell)
    assert not page.ids_banner.isVisible()


def add_legacy_patient(app, code: str) -> None:  # type: ignore[no-untyped-def]
    """A patient ID from before the character rule: written straight into the database."""
    import datetime as dt

    from db.models import Connection, Patient

    with app.db.session() as s:
        p = Patient(code=code, note="", created_at=dt.datetime(2026, 1, 1))
        s.add(p)
        s.flush()
        s.add(Connection(patient_id=p.id, vendor="fitbit", status="not_connected",
                         created_at=dt.datetime(2026, 1, 1), updated_at=dt.datetime(2026, 1, 1)))


def test_rename_all_device_types(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.patients.add("P-1", ["fitbit", "withings"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    dlg = page.open_rename_dialog()
    assert dlg.all_types.isChecked()
    dlg.code.setText("P-2")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert not dlg.isVisible()
    assert service_view(shell.app) == {"P-2": ["fitbit", "withings"]}
    assert codes(page) == ["P-2"]


def test_rename_one_device_type_only(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.patients.add("P-1", ["fitbit", "withings"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    dlg = page.open_rename_dialog()
    dlg.one_type.setChecked(True)
    dlg.vendor.setCurrentIndex(dlg.vendor.findData("withings"))
    dlg.code.setText("P-9")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert service_view(shell.app) == {"P-1": ["fitbit"], "P-9": ["withings"]}
    assert codes(page) == ["P-1", "P-9"]


def test_rename_to_taken_id_is_inline_error(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.patients.add("P-1", ["fitbit"], HOST)
    shell.app.patients.add("P-2", ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    dlg = page.open_rename_dialog()
    dlg.code.setText("P-2")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert dlg.isVisible()
    assert "already in use" in dlg.error_label.text()
    assert service_view(shell.app) == {"P-1": ["fitbit"], "P-2": ["fitbit"]}


def test_delete_asks_with_what_goes_then_deletes(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.patients.add("P-1", ["fitbit", "polar"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    qtbot.mouseClick(page.detail.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    (title, text), = shell.dialogs.confirms
    assert "P-1" in title
    assert "Fitbit, Polar" in text and "downloaded data rows will be deleted" in text
    assert service_view(shell.app) == {}
    assert page.stack.currentWidget() is page.empty


def test_delete_cancelled_keeps_patient(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.dialogs.confirm_answer = False
    shell.app.patients.add("P-1", ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    qtbot.mouseClick(page.detail.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert service_view(shell.app) == {"P-1": ["fitbit"]}


def test_undo_restores_deleted_then_renamed(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.patients.add("P-1", ["withings"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    qtbot.mouseClick(page.detail.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert page.undo_bar.isVisible() and "Delete P-1" in page.undo_bar.text.text()
    qtbot.mouseClick(page.undo_bar.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert service_view(shell.app) == {"P-1": ["withings"]}
    assert codes(page) == ["P-1"]

    page.select("P-1")
    dlg = page.open_rename_dialog()
    dlg.code.setText("P-7")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "Rename P-1 → P-7" in page.undo_bar.text.text()
    qtbot.mouseClick(page.undo_bar.button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert service_view(shell.app) == {"P-1": ["withings"]}


def test_search_filters_and_says_when_nothing_matches(qtbot, make_shell) -> None:
    shell = make_shell()
    for code in ("P-1", "P-2", "Q-3"):
        shell.app.patients.add(code, ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    page.search.setText("p-")
    assert codes(page) == ["P-1", "P-2"]
    page.search.setText("zzz")
    assert page.stack.currentWidget() is page.no_match


def test_viewer_sees_add_and_delete_disabled(qtbot, make_shell) -> None:
    shell = make_shell(actor=Actor("vera", "viewer", "gui"))
    shell.app.patients.add("P-1", ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    assert not page.add_button.isEnabled()
    assert "viewer" in page.add_button.toolTip()
    assert not page.detail.rename_button.isEnabled()
    assert not page.detail.delete_button.isEnabled()
    assert page.open_add_dialog() is None


def test_coordinator_may_add_but_not_delete(qtbot, make_shell) -> None:
    shell = make_shell(actor=Actor("cora", "coordinator", "gui"))
    shell.app.patients.add("P-1", ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    assert page.add_button.isEnabled()
    assert page.detail.rename_button.isEnabled()
    assert not page.detail.delete_button.isEnabled()


def test_actor_is_recorded_in_the_audit_trail(qtbot, make_shell) -> None:
    from sqlalchemy import select

    from db.models import AuditEntry

    shell = make_shell()
    page = open_patients(qtbot, shell)
    add_via_dialog(qtbot, shell, page, "P-100", ["fitbit"])
    with shell.app.db.session() as s:
        entry = s.scalars(select(AuditEntry)).all()[-1]
    assert entry.action == "patient.add"
    assert (entry.actor, entry.source) == ("admin.anna", "gui")  # the signed-in user


def test_undo_bar_and_confirmation_show_html_looking_ids_literally(qtbot, make_shell) -> None:
    shell = make_shell()
    add_legacy_patient(shell.app, "<b>x</b>")
    page = open_patients(qtbot, shell)
    page.select("<b>x</b>")
    qtbot.mouseClick(page.detail.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "<b>x</b>" in shell.dialogs.confirms[0][1]
    assert page.undo_bar.text.textFormat() == Qt.TextFormat.PlainText
    assert "Delete <b>x</b>" in page.undo_bar.text.text()


def test_rename_undo_is_not_offered_again_after_a_restart(qtbot, make_shell) -> None:
    """Undo for a rename belongs to the window it was made in; after a restart (a new window, minutes
    later) it is gone. A deleted patient's Undo stays: it is the only way back."""
    shell = make_shell()
    shell.app.patients.add("P-1", ["withings"], HOST)
    shell.app.patients.add("P-2", ["fitbit"], HOST)
    page = open_patients(qtbot, shell)
    page.select("P-1")
    dlg = page.open_rename_dialog()
    dlg.code.setText("P-7")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert page.undo_bar.isVisible() and "Rename P-1 → P-7" in page.undo_bar.text.text()

    shell.app.clock.advance(minutes=5)  # quit, start again
    again = open_patients(qtbot, make_shell())
    assert not again.undo_bar.isVisible()

    again.select("P-2")
    qtbot.mouseClick(again.detail.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    shell.app.clock.advance(minutes=5)
    third = open_patients(qtbot, make_shell())
    assert third.undo_bar.isVisible() and "Delete P-2" in third.undo_bar.text.text()
