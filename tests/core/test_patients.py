"""Patient rules from the seed: unique per device type, shared across types, rename one/all, undo."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.models import HeartRateSample, Patient
from db.upsert import upsert
from services.accounts.actor import HOST, Actor
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied


def _add_hr(app, code: str, vendor: str, n: int) -> None:
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code, Patient.deleted_at.is_(None)))
        rows = [{"patient_id": pid, "vendor": vendor, "kind": "sample",
                 "ts_utc": dt.datetime(2026, 11, 1) + dt.timedelta(minutes=i), "utc_offset_s": 0,
                 "local_date": dt.date(2026, 11, 1), "bpm": 60} for i in range(n)]
        upsert(s, HeartRateSample, rows, ["patient_id", "vendor", "kind", "ts_utc"])


def _hr_count(app, code: str, vendor: str) -> int:
    with app.db.session() as s:
        return s.scalar(
            select(func.count()).select_from(HeartRateSample).join(Patient, Patient.id == HeartRateSample.patient_id)
            .where(Patient.code == code, HeartRateSample.vendor == vendor)
        ) or 0


def test_same_id_allowed_across_device_types_not_within(app) -> None:
    app.patients.add("P-001", ["fitbit"], HOST)
    app.patients.add("P-001", ["withings"], HOST)
    assert app.patients.get("P-001").vendors == ["fitbit", "withings"]
    with pytest.raises(Conflict, match="already has a Fitbit"):
        app.patients.add("P-001", ["fitbit"], HOST)
    app.patients.add("P-002", [], HOST)
    with pytest.raises(Conflict, match="already exists"):
        app.patients.add("P-002", [], HOST)
    assert [p.code for p in app.patients.list_patients()] == ["P-001", "P-002"]


@pytest.mark.parametrize("bad, message", [
    ("", "Enter a patient ID"),
    ("   ", "Enter a patient ID"),
    ("x" * 65, "at most 64"),
    ("P\n1", "control"),
    ("P\t1", "control"),
    ("P\u200b1", "control"),
])
def test_invalid_ids_are_refused_and_change_nothing(app, bad: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        app.patients.add(bad, ["fitbit"], HOST)
    assert app.patients.list_patients() == []


RULE = ("A patient ID may contain only letters, digits, '-', '_' and '.' (1 to 64 characters, no spaces), "
        "for example P-001.")


@pytest.mark.parametrize("code", ["Robert'); DROP TABLE patients;--", "<script>alert(1)</script>", "ünïcode-患者",
                                  "P\\'x", "P 1", "P/1", "P%1", "P@1"])
def test_ids_outside_letters_digits_dash_underscore_dot_are_refused_and_change_nothing(app, code: str) -> None:
    app.patients.add("P-1", ["fitbit"], HOST)
    before = app.patients.list_patients()
    trail = len(app.audit.entries())
    with pytest.raises(InvalidInput) as err:
        app.patients.add(code, ["polar"], HOST)
    assert err.value.message == RULE
    with pytest.raises(InvalidInput, match="may contain only"):
        app.patients.rename("P-1", code, HOST)
    with pytest.raises(InvalidInput, match="may contain only"):
        app.patients.rename("P-1", code, HOST, vendor="fitbit")
    with pytest.raises(InvalidInput, match="may contain only"):
        app.patients.ensure(code, "fitbit", HOST)  # what connect and enrolment links create patients with
    assert app.patients.list_patients() == before and len(app.audit.entries()) == trail


def test_every_allowed_character_and_64_of_them_are_accepted(app) -> None:
    app.patients.add("Az09-_.", [], HOST)
    app.patients.add("x" * 64, [], HOST)
    assert sorted(p.code for p in app.patients.list_patients()) == sorted(["Az09-_.", "x" * 64])


def test_older_ids_outside_the_rule_are_flagged_at_start_and_can_be_renamed(app, caplog) -> None:
    from services.app import WearSync

    with app.db.session() as s:  # made before the rule
        s.add(Patient(code="Zoë 03", note="", created_at=dt.datetime(2026, 1, 1)))
    app.patients.add("P-1", [], HOST)
    caplog.set_level("INFO")
    again = WearSync.open(app.environ)
    try:
        assert again.codes_to_rename == ["Zoë 03"]
        assert "1 patient ID(s) use characters other than" in caplog.text
        assert "Zoë 03" not in caplog.text  # how many, never which
        again.patients.add("Zoë 03", ["withings"], HOST)  # an older ID still gets devices, and a new ID
        again.patients.rename("Zoë 03", "P-3", HOST)
        assert again.patients.codes_to_rename() == []
    finally:
        again.close()


def test_rename_all_and_undo(app) -> None:
    app.patients.add("A", ["fitbit", "withings"], HOST)
    _add_hr(app, "A", "fitbit", 5)
    app.patients.rename("A", "B", HOST)
    assert [p.code for p in app.patients.list_patients()] == ["B"]
    assert _hr_count(app, "B", "fitbit") == 5
    assert app.patients.undo(HOST) == "Rename A → B"
    assert [p.code for p in app.patients.list_patients()] == ["A"]
    assert _hr_count(app, "A", "fitbit") == 5


def test_rename_one_device_type_moves_only_its_data(app) -> None:
    app.patients.add("A", ["fitbit", "withings"], HOST)
    _add_hr(app, "A", "fitbit", 4)
    _add_hr(app, "A", "withings", 3)
    app.patients.rename("A", "B", HOST, vendor="withings")
    got = {p.code: p.vendors for p in app.patients.list_patients()}
    assert got == {"A": ["fitbit"], "B": ["withings"]}
    assert _hr_count(app, "A", "fitbit") == 4 and _hr_count(app, "B", "withings") == 3
    app.patients.undo(HOST)
    assert {p.code: p.vendors for p in app.patients.list_patients()} == {"A": ["fitbit", "withings"]}
    assert _hr_count(app, "A", "withings") == 3


def test_rename_conflicts_change_nothing(app) -> None:
    app.patients.add("A", ["fitbit"], HOST)
    app.patients.add("B", ["fitbit"], HOST)
    with pytest.raises(Conflict):
        app.patients.rename("A", "B", HOST)
    with pytest.raises(Conflict):
        app.patients.rename("A", "B", HOST, vendor="fitbit")
    with pytest.raises(NotFound):
        app.patients.rename("A", "C", HOST, vendor="polar")
    with pytest.raises(NotFound):
        app.patients.rename("nobody", "C", HOST)
    assert {p.code: p.vendors for p in app.patients.list_patients()} == {"A": ["fitbit"], "B": ["fitbit"]}
    with pytest.raises(NotFound):
        app.patients.undo(HOST)


def test_delete_says_how_much_goes_hides_at_once_and_undo_restores(app) -> None:
    app.patients.add("A", ["fitbit"], HOST)
    _add_hr(app, "A", "fitbit", 7)
    preview = app.patients.preview_delete("A")
    assert preview.total_rows == 7 and "7 downloaded data rows" in preview.describe()
    app.patients.delete("A", HOST)
    assert app.patients.list_patients() == []
    app.patients.undo(HOST)
    assert _hr_count(app, "A", "fitbit") == 7


def test_delete_purges_data_after_the_undo_window(app) -> None:
    app.patients.add("A", ["fitbit"], HOST)
    _add_hr(app, "A", "fitbit", 7)
    app.patients.delete("A", HOST)
    assert app.patients.purge_deleted(now=app.clock.utcnow()) == 0
    later = app.clock.utcnow() + dt.timedelta(days=2)
    assert app.patients.purge_deleted(now=later) == 1
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(HeartRateSample)) == 0
    with pytest.raises(NotFound):
        app.patients.undo(HOST)


def test_re_adding_a_deleted_id_starts_fresh(app) -> None:
    app.patients.add("A", ["fitbit"], HOST)
    _add_hr(app, "A", "fitbit", 3)
    app.patients.delete("A", HOST)
    app.patients.add("A", ["polar"], HOST)
    assert app.patients.get("A").vendors == ["polar"]
    assert _hr_count(app, "A", "fitbit") == 0


def test_viewer_cannot_change_patients(app) -> None:
    viewer = Actor("val", "viewer", "gui")
    with pytest.raises(PermissionDenied, match="viewer"):
        app.patients.add("A", [], viewer)
    coordinator = Actor("cora", "coordinator", "gui")
    app.patients.add("A", [], coordinator)
    with pytest.raises(PermissionDenied):
        app.patients.delete("A", coordinator)


def test_changes_are_audited(app) -> None:
    app.patients.add("A", ["fitbit"], HOST)
    app.patients.rename("A", "B", HOST)
    app.patients.delete("B", HOST)
    app.patients.undo(HOST)
    actions = [(e.actor, e.source, e.action) for e in app.audit.entries()]
    assert actions == [("host", "cli", "patient.add"), ("host", "cli", "patient.rename"),
                       ("host", "cli", "patient.delete"), ("host", "cli", "patient.undo")]
