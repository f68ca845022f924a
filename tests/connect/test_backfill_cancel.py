"""Issue 14, item 4: Cancel takes effect between two requests (not at the end of a chunk of many
pages), within 2 s, and the run is recorded as cancelled — never as "Completed · all ok"."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from sqlalchemy import select

from db.models import SyncRun
from services.sandbox import SandboxServer
from services.sync.backfill import plan_backfill, run_backfill
from services.sync.progress import Progress

from .conftest import TODAY, connect


def data_calls(srv: SandboxServer) -> int:
    return sum(1 for c in srv.calls if c.kind == "api" and "/dataPoints" in c.path)


def test_cancel_stops_between_requests_within_two_seconds_and_is_recorded(lapp: Any, srv: SandboxServer) -> None:
    connect(lapp, srv, "P-CAN", "fitbit", "anna")
    plan = plan_backfill(lapp, TODAY - dt.timedelta(days=21), TODAY - dt.timedelta(days=1), today=TODAY)
    # every request times out after 1 s and is tried again (up to 5 times): one request of the
    # chunk is several seconds of attempts, so a Cancel honoured only between chunks comes late
    lapp.sync.http_timeout = 1.0
    srv.inject("fitbit", "timeout", times=10_000, seconds=1.5)
    srv.clear_calls()
    steps: list[Progress] = []
    cancel = threading.Event()
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(run_backfill(lapp, plan, cancel=cancel,
                                                                      on_progress=steps.append)))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while data_calls(srv) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # another thread's HTTP calls: nothing to wait on but the count
        assert data_calls(srv) >= 2, "the download never got going"
        cancelled_at = time.monotonic()
        calls_at_cancel = data_calls(srv)
        cancel.set()
        worker.join(10)
        took = time.monotonic() - cancelled_at
    finally:
        cancel.set()
        worker.join(30)
    assert took < 2.0, f"Cancel took {took:.1f} s"
    assert data_calls(srv) <= calls_at_cancel + 1  # at most the request already on the wire
    run = out[0]
    assert run.cancelled and run.summary.startswith("Cancelled:")
    with lapp.db.session() as s:
        row = s.scalars(select(SyncRun).where(SyncRun.id == run.run_id)).one()
        assert row.status == "cancelled"
        assert row.connections_ok == 0 and row.connections_total == 1
        assert "cancelled" in row.summary


def test_estimate_and_progress_count_the_same_thing(lapp: Any, srv: SandboxServer) -> None:
    """Issue 14 (low): the estimate before the start and the progress bar use one unit, "days of data",
    and the same total, so "N of M" is the number the estimate announced."""
    connect(lapp, srv, "P-UNIT", "fitbit", "anna")
    plan = plan_backfill(lapp, TODAY - dt.timedelta(days=4), TODAY - dt.timedelta(days=1), today=TODAY)
    assert plan.units > 0
    assert f"{plan.units} days of data to download" in plan.describe()
    steps: list[Progress] = []
    run_backfill(lapp, plan, on_progress=steps.append)
    assert steps and {p.total for p in steps} == {plan.units}
    assert steps[0].describe().startswith(f"{steps[0].done} of {plan.units} days of data")
