"""Sandbox mode (`main.py --sandbox`, Settings → "Try with sandbox vendors"): WearSync against the
built-in sandbox vendors with demo patients, so a new user can walk the whole workflow without
vendor accounts.

Sandbox data lives in its own SQLite file (`sandbox.sqlite3` in WEARSYNC_HOME), never in the real
database, and the demo client credentials live only in the app's environment overlay — they are
never written to the keyring.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from services import config
from services.actor import SYSTEM
from services.app import WearSync
from services.errors import InvalidInput, WearSyncError
from services.sandbox import SandboxServer
from services.sync import SyncResult

log = logging.getLogger(__name__)

SANDBOX_DB = "sandbox.sqlite3"
# (patient ID, vendor, sandbox account)
DEMO_PATIENTS: tuple[tuple[str, str, str], ...] = (
    ("DEMO-01", "fitbit", "anna"),
    ("DEMO-02", "fitbit", "ben"),
    ("DEMO-03", "fitbit", "chiara"),
    ("DEMO-04", "withings", "emil"),
    ("DEMO-05", "polar", "greta"),
)
DEMO_DAYS = 7


def sandbox_database_url(environ: Mapping[str, str] | None = None) -> str:
    return f"sqlite:///{config.paths(environ).home / SANDBOX_DB}"


def sandbox_environ(srv: SandboxServer, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The app environment for sandbox mode: sandbox database, endpoints and demo credentials."""
    env = dict(os.environ if base is None else base)
    env["WEARSYNC_DATABASE_URL"] = sandbox_database_url(env)
    env.update(srv.environ())
    env.update(srv.credentials_environ())
    return env


@dataclass
class SandboxSession:
    app: WearSync
    server: SandboxServer
    demo: list[tuple[str, str]] = field(default_factory=list)  # (patient ID, vendor) connected

    def close(self) -> None:
        self.app.close()
        self.server.stop()


def open_sandbox(environ: Mapping[str, str] | None = None, *, seed: int = 1, connect_demo: bool = True,
                 today: dt.date | None = None) -> SandboxSession:
    """Start the sandbox server and open an app on the sandbox database, demo patients connected.

    Downloading the demo days takes a few seconds: call `download_demo_days()` off the UI thread.
    """
    srv = SandboxServer(seed=seed, today=today).start()
    try:
        app = WearSync.open(sandbox_environ(srv, environ))
    except BaseException:
        srv.stop()
        raise
    app._background_stoppers.append(srv.stop)
    session = SandboxSession(app, srv)
    if connect_demo:
        session.demo = connect_demo_patients(app, srv)
    return session


def start_sandbox(app: WearSync, *, seed: int = 1, connect_demo: bool = True) -> SandboxServer:
    """Attach a sandbox server to an app that was opened on the sandbox database."""
    if app.db.url != sandbox_database_url(app.environ):
        raise InvalidInput(
            "Sandbox mode needs its own database so demo data never mixes with real patients. Restart "
            "WearSync with --sandbox."
        )
    srv = SandboxServer(seed=seed).start()
    overlay = {**srv.environ(), **srv.credentials_environ()}
    if isinstance(app.environ, dict):
        app.environ.update(overlay)  # the vendor registry and the secret store read this mapping
    else:
        raise InvalidInput("This WearSync was opened with a read-only environment; use open_sandbox().")
    app._background_stoppers.append(srv.stop)
    if connect_demo:
        connect_demo_patients(app, srv)
    return srv


def connect_demo_patients(app: WearSync, srv: SandboxServer) -> list[tuple[str, str]]:
    """(Re)connect each demo patient to its sandbox account, as a patient clicking "Allow" would.

    A restarted sandbox has forgotten the old tokens, so this runs on every start.
    """
    done = []
    for code, vendor, user in DEMO_PATIENTS:
        pending = app.connections.begin(code, vendor, SYSTEM)
        redirect = srv.approve(pending.authorize_url, user)
        params = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
        page = app.connections.handle_callback(params)
        if page.ok:
            done.append((code, vendor))
        else:
            log.warning("sandbox: demo patient %s could not be connected: %s", code, page.message)
    return done


def download_demo_days(app: WearSync, days: int = DEMO_DAYS,
                       progress: Callable[[str], None] | None = None) -> list[SyncResult]:
    """Download the last `days` days for every demo patient (skipped where already downloaded)."""
    today = dt.date.today()
    results = []
    for code, vendor, _ in DEMO_PATIENTS:
        try:
            cid = app.connections.connection_id(code, vendor)
        except WearSyncError:
            log.info("sandbox: demo patient %s is not there any more", code)
            continue
        if progress:
            progress(f"Downloading demo data for {code} ({vendor})")
        results.append(app.sync.sync_connection(cid, today - dt.timedelta(days=days - 1), today, trigger="sandbox"))
    return results
