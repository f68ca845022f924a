"""Sandbox mode: demo patients on a separate database, demo credentials never in the keyring."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import requests

from services.accounts.actor import HOST
from services.sandbox.mode import DEMO_PATIENTS, download_demo_days, open_sandbox
from tests.support.keyrings import MemoryKeyring

from .conftest import TODAY, free_port


def test_open_sandbox_with_demo_patients() -> None:
    session = open_sandbox({**os.environ, "WEARSYNC_CALLBACK_PORT": str(free_port())}, today=TODAY)
    try:
        app = session.app
        assert app.db.url.endswith("sandbox.sqlite3")
        assert Path(app.paths.home / "sandbox.sqlite3").exists() and not app.paths.database.exists()
        assert session.demo == [(code, vendor) for code, vendor, _ in DEMO_PATIENTS]
        statuses = {(p.code, c.vendor): c.status for p in app.patients.list_patients() for c in p.connections}
        assert set(statuses.values()) == {"connected"}
        # the demo client secrets live in the app's environment overlay, not in the keyring
        assert not any("CLIENT" in name for (_, name) in MemoryKeyring._store)
        results = download_demo_days(app, days=1)
        assert [r.patient_code for r in results] == [c for c, _, _ in DEMO_PATIENTS] and all(r.ok for r in results)
        # the whole workflow is there: an enrolment link served by the background listener
        app.start_background()
        link = app.connections.create_enrolment_link("DEMO-09", "fitbit", HOST)
        r = requests.get(link.url, allow_redirects=False, timeout=10)
        assert r.status_code == 200 and "Continue to Fitbit" in r.text  # the introduction first
        r = requests.get(link.url + "/continue", allow_redirects=False, timeout=10)
        assert r.status_code == 303 and r.headers["Location"].startswith(session.server.base_url)
        assert link.expires_at > dt.datetime(2026, 1, 1)
    finally:
        session.close()


def test_sandbox_is_kept_apart_from_the_real_installation(tmp_path: Path) -> None:
    """Own data directory and SQLite file even with a production URL set; nothing written to the
    keyring; a connection from an earlier run asks for a new consent; the server stops with the app."""
    from services.errors import InvalidInput

    real = {**os.environ, "WEARSYNC_HOME": str(tmp_path / "real"),
            "WEARSYNC_DATABASE_URL": "mysql+pymysql://clinic@127.0.0.1:9/production",
            "WEARSYNC_PUBLIC_URL": "https://clinic.example.org"}
    session = open_sandbox(real, today=TODAY)
    server = session.server
    try:
        app = session.app
        assert app.paths.home == tmp_path / "real" / "sandbox"
        assert app.db.url == f"sqlite:///{tmp_path / 'real' / 'sandbox' / 'sandbox.sqlite3'}"
        assert app.connections.redirect_uri().startswith("http://127.0.0.1:")  # not the real tunnel
        try:
            app.secrets.set("FITBIT_CLIENT_ID", "typed-in-the-sandbox")
        except InvalidInput as exc:
            assert "never stores secrets" in exc.message
        else:
            raise AssertionError("the sandbox wrote to the keyring")
        assert MemoryKeyring._store == {}  # not even the token key
        app.patients.add("TRY-1", ["polar"], HOST)
        pending = app.connections.begin("TRY-1", "polar", HOST)
        redirect = server.approve(pending.authorize_url, "hugo")
        params = dict(p.split("=", 1) for p in redirect.split("?", 1)[1].split("&"))
        assert app.connections.handle_callback(params).ok
        url = server.base_url
        app.stop_background()  # what quitting the window does
        assert requests_fail(url)
    finally:
        session.close()

    again = open_sandbox(real, today=TODAY)  # a restarted sandbox has forgotten the old tokens
    try:
        tried = again.app.connections.get("TRY-1", "polar")
        assert tried.status == "needs_reconsent" and "Connect this demo account again" in (tried.last_error or "")
        assert {again.app.connections.get(c, v).status for c, v, _ in DEMO_PATIENTS} == {"connected"}
    finally:
        again.close()


def requests_fail(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_sandbox_keeps_its_administrator_and_never_sees_the_real_secrets(tmp_path: Path) -> None:
    """The administrator made at the sandbox's first start is still there at the next start (its own data
    folder, not a new one each time); the real keyring's ngrok token, and a real token given as an
    environment variable, are invisible to the sandbox."""
    import keyring

    from services.secrets import SERVICE

    keyring.set_password(SERVICE, "NGROK_AUTHTOKEN", "invented-real-ngrok-token")
    real = {**os.environ, "WEARSYNC_HOME": str(tmp_path / "real"), "MAIL_UNRELATED": "x",
            "DATA_PLATFORM_PASSWORD": "invented-real-mail-password"}
    first = open_sandbox(real, today=TODAY, connect_demo=False)
    try:
        assert first.app.accounts.needs_first_admin()
        first.app.accounts.create_first_admin("sandbox.admin", "amber falcon quietly sings")
        for name in ("NGROK_AUTHTOKEN", "DATA_PLATFORM_PASSWORD"):
            assert first.app.secrets.get(name) is None and first.app.secrets.source(name) == "missing"
    finally:
        first.close()
    assert keyring.get_password(SERVICE, "NGROK_AUTHTOKEN") == "invented-real-ngrok-token"  # untouched

    again = open_sandbox(real, today=TODAY, connect_demo=False)
    try:
        assert not again.app.accounts.needs_first_admin()
        assert again.app.accounts.authenticate("sandbox.admin", "amber falcon quietly sings").role == "admin"
    finally:
        again.close()
