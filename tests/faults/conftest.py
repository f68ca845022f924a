"""Fixtures for the process-level fault suite: a private MariaDB server this test may stop, kill and
restart (never the shared one), and the "identical to an undisturbed sync" comparison.

The vendor-level faults (429, 5xx, timeouts, resets, malformed pages, expired or revoked tokens) are
in tests/connect/test_sync_faults.py and tests/sandbox/test_faults.py; these are the ones around them:
the sync process killed, the database restarted or full, the network to the vendor gone for a while.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from db.models import MEASUREMENT_TABLES, Coverage
from tests.conftest import REQUIRE_MARIADB

# the sandbox fixtures of the connect tests, used here too
from tests.connect.conftest import _wire, connect, free_port, lapp, sapp, srv, table_digest  # noqa: F401

MARIADBD = os.environ.get("WEARSYNC_TEST_MARIADBD", "/usr/sbin/mariadbd")
# the time series only: device_syncs rows carry the moment they were observed, which differs per run
TIME_SERIES = tuple(str(m.__tablename__) for m in MEASUREMENT_TABLES)


def ledger(db: Any) -> list[tuple[Any, ...]]:
    """The coverage ledger without its bookkeeping (attempts, times): each day's status and rows."""
    with db.session() as s:
        return [tuple(r) for r in s.execute(
            select(Coverage.connection_id, Coverage.data_type, Coverage.local_date, Coverage.status, Coverage.rows)
            .order_by(Coverage.connection_id, Coverage.data_type, Coverage.local_date))]


def digest(db: Any) -> dict[str, Any]:
    """Row counts and per-table checksums of the time series, plus the coverage ledger."""
    out: dict[str, Any] = dict(table_digest(db, TIME_SERIES))
    out["coverage"] = ledger(db)
    return out


def wipe(db: Any) -> None:
    """Empty the time series and the ledger (connections, tokens and devices stay)."""
    with db.session() as s:
        for model in MEASUREMENT_TABLES:
            s.execute(delete(model))
        s.execute(delete(Coverage))


def undisturbed(app: Any, cid: int, start: Any, end: Any) -> dict[str, Any]:
    """What a fault-free sync of the same days stores, in the same database (wiped first)."""
    wipe(app.db)
    result = app.sync.sync_connection(cid, start, end)
    assert result.ok, result.summary
    return digest(app.db)


class PrivateMariaDB:
    """A mariadbd of this test's own: its own data folder, port and socket, no users (skip-grant-tables).
    It can be stopped cleanly, killed (as a crash or power loss would) and started again on the same data."""

    def __init__(self, datadir: Path, extra: tuple[str, ...] = ()) -> None:
        self.datadir = datadir
        self.extra = extra
        self.port = free_port()
        self.rundir = Path(tempfile.mkdtemp(prefix="wsdb-"))  # a unix socket path must stay short
        self.log = datadir.parent / "mariadbd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/wearsync"

    def start(self, extra: tuple[str, ...] | None = None) -> None:
        if extra is not None:
            self.extra = extra
        self.datadir.mkdir(parents=True, exist_ok=True)
        args = [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={self.rundir / 's.sock'}",
                f"--pid-file={self.rundir / 'd.pid'}", "--skip-grant-tables", "--skip-name-resolve",
                "--skip-log-bin", "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M",
                f"--log-error={self.log}", *self.extra]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.starts += 1
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import pymysql

        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the private mariadbd exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2)
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise AssertionError("the private mariadbd did not start:\n" + self.log_tail()) from None
                time.sleep(0.05)  # waiting for another process to open its port: nothing to wait on
                continue
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE IF NOT EXISTS wearsync CHARACTER SET utf8mb4")
            conn.close()
            return

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (a clean shutdown) or SIGKILL (a crash); returns once the process is gone."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(60)
        self.proc = None

    def restart(self, *, kill: bool = False, extra: tuple[str, ...] | None = None) -> None:
        self.stop(kill=kill)
        self.start(extra)

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(kill=True)
        shutil.rmtree(self.rundir, ignore_errors=True)


@pytest.fixture
def private_mariadb(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[PrivateMariaDB]:
    """A private, not yet started MariaDB server (skipped when mariadbd is not installed, except where
    WEARSYNC_REQUIRE_MARIADB=1 / CI makes the MariaDB half of the suite mandatory)."""
    request.node.add_marker(pytest.mark.mariadb)
    if not (Path(MARIADBD).is_file() and os.access(MARIADBD, os.X_OK)):
        reason = f"no MariaDB server binary at {MARIADBD} (set WEARSYNC_TEST_MARIADBD) to run a private server"
        if REQUIRE_MARIADB:
            pytest.fail("CI must run the MariaDB fault tests: " + reason)
        pytest.skip(reason)
    # on a RAM disk where there is one: fsyncs cost nothing there and the suite stays quick
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(prefix="wsdb-", dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    server = PrivateMariaDB(base / "data")
    try:
        yield server
    finally:
        server.close()
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def private_app(private_mariadb: PrivateMariaDB, srv: Any,  # noqa: F811
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app on the private MariaDB server, pointed at the sandbox, with no real sleeping."""
    from services.app import WearSync

    private_mariadb.start()
    monkeypatch.setenv("WEARSYNC_DATABASE_URL", private_mariadb.url)
    # the private server runs without grant tables, where SHOW GRANTS has nothing to show: its root
    # may do anything, so the schema is created at start as for an administrator's URL
    monkeypatch.setattr("services.schema.may_change_schema", lambda db: True)
    a = WearSync.open()
    try:
        yield _wire(a, srv)
    finally:
        a.close()
