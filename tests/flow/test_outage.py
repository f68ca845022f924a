"""No silent outage: after WearSync was off for 40 days the catch-up fetches the last
`catchup_max_days` (31) by itself and reports the older days as a gap to backfill, never skipping
them; a backfill of that gap leaves no hole. The cap is a checked setting; Polar's 30 days show in
the backfill estimate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from db.models import Connection, Coverage, SyncRun
from services.errors import InvalidInput
from services.sandbox import SandboxServer
from services.sync.backfill import plan_backfill, run_backfill
from services.sync.catchup import DONE, Gap, gaps_beyond, missing_days
from services.sync.scheduler import SyncScheduler, attach_scheduler
from services.vendors import VENDOR_CLASSES
from tests.connect.conftest import _wire, connect
from tests.flow.conftest import TZ, add_connection, days, write_coverage
from tests.flow.test_scheduler import no_alerts

D = dt.timedelta
TODAY = dt.date(2026, 11, 20)  # the `clock` fixture pins 2026-11-20 09:00 in Berlin


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


def day_status(app: Any, cid: int) -> dict[dt.date, bool]:
    """Per day in the ledger: True when every row of the day is done (the catch-up's rule)."""
    out: dict[dt.date, bool] = {}
    with app.db.session() as s:
        for day, status in s.execute(select(Coverage.local_date, Coverage.status)
                                     .where(Coverage.connection_id == cid)).tuples():
            out[day] = out.get(day, True) and status in DONE
    return out


def test_a_40_day_outage_fetches_the_cap_reports_the_rest_and_a_backfill_closes_it(
        app: Any, clock: Any, stepped: Any, sandbox: SandboxServer) -> None:
    app = _wire(app, sandbox)
    assert connect(app, sandbox, "P003", "withings", "emil").ok
    cid = int(app.connections.connection_id("P003", "withings"))
    # enrolled long ago; everything was downloaded up to 41 days ago, then WearSync was off 40 days
    with app.db.session() as s:
        s.execute(update(Connection).where(Connection.id == cid).values(connected_at=dt.datetime(2026, 9, 11, 10)))
        s.execute(delete(Coverage).where(Coverage.connection_id == cid))
    write_coverage(app, cid, days(TODAY - D(days=70), TODAY - D(days=41)), data_type="sleep")
    events: list[Any] = []
    attach_scheduler(app, app.sync.sync_days, clock=clock, scheduler=stepped, timezone=TZ,
                     check_alerts=no_alerts, on_event=events.append)
    app.start_background()
    try:
        stepped.process(allow_running=1)
        stepped.executor.wait_idle(timeout=120)  # a real download of 31 days: slow on a busy machine

        ledger = day_status(app, cid)
        # the cap's 31 days (today included) were fetched, the 10 older ones were not ...
        assert sorted(d for d in ledger if d > TODAY - D(days=41)) == days(TODAY - D(days=30), TODAY)
        # (the look-back's last days may wait for a late device sync, as on any day)
        assert all(ledger[d] for d in days(TODAY - D(days=30), TODAY - D(days=4)))
        # ... and are not skipped silently: reported after the pass and found by the Sync page's query
        [gap] = gaps_beyond(app.db, TODAY, 31)
        assert gap == Gap(cid, "P003", "withings", TODAY - D(days=40), TODAY - D(days=31), 10, 31)
        said = [e.message for e in events if e.kind == "gap"]
        assert said == [gap.message()]
        assert said[0].startswith("P003 Withings: 10 days (") and "Backfill the rest" in said[0]
        assert "the daily download fetches at most the last 31 days" in said[0]
        # WearSync did not run: one real run now (the catch-up) after the last one 41 days ago
        with app.db.session() as s:
            s.add(SyncRun(trigger="schedule", started_at=dt.datetime(2026, 10, 10, 22, 0),
                          finished_at=dt.datetime(2026, 10, 10, 22, 5), status="ok"))
        not_run = [a for a in app.alerts.collect() if a.kind == "wearsync_not_run"]
        assert len(not_run) == 1 and "did not run its daily download for 40 days" in not_run[0].message

        # the coordinator backfills the reported days: no hole is left
        plan = plan_backfill(app, gap.start, gap.end, patient_codes=["P003"], vendor="withings")
        assert plan.warnings == ()  # Withings keeps its history
        assert run_backfill(app, plan).ok
        assert gaps_beyond(app.db, TODAY, 31) == []
        ledger = day_status(app, cid)
        assert all(ledger.get(d) for d in days(TODAY - D(days=70), TODAY - D(days=4)))
    finally:
        app.stop_background()


def test_gaps_start_at_the_consent_skip_done_days_and_leave_out_what_polar_no_longer_keeps(app: Any) -> None:
    today = TODAY
    old = add_connection(app, "P-001", "fitbit", connected_at=dt.datetime(2026, 9, 1, 12))
    write_coverage(app, old, days(dt.date(2026, 9, 1), dt.date(2026, 9, 30)))
    write_coverage(app, old, [dt.date(2026, 10, 5)])  # one day in between was downloaded
    write_coverage(app, old, [dt.date(2026, 10, 6)], status="failed")  # tried, not done: still to fetch
    recent = add_connection(app, "P-002", "withings", connected_at=dt.datetime(2026, 11, 12, 12))
    polar = add_connection(app, "P-003", "polar", connected_at=dt.datetime(2026, 9, 1, 12))
    add_connection(app, "P-004", "fitbit", status="needs_reconsent", connected_at=dt.datetime(2026, 9, 1, 12))
    add_connection(app, "P-005", "fitbit", connected_at=None)  # never connected, never downloaded

    gaps = gaps_beyond(app.db, today, 10)  # the window starts on 11 Nov
    by_code = {g.patient_code: g for g in gaps}
    assert sorted(by_code) == ["P-001", "P-003"], "consent inside the window, re-consent, nothing yet: no gap"
    assert by_code["P-001"] == Gap(old, "P-001", "fitbit", dt.date(2026, 10, 1), dt.date(2026, 11, 10), 40, 10)
    # Polar keeps 30 days: 22 Oct .. 10 Nov can still be fetched, older days are gone for good
    assert by_code["P-003"] == Gap(polar, "P-003", "polar", dt.date(2026, 10, 22), dt.date(2026, 11, 10), 20, 10)
    assert gaps_beyond(app.db, today, 31) == [Gap(old, "P-001", "fitbit", dt.date(2026, 10, 1),
                                                  dt.date(2026, 10, 20), 19, 31)]
    assert gaps_beyond(app.db, today, 10, connection_ids=[recent]) == []


def test_the_cap_is_a_setting_checked_on_input_and_used_by_the_catch_up(app: Any, clock: Any) -> None:
    assert app.settings.get("catchup_max_days") == 31
    for bad, words in ((0, "between 1 and 365"), (1000, "between 1 and 365"), ("ten", "whole number"),
                       (-3, "negative")):
        with pytest.raises(InvalidInput, match=words):
            app.settings.set("catchup_max_days", bad)
        assert app.settings.get("catchup_max_days") == 31, f"{bad!r} changed nothing"
    with pytest.raises(InvalidInput):  # one bad value among good ones: nothing is saved
        app.settings.set_many({"lookback_days": 5, "catchup_max_days": 1000})
    assert app.settings.get("lookback_days") == 3
    app.settings.set("catchup_max_days", "45")
    assert app.settings.get("catchup_max_days") == 45

    cid = add_connection(app, "P-001", "fitbit", connected_at=dt.datetime(2026, 6, 1, 12))
    for dtype in VENDOR_CLASSES["fitbit"].data_types:
        write_coverage(app, cid, [dt.date(2026, 7, 1)], data_type=dtype.name)

    sched = SyncScheduler(app, lambda *_a, **_k: None, clock=clock, check_alerts=no_alerts)
    plan = sched._plan({})
    assert plan[cid][0] == TODAY - D(days=44) and plan[cid][-1] == TODAY
    assert app.sync.plan(cid) == (TODAY - D(days=44), TODAY)  # Update now and `main.py sync` too
    assert missing_days(app.db, TODAY, 3, max_days=45) == plan


def test_a_polar_backfill_beyond_its_30_days_is_warned_in_the_estimate(sqlite_app: Any, clock: Any) -> None:
    app = sqlite_app  # `clock` pins its today at 2026-11-20
    add_connection(app, "P-001", "polar", connected_at=dt.datetime(2026, 8, 1, 12))
    add_connection(app, "P-002", "fitbit", connected_at=dt.datetime(2026, 8, 1, 12))
    far = plan_backfill(app, dt.date(2026, 10, 1), dt.date(2026, 11, 19))
    assert far.warnings == ("Polar keeps only the last 30 days: the days before 22 Oct 2026 cannot be "
                            "downloaded from Polar any more.",)
    assert far.describe().endswith(far.warnings[0]) and "requests" in far.describe()
    assert far.warnings[0] not in far.describe(warnings=False)
    assert plan_backfill(app, dt.date(2026, 10, 22), dt.date(2026, 11, 19)).warnings == ()
    assert plan_backfill(app, dt.date(2026, 10, 1), dt.date(2026, 11, 19), vendor="fitbit").warnings == ()
