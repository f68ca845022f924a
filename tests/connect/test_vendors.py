"""What each vendor module makes of its payloads: every field lands in the shared model."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from db.models import BodyMeasure, DailyActivity, Exercise, RespiratorySample, SleepSession, SnoringSample
from services.sandbox import SandboxServer
from services.sandbox.model import day_data, polar_exercise, withings_measure, withings_night
from services.sandbox.withings import _summary_data
from services.vendors import VENDOR_CLASSES, VendorRegistry
from services.vendors.base import FetchContext
from services.vendors.polar import _exercise, _hr_samples, iso_duration_s

from .conftest import connect

D = dt.date(2026, 11, 20)


def test_registry_and_endpoint_overrides() -> None:
    assert list(VENDOR_CLASSES) == ["fitbit", "withings", "polar"]
    reg = VendorRegistry({"WEARSYNC_POLAR_API_URL": "http://127.0.0.1:9/polar/", "POLAR_CLIENT_ID": "id",
                          "POLAR_CLIENT_SECRET": "s"})
    polar = reg.get("Polar")
    assert polar.endpoints.api_url == "http://127.0.0.1:9/polar"
    assert polar.endpoints.token_url == "https://polarremote.com/v2/oauth2/token"  # the real one by default
    assert reg.get("fitbit").endpoints.api_url == "https://health.googleapis.com"
    assert polar.credentials() == ("id", "s")


def test_withings_summary_detail_and_measures(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "W-1", "withings", "fatma").ok
    cid = lapp.connections.connection_id("W-1", "withings")
    srv.withings_page_size = 3  # summaries and measures come in several pages (more/offset)
    start = D - dt.timedelta(days=6)
    assert lapp.sync.sync_connection(cid, start, D).ok
    assert lapp.connections.get("W-1", "withings").timezone == "Europe/London"
    with lapp.db.session() as s:
        sessions = {r.local_date: r for r in s.scalars(select(SleepSession))}
        measures = s.scalars(select(BodyMeasure)).all()
        resp = s.scalars(select(RespiratorySample)).all()
        snores = s.scalars(select(SnoringSample)).all()
    assert sorted(sessions) == [start + dt.timedelta(days=i) for i in range(7)]
    for day, row in sessions.items():
        night = withings_night(1, "fatma", "Europe/London", day)
        data = _summary_data(night)
        assert row.minutes_asleep == round(data["total_sleep_time"] / 60)
        assert row.minutes_awake == round(data["wakeupduration"] / 60)
        assert row.wakeup_count == data["wakeupcount"] and row.hr_average == data["hr_average"]
        assert (row.hr_min, row.hr_max) == (data["hr_min"], data["hr_max"])
        assert row.rr_average == data.get("rr_average") and row.snoring_s == data.get("snoring")
        assert row.snoring_episodes == data.get("snoringepisodecount")
        assert row.apnea_hypopnea_index == data.get("apnea_hypopnea_index")
        assert row.score == data.get("sleep_score") and row.efficiency == data["sleep_efficiency"]
        assert row.sleep_latency_s == data["sleep_latency"]
    # fields the mat could not compute stay empty, they are not zero
    assert any(r.score is None for r in sessions.values()) or any(r.apnea_hypopnea_index is None
                                                                   for r in sessions.values())
    nights = [withings_night(1, "fatma", "Europe/London", start + dt.timedelta(days=i)) for i in range(7)]
    assert len(resp) == sum(len(n.rr) for n in nights)
    assert len(snores) == sum(len(n.snoring) for n in nights)
    expected = {}
    for i in range(7):
        m = withings_measure(1, "fatma", "Europe/London", start + dt.timedelta(days=i))
        if m is not None:
            expected[(m.epoch, 1)] = m.weight_g / 1000
            expected[(m.epoch, 11)] = m.pulse
    got = {(int(r.ts_utc.replace(tzinfo=dt.UTC).timestamp()), r.measure_type): r.value for r in measures}
    assert got == expected and expected
    pages = [c.params.get("offset") for c in srv.calls if c.params.get("action") == "getsummary"]
    assert pages[0] is None and "3" in pages


def test_google_paging_newest_first(lapp: Any, srv: SandboxServer) -> None:
    srv.add_user("fitbit", "pia", "Europe/Berlin", wear_gaps=False)
    assert connect(lapp, srv, "G-1", "fitbit", "pia").ok
    cid = lapp.connections.connection_id("G-1", "fitbit")
    start = D - dt.timedelta(days=6)  # one 7-day chunk: 10,080 heart-rate samples > one 10,000 page
    assert lapp.sync.sync_connection(cid, start, D).ok
    from db.models import HeartRateSample

    from .conftest import count

    assert count(lapp.db, HeartRateSample) == 7 * 1440
    hr_calls = [c for c in srv.calls if c.path.endswith("/dataTypes/heart-rate/dataPoints")]
    assert len(hr_calls) == 2 and "pageToken" in hr_calls[1].params


def test_polar_exercises_and_daily_activity(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "PO-1", "polar", "hugo").ok
    cid = lapp.connections.connection_id("PO-1", "polar")
    start = dt.date(2026, 11, 14)
    assert lapp.sync.sync_connection(cid, start, D).ok
    with lapp.db.session() as s:
        acts = {a.local_date: a for a in s.scalars(select(DailyActivity))}
        exes = s.scalars(select(Exercise).order_by(Exercise.start_utc)).all()
    assert sorted(acts) == [start + dt.timedelta(days=i) for i in range(7)]
    for day, a in acts.items():
        assert a.steps == sum(c for _, c in day_data(1, "hugo", "Europe/Helsinki", day, True).steps)
    want = [polar_exercise(1, "hugo", "Europe/Helsinki", start + dt.timedelta(days=i)) for i in range(7)]
    want = [e for e in want if e is not None]
    assert [(int(e.start_utc.replace(tzinfo=dt.UTC).timestamp()), e.utc_offset_s) for e in exes] == [
        (w.start, 7200) for w in want]
    assert [e.calories for e in exes] == [w.calories for w in want]  # also when sent as strings


def test_polar_kebab_case_and_zero_samples() -> None:
    ex = _exercise({"id": "AB1", "start-time": "2026-11-20T18:00:00", "start-time-utc-offset": "120",
                    "duration": "PT1M5S", "sport": "RUNNING", "heart-rate": {"average": "140", "maximum": 170}})
    assert ex["start_utc"] == dt.datetime(2026, 11, 20, 16, 0) and ex["end_utc"] == dt.datetime(2026, 11, 20, 16, 1, 5)
    assert (ex["avg_hr"], ex["max_hr"], ex["utc_offset_s"]) == (140, 170, 7200)
    samples = _hr_samples({"samples": [{"recording-rate": 5, "sample-type": "0", "data": "0,120,0,,x,125"},
                                       {"recording_rate": 1, "sample_type": "1", "data": "9,9"}]}, ex)
    assert [(s["ts_utc"].second, s["bpm"]) for s in samples] == [(5, 120), (25, 125)]
    assert iso_duration_s("PT1H2M3S") == 3723 and iso_duration_s("PT0.5S") == 0


def test_fitbit_parses_civil_times_and_int64_strings() -> None:
    from services.vendors.fitbit import _heart_rate, _sleep, _steps

    ctx = FetchContext("Asia/Kolkata")
    hr = _heart_rate({"sampleTime": {"physicalTime": "2026-11-19T18:31:07Z", "utcOffset": "19800s",
                                     "civilTime": {"date": {"year": 2026, "month": 11, "day": 20},
                                                   "time": {"minutes": 1, "seconds": 7}}},
                      "beatsPerMinute": "61"}, ctx)
    assert hr == {"kind": "sample", "ts_utc": dt.datetime(2026, 11, 19, 18, 31, 7), "utc_offset_s": 19800,
                  "local_date": dt.date(2026, 11, 20), "bpm": 61}
    st = _steps({"interval": {"startTime": "2026-11-19T23:00:00Z", "endTime": "2026-11-19T23:01:00Z",
                              "startUtcOffset": "3600s"}, "count": "84"}, ctx)
    assert st["local_date"] == dt.date(2026, 11, 20) and st["steps"] == 84  # no civil time: from the offset
    sl = _sleep({"interval": {"startTime": "2026-11-19T17:00:00Z", "endTime": "2026-11-20T01:00:00Z",
                              "startUtcOffset": "19800s", "endUtcOffset": "19800s"},
                 "type": "CLASSIC", "stages": [{"startTime": "2026-11-19T17:00:00Z",
                                                "endTime": "2026-11-20T01:00:00Z", "type": "ASLEEP"}],
                 "summary": {"minutesAsleep": "480", "minutesAwake": "0"}, "metadata": {"nap": False}}, ctx)
    assert sl["local_date"] == dt.date(2026, 11, 20) and sl["minutes_asleep"] == 480
    assert sl["deep_minutes"] is None and sl["_stages"][0]["stage"] == "asleep"


def test_the_vendor_list_and_the_vendor_modules_agree() -> None:
    """The device types (services/config.py: names and the labels a coordinator reads) and the vendor
    modules (services/vendors: loaded on first use) name the same vendors, in the same order, with the
    same labels."""
    from services.config import VENDOR_LABELS, VENDORS
    from services.vendors import VENDOR_CLASSES, VENDOR_MODULES

    assert list(VENDOR_MODULES) == list(VENDORS) == list(VENDOR_LABELS)
    assert {name: VENDOR_CLASSES[name].label for name in VENDORS} == VENDOR_LABELS
