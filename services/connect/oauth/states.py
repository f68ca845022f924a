"""One-time, expiring OAuth `state` values bound to a patient and vendor, kept in the database so a
pending consent (an enrolment link opened on a phone) survives a restart of WearSync.

Only a SHA-256 of the state is stored; the PKCE verifier is stored encrypted. Consuming a state is
one conditional UPDATE, so two callbacks racing for the same state cannot both win.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import EnrolmentLink, OAuthState
from services.clock import Clock
from services.crypto import TokenCipher
from services.errors import WearSyncError

STATE_LIFETIME = dt.timedelta(minutes=10)
NO_LONGER_VALID = "This link is no longer valid. Ask the clinic for a new one."


class InvalidState(WearSyncError):
    title = "This sign-in link is not valid"

    def __init__(self, message: str, reason: str = "unknown") -> None:
        super().__init__(message)
        self.reason = reason  # missing | unknown | used | expired | voided


@dataclass(frozen=True)
class PendingState:
    patient_code: str
    vendor: str
    purpose: str  # connect | enrol
    redirect_uri: str
    verifier: str | None = None
    patient_id: int | None = None  # the patient's row: the ID text alone may name someone else later


def void_pending(s: Session, patient_id: int, vendor: str | None, now: dt.datetime) -> None:
    """Cancel the patient's unused enrolment links and pending consents (one device type, or all),
    inside the caller's transaction: after a rename, move, delete or withdrawal they must not connect
    anyone. Their pages then say the link is no longer valid."""
    for model in (OAuthState, EnrolmentLink):
        q = update(model).where(model.patient_id == patient_id, model.used_at.is_(None),
                                model.voided_at.is_(None))
        if vendor is not None:
            q = q.where(model.vendor == vendor)
        s.execute(q.values(voided_at=now))


def new_state() -> str:
    """An unguessable one-time OAuth `state`."""
    return secrets.token_urlsafe(32)


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class StateStore:
    def __init__(self, db: Database, cipher: TokenCipher, clock: Clock,
                 lifetime: dt.timedelta = STATE_LIFETIME) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock
        self.lifetime = lifetime

    def create(self, pending: PendingState, state: str | None = None) -> tuple[str, dt.datetime]:
        """Keep a pending consent under `state` (a new one when None); (state, expiry time)."""
        state = state or new_state()
        now = self.clock.utcnow()
        expires = now + self.lifetime
        with self.db.session() as s:
            # housekeeping: states that can no longer be used
            s.execute(delete(OAuthState).where(OAuthState.expires_at < now - dt.timedelta(days=1)))
            s.add(OAuthState(
                state=state_hash(state),
                patient_code=pending.patient_code,
                vendor=pending.vendor,
                purpose=pending.purpose,
                redirect_uri=pending.redirect_uri,
                verifier_ciphertext=self.cipher.encrypt_text(pending.verifier) if pending.verifier else None,
                patient_id=pending.patient_id,
                created_at=now,
                expires_at=expires,
            ))
        return state, expires

    def peek(self, state: str) -> PendingState | None:
        """The pending consent a state belongs to, without consuming it (None if unknown)."""
        with self.db.session() as s:
            row = s.get(OAuthState, state_hash(state))
            if row is None:
                return None
            return PendingState(row.patient_code, row.vendor, row.purpose, row.redirect_uri,
                                patient_id=row.patient_id)

    def reusable(self, state: str) -> PendingState | None:
        """The still-usable pending consent of `state` with its verifier (None when used, voided or
        expiring within a minute): an enrolment link opened again reuses it instead of a new row."""
        now = self.clock.utcnow()
        with self.db.session() as s:
            row = s.get(OAuthState, state_hash(state))
            if (row is None or row.used_at is not None or row.voided_at is not None
                    or row.expires_at <= now + dt.timedelta(minutes=1)):
                return None
            verifier = self.cipher.decrypt_text(row.verifier_ciphertext) if row.verifier_ciphertext else None
            return PendingState(row.patient_code, row.vendor, row.purpose, row.redirect_uri, verifier,
                                row.patient_id)

    def consume(self, state: str | None) -> PendingState:
        """Use a state once; InvalidState (with a plain reason) when missing, unknown, used or expired."""
        if not state:
            raise InvalidState("The sign-in answer did not carry its security code. Start the connection again.",
                               "missing")
        key = state_hash(state)
        now = self.clock.utcnow()
        with self.db.session() as s:
            won = s.execute(  # type: ignore[attr-defined]
                update(OAuthState)
                .where(OAuthState.state == key, OAuthState.used_at.is_(None), OAuthState.voided_at.is_(None),
                       OAuthState.expires_at > now)
                .values(used_at=now)
            ).rowcount
            row = s.get(OAuthState, key)
            if row is None:
                raise InvalidState("This sign-in link is not one WearSync started. Start the connection again.")
            if not won and row.voided_at is not None:
                raise InvalidState(NO_LONGER_VALID, "voided")
            if not won:
                if row.used_at is not None and row.used_at != now:
                    raise InvalidState("This sign-in link has already been used. Start the connection again.", "used")
                if row.expires_at <= now:
                    raise InvalidState("This sign-in link has expired. Start the connection again.", "expired")
                raise InvalidState("This sign-in link has already been used. Start the connection again.", "used")
            verifier = self.cipher.decrypt_text(row.verifier_ciphertext) if row.verifier_ciphertext else None
            return PendingState(row.patient_code, row.vendor, row.purpose, row.redirect_uri, verifier,
                                row.patient_id)

    def void_for(self, patient_id: int, vendor: str | None) -> None:
        with self.db.session() as s:
            void_pending(s, patient_id, vendor, self.clock.utcnow())

    def pending(self) -> list[PendingState]:
        now = self.clock.utcnow()
        with self.db.session() as s:
            rows = s.scalars(select(OAuthState).where(OAuthState.used_at.is_(None), OAuthState.voided_at.is_(None),
                                                      OAuthState.expires_at > now))
            return [PendingState(r.patient_code, r.vendor, r.purpose, r.redirect_uri, patient_id=r.patient_id)
                    for r in rows]
