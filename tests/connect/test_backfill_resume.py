"""Black-box: `main.py sync --start D1 --end D2` killed with SIGKILL half-way is resumed by running
the same command again — no gap, no duplicate (the tables equal an uninterrupted run's) — and the
days it had finished are not downloaded again. Also `--estimate` and `alerts` on the command line."""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from db.engine import Database
from db.models import MEASUREMENT_TABLES, Coverage, SyncRun
from services.sandbox import SandboxServer

from .conftest import MEASUREMENTS, ROOT, table_digest

START, END = "2026-11-14", "2026-11-21"  # 8 days: 2 chunks (7 + 1) of steps and of heart rate
TABLES = tuple(t for t in MEASUREMENTS if t != "device_syncs")  # device rows carry the time they were seen


def api_calls(srv: SandboxServer) -> int:
    return sum(1 for c in srv.calls if c.kind == "api" and c.vendor == "fitbit")


TYPES = {"steps": "steps", "heart-rate": "heart_rate", "daily-resting-heart-rate": "resting_heart_rate",
         "sleep": "sleep"}


def requested_days(srv: SandboxServer) -> dict[str, set[dt.date]]:
    """Per data type, the days the data calls asked for (from the documented filter)."""
    out: dict[str, set[dt.date]] = {}
    for c in srv.calls:
        m = re.search(r"/dataTypes/([a-z-]+)/dataPoints", c.path)
        bounds = re.findall(r'(>=|<) "(\d{4}-\d{2}-\d{2})', c.params.get("filter", ""))
        if c.kind != "api" or not m or len(bounds) != 2:
            continue
        lo, hi = (dt.date.fromisoformat(d) for _op, d in bounds)
        days = out.setdefault(TYPES[m.group(1)], set())
        while lo < hi:
            days.add(lo)
            lo += dt.timedelta(days=1)
    return out


def done_rows(db: Database) -> dict[tuple[str, Any], int]:
    with db.session() as s:
        return {(c.data_type, c.local_date): c.attempts for c in s.scalars(
            select(Coverage).where(Coverage.status.in_(("complete", "not_worn"))))}


def test_killed_backfill_resumes_without_gap_duplicate_or_refetch(cli: Any, srv: SandboxServer) -> None:
    code, _out, err, _page = cli.connect("fitbit", "P-KILL", "anna")
    assert code == 0, err
    db = Database(cli.url)
    try:
        # every data call answers slowly, so the kill lands between two committed chunks
        srv.inject("fitbit", "timeout", times=200, seconds=0.25)
        srv.clear_calls()
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "sync", "--start", START, "--end", END],
                                cwd=ROOT, env=cli.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not done_rows(db) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # polling another process's database: there is no event to wait on
            assert proc.poll() is None, "the sync finished before it could be killed: " + proc.stderr.read()
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(30)
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        before = done_rows(db)
        assert before, "some days were complete when the process died"
        with db.session() as s:
            assert s.scalars(select(SyncRun.status)).all() == ["running"]  # the crash is visible in the history
        srv.clear_faults()
        killed_calls = api_calls(srv)

        srv.clear_calls()
        resumed = cli.run("sync", "--start", START, "--end", END)
        assert resumed.returncode == 0, resumed.stderr
        # the next start records the killed run as interrupted, and says what it left (issue 13)
        assert resumed.stdout.startswith("The download of ") and "P-KILL (Fitbit) was interrupted when " \
            "WearSync ended unexpectedly" in resumed.stdout.splitlines()[0], resumed.stdout
        with db.session() as s:
            assert s.scalars(select(SyncRun.status).order_by(SyncRun.id)).all() == ["interrupted", "ok"]
        resume_calls = api_calls(srv)
        requested = requested_days(srv)
        after = done_rows(db)
        assert {k: after[k] for k in before} == before, "a day finished before the kill was downloaded again"
        got = table_digest(db, TABLES)

        # the same range, uninterrupted, on empty tables
        with db.session() as s:
            for model in MEASUREMENT_TABLES:
                s.execute(delete(model))
            s.execute(delete(Coverage))
        srv.clear_calls()
        clean = cli.run("sync", "--start", START, "--end", END)
        assert clean.returncode == 0, clean.stderr
        full_calls = api_calls(srv)
        assert table_digest(db, TABLES) == got
        assert got["step_intervals"][0] > 0 and got["heart_rate_samples"][0] > 0
        assert 0 < resume_calls < full_calls + 1 and killed_calls > 0
        refetched = {k for k in before if k[1] in requested.get(k[0], set())}
        assert not refetched, f"completed days asked for again: {sorted(refetched)[:5]}"
        with db.session() as s:
            assert int(s.scalar(select(func.count()).select_from(Coverage).where(
                Coverage.status.not_in(("complete", "not_worn")))) or 0) == 0, "no gap left"
    finally:
        db.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no SQL of its own worth a second dialect
def test_estimate_and_alert_recipients_on_the_command_line(cli: Any, srv: SandboxServer) -> None:
    assert cli.connect("fitbit", "P-EST", "anna")[0] == 0
    before = len(srv.calls)
    r = cli.run("sync", "--estimate", "--start", START, "--end", END)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("About ") and "requests" in r.stdout and "fitbit: 1 connection(s)" in r.stdout
    assert len(srv.calls) == before, "an estimate downloads nothing"
    bad = cli.run("sync", "--estimate", "--start", END, "--end", START)
    assert bad.returncode == 1 and "swap" in bad.stderr.lower()

    assert cli.run("alerts", "add", "Coordinator@Clinic.org").stdout.strip() == "Added coordinator@clinic.org."
    dup = cli.run("alerts", "add", "coordinator@clinic.org")
    assert dup.returncode == 1 and "already" in dup.stderr
    wrong = cli.run("alerts", "add", "not-an-address")
    assert wrong.returncode == 1 and "coordinator@clinic.org" in wrong.stderr
    imported = cli.run("alerts", "import", extra={"EMAIL_LIST": '["a@clinic.org", "coordinator@clinic.org"]'})
    assert imported.returncode == 0 and "a@clinic.org" in imported.stdout
    assert cli.run("alerts", "list").stdout.split() == ["a@clinic.org", "coordinator@clinic.org"]
    assert cli.run("alerts", "remove", "a@clinic.org").returncode == 0
    assert cli.run("alerts", "list").stdout.split() == ["coordinator@clinic.org"]
    gone = cli.run("alerts", "remove", "a@clinic.org")
    assert gone.returncode == 1 and "not on the alert list" in gone.stderr
    # no mail server here: the reason is one plain line, not a traceback
    mail = cli.run("alerts", "test", "coordinator@clinic.org",
                   extra={"WEARSYNC_SMTP_HOST": "127.0.0.1", "WEARSYNC_SMTP_PORT": "9", "WEARSYNC_SMTP_TLS": "none",
                          "DATA_PLATFORM_EMAIL": "sender@clinic.org", "DATA_PLATFORM_PASSWORD": "x"})
    assert mail.returncode == 1 and mail.stderr.startswith("wearsync: ") and "Traceback" not in mail.stderr
