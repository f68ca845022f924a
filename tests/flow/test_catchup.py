"""The catch-up plan comes from the coverage ledger: gaps, late device syncs, and what is left out."""

from __future__ import annotations

import datetime as dt

from services.accounts.actor import HOST
from services.sync.catchup import group_by_days, missing_days
from tests.flow.conftest import add_connection, days, write_coverage

D = dt.date
TODAY = D(2026, 11, 20)


def test_days_after_the_last_complete_day_and_late_syncs_in_the_lookback(app):
    conn = add_connection(app, "P-001", "fitbit")
    write_coverage(app, conn, days(D(2026, 11, 1), D(2026, 11, 15)))
    write_coverage(app, conn, [D(2026, 11, 13)], status="missing", data_type="sleep")  # outside look-back
    write_coverage(app, conn, [D(2026, 11, 16)], status="failed", data_type="heart_rate")
    write_coverage(app, conn, [D(2026, 11, 17)])
    write_coverage(app, conn, [D(2026, 11, 17)], status="partial", data_type="heart_rate")  # watch synced late
    write_coverage(app, conn, [D(2026, 11, 18)], status="not_worn")
    # the 19th and 20th have no rows at all
    plan = missing_days(app.db, TODAY, lookback_days=3)
    # last done day: the 18th (not worn counts as done); the 16th failed but lies before the look-back
    assert plan == {conn: [D(2026, 11, 17), D(2026, 11, 19), D(2026, 11, 20)]}
    plan = missing_days(app.db, TODAY, lookback_days=5)
    assert plan == {conn: [D(2026, 11, 16), D(2026, 11, 17), D(2026, 11, 19), D(2026, 11, 20)]}


def test_a_long_gap_is_capped_and_a_new_connection_starts_at_its_consent(app):
    old = add_connection(app, "P-001", "fitbit")
    write_coverage(app, old, [D(2026, 9, 1)])
    new = add_connection(app, "P-002", "withings", connected_at=dt.datetime(2026, 11, 19, 15, 0))
    fresh = add_connection(app, "P-003", "polar", connected_at=None)
    plan = missing_days(app.db, TODAY, lookback_days=3, max_days=10)
    assert plan[old] == days(D(2026, 11, 11), TODAY)  # the rest is a backfill with an estimate
    assert plan[new] == [D(2026, 11, 18), D(2026, 11, 19), D(2026, 11, 20)]  # one day of slack for UTC
    assert plan[fresh] == days(D(2026, 11, 17), TODAY)


def test_only_connections_that_can_sync_are_planned(app):
    ok = add_connection(app, "P-001", "fitbit")
    failing = add_connection(app, "P-002", "fitbit", status="error")
    add_connection(app, "P-003", "fitbit", status="needs_reconsent")
    add_connection(app, "P-004", "fitbit", status="withdrawn")
    add_connection(app, "P-005", "fitbit", status="not_connected")
    gone = add_connection(app, "P-006", "fitbit")
    app.patients.delete("P-006", HOST)
    plan = missing_days(app.db, TODAY, lookback_days=1)
    assert sorted(plan) == [ok, failing]
    assert gone not in plan
    assert missing_days(app.db, TODAY, lookback_days=1, connection_ids=[failing]) == {failing: plan[failing]}


def test_everything_complete_means_nothing_to_do(app):
    conn = add_connection(app, "P-001", "fitbit")
    write_coverage(app, conn, days(D(2026, 11, 1), TODAY))
    assert missing_days(app.db, TODAY, lookback_days=3) == {}


def test_connections_needing_the_same_days_are_grouped():
    a, b = [D(2026, 11, 19), D(2026, 11, 20)], [D(2026, 11, 20)]
    assert group_by_days({3: a, 1: a, 2: b}) == [(a, [1, 3]), (b, [2])]


def test_a_failed_day_before_the_consent_is_retried_in_the_lookback(app):
    # connected yesterday evening; a backfill right after it failed on the day before yesterday
    conn = add_connection(app, "P-001", "withings", connected_at=dt.datetime(2026, 11, 19, 18, 0))
    write_coverage(app, conn, [D(2026, 11, 17)], status="failed", data_type="sleep", error="HTTP 503")
    write_coverage(app, conn, [D(2026, 11, 16)], status="failed", data_type="sleep", error="HTTP 503")
    assert missing_days(app.db, TODAY, lookback_days=3)[conn] == [D(2026, 11, 17), D(2026, 11, 18),
                                                                  D(2026, 11, 19), D(2026, 11, 20)]


def test_days_an_interrupted_download_reserved_are_fetched_whatever_their_age(app):
    from db.models import Coverage
    from db.upsert import upsert

    conn = add_connection(app, "P-001", "fitbit")  # connected on 1 Nov, nothing complete yet
    reserved = days(D(2026, 11, 2), D(2026, 11, 12))
    # a first download reserved these days for heart rate and was cut short (shutdown, crash) before
    # fetching them; steps of the first days did arrive
    rows = [{"connection_id": conn, "data_type": "heart_rate", "local_date": d, "status": "missing", "rows": 0,
             "attempts": 0, "last_attempt_at": dt.datetime(2026, 11, 12, 8, 0), "error": None} for d in reserved]
    with app.db.session() as s:
        upsert(s, Coverage, rows, key=["connection_id", "data_type", "local_date"])
    write_coverage(app, conn, days(D(2026, 11, 2), D(2026, 11, 5)))
    # a day the vendor was asked for and had nothing yet (an attempt was made) is not "cut short"
    write_coverage(app, conn, [D(2026, 11, 14)], status="missing", data_type="sleep")
    plan = missing_days(app.db, TODAY, lookback_days=3)
    assert plan == {conn: [*reserved, *days(D(2026, 11, 17), TODAY)]}
