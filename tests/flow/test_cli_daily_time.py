"""`main.py settings set sync_time` moves the scheduler that the window and --headless run."""

from __future__ import annotations

from services.app import WearSync
from tests.flow.conftest import TZ, at


def test_daily_time_set_on_the_command_line_moves_the_scheduler(run_cli, stepped, clock) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("settings", "set", "sync_time", "02:30").returncode == 0
    app = WearSync.open()
    try:
        clock.set(at(2026, 11, 20, 9, 0))
        sched = app.attach_flow(clock=clock, scheduler=stepped, timezone=TZ)
        sched.start()
        nxt = sched.status().next_run
        assert nxt is not None and (nxt.hour, nxt.minute) == (2, 30) and nxt.date().isoformat() == "2026-11-21"
    finally:
        app.close()
