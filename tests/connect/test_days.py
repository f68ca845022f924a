"""Patient days: civil days across UTC dates, nights across midnight, DST-change days."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest

from services.data.export import write_csv
from services.sandbox import SandboxServer
from services.sandbox.model import day_data, sleeps_ending_on, withings_night

from .conftest import _wire, connect


def export(app: Any, vendor: str, code: str, metric: str, start: dt.date, end: dt.date) -> list[dict[str, str]]:
    buf = io.StringIO()
    write_csv(app.db, buf, vendor, code, metric, start, end)
    return list(csv.DictReader(io.StringIO(buf.getvalue())))


def z(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_google_civil_day_in_berlin_starts_on_the_previous_utc_date(sapp: Any, srv: SandboxServer) -> None:
    srv.add_user("fitbit", "nico", "Europe/Berlin", wear_gaps=False)
    assert connect(sapp, srv, "P-DAY", "fitbit", "nico").ok
    cid = sapp.connections.connection_id("P-DAY", "fitbit")
    day = dt.date(2026, 11, 20)
    assert sapp.sync.sync_connection(cid, day, day).ok
    hr = export(sapp, "fitbit", "P-DAY", "heart_rate", day, day)
    assert len(hr) == 1440  # the whole civil day, one sample a minute
    assert hr[0]["timestamp"].startswith("2026-11-19T23:00:") and hr[-1]["timestamp"].startswith("2026-11-20T22:59:")
    assert {r["date"] for r in hr} == {"2026-11-20"}
    expected = [(z(t), str(b)) for t, b in day_data(1, "nico", "Europe/Berlin", day, False).hr]
    assert [(r["timestamp"], r["bpm"]) for r in hr] == expected
    # the evening before in UTC terms is not part of the 19th's civil day
    assert export(sapp, "fitbit", "P-DAY", "heart_rate", dt.date(2026, 11, 19), dt.date(2026, 11, 19)) == []
    steps = export(sapp, "fitbit", "P-DAY", "steps", day, day)
    generated = day_data(1, "nico", "Europe/Berlin", day, False).steps
    assert sum(int(r["steps"]) for r in steps) == sum(c for _, c in generated)
    # sleep: the night belongs to the morning it ends; its stages too, even those before midnight
    sleep = export(sapp, "fitbit", "P-DAY", "sleep", day, day)
    sessions = sleeps_ending_on(1, "nico", "Europe/Berlin", day)
    assert [(r["start"], r["end"]) for r in sleep] == sorted((z(s.start), z(s.end)) for s in sessions)
    stages = export(sapp, "fitbit", "P-DAY", "sleep_stages", day, day)
    main = min(sessions, key=lambda x: x.start)
    assert stages[0]["start"] == z(main.start) and {r["date"] for r in stages} == {"2026-11-20"}


def test_withings_night_across_midnight_belongs_to_its_morning(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "P-NIGHT", "withings", "emil").ok
    cid = lapp.connections.connection_id("P-NIGHT", "withings")
    d19, d20 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
    assert lapp.sync.sync_connection(cid, d19, d20).ok
    night = withings_night(1, "emil", "Europe/Berlin", d20).session
    assert dt.datetime.fromtimestamp(night.start, dt.UTC).date() == d19  # it started the evening before
    rows = export(lapp, "withings", "P-NIGHT", "sleep", d20, d20)
    assert [(r["start"], r["end"], r["date"]) for r in rows] == [(z(night.start), z(night.end), "2026-11-20")]
    only19 = export(lapp, "withings", "P-NIGHT", "sleep", d19, d19)
    assert [r["end"][:10] for r in only19] == ["2026-11-19"]
    stages = export(lapp, "withings", "P-NIGHT", "sleep_stages", d20, d20)
    assert stages[0]["start"] == z(night.start) and {r["date"] for r in stages} == {"2026-11-20"}
    # samples keep their own civil date: the evening's heart rate is the 19th's
    hr = export(lapp, "withings", "P-NIGHT", "heart_rate", d19, d19)
    assert hr and all(r["kind"] == "sleep" for r in hr)


@pytest.fixture
def october() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=dt.date(2026, 10, 27)) as s:
        yield s


def test_dst_change_day_has_1500_minutes(sqlite_app: Any, october: SandboxServer) -> None:
    app = _wire(sqlite_app, october)
    october.add_user("fitbit", "otto", "Europe/Berlin", days=5, wear_gaps=False)
    assert connect(app, october, "P-DST", "fitbit", "otto").ok
    cid = app.connections.connection_id("P-DST", "fitbit")
    day = dt.date(2026, 10, 25)
    assert app.sync.sync_connection(cid, day, day).ok
    hr = export(app, "fitbit", "P-DST", "heart_rate", day, day)
    assert len(hr) == 1500 and len({r["timestamp"] for r in hr}) == 1500
    assert hr[0]["timestamp"].startswith("2026-10-24T22:00") and hr[-1]["timestamp"].startswith("2026-10-25T22:59")
    from sqlalchemy import select

    from db.models import HeartRateSample

    with app.db.session() as s:
        offsets = s.scalars(select(HeartRateSample.utc_offset_s).where(HeartRateSample.local_date == day)
                            .order_by(HeartRateSample.ts_utc)).all()
    assert offsets[0] == 7200 and offsets[-1] == 3600 and offsets.count(7200) == 180  # 00:00-03:00 CEST
