"""Black-box (issue 13, Done-when): `main.py --headless` gets SIGTERM in the middle of its catch-up
download, exits 0 within 5 s, records the download as interrupted, and the next start says what was
interrupted and resumes it: the tables end up equal (counts and checksums) to an undisturbed run's."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from db.engine import Database
from db.models import MEASUREMENT_TABLES, Connection, Coverage, SyncRun
from db.upsert import upsert
from services.clock import Clock
from services.sandbox import SandboxServer
from services.vendors import VENDOR_CLASSES

from .conftest import MEASUREMENTS, ROOT, table_digest

TABLES = tuple(t for t in MEASUREMENTS if t != "device_syncs")  # device rows carry the time they were seen
SHUTDOWN_BOUND_S = 5.0
WAIT_S = 240  # for conditions on a loaded machine; only the shutdown has a strict bound


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    # the vendor has data up to the app's today (the CI's second run moves the app's clock)
    with SandboxServer(seed=1, today=Clock.from_environ(os.environ).today()) as s:
        yield s


def wait_for(cond: Callable[[], object], what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if cond():
            return
        assert proc.poll() is None, f"--headless ended early ({proc.returncode}) while waiting for {what}:\n" \
                                    + log.read_text(errors="replace")[-3000:]
        time.sleep(0.05)  # polling another process's database: there is no event to wait on
    raise AssertionError(f"timed out waiting for {what}:\n" + log.read_text(errors="replace")[-3000:])


def terminate(proc: subprocess.Popen[bytes], log: Path) -> float:
    """SIGTERM; returns the seconds until the process ended, asserting exit status 0."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - t0
    assert code == 0, f"exit status {code}:\n" + log.read_text(errors="replace")[-3000:]
    return took


def runs(db: Database) -> list[tuple[int, str, str]]:
    with db.session() as s:
        return [(r.id, r.status, r.summary) for r in s.scalars(select(SyncRun).order_by(SyncRun.id))]


def settled_after(db: Database, day: dt.date) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Coverage).where(
            Coverage.local_date > day, Coverage.status.in_(("complete", "not_worn")))) or 0)


def ledger(db: Database) -> dict[tuple[str, dt.date], tuple[str, int]]:
    with db.session() as s:
        return {(c.data_type, c.local_date): (c.status, c.rows) for c in s.scalars(select(Coverage))}


def seed(db: Database, cid: int, today: dt.date) -> dt.date:
    """The account was connected 25 days ago and last fully downloaded 20 days ago: the catch-up on
    start fetches the 20 days since (several chunks per data type)."""
    last_done = today - dt.timedelta(days=20)
    connected = dt.datetime.combine(today - dt.timedelta(days=25), dt.time(12, 0))
    rows = [{"connection_id": cid, "data_type": t.name, "local_date": last_done, "status": "complete", "rows": 0,
             "attempts": 1, "last_attempt_at": connected, "error": None} for t in VENDOR_CLASSES["fitbit"].data_types]
    with db.session() as s:
        s.execute(update(Connection).where(Connection.id == cid).values(connected_at=connected))
        upsert(s, Coverage, rows, ("connection_id", "data_type", "local_date"))
    return last_done


def test_sigterm_mid_sync_then_restart_equals_an_undisturbed_run(cli: Any, srv: SandboxServer,
                                                                  tmp_path: Path) -> None:
    code, _out, err, _page = cli.connect("fitbit", "P-TERM", "anna")
    assert code == 0, err
    db = Database(cli.url)
    home = Path(os.environ["WEARSYNC_HOME"])
    today = Clock.from_environ(os.environ).today()
    n = 0

    def start() -> tuple[subprocess.Popen[bytes], Path]:
        nonlocal n
        n += 1
        out = tmp_path / f"headless-{n}.txt"
        with out.open("wb") as f:
            proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "--headless"], cwd=ROOT, env=cli.env(),
                                    stdout=f, stderr=subprocess.STDOUT)
        return proc, out

    def run_to_the_end(after_run: int) -> None:
        proc, out = start()
        try:
            wait_for(lambda: any(i > after_run and st in ("ok", "partial", "failed") for i, st, _ in runs(db)),
                     "the catch-up to finish", proc, out)
        finally:
            took = terminate(proc, out)
        assert took < SHUTDOWN_BOUND_S, f"an idle --headless took {took:.1f} s to stop"

    try:
        with db.session() as s:
            cid = s.scalar(select(Connection.id))
        last_done = seed(db, cid, today)

        # 1. the catch-up starts; every data call answers slowly, so SIGTERM lands mid-way
        srv.inject("fitbit", "timeout", times=500, seconds=0.3)
        proc, out = start()
        try:
            wait_for(lambda: settled_after(db, last_done) > 0 and [st for _i, st, _s in runs(db)] == ["running"],
                     "the first chunk of the catch-up", proc, out)
            # from now on the vendor does not answer at all: the stop cannot wait for the request
            srv.clear_faults()
            srv.inject("fitbit", "timeout", times=500, seconds=60)
            wait_for(lambda: srv._faults[0].remaining < 500, "a request to hang", proc, out)
        finally:
            took = terminate(proc, out)
        assert took < SHUTDOWN_BOUND_S, f"--headless took {took:.1f} s to stop after SIGTERM:\n" \
                                        + out.read_text(errors="replace")[-3000:]
        [(run_id, status, summary)] = runs(db)
        assert status == "interrupted", "a download cut short by SIGTERM is recorded as interrupted"
        assert "was interrupted" in summary and "P-TERM (Fitbit)" in summary, summary
        before = ledger(db)
        assert any(st == "missing" for st, _rows in before.values()), "the SIGTERM came before the end"
        assert settled_after(db, last_done) > 0

        # 2. the next start says what was interrupted (without the patient's ID: it is a log) and resumes
        srv.clear_faults()
        run_to_the_end(run_id)
        logs = "".join(p.read_text(errors="replace") for p in (home / "logs").glob("*.log*"))
        said = [ln for ln in logs.splitlines() if "was interrupted" in ln]
        assert said and "resumed" in said[-1] and "Fitbit" in said[-1] and "P-TERM" not in said[-1], said
        after = ledger(db)
        assert not [k for k, (st, _r) in after.items() if st == "missing" and k[1] < today - dt.timedelta(days=3)], \
            "no gap: every day the interrupted download left is fetched"
        got = table_digest(db, TABLES)
        assert got["step_intervals"][0] > 0 and got["heart_rate_samples"][0] > 0

        # 3. the same download, undisturbed, from the same start
        with db.session() as s:
            for model in MEASUREMENT_TABLES:
                s.execute(delete(model))
            s.execute(delete(Coverage))
            s.execute(delete(SyncRun))
        seed(db, cid, today)
        run_to_the_end(0)
        assert table_digest(db, TABLES) == got, "the interrupted and resumed download equals an undisturbed one"
        assert ledger(db) == after
    finally:
        db.dispose()


def test_the_systemd_unit_stops_with_sigterm_and_waits_longer_than_the_shutdown() -> None:
    import configparser

    from services.headless import SHUTDOWN_S

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(ROOT / "installer" / "linux" / "wearsync-headless.service")
    service = unit["Service"]
    assert service.get("KillSignal") == "SIGTERM"
    assert service.get("KillMode", "control-group") in ("control-group", "mixed")
    stop_s = float(service["TimeoutStopSec"].removesuffix("s"))
    assert SHUTDOWN_S < stop_s <= 30, "systemd waits for the clean stop, and not much longer"
    assert "--headless" in service["ExecStart"]
