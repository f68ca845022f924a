"""The scheduler with a faked clock: the daily time, catch-up after downtime and sleep, and one
download at a time."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from services.alerts.service import DigestResult
from services.errors import InvalidInput
from services.sync.scheduler import JOB_DAILY, SchedulerEvent, SyncScheduler, attach_scheduler
from tests.flow.conftest import TZ, FakeSync, add_connection, at, days, write_coverage

D = dt.date
FOUR_MIN = dt.timedelta(minutes=4)  # heartbeats stay closer together than the wake-up gap


def no_alerts() -> DigestResult:
    return DigestResult((), ())


@pytest.fixture
def events() -> list[SchedulerEvent]:
    return []


def make(app, stepped, clock, fake, events) -> SyncScheduler:
    return attach_scheduler(app, fake, clock=clock, scheduler=stepped, timezone=TZ,
                            check_alerts=no_alerts, on_event=events.append)


def test_daily_job_fires_at_the_set_time_and_follows_a_changed_setting(sqlite_app, stepped, clock, events):
    conn = add_connection(sqlite_app, "P-001", "fitbit")
    write_coverage(sqlite_app, conn, days(D(2026, 11, 10), D(2026, 11, 19)))
    fake = FakeSync(sqlite_app, clock)
    sched = make(sqlite_app, stepped, clock, fake, events)
    assert sched.set_sync_time("2:30") == "02:30"
    sqlite_app.start_background()
    stepped.process()
    assert [(t, ds) for t, ds, _c, _at in fake.calls] == [("catchup", [D(2026, 11, 20)])]
    assert sched.status().next_run == at(2026, 11, 21, 2, 30)

    stepped.advance(at(2026, 11, 21, 2, 29) - clock.local_now(), step=FOUR_MIN)
    assert len(fake.calls) == 1
    stepped.advance(dt.timedelta(minutes=1))
    assert fake.calls[-1][0] == "schedule"
    assert fake.calls[-1][1] == [D(2026, 11, 21)]
    assert fake.calls[-1][3] == at(2026, 11, 21, 2, 30)

    stepped.advance(dt.timedelta(minutes=30))
    sched.set_sync_time("05:00")
    assert sched.status().next_run == at(2026, 11, 21, 5, 0)
    assert sqlite_app.settings.get("sync_time") == "05:00"
    stepped.advance(at(2026, 11, 22, 2, 40) - clock.local_now(), step=FOUR_MIN)
    assert sched.status().last_started == at(2026, 11, 21, 5, 0), "moved to 05:00, not 02:30 any more"
    stepped.advance(at(2026, 11, 22, 5, 0) - clock.local_now(), step=FOUR_MIN)
    assert sched.status().last_started == at(2026, 11, 22, 5, 0)
    assert [c[3] for c in fake.calls[2:]] == [at(2026, 11, 22, 5, 0)]
    sqlite_app.stop_background()
    assert not sched.status().started


def test_time_changed_elsewhere_is_picked_up_by_the_heartbeat(sqlite_app, stepped, clock, events):
    sched = make(sqlite_app, stepped, clock, FakeSync(sqlite_app, clock), events)
    sched.start()
    stepped.process()
    assert sched.status().next_run == at(2026, 11, 21, 0, 0)
    sqlite_app.settings.set("sync_time", "18:45")  # e.g. saved by `main.py` in another process
    stepped.advance(dt.timedelta(minutes=1))
    assert sched.status().next_run == at(2026, 11, 20, 18, 45)


@pytest.mark.parametrize("bad", ["25:00", "12:60", "noon", "", "12", "1230", "-1:00"])
def test_a_bad_daily_time_is_refused_and_changes_nothing(sqlite_app, stepped, clock, events, bad):
    sched = make(sqlite_app, stepped, clock, FakeSync(sqlite_app, clock), events)
    sched.set_sync_time("06:15")
    sched.start()
    before = sched.status().next_run
    with pytest.raises(InvalidInput, match=r"HH:MM .*for example 00:00"):
        sched.set_sync_time(bad)
    assert sqlite_app.settings.get("sync_time") == "06:15"
    assert sched.status().next_run == before == at(2026, 11, 21, 6, 15)


def test_three_day_downtime_is_caught_up_on_start_each_day_once(app, stepped, clock, events):
    fitbit = add_connection(app, "P-001", "fitbit")
    withings = add_connection(app, "P-002", "withings")
    add_connection(app, "P-003", "polar", status="needs_reconsent")
    for conn in (fitbit, withings):
        write_coverage(app, conn, days(D(2026, 11, 10), D(2026, 11, 16)))
        write_coverage(app, conn, [D(2026, 11, 17)], status="partial")  # the last run, just after midnight
    # WearSync was closed on the 17th and opens again on the 20th at 09:00
    fake = FakeSync(app, clock)
    make(app, stepped, clock, fake, events)
    app.start_background()
    stepped.process()
    wanted = {(c, d) for c in (fitbit, withings) for d in days(D(2026, 11, 17), D(2026, 11, 20))}
    assert set(fake.requested()) == wanted
    assert set(fake.requested().values()) == {1}
    assert {c[0] for c in fake.calls} == {"catchup"}

    # the ledger now says complete: another catch-up, or a restart, asks for nothing
    app.stop_background()
    again = FakeSync(app, clock)
    sched2 = SyncScheduler(app, again, clock=clock, check_alerts=no_alerts)
    assert sched2.run_catchup() is not None
    assert again.calls == []


def test_sleep_through_midnight_fetches_each_missed_day_once(sqlite_app, stepped, clock, events):
    conn = add_connection(sqlite_app, "P-001", "fitbit")
    write_coverage(sqlite_app, conn, days(D(2026, 11, 10), D(2026, 11, 19)))
    fake = FakeSync(sqlite_app, clock, today_status="partial")
    make(sqlite_app, stepped, clock, fake, events)
    sqlite_app.start_background()
    stepped.process()
    stepped.advance(dt.timedelta(minutes=3))
    assert fake.requested() == {(conn, D(2026, 11, 20)): 1}
    # the lid closes at 09:03 on the 20th and opens at 07:00 on the 23rd
    stepped.jump(at(2026, 11, 23, 7, 0) - clock.local_now())
    stepped.advance(dt.timedelta(minutes=2))
    # the 20th was partial (the day was not over) and is fetched again; the rest exactly once
    assert fake.requested() == {(conn, D(2026, 11, 20)): 2, (conn, D(2026, 11, 21)): 1,
                                (conn, D(2026, 11, 22)): 1, (conn, D(2026, 11, 23)): 1}
    assert "wake" in [e.kind for e in events]


def test_a_daily_run_missed_beyond_the_grace_time_is_reported_and_caught_up(sqlite_app, stepped, clock, events):
    conn = add_connection(sqlite_app, "P-001", "fitbit")
    write_coverage(sqlite_app, conn, days(D(2026, 11, 10), D(2026, 11, 19)))
    fake = FakeSync(sqlite_app, clock)
    make(sqlite_app, stepped, clock, fake, events)
    sqlite_app.start_background()
    stepped.process()
    stepped.jump(at(2026, 11, 22, 20, 0) - clock.local_now())  # 20 h after the 00:00 run: beyond 12 h grace
    stepped.advance(dt.timedelta(minutes=2))
    kinds = [e.kind for e in events]
    assert "missed" in kinds
    assert set(fake.requested()) == {(conn, d) for d in days(D(2026, 11, 20), D(2026, 11, 22))}
    assert set(fake.requested().values()) == {1}
    missed = next(e for e in events if e.kind == "missed")
    assert "asleep or off" in missed.message


def test_a_long_run_never_starts_twice_and_later_triggers_are_merged(sqlite_app, stepped, clock, events):
    clock.set(at(2026, 11, 20, 23, 50))
    conn = add_connection(sqlite_app, "P-001", "fitbit")
    write_coverage(sqlite_app, conn, days(D(2026, 11, 10), D(2026, 11, 19)))
    fake = FakeSync(sqlite_app, clock)
    sched = make(sqlite_app, stepped, clock, fake, events)
    sqlite_app.start_background()
    stepped.process()  # start-up catch-up fetches the 20th
    assert len(fake.calls) == 1

    fake.block = threading.Event()
    fake.calls.clear()
    stepped.advance(dt.timedelta(minutes=10), allow_running=1)  # 00:00 on the 21st: blocks
    assert fake.entered.wait(5)
    assert sched.status().busy and sched.status().current_trigger == "schedule"
    # a whole day passes with the download stuck: the next daily run, Update now and a wake-up
    stepped.advance(dt.timedelta(hours=24), step=dt.timedelta(minutes=4), allow_running=1)
    sched.trigger_now()
    stepped.process(allow_running=1)
    assert len(fake.calls) == 1, "nothing may start while the first download runs"
    kinds = [e.kind for e in events]
    assert "skipped" in kinds and "merged" in kinds

    fake.block.set()
    stepped.executor.wait_idle()
    assert fake.max_active == 1
    # the follow-up pass fetched only what became due meanwhile, nothing twice
    assert fake.requested() == {(conn, D(2026, 11, 21)): 1, (conn, D(2026, 11, 22)): 1}
    assert not sched.status().busy


def test_a_failing_sync_is_reported_and_the_alert_check_still_runs(sqlite_app, stepped, clock, events):
    add_connection(sqlite_app, "P-001", "fitbit")
    checked = []

    def broken(trigger, days, connection_ids=None):
        raise ConnectionError("vendor unreachable")

    def alerts() -> DigestResult:
        checked.append(True)
        return no_alerts()

    sched = attach_scheduler(sqlite_app, broken, clock=clock, scheduler=stepped, check_alerts=alerts,
                             on_event=events.append)
    outcome = sched.run("manual")
    assert outcome is not None and outcome.errors == ["ConnectionError: vendor unreachable"]
    assert checked == [True]
    assert "error" in [e.kind for e in events]
    assert sched.status().last_error == "ConnectionError: vendor unreachable"


def test_housekeeping_purges_deleted_patients_and_uses_a_key_purge_when_present(sqlite_app, stepped, clock):
    purged = []

    class Accounts:
        def purge_expired_keys(self) -> int:
            purged.append(True)
            return 2

    sqlite_app.accounts = Accounts()
    sched = attach_scheduler(sqlite_app, FakeSync(sqlite_app, clock), clock=clock, scheduler=stepped,
                             check_alerts=no_alerts)
    names = [n for n, _ in sched.housekeeping_tasks]
    assert names[0] == "purge deleted patients" and "accounts.purge_expired_keys" in names[1]
    sched.start()
    stepped.advance(dt.timedelta(minutes=6))
    assert purged == [True]


def test_the_real_background_scheduler_starts_reports_its_next_run_and_stops(sqlite_app):
    done = threading.Event()
    calls = []

    def run_sync(trigger, days, connection_ids=None):
        calls.append(trigger)

    sched = attach_scheduler(sqlite_app, run_sync, check_alerts=no_alerts,
                             on_event=lambda e: done.set() if e.kind == "finished" else None)
    sqlite_app.start_background()
    try:
        assert done.wait(10), "the start-up catch-up did not finish"
        status = sched.status()
        assert status.started and status.next_run is not None
        assert status.next_run.hour == 0 and status.next_run.minute == 0
        assert sched.scheduler.get_job(JOB_DAILY).max_instances == 1
        assert sched.scheduler.get_job(JOB_DAILY).coalesce is True
    finally:
        sqlite_app.stop_background()
    assert not sched.status().started
