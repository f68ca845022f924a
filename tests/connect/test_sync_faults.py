"""Downloads under fire: expired and revoked tokens, quotas, server errors, timeouts, resets,
malformed pages, and a sync killed mid-way — never a gap, never a duplicate, never a loop."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
import requests
from sqlalchemy import delete, select

from db.models import MEASUREMENT_TABLES, Connection, Coverage, SyncRun
from services.connect.oauth.base import TokenSet
from services.sandbox import SandboxServer
from services.vendors.base import AuthExpired, RateLimited, ScopeDenied, VendorRejected, VendorUnavailable
from services.vendors.polar import Polar
from services.vendors.withings import Withings

from .conftest import MEASUREMENTS, connect, table_digest

D1 = dt.date(2026, 11, 20)
D2 = dt.date(2026, 11, 21)


def connected(app: Any, srv: SandboxServer, vendor: str = "fitbit", user: str = "anna", code: str = "P-1") -> int:
    assert connect(app, srv, code, vendor, user).ok
    return int(app.connections.connection_id(code, vendor))


def wipe(app: Any) -> None:
    with app.db.session() as s:
        for model in MEASUREMENT_TABLES:
            s.execute(delete(model))
        s.execute(delete(Coverage))


def clean_digest(app: Any, cid: int, start: dt.date, end: dt.date) -> dict[str, tuple[int, str]]:
    """What a fault-free sync of the same range stores (the tables are wiped and synced again)."""
    wipe(app)
    assert app.sync.sync_connection(cid, start, end).ok
    return table_digest(app.db, MEASUREMENTS)


def token_calls(srv: SandboxServer, vendor: str) -> list[Any]:
    return [c for c in srv.calls if c.vendor == vendor and c.kind == "token"]


def test_expired_access_token_mid_sync_refreshes_once(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv)
    srv.clear_calls()
    srv.inject("fitbit", "401_expired", times=1, path="dataPoints")
    result = lapp.sync.sync_connection(cid, D1, D1)
    assert result.ok, result.summary
    refreshes = token_calls(srv, "fitbit")
    assert len(refreshes) == 1 and refreshes[0].params["grant_type"] == "refresh_token"
    got = table_digest(lapp.db, MEASUREMENTS)
    assert got == clean_digest(lapp, cid, D1, D1)


def test_token_refreshed_before_expiry_and_persisted_before_use(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv, "withings", "emil")
    _, before = lapp.tokens.load(cid)
    # expiring in 4 minutes: inside the 5-minute clock margin, so it is renewed before use
    before.expires_at = lapp.tokens.clock.utcnow() + dt.timedelta(minutes=4)
    lapp.tokens.save(cid, before)
    srv.clear_calls()
    result = lapp.sync.sync_connection(cid, D1, D1)
    assert result.ok, result.summary
    _, after = lapp.tokens.load(cid)
    assert after.refresh_token != before.refresh_token and after.access_token != before.access_token
    assert len(token_calls(srv, "withings")) == 1
    # Withings killed the old refresh token when the new access token was used: only the stored one works
    cid_, secret = srv.client("withings")
    old = requests.post(srv.endpoints("withings")["token_url"], timeout=5, data={
        "action": "requesttoken", "grant_type": "refresh_token", "client_id": cid_, "client_secret": secret,
        "refresh_token": before.refresh_token}).json()
    assert old["status"] != 0


def test_revoked_consent_marks_needs_reconsent_without_looping(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv)
    srv.revoke("fitbit", "anna")
    srv.clear_calls()
    result = lapp.sync.sync_connection(cid, D1, D2)
    assert not result.ok and result.status == "needs_reconsent"
    assert "connect again" in result.errors[0]
    assert len(token_calls(srv, "fitbit")) == 1  # one refresh attempt, refused, no more
    assert len(srv.calls) <= 3
    with lapp.db.session() as s:
        row = s.get(Connection, cid)
        assert row is not None and row.status == "needs_reconsent" and "connect again" in (row.last_error or "")
    srv.clear_calls()
    run = lapp.sync.sync_all()
    assert not run.ok and run.results[0].status == "needs_reconsent"
    assert srv.calls == []  # nothing asked of the vendor until the patient consents again


def test_polar_401_means_reconsent(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv, "polar", "greta")
    srv.expire_access_tokens("polar")
    result = lapp.sync.sync_connection(cid, D1, D1)
    assert result.status == "needs_reconsent"
    assert not token_calls(srv, "polar")[1:]  # only the original code exchange: Polar has no refresh


@pytest.mark.parametrize("vendor,user,fault", [
    ("fitbit", "anna", "429"), ("fitbit", "anna", "503"), ("fitbit", "anna", "500"), ("fitbit", "anna", "reset"),
    ("withings", "emil", "429"), ("withings", "emil", "500"), ("polar", "greta", "429"), ("polar", "greta", "503"),
])
def test_transient_faults_are_retried_without_duplicates_or_loss(lapp: Any, srv: SandboxServer, vendor: str,
                                                                 user: str, fault: str) -> None:
    cid = connected(lapp, srv, vendor, user)
    start, end = (dt.date(2026, 11, 16), dt.date(2026, 11, 16)) if vendor == "polar" else (D1, D1)
    srv.inject(vendor, fault, times=2)
    result = lapp.sync.sync_connection(cid, start, end)
    assert result.ok, result.summary
    waits = list(lapp.sync.sleep)
    assert len(waits) == 2
    if vendor == "polar" and fault == "429":
        assert all(w > 0 for w in waits)  # from RateLimit-Reset, not a guess
    assert table_digest(lapp.db, MEASUREMENTS) == clean_digest(lapp, cid, start, end)


def test_timeouts_are_retried(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv, "withings", "emil")
    lapp.sync.http_timeout = 0.3
    srv.inject("withings", "timeout", times=1, seconds=1.0)
    result = lapp.sync.sync_connection(cid, D1, D1)
    assert result.ok, result.summary
    assert len(lapp.sync.sleep) == 1
    assert table_digest(lapp.db, MEASUREMENTS) == clean_digest(lapp, cid, D1, D1)


def test_persistent_server_errors_fail_the_chunk_and_the_rest_goes_on(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv)
    srv.inject("fitbit", "503", times=5, path="dataTypes/steps")
    result = lapp.sync.sync_connection(cid, D1, D1)
    assert not result.ok and len(lapp.sync.sleep) == 4  # bounded: 4 retries, then give up
    assert any("steps" in e for e in result.errors)
    by_type = {t.data_type: t for t in result.types}
    assert by_type["steps"].days_failed == 1 and by_type["heart_rate"].rows > 0
    with lapp.db.session() as s:
        cov = {(c.data_type, c.status) for c in s.scalars(select(Coverage))}
        assert ("steps", "failed") in cov and ("heart_rate", "complete") in cov
        row = s.get(Connection, cid)
        assert row is not None and row.status == "error" and "steps" in (row.last_error or "")
    # the next run fills the gap
    assert lapp.sync.sync_connection(cid, D1, D1).ok
    assert table_digest(lapp.db, MEASUREMENTS) == clean_digest(lapp, cid, D1, D1)


def test_malformed_page_is_rejected_and_the_rest_kept(sapp: Any, srv: SandboxServer) -> None:
    cid = connected(sapp, srv)
    srv.inject("fitbit", "malformed", times=1, path="dataTypes/heart-rate")
    result = sapp.sync.sync_connection(cid, D1, D1)
    assert not result.ok
    by_type = {t.data_type: t for t in result.types}
    assert by_type["heart_rate"].days_failed == 1 and by_type["heart_rate"].rows == 0
    assert by_type["steps"].rows > 0 and by_type["sleep"].rows > 0
    assert sapp.sync.sync_connection(cid, D1, D1).ok
    assert table_digest(sapp.db, MEASUREMENTS) == clean_digest(sapp, cid, D1, D1)


class Killed(BaseException):
    """Stands for the process dying (power loss, kill -9): nothing in the sync may catch it."""


def test_sync_killed_mid_way_resumes_without_gap_or_duplicate(sapp: Any, srv: SandboxServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from services.vendors.fitbit import Fitbit

    # one-day chunks keep the test small: steps and heart rate take 2 chunks each
    monkeypatch.setattr(Fitbit, "data_types", tuple(replace(t, chunk_days=1) for t in Fitbit.data_types))
    cid = connected(sapp, srv)
    start, end = D1, D2
    done: list[str] = []

    def die_after_three(_cid: int, data_type: str, lo: dt.date, hi: dt.date) -> None:
        done.append(data_type)
        if len(done) == 3:
            raise Killed

    sapp.sync.after_chunk = die_after_three
    with pytest.raises(Killed):
        sapp.sync.sync_connection(cid, start, end)
    with sapp.db.session() as s:
        assert s.scalars(select(SyncRun.status)).all() == ["running"]  # left as evidence of the crash
        ledger = s.execute(select(Coverage.local_date, Coverage.status).where(Coverage.data_type == "heart_rate")
                           .order_by(Coverage.local_date)).tuples().all()
        # the whole first chunk committed, the second not at all: it stays "missing" for the catch-up
        assert ledger == [(D1, "complete"), (D2, "missing")]
    sapp.sync.after_chunk = None
    # the incremental sync starts from the coverage record; the explicit range re-checks it all
    assert sapp.sync.sync_connection(cid, start, end).ok
    assert table_digest(sapp.db, MEASUREMENTS) == clean_digest(sapp, cid, start, end)


def test_withings_status_codes_in_200_bodies() -> None:
    w = Withings({})

    def answer(status: int) -> requests.Response:
        r = requests.Response()
        r.status_code = 200
        r._content = b'{"status": %d, "body": {}, "error": "x"}' % status
        return r

    assert w.check_response(answer(0)) == {}
    for status, err in ((401, AuthExpired), (100, AuthExpired), (601, RateLimited), (522, VendorUnavailable),
                        (214, ScopeDenied), (2555, ScopeDenied), (293, VendorRejected), (503, VendorRejected)):
        with pytest.raises(err):
            w.check_response(answer(status))


def test_polar_rate_limit_reset_header() -> None:
    r = requests.Response()
    r.status_code = 429
    r.headers.update({"RateLimit-Usage": "20, 6000", "RateLimit-Limit": "520, 5100", "RateLimit-Reset": "300, 4000"})
    assert Polar({}).retry_after(r) == 4000  # the 24-hour window is the one used up
    with pytest.raises(RateLimited) as info:
        Polar({}).check_response(r)
    assert info.value.wait_s == 4000


def test_rate_limit_beyond_the_longest_wait_stops_for_this_run(lapp: Any, srv: SandboxServer) -> None:
    cid = connected(lapp, srv, "polar", "greta")
    lapp.sync.sleep.clear()
    from services.vendors import http

    real = http.ApiClient.__init__

    def short_waits(self: Any, *a: Any, **kw: Any) -> None:
        real(self, *a, **kw)
        self.max_wait_s = 1.0

    http.ApiClient.__init__ = short_waits  # type: ignore[method-assign]
    try:
        srv.inject("polar", "429", times=1)
        result = lapp.sync.sync_connection(cid, dt.date(2026, 11, 16), dt.date(2026, 11, 16))
    finally:
        http.ApiClient.__init__ = real  # type: ignore[method-assign]
    assert not result.ok and "quota" in " ".join(result.errors) and lapp.sync.sleep == []


def test_token_repr_hides_secrets() -> None:
    t = TokenSet("secret-access", "secret-refresh", None, ("a",), "42")
    assert "secret" not in repr(t)
