"""Withings revoke is the documented signed call (issue 12): a nonce from Signature v2 - Getnonce, then
`action=revoke` with client_id, nonce, userid and the HMAC-SHA256 signature; the sandbox answers it as
Withings does, and afterwards Withings no longer accepts the patient's token."""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import select

from db.models import Connection
from services.accounts.actor import HOST
from services.sandbox import SandboxServer

from .conftest import connect


def _measure_status(srv: SandboxServer, access_token: str) -> int:
    r = requests.post(srv.endpoints("withings")["api_url"] + "/measure", data={"action": "getmeas"},
                      headers={"Authorization": "Bearer " + access_token}, timeout=5)
    return int(r.json()["status"])


def test_withings_access_is_revoked_with_a_signed_call(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "W-1", "withings", "emil").ok
    with lapp.db.session() as s:
        blob = s.scalars(select(Connection.token_ciphertext).where(Connection.vendor == "withings")).one()
    access = lapp.cipher.decrypt(blob)["access_token"]
    assert _measure_status(srv, access) == 0
    result = lapp.connections.revoke("W-1", "withings", HOST)
    assert result.revoked_at_vendor, result.message
    assert "was withdrawn" in result.message
    assert _measure_status(srv, access) == 401  # Withings itself no longer accepts the token


def test_a_refused_withings_revoke_is_reported_not_hidden(lapp: Any, srv: SandboxServer) -> None:
    assert connect(lapp, srv, "W-2", "withings", "fatma").ok
    srv.auth.withings_nonces.clear()
    real = srv.auth.signature_withings

    def stale_nonce(req: Any) -> Any:  # Withings answers with a nonce it will not accept
        answer = real(req)
        srv.auth.withings_nonces.clear()
        return answer

    srv.auth.signature_withings = stale_nonce  # type: ignore[method-assign]
    result = lapp.connections.revoke("W-2", "withings", HOST)
    assert not result.revoked_at_vendor
    assert "remove WearSync in their Withings account" in result.message
