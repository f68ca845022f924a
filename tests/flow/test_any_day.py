"""The date-sensitive rules hold on any day: each test runs at several "todays" through the app's
clock (tests/support/clock.py: both DST changes in Europe/Berlin, a month end, a year end and the
day after, a leap day), and the boundaries of the undo window and of the alert threshold are
checked to the minute on SQLite and MariaDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from db.models import Connection
from services.accounts.actor import HOST
from services.accounts.keys import KeyRefused
from services.alerts.service import DEVICE_NOT_SYNCED
from services.errors import NotFound
from services.sandbox import SandboxServer
from services.sync.scheduler import attach_scheduler
from services.sync.status import connection_states
from tests.accounts.conftest import ADMIN_PASSWORD, USER_PASSWORD, cheap_hasher  # noqa: F401 (a fixture)
from tests.connect.conftest import _wire, connect
from tests.connect.test_unguarded_rules import ledger
from tests.flow.conftest import TZ, FakeSync, add_connection, add_device, days, write_coverage
from tests.flow.test_alerts import service as alert_service
from tests.flow.test_scheduler import no_alerts
from tests.support.clock import TODAYS, local, travel

BERLIN = TZ
D = dt.timedelta


def utc(moment: dt.datetime) -> dt.datetime:
    """An aware moment as the database stores it: naive UTC."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def in_berlin(app: Any, cid: int) -> None:
    with app.db.session() as s:
        s.execute(update(Connection).where(Connection.id == cid).values(timezone="Europe/Berlin"))


# --------------------------------------------------------------------------- the matrix


@pytest.mark.parametrize("today", TODAYS)
def test_the_incremental_plan_ends_today_just_after_and_just_before_midnight(sqlite_app: Any, clock: Any,
                                                                             today: dt.date) -> None:
    cid = add_connection(sqlite_app, "P-001", "fitbit")
    in_berlin(sqlite_app, cid)
    for hour, minute in ((0, 30), (23, 30)):  # 00:30 in Berlin is still the day before in UTC
        clock.pin(local(today, hour, minute))
        assert sqlite_app.sync.plan(cid) == (today - D(days=6), today)


@pytest.mark.parametrize("today", TODAYS)
def test_catch_up_after_downtime_asks_each_missing_day_once(sqlite_app: Any, stepped: Any, clock: Any,
                                                            today: dt.date) -> None:
    clock.pin(local(today, 9))
    cid = add_connection(sqlite_app, "P-001", "fitbit", connected_at=utc(local(today - D(days=40), 12)))
    write_coverage(sqlite_app, cid, days(today - D(days=10), today - D(days=4)))
    write_coverage(sqlite_app, cid, [today - D(days=3)], status="partial")  # the last run before the downtime
    fake = FakeSync(sqlite_app, clock)
    attach_scheduler(sqlite_app, fake, clock=clock, scheduler=stepped, timezone=BERLIN, check_alerts=no_alerts)
    sqlite_app.start_background()
    stepped.process()
    sqlite_app.stop_background()
    assert dict(fake.requested()) == {(cid, d): 1 for d in days(today - D(days=3), today)}


@pytest.mark.parametrize("today", TODAYS)
def test_the_daily_run_at_midnight_asks_for_the_new_day(sqlite_app: Any, stepped: Any, clock: Any,
                                                        today: dt.date) -> None:
    clock.pin(local(today - D(days=1), 23, 50))
    cid = add_connection(sqlite_app, "P-001", "fitbit", connected_at=utc(local(today - D(days=40), 12)))
    write_coverage(sqlite_app, cid, days(today - D(days=9), today - D(days=2)))
    fake = FakeSync(sqlite_app, clock, today_status="partial")
    sched = attach_scheduler(sqlite_app, fake, clock=clock, scheduler=stepped, timezone=BERLIN,
                             check_alerts=no_alerts)
    assert sched.set_sync_time("00:00") == "00:00"
    sqlite_app.start_background()
    stepped.process()
    assert fake.calls[0][:2] == ("catchup", [today - D(days=1)])
    stepped.advance(local(today, 0, 10) - clock.local_now(), step=D(minutes=2))
    sqlite_app.stop_background()
    trigger, asked, _ids, started = fake.calls[-1]
    assert (trigger, started) == ("schedule", local(today, 0, 0))
    assert asked == [today - D(days=1), today], "the partial day before and the new day"


@pytest.mark.usefixtures("cheap_hasher")
@pytest.mark.parametrize("today", TODAYS)
def test_a_registration_key_lasts_until_the_next_local_midnight(sqlite_app: Any, clock: Any, today: dt.date) -> None:
    app = sqlite_app
    admin = app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)
    clock.pin(local(today, 23, 30))
    late = app.keys.generate(admin, "viewer")
    assert late.expires_at == utc(local(today + D(days=1), 0, 0))
    clock.pin(local(today, 23, 59))
    assert app.accounts.register(late.key, "viewer.vera", USER_PASSWORD).role == "viewer"
    spare = app.keys.generate(admin, "viewer")
    clock.pin(local(today + D(days=1), 0, 1))
    with pytest.raises(KeyRefused):
        app.accounts.register(spare.key, "viewer.otto", USER_PASSWORD)


@pytest.mark.parametrize("today", TODAYS)
def test_the_audit_trail_since_a_day_starts_that_day(sqlite_app: Any, clock: Any, today: dt.date) -> None:
    clock.pin(local(today, 12))
    sqlite_app.patients.add("P-AUD", [], HOST)
    since_today = [e.action for e in sqlite_app.audit.entries(since=today)]
    assert "patient.add" in since_today
    assert sqlite_app.audit.entries(since=today + D(days=1)) == []
    added = [e.at for e in sqlite_app.audit.entries(since=today - D(days=1)) if e.action == "patient.add"]
    assert added == [utc(local(today, 12))]


@pytest.mark.parametrize("today", TODAYS)
def test_the_coverage_strip_shows_the_last_fourteen_days_up_to_today(sqlite_app: Any, clock: Any,
                                                                     today: dt.date) -> None:
    clock.pin(local(today, 18))
    cid = add_connection(sqlite_app, "P-001", "fitbit")
    write_coverage(sqlite_app, cid, days(today - D(days=20), today - D(days=1)))
    write_coverage(sqlite_app, cid, [today], status="partial")
    [state] = connection_states(sqlite_app.db, clock.today(), days=14, now=clock.utcnow())
    assert [c.day for c in state.cells] == days(today - D(days=13), today)
    assert state.cells[-1].status == "partial" and state.cells[-2].status == "complete"


@pytest.mark.parametrize("today", TODAYS)
def test_sandbox_data_and_the_sync_follow_the_clock(sqlite_app: Any, today: dt.date) -> None:
    """time-machine moves the real-time source: the sandbox's "today" and the app's clock both
    come from it (neither is pinned here)."""
    with travel(local(today, 12)), SandboxServer(seed=1) as srv:
        assert srv.today == today
        app = _wire(sqlite_app, srv)
        assert connect(app, srv, "S-1", "fitbit", "anna").ok
        cid = int(app.connections.connection_id("S-1", "fitbit"))
        assert app.sync.plan(cid) == (today - D(days=6), today)
        assert app.sync.sync_connection(cid).ok
        steps = ledger(app, cid, "steps")
    assert max(steps) == today and steps[today][0] == "partial"
    assert steps[today - D(days=1)][0] in ("complete", "not_worn")


# --------------------------------------------------------------------------- boundaries, both dialects

BOUNDARY_DAYS = [p for p in TODAYS if p.id in ("dst-spring-2027-03-28", "dst-autumn-2027-10-31",
                                                "leap-day-2028-02-29")]


@pytest.mark.parametrize("today", BOUNDARY_DAYS)
def test_undo_works_at_23_h_59_and_is_refused_at_24_h_01(app: Any, clock: Any, today: dt.date) -> None:
    # deleted the evening before: the 24 hours span the night of the clock change
    deleted_at = local(today - D(days=1), 22, 0)
    for code, after, undoable in (("P-EARLY", D(hours=23, minutes=59), True),
                                  ("P-LATE", D(hours=24, minutes=1), False)):
        clock.pin(deleted_at)
        app.patients.add(code, [], HOST)
        app.patients.delete(code, HOST)
        clock.advance(after)
        if undoable:
            app.patients.undo(HOST)
            assert app.patients.exists(code)
        else:
            assert app.patients.undoable() == []
            with pytest.raises(NotFound):
                app.patients.undo(HOST)
            assert not app.patients.exists(code)


@pytest.mark.parametrize("today", BOUNDARY_DAYS)
def test_a_device_exactly_n_days_out_of_sync_alerts_a_minute_less_does_not(app: Any, clock: Any,
                                                                          today: dt.date) -> None:
    clock.pin(local(today, 9))
    now = clock.utcnow()  # N days is N x 24 hours of elapsed time, across a clock change too
    app.settings.set("alert_after_days", 3)
    add_connection(app, "P-ON-TIME", "fitbit", connected_at=now - D(days=30))
    add_device(app, "P-ON-TIME", "fitbit", "w1", "Charge 6", last_seen=now,
               last_sync=now - D(days=3) + D(minutes=1))
    add_connection(app, "P-LATE", "fitbit", connected_at=now - D(days=30))
    add_device(app, "P-LATE", "fitbit", "w2", "Charge 6", last_seen=now, last_sync=now - D(days=3))
    alerts = alert_service(app, clock, {})
    late = {a.patient_code for a in alerts.collect() if a.kind == DEVICE_NOT_SYNCED}
    assert late == {"P-LATE"}
