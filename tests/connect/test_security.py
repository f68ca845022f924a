"""Tokens are unreadable without the keyring key, and no token, code, state or secret reaches a log."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from db.models import Connection
from services.accounts.actor import HOST
from services.app import WearSync
from services.crypto import TokenKeyLost
from services.logging_setup import setup_logging
from services.sandbox import SandboxServer
from tests.support.keyrings import MemoryKeyring

from .conftest import query


def secrets_of(app: Any, srv: SandboxServer) -> list[str]:
    out = [secret for v in ("fitbit", "withings", "polar") for _, secret in [srv.client(v)]]
    with app.db.session() as s:
        for blob in s.scalars(select(Connection.token_ciphertext).where(Connection.token_ciphertext.is_not(None))):
            t = app.cipher.decrypt(blob)
            out += [t["access_token"], *([t["refresh_token"]] if t.get("refresh_token") else [])]
    return out


def test_tokens_at_rest_need_the_keyring_key(sqlite_app: Any, srv: SandboxServer, monkeypatch: pytest.MonkeyPatch,
                                             ) -> None:
    from .conftest import _wire, connect

    app = _wire(sqlite_app, srv)
    assert connect(app, srv, "P-1", "fitbit", "anna").ok
    with app.db.session() as s:
        blob = s.scalars(select(Connection.token_ciphertext)).one()
    tokens = app.cipher.decrypt(blob)
    for value in (tokens["access_token"], tokens["refresh_token"]):
        assert value.encode() not in blob and value[-12:].encode() not in blob
    assert b"access_token" not in blob
    # another computer (or a reset keyring): the database alone reveals nothing and says so plainly
    MemoryKeyring._store.clear()
    other = WearSync.open(dict(app.environ))
    try:
        with pytest.raises(TokenKeyLost, match="Reconnect"):
            other.cipher.decrypt(blob)
        cid = other.connections.connection_id("P-1", "fitbit")
        result = other.sync.sync_connection(cid, dt.date(2026, 11, 20), dt.date(2026, 11, 20))
        assert not result.ok and "Reconnect" in " ".join(result.errors)
    finally:
        other.close()


def test_nothing_secret_in_logs(sqlite_app: Any, srv: SandboxServer, tmp_path: Path,
                                caplog: pytest.LogCaptureFixture) -> None:
    from .conftest import _wire

    app = _wire(sqlite_app, srv)
    log_file = setup_logging(tmp_path / "logs", level=logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    try:
        listener = app.connections.start_listener()
        for code, vendor, user in (("P-1", "fitbit", "anna"), ("P-2", "withings", "emil"), ("P-3", "polar", "greta")):
            pending = app.connections.begin(code, vendor, HOST)
            redirect = srv.approve(pending.authorize_url, user)
            q = query(redirect)
            seen += [q["code"], q["state"], pending.state]
            assert "You're connected" in requests.get(redirect, timeout=10).text
            requests.get(redirect, timeout=10)  # a replay is refused (and logged)
        verifier_rows = app.connections.states.pending()
        assert verifier_rows == []
        srv.inject("fitbit", "401_expired", times=1)  # a refresh mid-sync
        srv.inject("withings", "500", times=1)
        run = app.sync.sync_all(start=dt.date(2026, 11, 16), end=dt.date(2026, 11, 16))
        assert run.ok, [r.summary for r in run.results]
        seen += secrets_of(app, srv)
        srv.revoke("withings", "emil")
        # the day is done already: only a re-download contacts Withings again
        app.sync.sync_all(start=dt.date(2026, 11, 16), end=dt.date(2026, 11, 16), refetch=True)
        app.connections.revoke("P-1", "fitbit", HOST)
        listener.stop()
    finally:
        app.connections.stop_listener()
        logging.getLogger().handlers[:] = [h for h in logging.getLogger().handlers
                                           if not getattr(h, "_wearsync", False)]
    assert log_file is not None
    text = log_file.read_text() + "\n".join(r.getMessage() for r in caplog.records)
    assert "needs re-consent" in text and "renewing once" in text  # the log does say what happened
    for secret in seen:
        assert secret not in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_log_file_has_no_tokens(cli: Any, srv: SandboxServer, tmp_path: Path) -> None:
    import os

    code, _, err, _ = cli.connect("fitbit", "P-LOG", "anna")
    assert code == 0, err
    srv.inject("fitbit", "401_expired", times=1)
    assert cli.run("sync", "--start", "2026-11-20", "--end", "2026-11-20").returncode == 0
    key = json.loads((tmp_path / "keyring.json").read_text())["WearSync/WEARSYNC_TOKEN_KEY"]
    from db.engine import Database

    db = Database(cli.url)
    try:
        with db.session() as s:
            blob = s.scalars(select(Connection.token_ciphertext)).one()
    finally:
        db.dispose()
    tokens = json.loads(Fernet(key.encode()).decrypt(blob))
    log_text = (Path(os.environ["WEARSYNC_HOME"]) / "logs" / "wearsync.log").read_text()
    assert "access token refused, renewing once" in log_text
    for secret in (tokens["access_token"], tokens["refresh_token"], srv.client("fitbit")[1]):
        assert secret not in log_text
