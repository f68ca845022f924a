from __future__ import annotations

import re

from services.sandbox import SandboxServer

from .conftest import polar_connect, polar_req, withings_connect, wpost

DURATION = re.compile(r"^PT(\d+H)?(\d+M)?(\d+S)?$")


def test_withings_getsummary_fields_and_paging(srv: SandboxServer) -> None:
    at = withings_connect(srv)["access_token"]
    nights = []
    offset = 0
    while True:
        out = wpost(
            srv,
            at,
            "/v2/sleep",
            action="getsummary",
            startdateymd="2026-10-29",
            enddateymd="2026-11-28",
            data_fields="total_sleep_time,deepsleepduration,hr_average,sleep_score,snoring",
            offset=offset,
        )
        assert out["status"] == 0
        nights += out["body"]["series"]
        if not out["body"]["more"]:
            break
        offset = out["body"]["offset"]
    assert len(nights) == 31 and len({n["date"] for n in nights}) == 31
    n = nights[0]
    assert n["timezone"] == "Europe/Berlin" and n["enddate"] > n["startdate"] > 1_700_000_000
    allowed = {"total_sleep_time", "deepsleepduration", "hr_average", "sleep_score", "snoring"}
    assert all(set(x["data"]) <= allowed for x in nights)
    assert any(set(x["data"]) != allowed for x in nights)  # some fields missing on some nights
    last = wpost(srv, at, "/v2/sleep", action="getsummary", lastupdate=nights[-1]["modified"] - 1)
    assert last["status"] == 0 and len(last["body"]["series"]) >= 1
    assert wpost(srv, at, "/v2/sleep", action="getsummary")["status"] == 293


def test_withings_sleep_detail_and_measures(srv: SandboxServer) -> None:
    at = withings_connect(srv)["access_token"]
    night = wpost(
        srv, at, "/v2/sleep", action="getsummary", startdateymd="2026-11-20", enddateymd="2026-11-20"
    )["body"]["series"][0]
    too_long = wpost(
        srv, at, "/v2/sleep", action="get", startdate=night["startdate"], enddate=night["startdate"] + 86401
    )
    assert too_long["status"] == 293
    det = wpost(
        srv,
        at,
        "/v2/sleep",
        action="get",
        startdate=night["startdate"],
        enddate=night["enddate"],
        data_fields="hr,rr,snoring",
    )
    assert det["status"] == 0
    segs = det["body"]["series"]
    assert {s["state"] for s in segs} <= {0, 1, 2, 3} and len(segs) > 5
    seg = max(segs, key=lambda s: s["enddate"] - s["startdate"])
    assert seg["hr"] and all(seg["startdate"] <= int(k) < seg["enddate"] for k in seg["hr"])
    assert set(seg) >= {"rr", "snoring"}
    meas = wpost(srv, at, "/measure", action="getmeas", meastypes="1,11", category=1)
    assert meas["status"] == 0 and meas["body"]["more"] in (0, 1)
    grp = meas["body"]["measuregrps"][0]
    weight = next(m for m in grp["measures"] if m["type"] == 1)
    assert 50 < weight["value"] * 10 ** weight["unit"] < 100
    total = len(meas["body"]["measuregrps"])
    while meas["body"]["more"]:
        meas = wpost(srv, at, "/measure", action="getmeas", meastypes="1,11", offset=meas["body"]["offset"])
        total += len(meas["body"]["measuregrps"])
    assert total > 10
    assert wpost(srv, "bad-token", "/measure", action="getmeas")["status"] == 401


def test_polar_exercises_and_samples(srv: SandboxServer) -> None:
    at = polar_connect(srv)["access_token"]
    r = polar_req(srv, at, "GET", "/v3/exercises")
    assert (
        r.status_code == 200 and {"RateLimit-Usage", "RateLimit-Limit", "RateLimit-Reset"} <= r.headers.keys()
    )
    exercises = r.json()
    assert isinstance(exercises, list) and len(exercises) >= 5
    for ex in exercises:
        assert {
            "id",
            "upload_time",
            "start_time",
            "start_time_utc_offset",
            "duration",
            "heart_rate",
            "sport",
        } <= ex.keys()
        assert (
            DURATION.match(ex["duration"]) and "T" in ex["start_time"] and not ex["start_time"].endswith("Z")
        )
        assert int(ex["start_time_utc_offset"]) == 60
        assert ex["start_time"] >= "2026-10-30"  # last 30 days only
    assert any(isinstance(ex["calories"], str) for ex in exercises)  # numbers sometimes as strings
    assert any(isinstance(ex["calories"], int) for ex in exercises)
    detail = polar_req(
        srv, at, "GET", f"/v3/exercises/{exercises[0]['id']}", params={"samples": "true"}
    ).json()
    sample = detail["samples"][0]
    assert sample["recording_rate"] == 1 and sample["sample_type"] == "0"
    values = [int(v) for v in sample["data"].split(",")]
    assert 0 in values and max(values) > 100
    assert polar_req(srv, at, "GET", "/v3/exercises/NOPE").status_code == 404
    acts = polar_req(
        srv, at, "GET", "/v3/users/activities", params={"from": "2026-11-20", "to": "2026-11-26"}
    ).json()
    assert len(acts) == 7 and all(
        isinstance(a["steps"], int) and DURATION.match(a["active_duration"]) for a in acts
    )
    uid = srv.user("polar", "greta").user_id  # type: ignore[union-attr]
    assert polar_req(srv, at, "GET", f"/v3/users/{uid}/exercise-transactions").status_code == 410


def test_polar_history_starts_at_registration(srv: SandboxServer) -> None:
    srv.add_user("polar", "newbie", days=3)
    at = polar_connect(srv, "newbie")["access_token"]
    exercises = polar_req(srv, at, "GET", "/v3/exercises").json()
    assert all(ex["start_time"] >= "2026-11-25" for ex in exercises)
    acts = polar_req(
        srv, at, "GET", "/v3/users/activities", params={"from": "2026-11-01", "to": "2026-11-28"}
    )
    assert acts.json()[0]["start_time"][:10] == "2026-11-25"
