"""MariaDB stopped and started again while a sync runs (a private server: tests/faults/conftest.py).

Both tests end with the same comparison: the tables (row counts and per-table checksums of every
time series, and the coverage ledger) equal those of an undisturbed sync of the same days."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import services.sync.store as store_module
from db.models import MEASUREMENT_TABLES
from services.failures import describe
from services.sandbox import SandboxServer

from .conftest import PrivateMariaDB, connect, digest, ledger, undisturbed

D1, D4 = dt.date(2026, 11, 19), dt.date(2026, 11, 21)  # 3 days
SERIES = {m.__table__ for m in MEASUREMENT_TABLES}


def one_day_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Steps and heart rate in 1-day chunks, so 3 days are 3 transactions each."""
    from services.vendors.fitbit import Fitbit

    monkeypatch.setattr(Fitbit, "data_types", tuple(replace(t, chunk_days=1) for t in Fitbit.data_types))


def connected(app: Any, srv: SandboxServer) -> int:
    assert connect(app, srv, "P-DB", "fitbit", "anna").ok
    return int(app.connections.connection_id("P-DB", "fitbit"))


def crash_server_mid_write(server: PrivateMariaDB, monkeypatch: pytest.MonkeyPatch, at_call: int) -> list[int]:
    """Kill mariadbd (SIGKILL, as a crash or power loss would) right after the `at_call`-th time-series
    upsert was sent, inside that chunk's open transaction, before its commit."""
    calls: list[int] = []
    real = store_module.upsert

    def upsert(session: Any, model: Any, rows: Any, key: Any) -> int:
        n = real(session, model, rows, key)
        if getattr(model, "__table__", model) in SERIES:
            calls.append(n)
            if len(calls) == at_call:
                server.stop(kill=True)
        return n

    monkeypatch.setattr(store_module, "upsert", upsert)
    return calls


def test_server_killed_mid_write_the_chunk_is_written_again_once_it_is_back(
        private_app: Any, private_mariadb: PrivateMariaDB, srv: SandboxServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the retry on reconnect (SyncService `_write_chunk`, `db.engine.connection_lost`): the
    server dies between a chunk's rows and its commit, InnoDB rolls the chunk back on restart, and the
    sync waits, writes the same chunk again and goes on — one run, nothing lost, nothing twice.
    Without the retry the sync stops with "Lost connection" and this run fails."""
    one_day_chunks(monkeypatch)
    app = private_app
    cid = connected(app, srv)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the database comes back while the sync waits for it
        waits.append(seconds)
        if private_mariadb.proc is None:
            private_mariadb.start()

    app.sync.sleep = sleep
    calls = crash_server_mid_write(private_mariadb, monkeypatch, at_call=3)
    result = app.sync.sync_connection(cid, D1, D4)
    assert private_mariadb.starts == 2, "the server was killed and started again during the sync"
    assert result.ok, result.summary
    assert waits and waits[0] >= 1, "the sync waited for the database before writing the chunk again"
    assert len(calls) > 3
    got = digest(app.db)
    assert got["heart_rate_samples"][0] > 0 and got["step_intervals"][0] > 0
    monkeypatch.setattr(store_module, "upsert", _real_upsert())
    assert got == undisturbed(app, cid, D1, D4)


def test_server_restarted_between_two_chunks_goes_unnoticed(
        private_app: Any, private_mariadb: PrivateMariaDB, srv: SandboxServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards pool_pre_ping (db/engine.py): the server restarts cleanly while the sync is between two
    chunks, so every pooled connection is dead but no statement has failed yet. The next checkout is
    tested and replaced; without that, the next statement (reading the token) fails and that chunk is
    lost for this run."""
    one_day_chunks(monkeypatch)
    app = private_app
    cid = connected(app, srv)
    done: list[str] = []

    def restart_after_two(_cid: int, data_type: str, lo: dt.date, hi: dt.date) -> None:
        done.append(data_type)
        if len(done) == 2:
            private_mariadb.restart()

    app.sync.after_chunk = restart_after_two
    result = app.sync.sync_connection(cid, D1, D4)
    assert private_mariadb.starts == 2
    assert result.ok, result.summary
    app.sync.after_chunk = None
    got = digest(app.db)
    assert got == undisturbed(app, cid, D1, D4)


def _real_upsert() -> Any:
    from db.upsert import upsert

    return upsert


def test_server_down_longer_than_the_wait_stops_the_sync_and_a_rerun_fills_the_gap(
        private_app: Any, private_mariadb: PrivateMariaDB, srv: SandboxServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards one transaction per chunk for rows AND coverage (services/sync/store.write_chunk) on a
    server crash: the server stays down past every wait, the sync stops with a plain sentence, the
    chunk it was writing is neither stored nor marked done, the chunks before it are kept, and the
    next run (with the server back) fetches exactly what is missing. With the coverage committed
    before the rows, the crashed chunk is marked "complete" without its rows and the re-run skips it:
    the comparison with an undisturbed sync fails."""
    one_day_chunks(monkeypatch)
    app = private_app
    cid = connected(app, srv)
    waits: list[float] = []
    app.sync.sleep = waits.append  # the server does not come back during the sync
    crash_server_mid_write(private_mariadb, monkeypatch, at_call=3)
    with pytest.raises(OperationalError) as info:
        app.sync.sync_connection(cid, D1, D4)
    assert len(waits) == 5 and sum(waits) >= 60, "it waited about a minute for the database, then stopped"
    message = describe(info.value) or ""
    assert "Check that the server is running" in message and "Traceback" not in message
    monkeypatch.setattr(store_module, "upsert", _real_upsert())
    private_mariadb.start()  # the clinic's IT restarts the server
    days = {(r[1], r[2]): r[3] for r in ledger(app.db)}
    # steps of the first two days were committed before the crash; the third day's was being written
    assert [days[("steps", D1 + dt.timedelta(days=i))] for i in range(3)] == [
        "complete", "complete", "missing"], "a chunk whose write crashed must not look done"
    assert days[("heart_rate", D1)] == "missing"

    srv.clear_calls()
    rerun = app.sync.sync_connection(cid, D1, D4)
    assert rerun.ok, rerun.summary
    got = digest(app.db)
    assert got == undisturbed(app, cid, D1, D4)
