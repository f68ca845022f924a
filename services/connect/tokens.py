"""Stored OAuth tokens: encrypted at rest, refreshed under a per-connection lock with a clock margin.

Every new token pair is committed to the database BEFORE anyone uses it (Withings kills the old
refresh token as soon as the new access token is used). A refused refresh marks the connection
"needs re-consent" with a plain-words reason, and is not retried: no loops.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from sqlalchemy import update

from db.engine import Database
from db.models import Connection
from services.clock import Clock
from services.connect.oauth.base import ConsentRevoked, TokenSet
from services.crypto import TokenCipher
from services.errors import NotFound
from services.vendors import VendorRegistry

log = logging.getLogger(__name__)

REFRESH_MARGIN = dt.timedelta(minutes=5)


class TokenManager:
    """Shared by the connection and sync services of one app (one lock per connection)."""

    def __init__(
        self,
        db: Database,
        cipher: TokenCipher,
        vendors: VendorRegistry,
        clock: Clock | None = None,
        margin: dt.timedelta = REFRESH_MARGIN,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.vendors = vendors
        self.clock = clock or vendors.clock
        self.margin = margin
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self.on_reconsent: list[Callable[[int, str], None]] = []

    def lock(self, connection_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(connection_id, threading.Lock())

    # ------------------------------------------------------------------ storage
    def load(self, connection_id: int) -> tuple[str, TokenSet]:
        """(vendor, tokens) of a connection; ConsentRevoked when nothing usable is stored."""
        with self.db.session() as s:
            conn = s.get(Connection, connection_id)
            if conn is None:
                raise NotFound("That connection no longer exists.")
            vendor, blob, status = conn.vendor, conn.token_ciphertext, conn.status
        if blob is None or status in ("needs_reconsent", "withdrawn", "not_connected"):
            raise ConsentRevoked(
                f"The {self.vendors.label(vendor)} account is not connected (status: {status.replace('_', ' ')}). "
                "Connect it again."
            )
        return vendor, TokenSet.from_dict(self.cipher.decrypt(blob))

    def save(self, connection_id: int, tokens: TokenSet) -> None:
        """Persist a token pair atomically (one committed UPDATE)."""
        blob = self.cipher.encrypt(tokens.to_dict())
        with self.db.session() as s:
            s.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(token_ciphertext=blob, token_expires_at=tokens.expires_at, updated_at=self.clock.utcnow())
            )

    def mark_reconsent(self, connection_id: int, message: str) -> None:
        with self.db.session() as s:
            s.execute(
                update(Connection)
                .where(Connection.id == connection_id)
                .values(status="needs_reconsent", last_error=message, updated_at=self.clock.utcnow())
            )
        log.warning("connection %d needs re-consent", connection_id)
        for cb in list(self.on_reconsent):
            try:
                cb(connection_id, message)
            except Exception:
                log.exception("a re-consent listener failed")

    # ------------------------------------------------------------------ use
    def access_token(self, connection_id: int) -> str:
        """A valid access token, refreshed first when it expires within the margin."""
        with self.lock(connection_id):
            vendor, tokens = self.load(connection_id)
            if tokens.expires_at is not None and tokens.expires_at - self.margin <= self.clock.utcnow():
                oauth = self.vendors.get(vendor).oauth_class
                if oauth.supports_refresh and tokens.refresh_token:
                    tokens = self._refresh_locked(connection_id, vendor, tokens)
                # a vendor without refresh: use it until the vendor says 401, then re-consent
            return tokens.access_token

    def refresh(self, connection_id: int, stale: str) -> str:
        """Renew after a 401 on `stale`; a no-op when another worker already renewed it."""
        with self.lock(connection_id):
            vendor, tokens = self.load(connection_id)
            if tokens.access_token != stale:
                return tokens.access_token
            return self._refresh_locked(connection_id, vendor, tokens).access_token

    def _refresh_locked(self, connection_id: int, vendor: str, tokens: TokenSet) -> TokenSet:
        try:
            fresh = self.vendors.get(vendor).oauth().refresh(tokens, now=self.clock.utcnow())
        except ConsentRevoked as exc:
            self.mark_reconsent(connection_id, exc.message)
            raise
        self.save(connection_id, fresh)  # before first use
        log.info("connection %d: access token renewed", connection_id)
        return fresh

    def provider(self, connection_id: int) -> ConnectionTokens:
        return ConnectionTokens(self, connection_id)


class ConnectionTokens:
    """The TokenProvider an ApiClient uses for one connection."""

    def __init__(self, manager: TokenManager, connection_id: int) -> None:
        self.manager = manager
        self.connection_id = connection_id

    def access_token(self) -> str:
        return self.manager.access_token(self.connection_id)

    def refresh(self, stale: str) -> str:
        return self.manager.refresh(self.connection_id, stale)
