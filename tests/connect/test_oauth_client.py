"""The OAuth client on requests-oauthlib, against the sandbox vendors: consent URLs with PKCE, code
exchange and refresh through each vendor's compliance hooks, expiry from the app's clock, plain http
only to loopback addresses, and no token in the log."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth2Session

from services.connect.oauth.base import ConsentRevoked, OAuth2Implementation, OAuthError, loopback_http_origin
from services.logging_setup import setup_logging
from services.sandbox import SandboxServer
from services.vendors import VendorRegistry

from .conftest import connect, query

REDIRECT = "http://127.0.0.1:8765/oauth2_callback"
NOW = dt.datetime(2031, 3, 30, 0, 30)  # far from the real date: expiry must come from the clock we pass
LATER = NOW + dt.timedelta(hours=5)


def oauth(srv: SandboxServer, vendor: str, **endpoint_overrides: str) -> OAuth2Implementation:
    env = {**srv.environ(), **srv.credentials_environ(), **endpoint_overrides}
    return VendorRegistry(env).get(vendor).oauth(timeout=5)


def token_calls(srv: SandboxServer, vendor: str) -> list[dict[str, str]]:
    return [c.params for c in srv.calls if c.vendor == vendor and c.kind == "token"]


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_google_pkce_offline_consent_exchange_and_refresh(srv: SandboxServer) -> None:
    google = oauth(srv, "fitbit")
    consent = google.authorize("state-1", REDIRECT)
    q = query(consent.url)
    assert consent.verifier and q["code_challenge"] == s256(consent.verifier) and q["code_challenge_method"] == "S256"
    assert (q["access_type"], q["prompt"], q["state"], q["redirect_uri"]) == ("offline", "consent", "state-1", REDIRECT)
    assert q["scope"].split() == list(google.scopes)
    code = query(srv.approve(consent.url, "anna"))["code"]

    tokens = google.exchange_code(code, REDIRECT, consent.verifier, now=NOW)
    assert tokens.refresh_token and tokens.expires_at == NOW + dt.timedelta(seconds=3599)
    assert set(tokens.scopes) == set(google.scopes)
    sent = token_calls(srv, "fitbit")[-1]
    assert sent["grant_type"] == "authorization_code" and sent["code_verifier"] == "***"

    renewed = google.refresh(tokens, now=LATER)
    assert renewed.access_token != tokens.access_token
    assert renewed.refresh_token == tokens.refresh_token  # Google does not rotate it: the old one is kept
    assert renewed.expires_at == LATER + dt.timedelta(seconds=3599)
    sent = token_calls(srv, "fitbit")[-1]
    assert sent["grant_type"] == "refresh_token" and sent["client_secret"] == "***"


def test_google_wrong_verifier_and_reused_code_are_refused(srv: SandboxServer) -> None:
    google = oauth(srv, "fitbit")
    consent = google.authorize("state-2", REDIRECT)
    code = query(srv.approve(consent.url, "anna"))["code"]
    with pytest.raises(OAuthError, match="refused the sign-in \\(invalid_grant\\)"):
        google.exchange_code(code, REDIRECT, "w" * 43, now=NOW)
    with pytest.raises(OAuthError, match="refused the sign-in"):  # the code was used by that attempt
        google.exchange_code(code, REDIRECT, consent.verifier, now=NOW)


def test_google_narrower_grant_is_recorded_not_refused(srv: SandboxServer) -> None:
    google = oauth(srv, "fitbit")
    consent = google.authorize("state-3", REDIRECT)
    granted = [google.scopes[0], google.scopes[3]]
    code = query(srv.approve(consent.url, "anna", scopes=granted))["code"]
    tokens = google.exchange_code(code, REDIRECT, consent.verifier, now=NOW)
    assert set(tokens.scopes) == set(granted)


def test_withings_requesttoken_action_and_envelope(srv: SandboxServer) -> None:
    withings = oauth(srv, "withings")
    consent = withings.authorize("w-1", REDIRECT)
    assert consent.verifier is None
    assert query(consent.url)["scope"] == "user.info,user.metrics,user.activity,user.sleepevents"
    code = query(srv.approve(consent.url, "emil"))["code"]
    tokens = withings.exchange_code(code, REDIRECT, None, now=NOW)
    assert tokens.user_id == srv.user("withings", "emil").user_id  # type: ignore[union-attr]
    assert tokens.expires_at == NOW + dt.timedelta(hours=3) and tokens.refresh_token
    assert set(tokens.scopes) == {"user.info", "user.metrics", "user.activity", "user.sleepevents"}
    sent = token_calls(srv, "withings")[-1]
    assert (sent["action"], sent["grant_type"], sent["client_secret"]) == ("requesttoken", "authorization_code", "***")

    renewed = withings.refresh(tokens, now=LATER)
    assert renewed.refresh_token != tokens.refresh_token and renewed.user_id == tokens.user_id
    sent = token_calls(srv, "withings")[-1]
    assert (sent["action"], sent["grant_type"]) == ("requesttoken", "refresh_token")
    # the old refresh token dies once the new access token is used; a status 401 in an HTTP 200 = reconnect
    used = requests.post(srv.endpoints("withings")["api_url"] + "/measure", data={"action": "getmeas"},
                         headers={"Authorization": "Bearer " + renewed.access_token}, timeout=5)
    assert used.json()["status"] == 0
    with pytest.raises(ConsentRevoked, match="connect again"):
        withings.refresh(tokens, now=LATER)


def test_withings_late_code_is_refused_in_plain_words(srv: SandboxServer) -> None:
    withings = oauth(srv, "withings")
    code = query(srv.approve(withings.authorize("w-2", REDIRECT).url, "emil"))["code"]
    srv.advance_time(31)
    with pytest.raises(OAuthError, match="may have taken too long"):
        withings.exchange_code(code, REDIRECT, None, now=NOW)


def test_polar_basic_client_auth_and_account_id(srv: SandboxServer) -> None:
    polar = oauth(srv, "polar")
    code = query(srv.approve(polar.authorize("p-1", REDIRECT).url, "greta"))["code"]
    tokens = polar.exchange_code(code, REDIRECT, None, now=NOW)
    assert tokens.user_id == srv.user("polar", "greta").user_id  # type: ignore[union-attr]
    assert tokens.refresh_token is None and tokens.scopes == ("accesslink.read_all",)
    sent = token_calls(srv, "polar")[-1]
    assert "client_secret" not in sent and "client_id" not in sent  # in the Basic header only
    before = len(srv.calls)
    with pytest.raises(ConsentRevoked, match="cannot be renewed automatically"):
        polar.refresh(tokens, now=LATER)
    assert len(srv.calls) == before  # Polar has no refresh: nothing was asked


def test_token_endpoint_server_error_is_one_plain_sentence(srv: SandboxServer) -> None:
    withings = oauth(srv, "withings")
    code = query(srv.approve(withings.authorize("w-3", REDIRECT).url, "emil"))["code"]
    srv.inject("withings", "500", path="/v2/oauth2")
    with pytest.raises(OAuthError, match=r"^Withings had a problem \(HTTP 500\)\. Try again in a few minutes\.$"):
        withings.exchange_code(code, REDIRECT, None, now=NOW)


@pytest.mark.parametrize("url, origin", [
    ("http://127.0.0.1:8080/token", "http://127.0.0.1:8080"),
    ("http://127.9.0.1/token", "http://127.9.0.1"),
    ("http://[::1]:9/token", "http://[::1]:9"),
    ("http://LOCALHOST:9/token", "http://LOCALHOST:9"),
    ("http://127.0.0.1.evil.example/token", None),
    ("http://10.0.0.1/token", None),
    ("http://vendor.example/token", None),
    ("https://127.0.0.1/token", None),
])
def test_only_loopback_http_is_let_through(url: str, origin: str | None) -> None:
    assert loopback_http_origin(url) == origin


def test_plain_http_to_another_host_is_refused_and_nothing_is_sent(srv: SandboxServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    with pytest.raises(OAuthError, match=r"must start with https://"):
        oauth(srv, "fitbit", WEARSYNC_FITBIT_AUTHORIZE_URL="http://accounts.example/auth").authorize("s", REDIRECT)
    google = oauth(srv, "fitbit", WEARSYNC_FITBIT_TOKEN_URL="http://oauth2.example/token")
    consent = google.authorize("s", REDIRECT)  # the sandbox's own loopback consent page is fine
    code = query(srv.approve(consent.url, "anna"))["code"]
    with pytest.raises(OAuthError, match=r"must start with https://"):
        google.exchange_code(code, REDIRECT, consent.verifier, now=NOW)
    assert token_calls(srv, "fitbit") == []
    # the loopback exception is WearSync's own, never the process-wide switch
    oauth(srv, "fitbit").exchange_code(code, REDIRECT, consent.verifier, now=NOW)
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_no_token_reaches_the_log_even_at_debug(srv: SandboxServer, tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        path = setup_logging(tmp_path / "logs", logging.DEBUG)
        google = oauth(srv, "fitbit")
        consent = google.authorize("state-4", REDIRECT)
        code = query(srv.approve(consent.url, "anna"))["code"]
        tokens = google.exchange_code(code, REDIRECT, consent.verifier, now=NOW)
        google.refresh(tokens, now=LATER)
        for h in root.handlers:
            h.flush()
        assert path is not None
        text = path.read_text(encoding="utf-8")
    finally:
        for h in list(root.handlers):
            if getattr(h, "_wearsync", False):
                root.removeHandler(h)
                h.close()
        root.setLevel(saved[0])
        for h in saved[1]:
            if h not in root.handlers:
                root.addHandler(h)
    assert "requests_oauthlib" not in text  # its DEBUG lines print whole token answers
    assert tokens.access_token not in text and str(tokens.refresh_token) not in text and code not in text


def test_an_unreadable_token_answer_is_one_plain_sentence(srv: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    google = oauth(srv, "fitbit")

    def garble(resp: requests.Response) -> requests.Response:
        resp._content = json.dumps({**resp.json(), "expires_in": "soon"}).encode()
        return resp

    monkeypatch.setattr(google, "comply", lambda s: s.register_compliance_hook("access_token_response", garble))
    consent = google.authorize("state-5", REDIRECT)
    code = query(srv.approve(consent.url, "anna"))["code"]
    with pytest.raises(OAuthError, match=r"^Fitbit \(Google\) sent a sign-in answer WearSync could not read\."):
        google.exchange_code(code, REDIRECT, consent.verifier, now=NOW)


def test_requests_oauthlib_does_the_oauth_work_for_every_vendor(lapp: Any, srv: SandboxServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Consent URL, code exchange and refresh of the app's own connect and token services all go
    through OAuth2Session (no hand-written token requests left beside it)."""
    used: list[tuple[str, str]] = []
    for name in ("authorization_url", "fetch_token", "refresh_token"):
        real = getattr(OAuth2Session, name)

        def spy(self: OAuth2Session, *a: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            used.append((_name, str(self.client_id)))
            return _real(self, *a, **kw)

        monkeypatch.setattr(OAuth2Session, name, spy)
    ids = {v: srv.client(v)[0] for v in ("fitbit", "withings", "polar")}
    for code, vendor, user in (("P-F", "fitbit", "anna"), ("P-W", "withings", "emil"), ("P-P", "polar", "greta")):
        assert connect(lapp, srv, code, vendor, user).ok
    for code, vendor in (("P-F", "fitbit"), ("P-W", "withings")):
        cid = lapp.connections.connection_id(code, vendor)
        lapp.tokens.refresh(cid, lapp.tokens.load(cid)[1].access_token)
    token_requests = [c for c in srv.calls if c.kind == "token"]
    assert len(token_requests) == 5
    assert sorted(used) == sorted([("authorization_url", ids[v]) for v in ids] + [("fetch_token", ids[v]) for v in ids]
                                  + [("refresh_token", ids["fitbit"]), ("refresh_token", ids["withings"])])
