"""Consent withdrawal against the sandbox: the vendor sees the revoke, data goes or stays as chosen."""

from __future__ import annotations

import datetime as dt

import pytest

from db.models import Connection, HeartRateSample, Patient, SleepSession
from services.accounts.actor import HOST
from services.patients.withdrawal import vendor_revoke, withdraw_patient
from tests.connect.conftest import TODAY, connect, count


def _enrol_and_sync(app, srv) -> None:
    assert connect(app, srv, "P-W", "fitbit", "anna").ok
    assert connect(app, srv, "P-W", "polar", "greta").ok
    start = TODAY - dt.timedelta(days=2)
    for vendor in ("fitbit", "polar"):
        cid = app.connections.connection_id("P-W", vendor)
        assert app.sync.sync_connection(cid, start, TODAY).ok


@pytest.mark.parametrize("keep_data", [True, False])
def test_withdrawal_revokes_at_the_vendor_and_applies_the_retention_choice(lapp, srv, keep_data: bool) -> None:
    _enrol_and_sync(lapp, srv)
    hr_before = count(lapp.db, HeartRateSample)
    assert hr_before > 0
    srv.clear_calls()

    result = withdraw_patient(lapp, "P-W", HOST, keep_data=keep_data, revoke=vendor_revoke(lapp, HOST))

    assert [c.method for c in srv.calls if c.vendor == "fitbit" and c.kind == "revoke"] == ["POST"]
    assert [c.path for c in srv.calls if c.vendor == "polar" and c.method == "DELETE"], "Polar de-registration"
    with lapp.db.session() as s:
        statuses = {c.vendor: (c.status, c.token_ciphertext) for c in s.query(Connection).all()}
    if keep_data:
        assert count(lapp.db, HeartRateSample) == hr_before
        assert {v: st for v, (st, _) in statuses.items()} == {"fitbit": "withdrawn", "polar": "withdrawn"}
        assert all(tok is None for _, tok in statuses.values())
    else:
        assert count(lapp.db, HeartRateSample) == 0 and count(lapp.db, SleepSession) == 0
        assert count(lapp.db, Patient) == 0
    actions = [e.action for e in lapp.audit.entries()]
    assert "patient.withdraw" in actions
    assert sorted(result.revoked) == ["fitbit", "polar"] and not result.not_revoked
    assert result.data_deleted is (not keep_data)
