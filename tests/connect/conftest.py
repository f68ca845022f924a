"""Fixtures for the connect-and-download tests: a sandbox vendor server, an app wired to it, and a
helper that runs `main.py connect` as a subprocess the way a script would."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select, text

from services.accounts.actor import HOST
from services.connect.callback_server import Page
from services.sandbox import SandboxServer
from tests.support.main_py import MainPy

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 11, 28)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def srv() -> Iterator[SandboxServer]:
    with SandboxServer(seed=1, today=TODAY) as s:
        yield s


class Sleeps(list[float]):
    """Injected instead of time.sleep: records the waits, never waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _wire(app: Any, srv: SandboxServer) -> Any:
    app.environ.update(srv.environ())
    app.environ.update(srv.credentials_environ())
    app.environ["WEARSYNC_CALLBACK_PORT"] = str(free_port())
    app.sync.sleep = Sleeps()
    # long enough for a 10,000-sample page on a loaded 2-core machine; tests of timeouts set their own
    app.sync.http_timeout = 15.0
    return app


@pytest.fixture
def sapp(app: Any, srv: SandboxServer) -> Any:
    """The `app` fixture (SQLite and MariaDB) pointed at the sandbox, with no real sleeping."""
    return _wire(app, srv)


@pytest.fixture
def lapp(sqlite_app: Any, srv: SandboxServer) -> Any:
    """Like `sapp`, on SQLite only: for behaviour that does not depend on the SQL dialect."""
    return _wire(sqlite_app, srv)


def connect(app: Any, srv: SandboxServer, code: str, vendor: str, user: str, **approve: Any) -> Page:
    """Consent in-process: what the patient's browser and the callback listener do."""
    pending = app.connections.begin(code, vendor, HOST)
    redirect = srv.approve(pending.authorize_url, user, **approve)
    return app.connections.handle_callback(query(redirect))


def table_digest(db: Any, tables: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """(row count, checksum of the content without ids) per table."""
    out = {}
    with db.engine.connect() as c:
        for t in tables:
            cols = [r for r in c.execute(text(f"SELECT * FROM {t} WHERE 1=0")).keys() if r != "id"]  # noqa: SIM118
            rows = c.execute(text(f"SELECT {', '.join(cols)} FROM {t} ORDER BY {', '.join(cols)}")).all()
            out[t] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


MEASUREMENTS = ("heart_rate_samples", "step_intervals", "resting_heart_rate", "sleep_sessions", "sleep_stages",
                "respiratory_samples", "snoring_samples", "exercises", "daily_activity", "body_measures",
                "device_syncs")


def count(db: Any, model: Any, *where: Any) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def cli(tmp_path: Path, srv: SandboxServer, db_url: str, main_py: MainPy) -> Any:
    """Run main.py in a process of its own (tests/support/main_py.py) against the sandbox; `.connect()` drives
    the consent as a patient (a real `python main.py connect`, its output read while it runs)."""
    keyring_file = tmp_path / "keyring.json"
    port = free_port()

    def env(extra: dict[str, str] | None = None) -> dict[str, str]:
        e = dict(os.environ)
        # let the first subprocess cache its bytecode: each later one starts in half the time
        e.pop("PYTHONDONTWRITEBYTECODE", None)
        e.update(srv.environ())
        e.update(srv.credentials_environ())
        e.update({
            "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
            "WEARSYNC_TEST_KEYRING_FILE": str(keyring_file),
            "PYTHONPATH": str(ROOT),
            "WEARSYNC_CALLBACK_PORT": str(port),
            "WEARSYNC_DATABASE_URL": db_url,
        })
        e.update(extra or {})
        return e

    class Cli:
        url = db_url
        callback_port = port

        def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
            return env(extra)

        def run(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
            return main_py.run(list(args), env=env(extra), timeout=120)

        def start_connect(self, vendor: str, patient: str, *extra_args: str) -> tuple[subprocess.Popen[str], str]:
            proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "connect", vendor, patient,
                                     "--no-browser", *extra_args], cwd=ROOT, env=env(), text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            return proc, line

        def connect(self, vendor: str, patient: str, user: str, **approve: Any) -> tuple[int, str, str, str]:
            """(exit status, stdout, stderr, the page the patient saw)."""
            proc, line = self.start_connect(vendor, patient, "--timeout", "60")
            try:
                assert line.startswith("http"), line + (proc.stderr.read() if proc.stderr else "")
                redirect = srv.approve(line.strip(), user, **approve)
                page = requests.get(redirect, timeout=30).text
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            return proc.returncode, line + out, err, page

    return Cli()
