"""Sandbox mode: demo patients on a separate database, demo credentials never in the keyring."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import requests

from services.actor import HOST
from services.sandbox_mode import DEMO_PATIENTS, download_demo_days, open_sandbox
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
        assert r.status_code == 302 and r.headers["Location"].startswith(session.server.base_url)
        assert link.expires_at > dt.datetime(2026, 1, 1)
    finally:
        session.close()
