"""Withdraw patient from the patient panel: a retention choice made now (nothing pre-selected),
a confirmation, vendor access revoked first, data deleted or kept as chosen, and "Finish anyway"
when a vendor cannot be reached."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import Connection, HeartRateSample, Patient
from services.accounts.actor import HOST, Actor
from services.errors import WearSyncError
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui


class FakeConnections:
    """The piece of ConnectionService the withdrawal uses: revoke(code, vendor, actor)."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.fail = fail or set()

    def revoke(self, code: str, vendor: str, actor: Actor) -> None:
        self.calls.append((code, vendor, actor.username))
        if vendor in self.fail:
            raise WearSyncError(f"{vendor} could not be reached")

    def stop_listener(self) -> None:
        return None


def enrol(app) -> None:  # type: ignore[no-untyped-def]
    """P-001 connected at Fitbit and Polar, with a few heart-rate rows."""
    import datetime as dt

    app.patients.add("P-001", ["fitbit", "polar"], HOST)
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == "P-001"))
        for c in s.scalars(select(Connection).where(Connection.patient_id == pid)):
            c.status, c.token_ciphertext, c.vendor_user_id = "connected", b"\x01opaque", f"{c.vendor}-user"
        for i in range(5):
            s.add(HeartRateSample(patient_id=pid, vendor="fitbit", kind="sample",
                                  ts_utc=dt.datetime(2026, 11, 1, 8, i), utc_offset_s=0,
                                  local_date=dt.date(2026, 11, 1), bpm=60 + i))


def open_dialog(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select("P-001")
    assert page.detail.withdraw_button.isVisible() and page.detail.withdraw_button.isEnabled()
    dlg = page.open_withdraw_dialog()
    wait_idle(qtbot, shell)
    return dlg


def count(app, model) -> int:  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("keep", [True, False])
def test_withdraw_keep_or_delete(qtbot, make_shell, sqlite_app, keep: bool) -> None:
    enrol(sqlite_app)
    fake = FakeConnections()
    sqlite_app.connections.revoke = fake.revoke  # the vendor calls are what is faked
    shell = make_shell()
    dlg = open_dialog(qtbot, shell)
    assert "Fitbit, Polar" in dlg.preview.text() and "5 downloaded data rows" in dlg.preview.text()
    # nothing pre-selected: the choice is made now, and confirmed
    assert not dlg.keep_data.isChecked() and not dlg.delete_data.isChecked()
    assert not dlg.withdraw_button.isEnabled()
    (dlg.keep_data if keep else dlg.delete_data).setChecked(True)
    assert not dlg.withdraw_button.isEnabled()
    dlg.confirm.setChecked(True)
    assert dlg.withdraw_button.isEnabled()
    dlg.withdraw_button.click()
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=5000)
    wait_idle(qtbot, shell)
    assert sorted(fake.calls) == [("P-001", "fitbit", "admin.anna"), ("P-001", "polar", "admin.anna")]
    assert "access revoked at Fitbit, Polar" in dlg.status.text()
    assert dlg.close_button.isVisible() and not dlg.withdraw_button.isVisible()
    [entry] = [e for e in sqlite_app.audit.entries() if e.action == "patient.withdraw"]
    assert entry.actor == "admin.anna"
    if keep:
        assert "data is kept" in dlg.status.text()
        assert count(sqlite_app, HeartRateSample) == 5 and "data kept" in entry.detail
        statuses = {c.status for c in sqlite_app.patients.get("P-001").connections}
        assert statuses == {"withdrawn"}
    else:
        assert "5 data rows deleted" in dlg.status.text()
        assert count(sqlite_app, HeartRateSample) == 0 and count(sqlite_app, Patient) == 0
        page = shell.window.pages["patients"]
        qtbot.waitUntil(lambda: not page.model.rows, timeout=5000)


def test_unreachable_vendor_stops_then_finish_anyway(qtbot, make_shell, sqlite_app) -> None:
    enrol(sqlite_app)
    fake = FakeConnections(fail={"polar"})
    sqlite_app.connections.revoke = fake.revoke  # the vendor calls are what is faked
    shell = make_shell()
    dlg = open_dialog(qtbot, shell)
    dlg.delete_data.setChecked(True)
    dlg.confirm.setChecked(True)
    dlg.withdraw_button.click()
    qtbot.waitUntil(lambda: dlg.error.isVisible(), timeout=5000)
    assert "Nothing was deleted" in dlg.error.text() and "Polar" in dlg.error.text()
    assert count(sqlite_app, HeartRateSample) == 5
    assert dlg.force_button.isVisible() and dlg.withdraw_button.text() == "Try again"
    dlg.force_button.click()
    qtbot.waitUntil(lambda: dlg.result_ is not None, timeout=5000)
    assert "Could not revoke at Polar" in dlg.status.text()
    assert count(sqlite_app, HeartRateSample) == 0


def test_coordinator_cannot_open_it(qtbot, make_shell, sqlite_app) -> None:
    enrol(sqlite_app)
    shell = make_shell(actor=Actor("cora", "coordinator", "gui"))
    page = shell.window.show_page("patients")
    wait_idle(qtbot, shell)
    page.select("P-001")
    assert not page.detail.withdraw_button.isEnabled()
    assert page.open_withdraw_dialog() is None
