"""Sandbox mode (`main.py --sandbox`, Settings → "Try with sandbox vendors"): WearSync against the
built-in sandbox vendors with demo patients, so a new user can walk the whole workflow without
vendor accounts.

One design, used by the GUI and the tests alike (`open_sandbox`):
- its own data directory, `<WEARSYNC_HOME>/sandbox`, holding its own SQLite file
  (`sandbox.sqlite3`), logs, backups and tunnel state — a production `WEARSYNC_DATABASE_URL` is
  ignored, so demo data never reaches real data; the single-instance lock is per data directory,
  so a sandbox window can run next to the real one;
- its own callback port (a free one) and no inherited `WEARSYNC_PUBLIC_URL`, so it never answers
  the real listener's or tunnel's traffic;
- the demo client credentials and a per-run token key live only in the app's environment overlay;
  `WEARSYNC_SANDBOX=1` makes the secret store refuse every keyring write, so nothing from the
  sandbox reaches the OS keyring, and read its own namespace ("WearSync (sandbox)"), so the real
  ngrok token and other real secrets (keyring or environment variables) are never used by the demo;
- the sandbox server stops with the app's background services (quit) or `SandboxSession.close()`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet
from sqlalchemy import update

from db.models import Connection
from services import config
from services.accounts.actor import SYSTEM
from services.app import WearSync
from services.clock import Clock
from services.sandbox import SandboxServer
from services.secrets import SECRETS, TOKEN_KEY
from services.sync.service import SyncResult

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


SANDBOX_FLAG = "WEARSYNC_SANDBOX"
SANDBOX_DIR = "sandbox"


def is_sandbox(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(SANDBOX_FLAG) == "1"


def sandbox_database_url(environ: Mapping[str, str] | None = None) -> str:
    """The sandbox's SQLite file inside the (already sandbox) data directory of `environ`."""
    return f"sqlite:///{config.paths(environ).home / SANDBOX_DB}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a sandbox process, before anything opens (logs, lock, database).

    Idempotent: an environment that is already a sandbox's keeps its directory and port.
    """
    env = dict(os.environ if base is None else base)
    if not is_sandbox(env):
        env["WEARSYNC_HOME"] = str(config.data_home(env) / SANDBOX_DIR)
        env[SANDBOX_FLAG] = "1"
        # the real instance may be listening on the configured port, or a tunnel may point at it
        env["WEARSYNC_CALLBACK_PORT"] = str(_free_port())
        env.pop("WEARSYNC_PUBLIC_URL", None)
        # nor the real secrets given as environment variables (the ngrok token, vendor clients, mail):
        # the sandbox brings its own demo clients and reads its own keyring namespace
        for spec in SECRETS:
            env.pop(spec.name, None)
    env["WEARSYNC_DATABASE_URL"] = sandbox_database_url(env)  # never a production database
    return env


def sandbox_environ(srv: SandboxServer, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The app environment for sandbox mode: sandbox home and database, endpoints, demo credentials."""
    env = prepare_environ(base)
    env.update(srv.environ())
    env.update(srv.credentials_environ())
    # a per-run key for the demo tokens: the sandbox server forgets its tokens on restart anyway,
    # and the real token key in the keyring is neither read nor created
    env[TOKEN_KEY] = Fernet.generate_key().decode("ascii")
    return env


@dataclass
class SandboxSession:
    app: WearSync
    server: SandboxServer
    demo: list[tuple[str, str]] = field(default_factory=list)  # (patient ID, vendor) connected

    def close(self) -> None:
        try:
            self.app.stop_background()  # stops the sandbox server too
        finally:
            self.app.close()
            self.server.stop()


def open_sandbox(environ: Mapping[str, str] | None = None, *, seed: int = 1, connect_demo: bool = True,
                 today: dt.date | None = None) -> SandboxSession:
    """Start the sandbox server and open an app on the sandbox database, demo patients connected.

    Downloading the demo days takes several seconds: call `download_demo_days()` off the UI thread.
    """
    clock = Clock.from_environ(os.environ if environ is None else environ)  # one clock: app and sandbox
    srv = SandboxServer(seed=seed, today=today, clock=clock).start()
    try:
        app = WearSync.open(sandbox_environ(srv, environ), clock=clock)
    except BaseException:
        srv.stop()
        raise
    # stoppers run in reverse: the server goes last, after the downloads that use it have stopped
    app._background_stoppers.insert(0, srv.stop)
    session = SandboxSession(app, srv)
    forget_old_tokens(app)
    if connect_demo:
        session.demo = connect_demo_patients(app, srv)
    return session


def forget_old_tokens(app: WearSync) -> int:
    """Connections made in an earlier sandbox run hold tokens the restarted server no longer knows
    (and a key this run does not have): ask for a new connection instead of failing at sync time."""
    with app.db.session() as s:
        result = s.execute(
            update(Connection)
            .where(Connection.token_ciphertext.is_not(None))
            .values(status="needs_reconsent", token_ciphertext=None, token_expires_at=None,
                    last_error="The sandbox was restarted. Connect this demo account again.")
        )
        return int(getattr(result, "rowcount", 0) or 0)


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


def download_demo_days(app: WearSync, days: int = DEMO_DAYS, progress: Callable[[str], None] | None = None,
                       cancel: threading.Event | None = None) -> list[SyncResult]:
    """Download the last `days` days for every demo patient; `cancel` (quit) stops between chunks.

    Through the sync service's queues, like every other download: the start-up catch-up may be
    fetching the same demo accounts at the same moment, and two syncs of one account never overlap
    (a job already running for the same days is joined, another one waits for it)."""
    today = app.clock.today()
    wanted = {(code, vendor) for code, vendor, _ in DEMO_PATIENTS}
    found = {(code, vendor): row for row in app.sync.store.connections()
             for (_cid, code, vendor, _status) in [row] if (code, vendor) in wanted}
    rows = []
    for code, vendor, _ in DEMO_PATIENTS:
        if (code, vendor) not in found:
            log.info("sandbox: demo patient %s is not there any more", code)
            continue
        rows.append(found[(code, vendor)])
    if progress:
        progress(f"Downloading demo data for {len(rows)} demo accounts")
    run = app.sync.sync_rows(rows, today - dt.timedelta(days=days - 1), today, cancel=cancel, trigger="sandbox")
    order = {cid: i for i, (cid, *_rest) in enumerate(rows)}
    return sorted(run.results, key=lambda r: order.get(r.connection_id, len(order)))
