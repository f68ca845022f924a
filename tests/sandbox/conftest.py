"""Fixtures and small OAuth clients written from VENDORS.md, used to exercise the sandbox."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from services.sandbox import SandboxServer

TODAY = date(2026, 11, 28)
REDIRECT = "http://127.0.0.1:8765/oauth2_callback"
TUNNEL_REDIRECT = "https://clinic.example.test/oauth2_callback"
G = "https://www.googleapis.com/auth/googlehealth."
GOOGLE_SCOPES = [
    G + s
    for s in (
        "activity_and_fitness.readonly",
        "health_metrics_and_measurements.readonly",
        "sleep.readonly",
        "settings.readonly",
    )
]
VERIFIER = "sandbox-test-verifier-" + "x" * 30


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


def google_authorize_url(srv: SandboxServer, **extra: str) -> str:
    cid, _ = srv.client("fitbit")
    params = {
        "client_id": cid,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": " ".join(GOOGLE_SCOPES),
        "state": "st-1",
        "code_challenge": challenge(VERIFIER),
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
    }
    params.update(extra)
    return srv.endpoints("fitbit")["authorize_url"] + "?" + urlencode(params)


def google_exchange(srv: SandboxServer, code: str, verifier: str = VERIFIER) -> requests.Response:
    cid, secret = srv.client("fitbit")
    return requests.post(
        srv.endpoints("fitbit")["token_url"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": cid,
            "client_secret": secret,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        timeout=5,
    )


def google_connect(
    srv: SandboxServer, username: str = "anna", scopes: list[str] | None = None
) -> dict[str, Any]:
    loc = srv.approve(google_authorize_url(srv), username, scopes=scopes)
    r = google_exchange(srv, query(loc)["code"])
    assert r.status_code == 200, r.text
    return dict(r.json())


def google_refresh(srv: SandboxServer, refresh_token: str) -> requests.Response:
    cid, secret = srv.client("fitbit")
    return requests.post(
        srv.endpoints("fitbit")["token_url"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": cid,
            "client_secret": secret,
        },
        timeout=5,
    )


def gget(srv: SandboxServer, token: str, path: str, **params: Any) -> requests.Response:
    return requests.get(
        srv.endpoints("fitbit")["api_url"] + "/v4/users/me/" + path,
        params=params,
        headers={"Authorization": "Bearer " + token},
        timeout=5,
    )


def withings_authorize_url(srv: SandboxServer, redirect: str = REDIRECT) -> str:
    cid, _ = srv.client("withings")
    return (
        srv.endpoints("withings")["authorize_url"]
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": cid,
                "scope": "user.info,user.metrics,user.activity,user.sleepevents",
                "redirect_uri": redirect,
                "state": "w-state",
            }
        )
    )


def withings_token(srv: SandboxServer, **data: str) -> dict[str, Any]:
    cid, secret = srv.client("withings")
    r = requests.post(
        srv.endpoints("withings")["token_url"],
        data={"action": "requesttoken", "client_id": cid, "client_secret": secret, **data},
        timeout=5,
    )
    assert r.status_code == 200
    return dict(r.json())


def withings_connect(srv: SandboxServer, username: str = "emil") -> dict[str, Any]:
    code = query(srv.approve(withings_authorize_url(srv), username))["code"]
    out = withings_token(srv, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert out["status"] == 0, out
    return dict(out["body"])


def wpost(srv: SandboxServer, token: str, path: str, **data: Any) -> dict[str, Any]:
    r = requests.post(
        srv.endpoints("withings")["api_url"] + path,
        data=data,
        headers={"Authorization": "Bearer " + token},
        timeout=5,
    )
    assert r.status_code == 200
    return dict(r.json())


def polar_authorize_url(srv: SandboxServer) -> str:
    cid, _ = srv.client("polar")
    return (
        srv.endpoints("polar")["authorize_url"]
        + "?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": cid,
                "redirect_uri": REDIRECT,
                "state": "p-state",
                "scope": "accesslink.read_all",
            }
        )
    )


def polar_exchange(srv: SandboxServer, code: str) -> requests.Response:
    return requests.post(
        srv.endpoints("polar")["token_url"],
        auth=srv.client("polar"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        timeout=5,
    )


def polar_connect(srv: SandboxServer, username: str = "greta", register: bool = True) -> dict[str, Any]:
    r = polar_exchange(srv, query(srv.approve(polar_authorize_url(srv), username))["code"])
    assert r.status_code == 200, r.text
    tok = dict(r.json())
    if register:
        reg = polar_req(
            srv, tok["access_token"], "POST", "/v3/users", json={"member-id": "patient-" + username}
        )
        assert reg.status_code == 200, reg.text
    return tok


def polar_req(srv: SandboxServer, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method,
        srv.endpoints("polar")["api_url"] + path,
        headers={"Authorization": "Bearer " + token, "Accept": "application/json"},
        timeout=5,
        **kw,
    )
