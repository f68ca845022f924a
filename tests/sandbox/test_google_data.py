from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime
from itertools import pairwise

import requests

from services.sandbox import SandboxServer

from .conftest import TODAY, gget, google_connect

HRF = "heart_rate.sample_time.civil_time"
SCF = "steps.interval.civil_start_time"
STEPS_DAY = SCF + ' >= "{0}T00:00:00" AND ' + SCF + ' < "{1}T00:00:00"'
RHR = "daily_resting_heart_rate.date"
DAY = HRF + ' >= "{0}T00:00:00" AND ' + HRF + ' < "{1}T00:00:00"'


def test_identity_settings_devices(srv: SandboxServer) -> None:
    at = google_connect(srv, "ben")["access_token"]
    ident = gget(srv, at, "identity").json()
    assert ident["healthUserId"] and ident["legacyUserId"]
    settings = gget(srv, at, "settings").json()
    assert settings["timeZone"] == "America/New_York" and settings["utcOffset"] in ("-18000s", "-14400s")
    dev = gget(srv, at, "pairedDevices").json()["pairedDevices"][0]
    assert dev["deviceType"] == "TRACKER" and dev["lastSyncTime"].endswith("Z")
    assert {"batteryLevel", "batteryStatus", "deviceVersion"} <= dev.keys()


def test_heart_rate_shape_and_paging(srv: SandboxServer) -> None:
    at = google_connect(srv)["access_token"]
    flt = DAY.format("2026-11-19", "2026-11-21")
    full = gget(srv, at, "dataTypes/heart-rate/dataPoints", filter=flt, pageSize=10000).json()
    assert "nextPageToken" not in full
    pts = full["dataPoints"]
    assert 2000 < len(pts) <= 2 * 1440
    hr = pts[0]["heartRate"]
    assert isinstance(hr["beatsPerMinute"], str) and 35 < int(hr["beatsPerMinute"]) < 200
    assert hr["sampleTime"]["physicalTime"].endswith("Z") and hr["sampleTime"]["utcOffset"] == "3600s"
    times = [p["heartRate"]["sampleTime"]["physicalTime"] for p in pts]
    assert times == sorted(times, reverse=True)  # newest first
    # default page size 1440, follow nextPageToken
    got: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"filter": flt, **({"pageToken": token} if token else {})}
        page = gget(srv, at, "dataTypes/heart-rate/dataPoints", **params).json()
        pages += 1
        assert len(page["dataPoints"]) <= 1440
        got += [p["heartRate"]["sampleTime"]["physicalTime"] for p in page["dataPoints"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == 2 and got == times
    bad = gget(
        srv,
        at,
        "dataTypes/heart-rate/dataPoints",
        filter=DAY.format("2026-11-01", "2026-11-02"),
        pageToken=page.get("nextPageToken") or "bogus",
    )
    assert bad.status_code == 400


def test_filter_validation(srv: SandboxServer) -> None:
    at = google_connect(srv)["access_token"]

    def status(dtype: str, flt: str) -> tuple[int, str]:
        r = gget(srv, at, f"dataTypes/{dtype}/dataPoints", filter=flt)
        return r.status_code, (r.json().get("error") or {}).get("status", "")

    assert status("heart-rate", DAY.format("2026-11-01", "2026-11-15")) == (200, "")  # 14 days ok
    assert status("heart-rate", DAY.format("2026-11-01", "2026-11-16")) == (400, "INVALID_ARGUMENT")
    assert status("heart-rate", 'heart_rate.civil_time >= "2026-11-01T00:00:00"')[0] == 400
    assert status("heart-rate", 'heart_rate.sample_time.civil_time <= "2026-11-01T00:00:00"')[0] == 400
    assert status("heart-rate", 'heart_rate.sample_time.civil_time >= "yesterday"')[0] == 400
    steps = STEPS_DAY
    assert status("steps", steps.format("2026-08-01", "2026-11-01"))[0] == 400  # 92 days
    assert status("steps", steps.format("2026-09-01", "2026-11-01"))[0] == 200
    assert status("sleep", 'sleep.interval.start_time >= "2026-11-01T00:00:00Z"')[0] == 400
    assert status("sleep", 'sleep.interval.end_time >= "2026-11-01T00:00:00Z"')[0] == 200
    assert status("daily-resting-heart-rate", 'daily_resting_heart_rate.date >= "2026-11-01"')[0] == 200
    assert status("heartRate", "")[0] == 400


def test_steps_resting_hr_and_sleep(srv: SandboxServer) -> None:
    at = google_connect(srv)["access_token"]
    flt = STEPS_DAY.format("2026-11-20", "2026-11-21")
    pts = gget(srv, at, "dataTypes/steps/dataPoints", filter=flt).json()["dataPoints"]
    assert 100 < len(pts) < 1440  # zero-step minutes are absent
    iv = pts[-1]["steps"]["interval"]
    assert iv["civilStartTime"]["date"] == {"year": 2026, "month": 11, "day": 20}
    assert "seconds" not in iv["civilStartTime"]["time"]  # zero fields omitted
    assert isinstance(pts[0]["steps"]["count"], str) and iv["startUtcOffset"] == "3600s"
    rhr = gget(
        srv,
        at,
        "dataTypes/daily-resting-heart-rate/dataPoints",
        filter=RHR + ' >= "2026-11-01" AND ' + RHR + ' < "2026-11-08"',
    )
    days = rhr.json()["dataPoints"]
    assert len(days) == 7 and days[0]["dailyRestingHeartRate"]["date"] == {
        "year": 2026,
        "month": 11,
        "day": 7,
    }
    sleep = gget(srv, at, "dataTypes/sleep/dataPoints", pageSize=100).json()
    assert len(sleep["dataPoints"]) == 25 and "nextPageToken" in sleep  # max page size 25
    for p in sleep["dataPoints"]:
        s = p["sleep"]
        assert s["type"] in ("STAGES", "CLASSIC")
        st = s["stages"]
        assert (
            st[0]["startTime"] == s["interval"]["startTime"] and st[-1]["endTime"] == s["interval"]["endTime"]
        )
        assert all(a["endTime"] == b["startTime"] for a, b in pairwise(st))
        allowed = (
            {"AWAKE", "LIGHT", "DEEP", "REM"} if s["type"] == "STAGES" else {"AWAKE", "ASLEEP", "RESTLESS"}
        )
        assert {x["type"] for x in st} <= allowed
        assert isinstance(s["summary"]["minutesAsleep"], str) and s["summary"]["stagesSummary"]
        assert s["metadata"]["mainSleep"] is not s["metadata"]["nap"]


def test_dst_fall_back_day_has_1500_civil_minutes(srv: SandboxServer) -> None:
    srv.add_user("fitbit", "dst", "Europe/Berlin", days=40, wear_gaps=False)
    at = google_connect(srv, "dst")["access_token"]
    pts = gget(
        srv,
        at,
        "dataTypes/heart-rate/dataPoints",
        filter=DAY.format("2026-10-25", "2026-10-26"),
        pageSize=10000,
    ).json()["dataPoints"]
    assert len(pts) == 1500
    offsets = Counter(p["heartRate"]["sampleTime"]["utcOffset"] for p in pts)
    assert offsets == {"7200s": 180, "3600s": 1320}
    hours = Counter(p["heartRate"]["sampleTime"]["civilTime"]["time"].get("hours", 0) for p in pts)
    assert hours[2] == 120 and hours[1] == 60
    # spring forward: 1380 minutes
    spring = gget(srv, at, "dataTypes/heart-rate/dataPoints", filter=DAY.format("2026-03-29", "2026-03-30"))
    assert spring.status_code == 200  # before first_day -> no data, but valid
    srv.add_user("fitbit", "spring", "Europe/Berlin", days=300, wear_gaps=False)
    at2 = google_connect(srv, "spring")["access_token"]
    pts2 = gget(
        srv,
        at2,
        "dataTypes/heart-rate/dataPoints",
        filter=DAY.format("2026-03-29", "2026-03-30"),
        pageSize=10000,
    ).json()["dataPoints"]
    assert len(pts2) == 1380


def test_device_sync_hides_newer_data(srv: SandboxServer) -> None:
    last = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    srv.set_device_sync("fitbit", "anna", last)
    at = google_connect(srv)["access_token"]
    dev = gget(srv, at, "pairedDevices").json()["pairedDevices"][0]
    assert dev["lastSyncTime"] == "2026-11-23T12:00:00Z"
    newest = gget(srv, at, "dataTypes/heart-rate/dataPoints", pageSize=1).json()["dataPoints"][0]
    assert newest["heartRate"]["sampleTime"]["physicalTime"] <= "2026-11-23T12:00:00Z"
    stale = google_connect(srv, "chiara")["access_token"]  # demo user whose watch has not synced for 5 days
    sync = gget(srv, stale, "pairedDevices").json()["pairedDevices"][0]["lastSyncTime"]
    assert sync.startswith("2026-11-23")


def test_quota_and_legacy_api() -> None:
    with SandboxServer(today=TODAY, google_quota_per_minute=3) as srv:
        at = google_connect(srv)["access_token"]
        codes = [gget(srv, at, "identity").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert gget(srv, at, "identity").json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        srv.advance_time(61)
        assert gget(srv, at, "identity").status_code == 200
        legacy = requests.get(
            srv.endpoints("fitbit")["api_url"] + "/1/user/-/activities/steps/date/today/1d.json",
            headers={"Authorization": "Bearer " + at},
            timeout=5,
        )
        assert legacy.status_code == 410


def test_deterministic_and_lazy() -> None:
    def fetch(seed: int) -> list[str]:
        with SandboxServer(seed=seed, today=TODAY) as s:
            at = google_connect(s)["access_token"]
            pts = gget(s, at, "dataTypes/heart-rate/dataPoints", pageSize=50).json()["dataPoints"]
            return [
                p["heartRate"]["beatsPerMinute"] + p["heartRate"]["sampleTime"]["physicalTime"] for p in pts
            ]

    assert fetch(7) == fetch(7) != fetch(8)
    t0 = time.perf_counter()
    s = SandboxServer(seed=3, today=date(2026, 11, 28))
    for i in range(200):
        s.add_user(("fitbit", "withings", "polar")[i % 3], f"p{i:03d}", "Europe/Berlin", days=30)
    assert time.perf_counter() - t0 < 0.5
