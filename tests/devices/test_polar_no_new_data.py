"""The Polar "no new data" rule on its own (issue 13): Polar reports no device sync, so the newest
exercise or daily activity stands in for it. Boundaries to the day, a day of activity with nothing
in it does not count, an account with no data counts from its connection, and accounts whose
downloads fail or that need re-consent get those alerts instead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from db.models import Connection, DailyActivity, Exercise, Patient
from services.alerts.service import DOWNLOAD_FAILED, NEEDS_RECONSENT, NO_NEW_DATA
from tests.devices.conftest import noon_today
from tests.flow.conftest import add_connection, write_coverage
from tests.flow.test_alerts import service

D = dt.timedelta


def activity(app: Any, code: str, day: dt.date, steps: int = 4200, active: int = 35) -> None:
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        s.add(DailyActivity(patient_id=pid, vendor="polar", local_date=day, steps=steps, active_minutes=active))


def exercise(app: Any, code: str, day: dt.date) -> None:
    start = dt.datetime.combine(day, dt.time(17, 0))
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == code))
        s.add(Exercise(patient_id=pid, vendor="polar", external_id=f"EX{day:%m%d}", start_utc=start,
                       end_utc=start + D(minutes=40), utc_offset_s=3600, local_date=day, sport="RUNNING"))


def test_no_new_data_counts_days_from_the_newest_exercise_or_activity(sqlite_app: Any) -> None:
    app = sqlite_app
    now = noon_today(app)
    today = now.date()
    app.settings.set("alert_after_days", 4)
    long_ago = (now - D(days=60)).astimezone(dt.UTC).replace(tzinfo=None)
    for code in ("P-ACT", "P-EX", "P-RECENT", "P-ZERO", "P-NEW", "P-NEVER"):
        add_connection(app, code, "polar", connected_at=long_ago)
    add_connection(app, "P-GONE", "polar", status="needs_reconsent", connected_at=long_ago)
    activity(app, "P-ACT", today - D(days=4))  # exactly 4 days: alert
    exercise(app, "P-EX", today - D(days=7))  # an exercise a week ago, and activity older still
    activity(app, "P-EX", today - D(days=9))
    activity(app, "P-RECENT", today - D(days=9))
    exercise(app, "P-RECENT", today - D(days=3))  # 3 days: not yet
    activity(app, "P-ZERO", today - D(days=10))
    activity(app, "P-ZERO", today - D(days=1), steps=0, active=0)  # a day with nothing in it is not new data
    # connected 3 days ago, nothing yet: too early to say; connected long ago, nothing ever: alert
    with app.db.session() as s:
        pid = s.scalar(select(Patient.id).where(Patient.code == "P-NEW"))
        s.execute(update(Connection).where(Connection.patient_id == pid)
                  .values(connected_at=(now - D(days=3)).astimezone(dt.UTC).replace(tzinfo=None)))
    fail = add_connection(app, "P-FAIL", "polar", connected_at=long_ago)  # nothing new, but downloads fail
    write_coverage(app, fail, [today - D(days=1)], status="failed", data_type="exercises",
                   error="HTTP 503 from Polar", attempted=(now - D(hours=2)).astimezone(dt.UTC).replace(tzinfo=None))

    collected = service(app, app.clock, {}).collect()
    got = {a.patient_code: a for a in collected}
    quiet = {a.patient_code: a.message for a in collected if a.kind == NO_NEW_DATA}
    assert sorted(quiet) == ["P-ACT", "P-EX", "P-NEVER", "P-ZERO"]
    assert quiet["P-ACT"].startswith("P-ACT's Polar account has had no new exercise or daily activity for 4 days")
    assert "for 7 days" in quiet["P-EX"] and "for 10 days" in quiet["P-ZERO"] and "for 60 days" in quiet["P-NEVER"]
    assert got["P-GONE"].kind == NEEDS_RECONSENT and got["P-FAIL"].kind == DOWNLOAD_FAILED


def test_fitbit_and_withings_accounts_never_get_the_polar_alert(sqlite_app: Any) -> None:
    app = sqlite_app
    now = noon_today(app)
    long_ago = (now - D(days=60)).astimezone(dt.UTC).replace(tzinfo=None)
    add_connection(app, "F-1", "fitbit", connected_at=long_ago)
    add_connection(app, "W-1", "withings", connected_at=long_ago)
    assert [a for a in service(app, app.clock, {}).collect() if a.kind == NO_NEW_DATA] == []
