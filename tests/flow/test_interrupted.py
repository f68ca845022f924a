"""A download whose process died (power cut, SIGKILL) is recorded "interrupted" by the next start, not
left "running" forever; a process that is alive keeps its run. What was interrupted is said once, in
plain words, with the days the download reserved and never fetched."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from typing import Any

from sqlalchemy import select

from db.models import SyncRun
from services.sync.interrupted import _day_ranges
from tests.conftest import ROOT
from tests.flow.conftest import add_connection, days

HOLDER = """
import sys, time
from pathlib import Path
from services.sync.interrupted import RunLeases
leases = RunLeases(Path(sys.argv[1]), sys.argv[2])
leases.take(int(sys.argv[3]))
print("held", flush=True)
time.sleep(120)
"""


def status(app: Any, run_id: int) -> str:
    with app.db.session() as s:
        return str(s.scalar(select(SyncRun.status).where(SyncRun.id == run_id)))


def test_a_run_whose_process_was_killed_is_recorded_interrupted_at_the_next_start(app: Any) -> None:
    cid = add_connection(app, "P003", "fitbit")
    now = app.clock.utcnow()
    run_id = app.sync.store.start_run("schedule", 1, now)  # written by "another process"
    first = app.clock.today() - dt.timedelta(days=20)
    app.sync.store.reserve_days(cid, {"steps": days(first, first + dt.timedelta(days=2)),
                                      "sleep": [first + dt.timedelta(days=1)]}, now)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(app.run_leases.directory), app.db.safe_url(),
                               str(run_id)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert app.interruptions() == []
        assert status(app, run_id) == "running", "a run whose process is alive is left alone"
        holder.send_signal(signal.SIGKILL)  # no chance to record anything
        holder.wait(30)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(30)
        assert holder.stdout is not None
        holder.stdout.close()

    notes = app.interruptions()  # the next start
    assert status(app, run_id) == "interrupted"
    assert notes == [f"The download of {_day_ranges(days(first, first + dt.timedelta(days=2)))} for P003 (Fitbit) "
                     "was interrupted when WearSync ended unexpectedly (a power cut, a crash or the process was "
                     "killed); it was resumed."]
    assert not list(app.run_leases.directory.glob("*.lease")), "the dead run's lease is gone"

    # said once: after a download that ends normally there is nothing left to say
    done = app.sync.start_run("catchup", 1)
    app.sync._finish_run(done, [])
    assert status(app, done) == "ok"
    assert app.interruptions() == []


def test_days_are_said_as_ranges() -> None:
    d = dt.date
    assert _day_ranges([d(2026, 11, 12)]) == "12 Nov"
    assert _day_ranges([d(2026, 11, 14), d(2026, 11, 12), d(2026, 11, 13)]) == "12–14 Nov"
    assert _day_ranges([d(2026, 11, 30), d(2026, 12, 1), d(2026, 12, 5)]) == "30 Nov – 1 Dec and 5 Dec"
    many = [d(2026, 11, 1), d(2026, 11, 3), d(2026, 11, 5), d(2026, 11, 7)]
    assert _day_ranges(many) == "1 Nov, 3 Nov and 2 more periods"


def test_a_resumed_download_cut_short_again_names_the_days_it_took_over(sqlite_app: Any) -> None:
    from services.sync.interrupted import STOPPED, describe

    app = sqlite_app
    cid = add_connection(app, "P003", "fitbit")
    day = app.clock.today() - dt.timedelta(days=9)
    first = dt.datetime(2026, 11, 1, 8, 0)
    app.sync.store.reserve_days(cid, {"steps": [day]}, first)  # the first download, cut short
    second = first + dt.timedelta(hours=5)
    assert describe(app.db, second, STOPPED).startswith("A download was interrupted")
    app.sync.store.reserve_days(cid, {"steps": [day]}, second)  # the resumed one takes the day over...
    # ...and is cut short too: the day is named again
    assert describe(app.db, second, STOPPED).startswith(f"The download of {day.day} {day:%b} for P003 (Fitbit)")
