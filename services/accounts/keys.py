"""Registration keys: one-time keys an admin hands to a new colleague to create their account.

A key is shown once, in clear, when generated; the database keeps only its SHA-256 (the key is
125 random bits, so a fast hash is enough — unlike a password there is nothing to guess) and a
short hint (its first group) to recognise it in the list. By default a key runs out at the next
daily reset — the next local midnight — as the seed's keys did; unused keys past their expiry are
purged. Registering with a key (services/accounts/service.py `register`) consumes it atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select, update
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import RegistrationKey
from services.accounts.actor import ROLES, Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.errors import InvalidInput, NotFound, WearSyncError

# Crockford base32: no I, L, O, U, so a key read aloud or copied by hand survives.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS, _GROUP_LEN = 5, 5
_PREFIX = "WS"
MAX_HOURS = 24 * 30


class KeyRefused(WearSyncError):
    """A registration key that cannot be used; `reason` is unknown | used | expired | revoked."""

    title = "This registration key cannot be used"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NewKey:
    """A just-generated key: `key` is the only time the clear text exists; show it, then drop it."""

    id: int
    key: str
    hint: str
    role: str
    expires_at: dt.datetime  # naive UTC


@dataclass(frozen=True)
class KeyInfo:
    id: int
    hint: str
    role: str
    state: str  # active | used | expired | revoked
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_by: str | None
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def normalize_key(raw: str) -> str:
    """The canonical form of a typed or pasted key: no dashes or spaces, upper case, look-alikes fixed."""
    text = "".join(ch for ch in raw.upper() if ch.isalnum())
    text = text.translate(str.maketrans("OIL", "011"))
    if text.startswith(_PREFIX):
        text = text[len(_PREFIX) :]
    return text


def key_hash(raw: str) -> str:
    return hashlib.sha256(normalize_key(raw).encode("ascii", "ignore")).hexdigest()


def _new_key() -> tuple[str, str]:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_LEN))
    groups = [body[i : i + _GROUP_LEN] for i in range(0, len(body), _GROUP_LEN)]
    return "-".join([_PREFIX, *groups]), groups[0]


def next_local_midnight(now_utc: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """The next daily reset: the coming local midnight (in `tz`, the app clock's zone; None: this
    computer's), as naive UTC."""
    local = now_utc.replace(tzinfo=dt.UTC).astimezone(tz)
    midnight_naive = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time())
    if tz is not None:
        return midnight_naive.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)
    # astimezone() on a naive value reads it as local time, DST included
    return midnight_naive.astimezone().astimezone(dt.UTC).replace(tzinfo=None)


def key_state(k: RegistrationKey, now: dt.datetime) -> str:
    if k.used_at is not None:
        return "used"
    if k.revoked_at is not None:
        return "revoked"
    if k.expires_at <= now:
        return "expired"
    return "active"


def local_text(utc: dt.datetime) -> str:
    return utc.replace(tzinfo=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def refusal(state: str, expires_at: dt.datetime | None = None) -> KeyRefused:
    """The reason a key in `state` cannot be used, worded for the person holding it."""
    if state == "used":
        return KeyRefused("This registration key has already been used. Ask an administrator for a new one.", "used")
    if state == "revoked":
        return KeyRefused("This registration key was withdrawn by an administrator. Ask for a new one.", "revoked")
    if state == "expired":
        when = f" on {local_text(expires_at)}" if expires_at is not None else ""
        return KeyRefused(f"This registration key expired{when}. Ask an administrator for a new one.", "expired")
    return KeyRefused(
        "This registration key is not valid. Check it for typing mistakes, or ask an administrator for a new one.",
        "unknown",
    )


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


class KeyService:
    def __init__(self, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self.clock = clock

    def generate(self, actor: Actor, role: str = "coordinator", hours: int | None = None) -> NewKey:
        """A new one-time key for `role`, valid `hours` from now or until the next local midnight."""
        actor.require("keys")
        if role not in ROLES:
            raise InvalidInput(f"Choose a role: {', '.join(ROLES)}.")
        now = self.clock.utcnow()
        if hours is None:
            expires = next_local_midnight(now, self.clock.tz)
        else:
            if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
                raise InvalidInput(f"A key can be valid for 1 to {MAX_HOURS} hours.")
            expires = now + dt.timedelta(hours=hours)
        key, hint = _new_key()
        with self._db.session() as s:
            row = RegistrationKey(key_hash=key_hash(key), key_hint=hint, role=role, created_by=actor.username[:64],
                                  created_at=now, expires_at=expires)
            s.add(row)
            s.flush()
            self._audit.record_in(s, actor, "key.generate", hint, f"role {role}, expires {expires:%Y-%m-%d %H:%M} UTC")
            key_id = row.id
        return NewKey(key_id, key, hint, role, expires)

    def list_keys(self, actor: Actor, include_spent: bool = True) -> list[KeyInfo]:
        """Newest first. Without `include_spent`, only keys that can still be used."""
        actor.require("keys")
        now = self.clock.utcnow()
        with self._db.session() as s:
            rows = s.scalars(select(RegistrationKey).order_by(RegistrationKey.created_at.desc(),
                                                               RegistrationKey.id.desc())).all()
        out = [
            KeyInfo(k.id, k.key_hint, k.role, key_state(k, now), k.created_by, k.created_at, k.expires_at,
                    k.used_by, k.used_at, k.revoked_at)
            for k in rows
        ]
        return out if include_spent else [k for k in out if k.state == "active"]

    def revoke(self, hint_or_id: str | int, actor: Actor) -> KeyInfo:
        """Withdraw an unused key, named by its hint (as listed) or its id."""
        actor.require("keys")
        now = self.clock.utcnow()
        with self._db.session() as s:
            k = self._find(s, hint_or_id)
            state = key_state(k, now)
            if state != "active":
                raise InvalidInput(f"Key {k.key_hint} is {state} already; there is nothing to revoke.")
            k.revoked_at = now
            self._audit.record_in(s, actor, "key.revoke", k.key_hint, f"role {k.role}")
            info = KeyInfo(k.id, k.key_hint, k.role, "revoked", k.created_by, k.created_at, k.expires_at,
                           k.used_by, k.used_at, k.revoked_at)
        return info

    def purge_expired_keys(self) -> int:
        """Delete keys that ran out unused (the seed's daily reset). Used keys stay as a record."""
        now = self.clock.utcnow()
        with self._db.session() as s:
            n = _rowcount(s.execute(
                delete(RegistrationKey).where(RegistrationKey.used_at.is_(None), RegistrationKey.expires_at <= now)
            ))
            if n:
                self._audit.record_in(s, Actor("system", "admin", "system"), "key.purge", "", f"{n} expired keys")
        return n

    # ------------------------------------------------------------------ used by accounts.register
    def check(self, s: Session, raw_key: str) -> RegistrationKey:
        """The usable key row for `raw_key`, or KeyRefused saying why not. Changes nothing."""
        k = s.scalar(select(RegistrationKey).where(RegistrationKey.key_hash == key_hash(raw_key)))
        if k is None:
            raise refusal("unknown")
        state = key_state(k, self.clock.utcnow())
        if state != "active":
            raise refusal(state, k.expires_at)
        return k

    def consume(self, s: Session, k: RegistrationKey, username: str) -> None:
        """Mark `k` used by `username` — only if still unused, so two registrations racing for one
        key cannot both win (the loser's transaction is refused and rolled back)."""
        now = self.clock.utcnow()
        won = _rowcount(s.execute(
            update(RegistrationKey)
            .where(RegistrationKey.id == k.id, RegistrationKey.used_at.is_(None),
                   RegistrationKey.revoked_at.is_(None), RegistrationKey.expires_at > now)
            .values(used_at=now, used_by=username[:64])
            .execution_options(synchronize_session=False)
        ))
        if won != 1:
            raise refusal("used")

    @staticmethod
    def _find(s: Session, hint_or_id: str | int) -> RegistrationKey:
        text = str(hint_or_id).strip()
        if text.isdigit():
            by_id = s.get(RegistrationKey, int(text))
            if by_id is not None:
                return by_id
        hint = normalize_key(text)[:_GROUP_LEN] if text else ""
        matches = s.scalars(select(RegistrationKey).where(RegistrationKey.key_hint == hint)).all() if hint else []
        if not matches:
            raise NotFound(f"There is no registration key {text!r}. See the list for hints and ids.")
        if len(matches) > 1:
            raise InvalidInput(f"Several keys start with {hint}; revoke by id instead (see the key list).")
        return matches[0]
