"""A deleted day the coordinator excluded is not downloaded again; one not excluded is (issue 11)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import Coverage, HeartRateSample, StepInterval, SyncExclusion
from services.accounts.actor import HOST
from services.data.deletion import Selection
from services.sandbox import SandboxServer
from tests.connect.conftest import TODAY, connect, count


@pytest.mark.parametrize("exclude", [True, False])
def test_an_excluded_day_is_not_downloaded_again(sapp: Any, srv: SandboxServer, exclude: bool) -> None:
    app = sapp
    assert connect(app, srv, "P-X", "fitbit", "anna").ok
    cid = app.connections.connection_id("P-X", "fitbit")
    day = TODAY - dt.timedelta(days=3)
    start, end = day - dt.timedelta(days=1), day + dt.timedelta(days=1)
    assert app.sync.sync_connection(cid, start, end).ok
    steps_day = count(app.db, StepInterval, StepInterval.local_date == day)
    hr_day = count(app.db, HeartRateSample, HeartRateSample.local_date == day)
    assert steps_day > 0 and hr_day > 0
    result = app.deletions.delete(Selection("P-X", vendor="fitbit", metric="steps", start=day, end=day), HOST,
                                  exclude=exclude)
    assert result.preview.rows == {"step_intervals": steps_day}
    with app.db.session() as s:
        cov = set(s.execute(select(Coverage.data_type, Coverage.local_date).where(Coverage.connection_id == cid)))
    assert ("steps", day) not in cov and ("heart_rate", day) in cov  # only that data type's day forgotten

    # the next download: the sync's own plan, then an explicit re-download of the range
    assert app.sync.sync_connection(cid, start, end).ok
    assert app.sync.sync_connection(cid, start, end, refetch=True).ok
    with app.db.session() as s:
        status = s.scalar(select(Coverage.status).where(Coverage.connection_id == cid, Coverage.data_type == "steps",
                                                        Coverage.local_date == day))
        excluded = s.scalar(select(func.count()).select_from(SyncExclusion))
    if exclude:
        assert count(app.db, StepInterval, StepInterval.local_date == day) == 0
        assert status == "excluded" and excluded == 1
    else:
        assert count(app.db, StepInterval, StepInterval.local_date == day) == steps_day
        assert status != "excluded" and excluded == 0
    assert count(app.db, HeartRateSample, HeartRateSample.local_date == day) == hr_day  # other data untouched
    # undo lifts the exclusion: the day comes back and may be downloaded again
    app.deletions.undo(HOST)
    assert count(app.db, StepInterval, StepInterval.local_date == day) == steps_day
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(SyncExclusion)) == 0
