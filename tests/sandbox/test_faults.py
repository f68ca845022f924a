from __future__ import annotations

import json
import time

import pytest
import requests

from services.sandbox import SandboxServer

from .conftest import gget, google_connect, google_refresh, polar_connect, polar_req, withings_connect, wpost

STEPS = "dataTypes/steps/dataPoints"


def test_google_faults(srv: SandboxServer) -> None:
    tok = google_connect(srv)
    at = tok["access_token"]
    srv.inject("fitbit", "429")
    r = gget(srv, at, STEPS)
    assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert gget(srv, at, STEPS).status_code == 200
    srv.inject("fitbit", "503", times=2)
    assert [gget(srv, at, STEPS).status_code for _ in range(3)] == [503, 503, 200]
    srv.inject("fitbit", "500")
    assert gget(srv, at, STEPS).status_code == 500
    srv.inject("fitbit", "malformed")
    with pytest.raises(json.JSONDecodeError):
        json.loads(gget(srv, at, STEPS).text)
    srv.inject("fitbit", "reset")
    with pytest.raises(requests.ConnectionError):
        gget(srv, at, STEPS)
    srv.inject("fitbit", "401_expired")
    assert gget(srv, at, STEPS).status_code == 401
    assert gget(srv, at, STEPS).status_code == 401  # the token really is expired now
    at = google_refresh(srv, tok["refresh_token"]).json()["access_token"]
    assert gget(srv, at, STEPS).status_code == 200
    faulted = [c.fault for c in srv.calls if c.fault]
    assert faulted == ["429", "503", "503", "500", "malformed", "reset", "401_expired"]


def test_timeout_and_path_filter(srv: SandboxServer) -> None:
    at = google_connect(srv)["access_token"]
    srv.inject("fitbit", "timeout", seconds=1.0, path="/identity")
    t0 = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(
            srv.endpoints("fitbit")["api_url"] + "/v4/users/me/identity",
            headers={"Authorization": "Bearer " + at},
            timeout=0.3,
        )
    assert time.monotonic() - t0 < 1.0
    assert gget(srv, at, STEPS).status_code == 200  # the path filter spared other calls
    srv.inject("fitbit", "500", path="/token")
    r = requests.post(srv.endpoints("fitbit")["token_url"], data={"grant_type": "refresh_token"}, timeout=5)
    assert r.status_code == 500
    with pytest.raises(ValueError):
        srv.inject("fitbit", "explode")


def test_withings_and_polar_faults(srv: SandboxServer) -> None:
    wat = withings_connect(srv)["access_token"]
    srv.inject("withings", "429")
    out = wpost(srv, wat, "/measure", action="getmeas")
    assert out["status"] == 601  # HTTP 200 with status 601
    srv.inject("withings", "401_expired")
    assert wpost(srv, wat, "/measure", action="getmeas")["status"] == 401
    pat = polar_connect(srv)["access_token"]
    srv.inject("polar", "429")
    r = polar_req(srv, pat, "GET", "/v3/exercises")
    assert r.status_code == 429 and "RateLimit-Reset" in r.headers
    usage, limit = r.headers["RateLimit-Usage"], r.headers["RateLimit-Limit"]
    assert int(usage.split(",")[0]) >= int(limit.split(",")[0])
    assert polar_req(srv, pat, "GET", "/v3/exercises").status_code == 200


def test_polar_real_rate_limit() -> None:
    with SandboxServer(polar_base_limits=(3, 100)) as srv:
        pat = polar_connect(srv)["access_token"]  # registration counts, and adds 20 per user
        codes = [polar_req(srv, pat, "GET", "/v3/exercises").status_code for _ in range(23)]
        assert codes[:22] == [200] * 22 and codes[22] == 429
