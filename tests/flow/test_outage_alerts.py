"""The alerts against a silent outage, e-mailed through a real local SMTP server on a pinned clock:
a Polar connection not downloaded for 21 days (Polar keeps 30), once per digest, every day while it
lasts; "WearSync did not run its daily download for N days", read from the run history, once per
outage."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from db.models import SyncRun
from services.accounts.actor import HOST
from services.errors import InvalidInput
from tests.flow.conftest import add_connection, days, write_coverage
from tests.flow.test_alerts import server, service  # noqa: F401 (a fixture)
from tests.flow.test_mail import env_for

D = dt.timedelta
TODAY = dt.date(2026, 11, 20)  # the `clock` fixture pins 2026-11-20 09:00 in Berlin


def run(app: Any, started: dt.datetime, minutes: int = 5) -> None:
    """A download in the run history (naive UTC, as stored)."""
    with app.db.session() as s:
        s.add(SyncRun(trigger="schedule", started_at=started, finished_at=started + D(minutes=minutes), status="ok"))


def bodies(srv: Any) -> list[str]:
    return [m.message.get_content() for m in srv.messages]


def test_a_polar_connection_not_downloaded_for_21_days_is_alerted_once_per_digest(app: Any, clock: Any,
                                                                                  server: Any) -> None:  # noqa: F811
    at_risk = add_connection(app, "P-004", "polar", connected_at=dt.datetime(2026, 9, 1, 12))
    write_coverage(app, at_risk, days(dt.date(2026, 9, 1), TODAY - D(days=21)), data_type="exercises")
    fine = add_connection(app, "P-005", "polar", connected_at=dt.datetime(2026, 9, 1, 12))
    write_coverage(app, fine, days(dt.date(2026, 9, 1), TODAY - D(days=20)), data_type="exercises")
    never = add_connection(app, "P-006", "polar", connected_at=dt.datetime(2026, 10, 25, 12))  # 26 days, nothing
    fitbit = add_connection(app, "P-007", "fitbit", connected_at=dt.datetime(2026, 9, 1, 12))
    write_coverage(app, fitbit, days(dt.date(2026, 9, 1), TODAY - D(days=25)))  # Fitbit keeps its history
    add_connection(app, "P-008", "polar", status="withdrawn", connected_at=dt.datetime(2026, 9, 1, 12))
    assert never and fitbit
    alerts = service(app, clock, env_for(server.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)

    first = alerts.run()
    assert first.sent
    assert [(a.kind, a.patient_code) for a in first.alerts] == [("data_at_risk", "P-004"), ("data_at_risk", "P-006")]
    [body] = bodies(server)
    assert "Connections whose data will soon be lost for good:" in body
    assert ("P-004, Polar: nothing downloaded after 30 Oct 2026 (21 days). Polar keeps only the last 30 days, so "
            "its data older than that is lost for good: download it within 9 days") in body
    assert "P-006, Polar: nothing downloaded since the connection on 25 Oct 2026 (26 days)" in body
    assert "within 4 days" in body
    assert "P-005" not in body and "P-007" not in body and "P-008" not in body
    assert "2 connections about to lose data" in first.subject  # type: ignore[operator]

    again = alerts.run()  # the next check the same day: still wrong, not e-mailed again
    assert not again.sent and again.new == () and len(again.alerts) == 2
    assert len(server.messages) == 1

    clock.advance(D(days=1))  # the next day's digest says it again, more urgent
    assert alerts.run().sent and len(server.messages) == 2
    assert "download it within 8 days" in bodies(server)[1]
    clock.advance(D(days=9))
    alerts.run()
    assert "P-004, Polar: nothing downloaded after 30 Oct 2026 (31 days)" in bodies(server)[2]
    assert "some of it is already lost: download it now" in bodies(server)[2]


def test_wearsync_not_running_for_days_is_alerted_once_from_the_run_history(app: Any, clock: Any,
                                                                           server: Any) -> None:  # noqa: F811
    alerts = service(app, clock, env_for(server.port))
    alerts.add_recipient("coordinator@clinic.example", HOST)
    assert alerts.run().alerts == (), "no run yet (a new installation): nothing was missed"
    for day in days(dt.date(2026, 10, 1), dt.date(2026, 10, 9)):  # daily runs: no alert for these
        run(app, dt.datetime(day.year, day.month, day.day, 23, 0))
    run(app, dt.datetime(2026, 11, 20, 7, 59))  # the catch-up at this start, after 41 days off
    result = alerts.run()
    assert result.sent and [a.kind for a in result.alerts] == ["wearsync_not_run"]
    [body] = bodies(server)
    assert ("WearSync did not run its daily download for 41 days (from Sat 10 Oct 2026 01:05 to "
            "Fri 20 Nov 2026 08:59): the computer was off or WearSync was closed.") in body
    assert (result.subject or "").endswith(": 1 WearSync outage")

    assert not alerts.run().sent  # the next check
    run(app, dt.datetime(2026, 11, 20, 23, 0))
    clock.advance(D(days=1))
    run(app, dt.datetime(2026, 11, 21, 7, 0))
    later = alerts.run()  # the next day: the outage is still in the history, but was told already
    assert not later.sent and [a.kind for a in later.alerts] == ["wearsync_not_run"]
    assert len(server.messages) == 1

    # off again for 3 days while the window stays open (nothing ran): told once, as going on now
    clock.advance(D(days=3))
    now = alerts.run()
    assert now.sent and ("WearSync has not run its daily download for 3 days (the last one was on Sat 21 Nov 2026 "
                         "08:05)") in bodies(server)[1]
    run(app, dt.datetime(2026, 11, 24, 7, 30))  # then it runs: the same outage, not told a second time
    assert not alerts.run().sent and len(server.messages) == 2


def test_the_not_run_days_are_a_checked_setting(app: Any, clock: Any, server: Any) -> None:  # noqa: F811
    for bad in (0, 61, "two"):
        with pytest.raises(InvalidInput):
            app.settings.set("not_run_alert_days", bad)
        assert app.settings.get("not_run_alert_days") == 2
    run(app, dt.datetime(2026, 11, 16, 23, 0))
    run(app, dt.datetime(2026, 11, 20, 7, 59))  # 3 days without a run
    alerts = service(app, clock, env_for(server.port))
    assert [a.kind for a in alerts.collect()] == ["wearsync_not_run"]
    app.settings.set("not_run_alert_days", 4)
    assert alerts.collect() == []
