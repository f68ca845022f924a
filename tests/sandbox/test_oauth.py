from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest
import requests

from services.sandbox import SandboxError, SandboxServer

from .conftest import (
    GOOGLE_SCOPES,
    REDIRECT,
    TODAY,
    TUNNEL_REDIRECT,
    gget,
    google_authorize_url,
    google_connect,
    google_exchange,
    google_refresh,
    polar_authorize_url,
    polar_connect,
    polar_exchange,
    polar_req,
    query,
    withings_authorize_url,
    withings_connect,
    withings_token,
    wpost,
)


def test_endpoints_and_environ(srv: SandboxServer) -> None:
    env = srv.environ()
    for v in ("FITBIT", "WITHINGS", "POLAR"):
        for k in ("AUTHORIZE_URL", "TOKEN_URL", "API_URL", "REVOKE_URL"):
            assert env[f"WEARSYNC_{v}_{k}"].startswith(srv.base_url)
    assert srv.endpoints("fitbit")["api_url"] == env["WEARSYNC_FITBIT_API_URL"]
    assert srv.base_url.startswith("http://127.0.0.1:")
    page = requests.get(google_authorize_url(srv), timeout=5)
    assert page.status_code == 200 and "<form" in page.text and "Allow" in page.text and "anna" in page.text


def test_google_round_trip_pkce_refresh_and_revoke(srv: SandboxServer) -> None:
    loc = srv.approve(google_authorize_url(srv), "anna")
    q = query(loc)
    assert loc.startswith(REDIRECT + "?") and q["state"] == "st-1"
    r = google_exchange(srv, q["code"])
    assert r.status_code == 200
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3599 and "refresh_token" in tok
    assert set(tok["scope"].split()) == set(GOOGLE_SCOPES)
    assert gget(srv, tok["access_token"], "identity").json()["healthUserId"]
    # refresh tokens are not single-use
    for _ in range(2):
        again = google_refresh(srv, tok["refresh_token"])
        assert again.status_code == 200 and "refresh_token" not in again.json()
    # code is single-use
    assert google_exchange(srv, q["code"]).json()["error"] == "invalid_grant"
    # revoke endpoint
    rv = requests.post(
        srv.endpoints("fitbit")["revoke_url"], params={"token": tok["refresh_token"]}, timeout=5
    )
    assert rv.status_code == 200
    assert google_refresh(srv, tok["refresh_token"]).json()["error"] == "invalid_grant"
    assert gget(srv, tok["access_token"], "identity").status_code == 401
    assert [c.kind for c in srv.calls if c.kind == "revoke"] == ["revoke"]


def test_google_pkce_wrong_verifier(srv: SandboxServer) -> None:
    code = query(srv.approve(google_authorize_url(srv), "anna"))["code"]
    r = google_exchange(srv, code, verifier="not-the-verifier-" + "y" * 30)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_google_denied_and_bad_client(srv: SandboxServer) -> None:
    loc = srv.approve(google_authorize_url(srv), "anna", decision="deny")
    assert query(loc) == {"error": "access_denied", "state": "st-1"}
    with pytest.raises(SandboxError):
        srv.approve(google_authorize_url(srv, client_id="nope"), "anna")
    with pytest.raises(SandboxError):  # http to a non-loopback host
        srv.approve(google_authorize_url(srv, redirect_uri="http://evil.example/cb"), "anna")
    # the tunnel (https) redirect of a Web client is accepted
    assert "code" in query(srv.approve(google_authorize_url(srv, redirect_uri=TUNNEL_REDIRECT), "anna"))


def test_google_no_offline_no_refresh_token(srv: SandboxServer) -> None:
    url = google_authorize_url(srv, access_type="online", prompt="")
    r = google_exchange(srv, query(srv.approve(url, "ben"))["code"])
    assert r.status_code == 200 and "refresh_token" not in r.json()


def test_google_granular_consent(srv: SandboxServer) -> None:
    granted = [GOOGLE_SCOPES[0], GOOGLE_SCOPES[3]]  # steps + settings only
    tok = google_connect(srv, "anna", scopes=granted)
    assert set(tok["scope"].split()) == set(granted)
    assert gget(srv, tok["access_token"], "dataTypes/steps/dataPoints").status_code == 200
    denied = gget(srv, tok["access_token"], "dataTypes/sleep/dataPoints")
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"
    assert gget(srv, tok["access_token"], "dataTypes/heart-rate/dataPoints").status_code == 403


def test_google_expired_and_revoked_by_user(srv: SandboxServer) -> None:
    tok = google_connect(srv)
    srv.expire_access_tokens("fitbit", "anna")
    r = gget(srv, tok["access_token"], "identity")
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    new = google_refresh(srv, tok["refresh_token"]).json()["access_token"]
    assert gget(srv, new, "identity").status_code == 200
    srv.revoke("fitbit", "anna")
    assert gget(srv, new, "identity").status_code == 401
    assert google_refresh(srv, tok["refresh_token"]).json()["error"] == "invalid_grant"


def test_withings_round_trip_and_refresh_rotation(srv: SandboxServer) -> None:
    loc = srv.approve(withings_authorize_url(srv), "emil")
    assert query(loc)["state"] == "w-state"
    body = withings_connect(srv, "emil")
    assert body["expires_in"] == 10800 and body["token_type"] == "Bearer"
    assert body["userid"] == srv.user("withings", "emil").user_id  # type: ignore[union-attr]
    old_refresh = body["refresh_token"]
    new = withings_token(srv, grant_type="refresh_token", refresh_token=old_refresh)
    assert new["status"] == 0 and new["body"]["refresh_token"] != old_refresh
    # the old refresh token still works until the new access token has been used
    again = withings_token(srv, grant_type="refresh_token", refresh_token=old_refresh)
    assert again["status"] == 0
    assert (
        wpost(
            srv,
            again["body"]["access_token"],
            "/v2/sleep",
            action="getsummary",
            startdateymd="2026-11-20",
            enddateymd="2026-11-21",
        )["status"]
        == 0
    )
    dead = withings_token(srv, grant_type="refresh_token", refresh_token=old_refresh)
    assert dead["status"] == 401
    # ... and it lapses 8 h after a newer one was issued, even if unused
    other = withings_connect(srv, "fatma")
    withings_token(srv, grant_type="refresh_token", refresh_token=other["refresh_token"])
    srv.advance_time(8 * 3600 + 1)
    assert (
        withings_token(srv, grant_type="refresh_token", refresh_token=other["refresh_token"])["status"] == 401
    )


def test_withings_code_lifetime_and_reuse(srv: SandboxServer) -> None:
    code = query(srv.approve(withings_authorize_url(srv), "emil"))["code"]
    srv.advance_time(31)
    late = withings_token(srv, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert late["status"] != 0 and late["body"] == {}
    code = query(srv.approve(withings_authorize_url(srv), "emil"))["code"]
    ok = withings_token(srv, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert ok["status"] == 0
    assert (
        withings_token(srv, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)["status"] != 0
    )


def test_withings_strict_redirect_and_revoke() -> None:
    with SandboxServer(today=TODAY, strict_withings_redirect=True) as strict:
        with pytest.raises(SandboxError):
            strict.approve(withings_authorize_url(strict), "emil")
        assert "code" in query(strict.approve(withings_authorize_url(strict, TUNNEL_REDIRECT), "emil"))
    with SandboxServer(today=TODAY) as srv:
        body = withings_connect(srv)
        cid, secret = srv.client("withings")
        revoke_url = srv.endpoints("withings")["revoke_url"]
        # the undocumented form (client secret in the request, no signature) is refused
        unsigned = requests.post(revoke_url, timeout=5, data={"action": "revoke", "client_id": cid,
                                                               "client_secret": secret, "userid": body["userid"]})
        assert unsigned.json()["status"] != 0

        def sign(*values: str) -> str:
            return hmac.new(secret.encode(), ",".join(values).encode(), hashlib.sha256).hexdigest()

        nonce_url = srv.endpoints("withings")["api_url"] + "/v2/signature"
        bad = requests.post(nonce_url, timeout=5, data={"action": "getnonce", "client_id": cid, "timestamp": "1",
                                                        "signature": sign("getnonce", cid, "2")}).json()
        assert bad["status"] != 0
        got = requests.post(nonce_url, timeout=5, data={"action": "getnonce", "client_id": cid, "timestamp": "1",
                                                        "signature": sign("getnonce", cid, "1")}).json()
        nonce = got["body"]["nonce"]
        signed = {"action": "revoke", "client_id": cid, "nonce": nonce, "userid": body["userid"]}
        wrong = requests.post(revoke_url, timeout=5, data={**signed, "signature": sign("revoke", cid, "x")}).json()
        assert wrong["status"] != 0  # and that nonce is now used up
        again = requests.post(revoke_url, timeout=5, data={**signed, "signature": sign("revoke", cid, nonce)}).json()
        assert again["status"] != 0
        fresh = requests.post(nonce_url, timeout=5, data={"action": "getnonce", "client_id": cid, "timestamp": "2",
                                                          "signature": sign("getnonce", cid, "2")}).json()
        nonce = fresh["body"]["nonce"]
        r = requests.post(revoke_url, timeout=5, data={**signed, "nonce": nonce,
                                                       "signature": sign("revoke", cid, nonce)}).json()
        assert r["status"] == 0
        assert wpost(srv, body["access_token"], "/measure", action="getmeas")["status"] == 401
        assert any(c.kind == "revoke" for c in srv.calls)


def test_polar_round_trip_registration(srv: SandboxServer) -> None:
    code = query(srv.approve(polar_authorize_url(srv), "greta"))["code"]
    # HTTP Basic is required
    cid, secret = srv.client("polar")
    no_basic = requests.post(
        srv.endpoints("polar")["token_url"],
        timeout=5,
        data={"grant_type": "authorization_code", "code": code, "client_id": cid, "client_secret": secret},
    )
    assert no_basic.status_code == 401
    tok = polar_exchange(srv, code).json()
    assert tok["token_type"] == "bearer" and "refresh_token" not in tok
    assert tok["x_user_id"] == int(srv.user("polar", "greta").user_id)  # type: ignore[union-attr]
    at = tok["access_token"]
    assert polar_req(srv, at, "GET", "/v3/exercises").status_code == 403  # not registered yet
    first = polar_req(srv, at, "POST", "/v3/users", json={"member-id": "p-1"})
    assert first.status_code == 200 and first.json()["polar-user-id"] == tok["x_user_id"]
    assert polar_req(srv, at, "POST", "/v3/users", json={"member-id": "p-1"}).status_code == 409
    assert polar_req(srv, at, "GET", "/v3/exercises").status_code == 200
    gone = polar_req(srv, at, "DELETE", f"/v3/users/{tok['x_user_id']}")
    assert gone.status_code == 204
    assert polar_req(srv, at, "GET", "/v3/exercises").status_code == 401
    deregs = [c for c in srv.calls if c.vendor == "polar" and c.kind == "revoke"]
    assert len(deregs) == 1 and deregs[0].method == "DELETE"


def test_polar_code_reuse_deletes_tokens_and_consents(srv: SandboxServer) -> None:
    code = query(srv.approve(polar_authorize_url(srv), "hugo"))["code"]
    at = polar_exchange(srv, code).json()["access_token"]
    again = polar_exchange(srv, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert polar_req(srv, at, "POST", "/v3/users", json={"member-id": "x"}).status_code == 401
    srv.add_user("polar", "noconsent", consents_accepted=False)
    tok = polar_connect(srv, "noconsent", register=False)
    assert (
        polar_req(srv, tok["access_token"], "POST", "/v3/users", json={"member-id": "x"}).status_code == 403
    )


def test_polar_denied(srv: SandboxServer) -> None:
    assert query(srv.approve(polar_authorize_url(srv), "greta", decision="deny")) == {
        "error": "access_denied",
        "state": "p-state",
    }


def test_unknown_account_and_foreign_url(srv: SandboxServer) -> None:
    with pytest.raises(SandboxError):
        srv.approve(google_authorize_url(srv), "nobody")
    with pytest.raises(SandboxError):
        srv.approve("http://127.0.0.1:1/fitbit/o/oauth2/v2/auth?" + urlencode({"a": 1}), "anna")
