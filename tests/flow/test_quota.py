"""Vendor quotas: the documented limits, the limiter's waits, 429 penalties and backfill estimates."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from services.accounts.actor import HOST
from services.errors import InvalidInput
from services.sync.backfill_estimate import estimate_range
from services.sync.quota import (
    QuotaLimiter,
    estimate_backfill,
    format_duration,
    polar_reset_seconds,
    requests_for,
    retry_after_seconds,
    windows_for,
)
from tests.flow.conftest import add_connection, days, write_coverage


class Time:
    """A fake monotonic clock; sleeping advances it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


@pytest.fixture
def time_() -> Time:
    return Time()


@pytest.fixture
def limiter(time_: Time) -> QuotaLimiter:
    return QuotaLimiter(clock=time_.clock, sleep=time_.sleep)


def test_documented_limits():
    assert [(w.limit, w.seconds, w.per_user) for w in windows_for("fitbit")] == [
        (300, 60, True), (120_000, 60, False)]
    assert [(w.limit, w.seconds) for w in windows_for("withings")] == [(120, 60)]
    assert [(w.limit, w.seconds) for w in windows_for("polar", users=25)] == [
        (500 + 20 * 25, 900), (5000 + 100 * 25, 86_400)]
    with pytest.raises(ValueError):
        windows_for("garmin")


def test_google_counts_each_user_separately(limiter, time_):
    for _ in range(300):
        assert limiter.acquire("fitbit", "user-a") == 0
    assert limiter.acquire("fitbit", "user-b") == 0  # another patient is not held up
    assert limiter.try_acquire("fitbit", "user-a") == pytest.approx(60)
    assert limiter.acquire("fitbit", "user-a") == pytest.approx(60)
    assert time_.t == pytest.approx(1060)


def test_withings_counts_the_whole_application(limiter, time_):
    for i in range(120):
        limiter.acquire("withings", f"user-{i % 7}")
    time_.t += 30
    assert limiter.acquire("withings", "user-new") == pytest.approx(30)


def test_polar_scales_with_registered_users_in_both_windows(limiter, time_):
    limiter.set_users("polar", 10)  # 700 per 15 min, 6000 per 24 h
    for _ in range(700):
        assert limiter.acquire("polar", "u") == 0
    assert limiter.try_acquire("polar", "u") == pytest.approx(900)
    # keep going for many windows: the day's 6000 run out long before the day ends
    sent = 700
    while sent < 6000:
        limiter.acquire("polar", "u")
        sent += 1
    assert time_.t - 1000 == pytest.approx(8 * 900)  # 6000 = 8 full windows of 700 + 400
    wait = limiter.try_acquire("polar", "u")
    assert wait == pytest.approx(86_400 - 8 * 900)
    limiter.set_users("polar", 11)  # one more user: 100 more a day, at once
    assert limiter.try_acquire("polar", "u") == 0


def test_a_429_waits_as_retry_after_says(limiter, time_):
    assert limiter.observe("fitbit", "user-a", 429, {"retry-after": "30"}) == 30
    assert limiter.acquire("fitbit", "user-b") == 0  # Google's limit is per user
    assert limiter.acquire("fitbit", "user-a") == pytest.approx(30)

    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    assert limiter.observe("withings", "x", 429, {"Retry-After": "Fri, 20 Nov 2026 12:02:00 GMT"}, now=now) == 120
    assert limiter.acquire("withings", "y") == pytest.approx(120)  # the whole application waits


def test_a_429_without_headers_waits_a_full_window(limiter):
    assert limiter.observe("fitbit", "u", 429, {}) == 60
    assert limiter.observe("withings", "u", 200, {}) is None
    assert limiter.observe("withings", "u", 601, {}) == 60  # Withings' "too many requests" status


def test_polar_ratelimit_headers(limiter, time_):
    exhausted = {"RateLimit-Usage": "540, 3000", "RateLimit-Limit": "540, 5400", "RateLimit-Reset": "420, 50000"}
    assert polar_reset_seconds(exhausted) == 420
    assert polar_reset_seconds({"RateLimit-Usage": "10, 20", "RateLimit-Limit": "540, 5400",
                                "RateLimit-Reset": "420, 50000"}) is None
    assert polar_reset_seconds({"RateLimit-Usage": "garbled"}) is None
    # a successful reply that used up the window already stops the next request
    assert limiter.observe("polar", "u", 200, exhausted) == 420
    assert limiter.acquire("polar", "u") == pytest.approx(420)


def test_retry_after_parsing():
    now = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"Retry-After": "Fri, 20 Nov 2026 11:00:00 GMT"}, now) == 0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_the_limiter_is_safe_across_worker_threads(limiter):
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            if limiter.try_acquire("withings", "w") == 0:
                with lock:
                    granted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(granted) == 120  # exactly the window, never more, with 400 attempts racing


def test_backfill_estimate_counts_requests_per_vendor():
    est = estimate_backfill({"fitbit": 1}, 30)
    # steps 30 d × 1440 / 10000 → 5 pages; heart rate 14+14+2 d windows → 13+13+2 pages;
    # resting 1; sleep 36 sessions / 25 → 2; plus settings and devices
    assert est.requests == 5 + 28 + 1 + 2 + 2
    assert est.vendors[0].limited_by == "network"

    w = estimate_backfill({"withings": 3}, 60)
    assert w.requests == 3 * (1 + 2 + 60 + 2)  # devices, 2 summary ranges, 60 nights, 2 measure ranges
    assert w.vendors[0].limited_by == "application minute"
    assert w.seconds == pytest.approx(((3 * 65 - 1) // 120) * 60)

    p = estimate_backfill({"polar": 2}, 365)  # only 30 days of Polar history exist
    assert p.requests == 2 * (1 + 30 + 2)


def test_polar_backfill_pace_is_set_by_the_quota():
    est = estimate_backfill({"polar": 200}, 30, polar_users=200)
    per_15 = 500 + 20 * 200
    assert est.requests == 200 * 33
    assert est.seconds == pytest.approx(((est.requests - 1) // per_15) * 900)
    assert "Polar's 15-minute limit sets the pace" in est.describe()


def test_an_estimate_reads_as_a_sentence():
    assert estimate_backfill({}, 30).describe() == "Nothing to download."
    text = estimate_backfill({"fitbit": 10, "withings": 5, "polar": 20}, 30).describe()
    assert text.startswith("About 1,") and "minute" in text
    assert format_duration(20) == "under a minute"
    assert format_duration(125) == "3 minutes"
    assert format_duration(3 * 3600 + 600) == "3 h 10 min"
    assert format_duration(3 * 86400) == "3.0 days"


def test_a_backfill_estimate_skips_days_already_complete(app):
    fitbit = add_connection(app, "P-001", "fitbit")
    add_connection(app, "P-002", "withings")
    add_connection(app, "P-003", "polar", status="needs_reconsent")
    start, end = dt.date(2026, 10, 1), dt.date(2026, 10, 30)
    write_coverage(app, fitbit, days(start, dt.date(2026, 10, 20)))  # a killed backfill got this far
    est = estimate_range(app.db, start, end)
    assert est.requests == requests_for("fitbit", 10) + requests_for("withings", 30)
    assert estimate_range(app.db, start, end, skip_done=False).requests == (
        requests_for("fitbit", 30) + requests_for("withings", 30))
    only = estimate_range(app.db, start, end, patient_codes=["P-002"])
    assert [v.vendor for v in only.vendors] == ["withings"]
    app.patients.delete("P-002", HOST)
    assert [v.vendor for v in estimate_range(app.db, start, end).vendors] == ["fitbit"]
    with pytest.raises(InvalidInput, match="after the end date"):
        estimate_range(app.db, end, start)
