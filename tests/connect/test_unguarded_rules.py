"""Download rules no other test guarded, on SQLite and MariaDB, with the app's clock pinned:

- today stays "partial" and is fetched again tomorrow; a day the device has not synced past stays
  "missing" (empty) or "partial" and is fetched again: Withings reports the mat's last sync (getdevice),
  Polar reports none, so there an empty day inside the look-back stays "missing";
- a vendor quota used up mid-sync stops that data type (no further requests) and leaves the days
  not fetched recorded as not done, so the next run resumes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from db.models import Coverage
from services.sandbox import SandboxServer

from .conftest import TODAY, connect

NOON_UTC = dt.datetime(2026, 11, 28, 11, 0)  # 12:00 in Berlin on the sandbox's "today"


def ledger(app: Any, cid: int, data_type: str) -> dict[dt.date, tuple[str, int]]:
    with app.db.session() as s:
        rows = s.scalars(select(Coverage).where(Coverage.connection_id == cid, Coverage.data_type == data_type))
        return {c.local_date: (c.status, c.attempts) for c in rows}


def api_calls(srv: SandboxServer, vendor: str, fragment: str) -> list[Any]:
    return [c for c in srv.calls if c.kind == "api" and c.vendor == vendor and fragment in c.path]


def test_withings_today_stays_partial_and_an_empty_recent_day_stays_missing(sapp: Any, srv: SandboxServer) -> None:
    yesterday = TODAY - dt.timedelta(days=1)
    # the mat last synced on the morning of the day before yesterday: the last two nights are not
    # uploaded yet (getdevice says so: its last_session_date)
    srv.set_device_sync("withings", "emil", dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC))
    sapp.clock.pin(NOON_UTC)
    assert connect(sapp, srv, "W-1", "withings", "emil").ok
    cid = int(sapp.connections.connection_id("W-1", "withings"))
    assert sapp.sync.sync_connection(cid).ok  # the first, incremental sync: the last 7 days
    first = ledger(sapp, cid, "sleep")
    assert first[TODAY] == ("partial", 1), "the day is not over"
    assert first[yesterday] == ("missing", 1), "empty inside the look-back: it may still fill"
    assert first[TODAY - dt.timedelta(days=2)] == ("partial", 1), "the mat has not synced since that morning"
    assert first[TODAY - dt.timedelta(days=3)] == ("complete", 1)

    # the next morning: the mat has synced both nights
    srv.set_device_sync("withings", "emil", dt.datetime(2026, 11, 29, 7, 0, tzinfo=dt.UTC))
    sapp.clock.advance(days=1)
    srv.clear_calls()
    assert sapp.sync.sync_connection(cid).ok
    assert api_calls(srv, "withings", "sleep"), "the sleep data was asked for again"
    second = ledger(sapp, cid, "sleep")
    assert second[TODAY][1] == 2, "yesterday's partial day is fetched again"
    assert second[yesterday] == ("complete", 2), "the empty day is fetched again and now filled"
    assert second[TODAY - dt.timedelta(days=2)] == ("complete", 2)
    assert second[TODAY - dt.timedelta(days=3)][1] == 1, "a settled day is not fetched again"


def test_polar_today_stays_partial_and_is_fetched_again_tomorrow(sapp: Any, srv: SandboxServer) -> None:
    sapp.clock.pin(NOON_UTC)
    assert connect(sapp, srv, "P-1", "polar", "greta").ok
    cid = int(sapp.connections.connection_id("P-1", "polar"))
    assert sapp.sync.sync_connection(cid).ok
    assert ledger(sapp, cid, "exercises") == {TODAY: ("partial", 1)}  # no history before registration
    sapp.clock.advance(days=1)
    assert sapp.sync.sync_connection(cid).ok
    again = ledger(sapp, cid, "exercises")
    assert again[TODAY][1] == 2, "the day that was partial is fetched again the next day"
    assert again[TODAY + dt.timedelta(days=1)] == ("partial", 1)


def test_a_quota_used_up_mid_sync_stops_the_type_and_the_rest_is_resumed(sapp: Any, srv: SandboxServer) -> None:
    sapp.clock.pin(NOON_UTC)
    assert connect(sapp, srv, "Q-1", "fitbit", "anna").ok
    cid = int(sapp.connections.connection_id("Q-1", "fitbit"))
    start, end = dt.date(2026, 10, 29), dt.date(2026, 11, 18)  # three 7-day chunks of steps
    first_chunk = [start + dt.timedelta(days=i) for i in range(7)]
    used_up = {"at": -1}

    def quota_runs_out(conn_id: int, data_type: str, lo: dt.date, hi: dt.date) -> None:
        if data_type == "steps" and used_up["at"] < 0:  # after the first steps chunk is stored
            used_up["at"] = len(srv.calls)
            srv.inject("fitbit", "429", times=1000, path="dataTypes/steps")

    sapp.sync.after_chunk = quota_runs_out
    result = sapp.sync.sync_connection(cid, start, end)
    sapp.sync.after_chunk = None
    assert not result.ok
    steps_after = [c for c in srv.calls[used_up["at"]:] if c.kind == "api" and "dataTypes/steps" in c.path]
    assert steps_after, "the quota was hit"
    assert all(c.status == 429 for c in steps_after), "no steps request got through once the quota was gone"
    asked = {tuple(sorted(c.params.items())) for c in steps_after}
    assert len(asked) == 1, "the data type stopped at the chunk that hit the quota; later chunks were not asked"
    steps = ledger(sapp, cid, "steps")
    assert all(steps[d][0] == "complete" for d in first_chunk)
    left = [d for d in steps if d not in first_chunk]
    assert sorted(left) == [start + dt.timedelta(days=i) for i in range(7, 21)], "every day left is recorded"
    assert all(steps[d][0] in ("failed", "missing") for d in left), "no day left looks done"
    assert all(status == "complete" for status, _ in ledger(sapp, cid, "heart_rate").values()), \
        "another data type is not stopped by the steps quota"

    # the quota is back: the next run asks only for the days left, and finishes them
    srv.clear_faults()
    srv.clear_calls()
    assert sapp.sync.sync_connection(cid, start, end).ok
    resumed = {tuple(sorted(c.params.items())) for c in api_calls(srv, "fitbit", "dataTypes/steps")}
    assert len(resumed) == 2, "the two chunks left, not the one already stored"
    steps = ledger(sapp, cid, "steps")
    assert all(status == "complete" for status, _ in steps.values())
    assert all(steps[d][1] == 1 for d in first_chunk), "the stored chunk was not fetched again"
