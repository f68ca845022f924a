"""`main.py sync` killed with SIGKILL in the middle of a write: inside a chunk's open transaction,
after a day of minute heart rate (over a thousand rows) was sent and before its commit. On SQLite
and MariaDB."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import SyncRun
from services.sandbox import SandboxServer
from tests.connect.conftest import ROOT
from tests.support.keyrings import MemoryKeyring

from .conftest import connect, digest, ledger, undisturbed

START, END = dt.date(2026, 11, 20), dt.date(2026, 11, 21)  # in 1-day chunks: 2 transactions per data type


def cli_env(app: Any, srv: SandboxServer, tmp_path: Path) -> dict[str, str]:
    """`main.py` in another process on this test's database, sandbox and keyring (copied to a file)."""
    keyring_file = tmp_path / "keyring.json"
    keyring_file.write_text(json.dumps({f"{k[0]}/{k[1]}": v for k, v in MemoryKeyring._store.items()}))
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(srv.environ())
    env.update(srv.credentials_environ())
    env.update({"PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
                "WEARSYNC_TEST_KEYRING_FILE": str(keyring_file), "PYTHONPATH": str(ROOT),
                "WEARSYNC_DATABASE_URL": app.db.url, "WEARSYNC_CALLBACK_PORT": app.environ["WEARSYNC_CALLBACK_PORT"]})
    return env


def killed_mid_write(env: dict[str, str], marker: Path, stop_after: int) -> str:
    """Run `main.py sync` until the `stop_after`-th time-series upsert is sent, then SIGKILL it there."""
    env = {**env, "WEARSYNC_FAULT_STOP_AFTER_UPSERTS": str(stop_after), "WEARSYNC_FAULT_MARKER": str(marker),
           "WEARSYNC_FAULT_CHUNK_DAYS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tests.faults.killpoint", "sync", "--start", START.isoformat(),
                             "--end", END.isoformat()], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            if proc.poll() is not None:
                why = proc.stderr.read() if proc.stderr else ""
                raise AssertionError("the sync ended before the kill point: " + why)
            assert time.monotonic() < deadline, "the sync never reached the kill point"
            time.sleep(0.05)  # another process's progress: a file is the only signal there is
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return marker.read_text()


def test_sync_killed_inside_a_transaction_leaves_whole_days_and_a_rerun_equals_an_undisturbed_sync(
        sapp: Any, srv: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards: one transaction per (data type, chunk) holding the chunk's rows AND its coverage
    (services/sync/store.write_chunk) — with the coverage committed before the rows, the killed chunk
    is "complete" without its rows and the re-run skips it, so the tables differ from an undisturbed
    sync; and commit per chunk — the chunks committed before the kill are kept and not downloaded
    again (with one transaction for the whole sync nothing would be kept)."""
    from services.vendors.fitbit import Fitbit

    monkeypatch.setattr(Fitbit, "data_types", tuple(replace(t, chunk_days=1) for t in Fitbit.data_types))
    sapp.sync.http_timeout = 30.0  # a week of minute heart rate takes a while on a busy machine
    assert connect(sapp, srv, "P-KILL", "fitbit", "anna").ok
    cid = int(sapp.connections.connection_id("P-KILL", "fitbit"))
    db = sapp.db
    # steps of the 20th, of the 21st, then heart rate of the 20th: killed while writing that one
    table = killed_mid_write(cli_env(sapp, srv, tmp_path), tmp_path / "killed", stop_after=3)
    assert table == "heart_rate_samples"
    status = {(r[1], r[2]): r[3] for r in ledger(db)}
    assert [status[("steps", START)], status[("steps", END)]] == ["complete", "complete"]
    hr = {s for (t, _d), s in status.items() if t == "heart_rate"}
    assert hr == {"missing"}, f"heart-rate days whose write was killed look done: {hr}"
    before = digest(db)
    assert before["step_intervals"][0] > 0 and before["heart_rate_samples"][0] == 0, "the open chunk rolled back"
    with db.session() as s:
        assert s.scalars(select(SyncRun.status)).all() == ["running"]  # the crash stays visible

    srv.clear_calls()
    rerun = sapp.sync.sync_connection(cid, START, END)
    assert rerun.ok, rerun.summary
    asked = [c.path for c in srv.calls if c.kind == "api" and "/dataPoints" in c.path]
    assert asked and not [p for p in asked if "dataTypes/steps/" in p], "finished days were downloaded again"
    got = digest(db)
    assert got == undisturbed(sapp, cid, START, END)
    assert got["heart_rate_samples"][0] > 1000  # the killed transaction had sent a whole day of them
