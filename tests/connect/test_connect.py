"""Connecting accounts in-process: state checks, PKCE, consent outcomes, re-consent, vendor quirks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from db.models import Connection, OAuthState
from services.accounts.actor import HOST, Actor
from services.connect.oauth.states import state_hash
from services.connect.service import ConnectTimeout
from services.errors import MissingSecret, PermissionDenied
from services.sandbox import SandboxServer
from services.vendors.fitbit import ACTIVITY, METRICS, SETTINGS, SLEEP

from .conftest import connect, count, query


def conn_row(app: Any, code: str, vendor: str) -> Connection:
    with app.db.session() as s:
        cid = app.connections.connection_id(code, vendor)
        row = s.get(Connection, cid)
        assert row is not None
        return row


def test_google_connect_stores_encrypted_tokens_and_account(sapp: Any, srv: SandboxServer) -> None:
    page = connect(sapp, srv, "P-1", "fitbit", "anna")
    assert page.ok and page.title == "You're connected"
    row = conn_row(sapp, "P-1", "fitbit")
    assert row.status == "connected" and row.timezone == "Europe/Berlin"
    assert row.vendor_user_id == srv.user("fitbit", "anna").user_id  # type: ignore[union-attr]
    assert set(row.scopes_granted.split()) == {ACTIVITY, METRICS, SLEEP, SETTINGS} and row.scopes_missing == ""
    assert row.token_ciphertext and row.token_expires_at and row.connected_at
    tokens = sapp.cipher.decrypt(row.token_ciphertext)
    assert tokens["refresh_token"] and tokens["access_token"].encode() not in row.token_ciphertext
    # the verifier went to Google's token endpoint, the challenge to the consent page
    token_calls = [c for c in srv.calls if c.vendor == "fitbit" and c.kind == "token"]
    assert token_calls[0].params["code_verifier"] == "***"
    auth = next(c for c in srv.calls if c.kind == "authorize")
    assert auth.params["code_challenge_method"] == "S256"
    assert auth.params["access_type"] == "offline" and auth.params["prompt"] == "consent"
    assert [e.action for e in sapp.audit.entries()][-1] == "connection.connect"


@pytest.mark.parametrize("case", ["missing", "unknown", "reused", "expired"])
def test_bad_state_is_refused_and_nothing_stored(sapp: Any, srv: SandboxServer, case: str) -> None:
    """Each refusal gets its own patient page; only the refusals where nothing was saved say so."""
    pending = sapp.connections.begin("P-2", "fitbit", HOST)
    params = query(srv.approve(pending.authorize_url, "anna"))
    if case == "missing":
        params.pop("state")
    elif case == "unknown":
        params["state"] = "forged-" + params["state"]
    elif case == "reused":
        assert sapp.connections.handle_callback(dict(params)).ok
        with sapp.db.session() as s:  # forget the connection, keep the used state
            s.execute(update(Connection).values(status="not_connected", token_ciphertext=None, vendor_user_id=None))
    else:
        with sapp.db.session() as s:
            s.execute(update(OAuthState).values(expires_at=dt.datetime(2000, 1, 1)))
    page = sapp.connections.handle_callback(params)
    title = {"missing": "This page can't finish connecting", "unknown": "This page can't finish connecting",
             "reused": "This step was already used", "expired": "The time ran out"}[case]
    assert not page.ok and page.title == title
    # "Nothing was saved" only where that is the whole truth (a used step may have connected someone)
    assert page.footer == ("" if case == "reused" else "Nothing was saved.")
    # advice that fits the flow: this one was started here ("Connect here"), so the staff restart it
    if case in ("reused", "expired"):
        assert "ask the person from the clinic who is helping you to start again" in page.text()
    row = conn_row(sapp, "P-2", "fitbit")
    assert row.token_ciphertext is None and row.status == "not_connected"
    # the code was never exchanged
    assert not [c for c in srv.calls if c.kind == "token"][1 if case == "reused" else 0:]


def test_wrong_pkce_verifier_is_refused(lapp: Any, srv: SandboxServer) -> None:
    pending = lapp.connections.begin("P-3", "fitbit", HOST)
    with lapp.db.session() as s:
        s.execute(update(OAuthState).where(OAuthState.state == state_hash(pending.state))
                  .values(verifier_ciphertext=lapp.cipher.encrypt_text("x" * 64)))
    page = lapp.connections.handle_callback(query(srv.approve(pending.authorize_url, "anna")))
    assert not page.ok and "did not finish" in page.message and page.footer == "Nothing was saved."
    assert conn_row(lapp, "P-3", "fitbit").token_ciphertext is None
    assert [c.status for c in srv.calls if c.kind == "token"] == [400]


def test_denied_consent(lapp: Any, srv: SandboxServer) -> None:
    pending = lapp.connections.begin("P-4", "withings", HOST)
    page = lapp.connections.handle_callback(query(srv.approve(pending.authorize_url, "emil", decision="deny")))
    assert not page.ok and "chose not to allow access" in page.message and page.footer == "Nothing was shared."
    outcome = lapp.connections.wait(pending, timeout=1)
    assert not outcome.ok and "declined" in outcome.message
    assert conn_row(lapp, "P-4", "withings").status == "not_connected"


def test_wait_times_out(lapp: Any) -> None:
    pending = lapp.connections.begin("P-5", "polar", HOST)
    with pytest.raises(ConnectTimeout, match="nothing was connected"):
        lapp.connections.wait(pending, timeout=0.3)


def test_granular_google_consent(sapp: Any, srv: SandboxServer) -> None:
    page = connect(sapp, srv, "P-6", "fitbit", "ben", scopes=[ACTIVITY, SETTINGS])
    assert page.ok and "You chose not to share your heart rate and your sleep." in page.notes[0]
    row = conn_row(sapp, "P-6", "fitbit")
    assert set(row.scopes_missing.split()) == {METRICS, SLEEP}
    result = sapp.sync.sync_connection(row.id, dt.date(2026, 11, 20), dt.date(2026, 11, 20))
    assert result.ok and result.rows_written > 0
    assert set(result.scopes_missing) == {"heart_rate", "resting_heart_rate", "sleep"}
    assert "not shared by the patient: heart_rate, resting_heart_rate, sleep" in result.summary
    assert not [c for c in srv.calls if c.status == 403]  # not even asked
    from db.models import HeartRateSample, StepInterval

    assert count(sapp.db, StepInterval) > 0 and count(sapp.db, HeartRateSample) == 0


def test_reconsent_with_a_different_account_is_refused(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "P-7", "fitbit", "anna").ok
    before = conn_row(lapp, "P-7", "fitbit")
    lapp.connections.tokens.mark_reconsent(before.id, "test")
    page = connect(lapp, srv, "P-7", "fitbit", "ben")
    assert not page.ok and "different Fitbit account" in page.message
    after = conn_row(lapp, "P-7", "fitbit")
    assert after.token_ciphertext == before.token_ciphertext and after.status == "needs_reconsent"
    # the same account is welcome back
    assert connect(lapp, srv, "P-7", "fitbit", "anna").ok
    assert conn_row(lapp, "P-7", "fitbit").status == "connected"
    # and one account cannot serve two patients
    pending = lapp.connections.begin("P-8", "fitbit", HOST)
    page = lapp.connections.handle_callback(query(srv.approve(pending.authorize_url, "anna")))
    assert not page.ok and page.title == "This account is already in use"
    assert "P-7" not in page.text() and "another person" in page.message  # never another patient's ID
    # the coordinator is told who, and so is the audit trail
    assert "already connected to patient P-7" in lapp.connections.wait(pending, timeout=1).message
    refused = [e for e in lapp.audit.entries() if e.action == "connection.refused"]
    assert len(refused) == 1 and "P-7" in refused[0].detail and refused[0].target == "P-8/fitbit"


def test_withings_code_exchange_and_error_status_in_200(lapp: Any, srv: SandboxServer) -> None:
    pending = lapp.connections.begin("P-9", "withings", HOST)
    params = query(srv.approve(pending.authorize_url, "emil"))
    srv.advance_time(31)  # the code lives 30 s: too late is refused (status 401 in an HTTP 200)
    page = lapp.connections.handle_callback(params)
    assert not page.ok
    token = [c for c in srv.calls if c.kind == "token"][-1]
    assert token.status == 200 and token.params["action"] == "requesttoken"
    assert connect(lapp, srv, "P-9", "withings", "emil").ok
    row = conn_row(lapp, "P-9", "withings")
    assert row.vendor_user_id == srv.user("withings", "emil").user_id  # type: ignore[union-attr]
    assert row.scopes_granted == "user.info user.metrics user.activity user.sleepevents"


def test_polar_registration_and_409(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "P-10", "polar", "greta").ok
    row = conn_row(lapp, "P-10", "polar")
    assert row.registered_at is not None and row.vendor_user_id == srv.user("polar", "greta").user_id  # type: ignore[union-attr]
    # a second consent of the same account: Polar answers 409, which is fine for the same user
    lapp.connections.tokens.mark_reconsent(row.id, "test")
    assert connect(lapp, srv, "P-10", "polar", "greta").ok
    regs = [c.status for c in srv.calls if c.path == "/v3/users" and c.method == "POST"]
    assert regs == [200, 409]
    assert conn_row(lapp, "P-10", "polar").status == "connected"
    token_call = next(c for c in srv.calls if c.kind == "token")
    assert "client_secret" not in token_call.params  # HTTP Basic only


def test_polar_consents_not_accepted(lapp: Any, srv: SandboxServer) -> None:
    srv.add_user("polar", "ida", consents_accepted=False)
    page = connect(lapp, srv, "P-11", "polar", "ida")
    assert not page.ok and "accept" in page.message
    assert conn_row(lapp, "P-11", "polar").token_ciphertext is None


def test_missing_client_secret_changes_nothing(lapp: Any) -> None:
    for name in ("FITBIT_CLIENT_ID", "FITBIT_CLIENT_SECRET"):
        lapp.environ.pop(name)
    with pytest.raises(MissingSecret, match="Settings → Secrets"):
        lapp.connections.begin("P-12", "fitbit", HOST)
    assert not lapp.patients.exists("P-12")


def test_viewer_may_not_connect(lapp: Any) -> None:
    with pytest.raises(PermissionDenied):
        lapp.connections.begin("P-13", "fitbit", Actor("val", "viewer", "gui"))


def test_revoke_per_vendor(lapp: Any, srv: SandboxServer) -> None:
    for code, vendor, user in (("R-1", "fitbit", "anna"), ("R-2", "withings", "emil"), ("R-3", "polar", "greta")):
        assert connect(lapp, srv, code, vendor, user).ok
        result = lapp.connections.revoke(code, vendor, HOST)
        assert result.revoked_at_vendor, result.message
        row = conn_row(lapp, code, vendor)
        assert row.status == "withdrawn" and row.token_ciphertext is None
    assert [c.vendor for c in srv.calls if c.kind == "revoke"] == ["fitbit", "withings", "polar"]
    assert not srv.user("polar", "greta").registered  # type: ignore[union-attr]
    assert [e.action for e in lapp.audit.entries()].count("connection.revoke") == 3


def test_callback_listener_pages_and_busy_port(lapp: Any, srv: SandboxServer) -> None:
    listener = lapp.connections.start_listener()
    try:
        pending = lapp.connections.begin("P-14", "fitbit", HOST)
        redirect = srv.approve(pending.authorize_url, "anna")
        assert redirect.startswith(listener.url + "/oauth2_callback?")
        r = requests.get(redirect, timeout=10)
        assert r.status_code == 200 and "You're connected" in r.text and "You can close this page." in r.text
        assert r.history[0].status_code == 303 and r.url.startswith(listener.url + "/done/")  # post/redirect/get
        assert lapp.connections.wait(pending, timeout=5).ok
        assert requests.get(r.url, timeout=10).text == r.text  # a reload shows the same page
        again = requests.get(redirect, timeout=10)  # the completed answer again: the same success, no new exchange
        assert again.status_code == 200 and "You're connected" in again.text
        assert len([c for c in srv.calls if c.kind == "token"]) == 1
        assert requests.get(listener.url + "/nope", timeout=5).status_code == 404
        from services.connect.callback_server import CallbackServer, PortInUse

        with pytest.raises(PortInUse, match="WEARSYNC_CALLBACK_PORT"):
            CallbackServer(lapp.connections, listener.port).start()
    finally:
        lapp.connections.stop_listener()


def test_enrolment_link_flow(sapp: Any, srv: SandboxServer) -> None:
    sapp.environ["WEARSYNC_PUBLIC_URL"] = f"http://127.0.0.1:{sapp.environ['WEARSYNC_CALLBACK_PORT']}"
    link = sapp.connections.create_enrolment_link("P-15", "withings", HOST)
    assert link.url.startswith(sapp.environ["WEARSYNC_PUBLIC_URL"] + "/enrol/") and not link.reachable_from_phone
    assert link.qr_png().startswith(b"\x89PNG") and "<svg" in link.qr_svg()
    token = link.url.rsplit("/", 1)[1]
    with sapp.db.session() as s:
        from db.models import EnrolmentLink

        stored = s.scalars(select(EnrolmentLink)).one()
        assert token not in stored.token_hash and stored.expires_at - stored.created_at == dt.timedelta(hours=72)
    listener = sapp.connections.start_listener()
    try:
        intro = requests.get(link.url, allow_redirects=False, timeout=10)
        assert intro.status_code == 200 and "Continue to Withings" in intro.text
        assert count(sapp.db, OAuthState) == 0  # opening the introduction starts nothing
        r = requests.get(link.url + "/continue", allow_redirects=False, timeout=10)
        assert r.status_code == 303 and r.headers["Location"].startswith(srv.endpoints("withings")["authorize_url"])
        page = requests.get(srv.approve(r.headers["Location"], "emil"), timeout=10)
        assert "You're connected" in page.text
        assert conn_row(sapp, "P-15", "withings").status == "connected"
        used = requests.get(link.url, allow_redirects=False, timeout=10)
        assert used.status_code == 200 and "You're already connected" in used.text
        sapp.connections.revoke("P-15", "withings", HOST)
        used = requests.get(link.url, allow_redirects=False, timeout=10)
        assert used.status_code == 410 and "already used" in used.text and "Nothing was saved" not in used.text
        expired = sapp.connections.create_enrolment_link("P-16", "polar", HOST)
        from db.models import EnrolmentLink

        with sapp.db.session() as s:
            s.execute(update(EnrolmentLink).where(EnrolmentLink.patient_code == "P-16")
                      .values(expires_at=dt.datetime(2000, 1, 1)))
        gone = requests.get(expired.url, allow_redirects=False, timeout=10)
        assert gone.status_code == 410 and "expired" in gone.text
        bogus = requests.get(listener.url + "/enrol/not-a-token", allow_redirects=False, timeout=10)
        assert bogus.status_code == 404 and "not valid" in bogus.text
    finally:
        sapp.connections.stop_listener()
