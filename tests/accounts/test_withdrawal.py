"""Consent withdrawal: every connected vendor is revoked, tokens are forgotten, data deleted or kept."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from db.models import Connection, Device, EnrolmentLink, HeartRateSample, Patient
from services.accounts.actor import HOST, Actor
from services.errors import NotFound, PermissionDenied, WearSyncError
from services.patients.withdrawal import WithdrawalIncomplete, withdraw_patient


class FakeRevoke:
    """Records each call; `fail` maps a vendor to the error its revoke raises."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail or {}

    def __call__(self, code: str, vendor: str) -> None:
        self.calls.append((code, vendor))
        if vendor in self.fail:
            raise self.fail[vendor]


def _enrol(app, code: str = "P-001") -> None:
    """A patient connected at Fitbit and Polar (with tokens and data), Withings not yet connected."""
    app.patients.add(code, ["fitbit", "withings", "polar"], HOST)
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        for c in s.scalars(select(Connection).where(Connection.patient_id == pid)):
            if c.vendor in ("fitbit", "polar"):
                c.status, c.token_ciphertext, c.vendor_user_id = "connected", b"\x01opaque", f"{c.vendor}-user"
                c.token_expires_at = app.clock.utcnow() + dt.timedelta(hours=1)
                c.scopes_granted = "heart_rate sleep"
        for i in range(10):
            s.add(HeartRateSample(patient_id=pid, vendor="fitbit", kind="sample",
                                  ts_utc=dt.datetime(2026, 11, 1, 8) + dt.timedelta(minutes=i),
                                  utc_offset_s=3600, local_date=dt.date(2026, 11, 1), bpm=60 + i))
        now = app.clock.utcnow()
        s.add(Device(patient_id=pid, vendor="polar", external_id="H10-1", first_seen_utc=now, last_seen_utc=now))
        s.add(EnrolmentLink(token_hash=code.ljust(64, "0"), patient_code=code, vendor="withings", created_at=now,
                            expires_at=now + dt.timedelta(days=1), patient_id=pid))


def _connections(app, code: str) -> dict[str, Connection]:
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        return {c.vendor: c for c in s.scalars(select(Connection).where(Connection.patient_id == pid))}


def _count(app, model) -> int:
    with app.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_withdraw_and_keep_the_data(app) -> None:
    _enrol(app)
    revoke = FakeRevoke()
    result = withdraw_patient(app, "P-001", HOST, keep_data=True, revoke=revoke)
    assert sorted(revoke.calls) == [("P-001", "fitbit"), ("P-001", "polar")]
    assert sorted(result.revoked) == ["fitbit", "polar"] and not result.data_deleted
    conns = _connections(app, "P-001")
    for vendor in ("fitbit", "polar"):
        c = conns[vendor]
        assert (c.status, c.token_ciphertext, c.vendor_user_id, c.token_expires_at) == ("withdrawn", None, None, None)
    assert _count(app, HeartRateSample) == 10 and _count(app, Device) == 1
    with app.db.session() as s:  # a link already sent cannot reconnect them
        assert s.scalars(select(EnrolmentLink.voided_at)).one() is not None
    [entry] = [e for e in app.audit.entries() if e.action == "patient.withdraw"]
    assert (entry.actor, entry.target) == ("host", "P-001")
    assert "data kept" in entry.detail and "fitbit" in entry.detail and "polar" in entry.detail
    # nothing left to revoke the second time
    again = FakeRevoke()
    withdraw_patient(app, "P-001", HOST, keep_data=True, revoke=again)
    assert again.calls == []


def test_withdraw_and_delete_everything_at_once(app) -> None:
    _enrol(app)
    _enrol(app, "P-002")
    result = withdraw_patient(app, "P-001", HOST, keep_data=False, revoke=FakeRevoke())
    assert result.data_deleted and result.rows_deleted == 11
    assert not app.patients.exists("P-001")
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient).where(Patient.code == "P-001")) == 0
    assert _count(app, HeartRateSample) == 10  # P-002's rows only
    assert app.patients.undoable() == []  # no undo: the patient asked for deletion
    [entry] = [e for e in app.audit.entries() if e.action == "patient.withdraw"]
    assert "data deleted (11 rows)" in entry.detail


def test_a_vendor_failure_stops_before_deleting(app) -> None:
    _enrol(app)
    revoke = FakeRevoke(fail={"polar": WearSyncError("Polar did not answer (timeout).")})
    with pytest.raises(WithdrawalIncomplete, match="Polar") as e:
        withdraw_patient(app, "P-001", HOST, keep_data=False, revoke=revoke)
    assert e.value.failed == {"polar": "Polar did not answer (timeout)."}
    conns = _connections(app, "P-001")
    assert conns["fitbit"].status == "withdrawn"  # Fitbit confirmed: its grant is gone already
    assert conns["polar"].status == "connected" and conns["polar"].token_ciphertext is not None
    assert _count(app, HeartRateSample) == 10 and app.patients.exists("P-001")
    assert any(x.action == "patient.withdraw_failed" for x in app.audit.entries())
    # retry: only Polar is called again; force finishes without it and says so
    retry = FakeRevoke(fail={"polar": RuntimeError("still down")})
    result = withdraw_patient(app, "P-001", HOST, keep_data=False, revoke=retry, force=True)
    assert retry.calls == [("P-001", "polar")]
    assert result.not_revoked == {"polar": "RuntimeError"} and result.data_deleted
    assert "ask the patient to remove WearSync" in result.describe()


def test_withdrawal_needs_the_delete_permission_and_a_patient(app) -> None:
    _enrol(app)
    revoke = FakeRevoke()
    for role in ("coordinator", "viewer"):
        with pytest.raises(PermissionDenied):
            withdraw_patient(app, "P-001", Actor("someone", role, "gui"), keep_data=False, revoke=revoke)
    assert revoke.calls == [] and _connections(app, "P-001")["fitbit"].status == "connected"
    with pytest.raises(NotFound):
        withdraw_patient(app, "P-404", HOST, keep_data=True, revoke=revoke)
