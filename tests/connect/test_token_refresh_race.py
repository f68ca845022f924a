"""Two workers renewing one connection's token at the same moment: the vendor sees one refresh, both
get the new token, and a renewal that finds the token already renewed does nothing (SQLite, MariaDB).

Withings makes this matter: each refresh returns a new pair and retires the old refresh token, so a
second, overlapping refresh would leave one worker holding tokens that are about to die.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from services.connect.oauth.base import ConsentRevoked, OAuth2Implementation, TokenSet
from services.sandbox import SandboxServer

from .conftest import connect

ACCOUNTS = [("fitbit", "anna"), ("withings", "emil")]


def refresh_calls(srv: SandboxServer, vendor: str) -> list[dict[str, str]]:
    return [c.params for c in srv.calls
            if c.vendor == vendor and c.kind == "token" and c.params.get("grant_type") == "refresh_token"]


@pytest.fixture
def slow_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each refresh request open a moment, so two overlapping callers really overlap."""
    real = OAuth2Implementation.refresh

    def slow(self: OAuth2Implementation, tokens: TokenSet, **kw: Any) -> TokenSet:
        time.sleep(0.3)
        return real(self, tokens, **kw)

    monkeypatch.setattr(OAuth2Implementation, "refresh", slow)


def at_once(call: Callable[[], str]) -> list[str]:
    """Run `call` in two threads released together; their results (an exception fails the test)."""
    gate = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        gate.wait()
        try:
            results.append(call())
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    assert len(results) == 2
    return results


@pytest.mark.usefixtures("slow_refresh")
@pytest.mark.parametrize("vendor, user", ACCOUNTS)
def test_two_workers_after_a_401_refresh_once_and_share_the_new_token(sapp: Any, srv: SandboxServer, vendor: str,
                                                                      user: str) -> None:
    assert connect(sapp, srv, "P-1", vendor, user).ok
    cid = sapp.connections.connection_id("P-1", vendor)
    _, before = sapp.tokens.load(cid)
    srv.clear_calls()

    got = at_once(lambda: sapp.tokens.refresh(cid, before.access_token))

    assert len(refresh_calls(srv, vendor)) == 1
    _, stored = sapp.tokens.load(cid)
    assert got == [stored.access_token, stored.access_token] and stored.access_token != before.access_token
    # a late caller still holding the old token finds it renewed and asks the vendor nothing
    assert sapp.tokens.refresh(cid, before.access_token) == stored.access_token
    assert len(refresh_calls(srv, vendor)) == 1
    assert sapp.tokens.load(cid)[1].to_dict() == stored.to_dict()


@pytest.mark.usefixtures("slow_refresh")
@pytest.mark.parametrize("vendor, user", ACCOUNTS)
def test_two_workers_with_an_expiring_token_refresh_once(sapp: Any, srv: SandboxServer, vendor: str,
                                                         user: str) -> None:
    assert connect(sapp, srv, "P-2", vendor, user).ok
    cid = sapp.connections.connection_id("P-2", vendor)
    _, before = sapp.tokens.load(cid)
    before.expires_at = dt.datetime(2000, 1, 1)  # long gone, whatever today is
    sapp.tokens.save(cid, before)
    srv.clear_calls()

    got = at_once(lambda: sapp.tokens.access_token(cid))

    assert len(refresh_calls(srv, vendor)) == 1
    _, stored = sapp.tokens.load(cid)
    assert got == [stored.access_token, stored.access_token] and stored.access_token != before.access_token
    if vendor == "withings":  # the rotated refresh token was kept, not the retired one
        assert stored.refresh_token != before.refresh_token


@pytest.mark.usefixtures("slow_refresh")
def test_two_workers_on_a_withdrawn_grant_ask_once_and_both_hear_it(sapp: Any, srv: SandboxServer) -> None:
    assert connect(sapp, srv, "P-3", "fitbit", "anna").ok
    cid = sapp.connections.connection_id("P-3", "fitbit")
    _, before = sapp.tokens.load(cid)
    srv.revoke("fitbit", "anna")  # the patient withdrew consent in their Google account
    srv.clear_calls()
    told: list[str] = []
    sapp.tokens.on_reconsent.append(lambda _cid, message: told.append(message))

    def renew() -> str:
        try:
            return sapp.tokens.refresh(cid, before.access_token)
        except ConsentRevoked as exc:
            return "refused: " + exc.message

    got = at_once(renew)

    assert len(refresh_calls(srv, "fitbit")) == 1
    assert all(g.startswith("refused: ") and "connect" in g for g in got)
    assert len(told) == 1 and sapp.connections.get("P-3", "fitbit").status == "needs_reconsent"
