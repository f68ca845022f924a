"""User accounts: first-run admin, sign-in with lockout, registration with a key, and account admin.

How the GUI uses this room (the sign-in screen, the Keys & Users page, the idle lock):

- Start-up: `app.accounts.needs_first_admin()` -> show "Create the first administrator" and call
  `create_first_admin(username, password)` (returns the signed-in Actor); else the sign-in screen.
- Sign-in: `actor = app.accounts.authenticate(username, password)`. It raises `SignInFailed`
  (wrong name or password — the same message and the same time for both), `AccountLocked`
  (`.retry_after`, message "Too many failed attempts; try again in N minutes") or `AccountDisabled`.
  Argon2 takes ~0.1-0.3 s: call it off the UI thread. Then
  `app.accounts.get_user(actor.username, actor).must_change_password` -> force the change-password
  dialog, which calls `change_password(actor, old, new)`.
- Register (from the sign-in screen): `register(key, username, password) -> Actor`; a bad key raises
  `services.accounts.keys.KeyRefused` (`.reason` unknown/used/expired/revoked); a bad username
  or password raises InvalidInput whose message says what to do. Nothing changes on any refusal.
  Live feedback while typing: `services.accounts.passwords.password_problem(password, username)`.
- Keys & Users page (admin): `app.keys.generate(actor, role, hours=None) -> NewKey` (show `.key`
  once, with a copy button), `app.keys.list_keys(actor)`, `app.keys.revoke(hint_or_id, actor)`;
  `list_users(actor)`, `add_user`, `reset_password` (returns the temporary password to show once),
  `unlock`, `set_role`, `set_disabled`, `remove_user`. Hide what `actor.can(...)` denies; the
  services refuse it anyway (PermissionDenied).
- Idle lock: services/accounts/idle_lock.py `IdleLock`; unlocking calls `reauthenticate(actor, password)`.

Every change and every sign-in (and failure) lands in the audit trail, without passwords or keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.engine import Database
from db.models import User
from services.accounts import passwords
from services.accounts.actor import ROLES, Actor
from services.accounts.audit import AuditLog
from services.accounts.keys import KeyService
from services.accounts.lockout import lock_duration, locked_message
from services.clock import Clock
from services.errors import Conflict, InvalidInput, NotFound, WearSyncError

log = logging.getLogger(__name__)

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")
_PHANTOM_LIMIT = 10_000


class SignInFailed(WearSyncError):
    title = "Could not sign in"


class AccountLocked(SignInFailed):
    title = "Account locked for now"

    def __init__(self, retry_after: dt.timedelta) -> None:
        super().__init__(locked_message(retry_after))
        self.retry_after = retry_after


class AccountDisabled(SignInFailed):
    title = "Account disabled"


WRONG = "The username or password is not right. Check for typing mistakes and Caps Lock, then try again."


@dataclass(frozen=True)
class UserInfo:
    username: str
    role: str
    disabled: bool
    must_change_password: bool
    failed_attempts: int
    locked_until: dt.datetime | None  # naive UTC
    last_login_at: dt.datetime | None
    created_at: dt.datetime

    def state(self, now: dt.datetime) -> str:
        """active | disabled | locked — for a list column."""
        if self.disabled:
            return "disabled"
        if self.locked_until is not None and self.locked_until > now:
            return "locked"
        return "active"


def normalize_username(raw: str) -> str:
    """The stored form (lower case, trimmed) or InvalidInput saying what to change."""
    name = (raw or "").strip().lower()
    if not 3 <= len(name) <= 64:
        raise InvalidInput("A username needs 3 to 64 characters, for example 'anna.smith'.")
    bad = sorted(set(name) - USERNAME_CHARS)
    if bad:
        raise InvalidInput("A username can use letters a-z, digits and . _ - @ only (no spaces or accents).")
    return name


def _info(u: User) -> UserInfo:
    return UserInfo(u.username, u.role, bool(u.disabled), bool(u.must_change_password), u.failed_attempts,
                    u.locked_until, u.last_login_at, u.created_at)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"Choose a role: {', '.join(ROLES)}.")
    return role


class AccountService:
    def __init__(self, db: Database, audit: AuditLog, keys: KeyService,
                 clock: Clock) -> None:
        self._db = db
        self._audit = audit
        self._keys = keys
        self.clock = clock
        # Failures against usernames that do not exist, so probing them meets the same lockout as a
        # real account and cannot reveal which names exist. In memory: one process serves the GUI.
        self._phantoms: dict[str, tuple[int, dt.datetime | None]] = {}
        self._phantom_lock = threading.Lock()

    # ------------------------------------------------------------------ first run
    def needs_first_admin(self) -> bool:
        with self._db.session() as s:
            return not s.scalar(select(func.count()).select_from(User))

    def create_first_admin(self, username: str, password: str) -> Actor:
        """The first account, an admin; refused once any account exists."""
        name = normalize_username(username)
        passwords.check_password(password, name)
        digest = passwords.hash_password(password)
        actor = Actor(name, "admin", "gui")
        with self._db.session() as s:
            if s.scalar(select(func.count()).select_from(User)):
                raise Conflict("An administrator already exists. Sign in, or ask an administrator for a key.")
            self._insert(s, name, "admin", digest)
            self._audit.record_in(s, actor, "user.first_admin", name, "role admin")
        log.info("first administrator account created")
        return actor

    # ------------------------------------------------------------------ sign-in
    def authenticate(self, username: str, password: str, source: str = "gui") -> Actor:
        """The signed-in Actor, or SignInFailed / AccountLocked / AccountDisabled."""
        actor = self._check_credentials(username, password, source, "user.sign_in")
        log.info("sign-in succeeded")
        return actor

    def _check_credentials(self, username: str, password: str, source: str, action: str | None) -> Actor:
        """Verify, with lockout; on success record `action` (None: the caller records its own)."""
        name = (username or "").strip().lower()
        now = self.clock.utcnow()
        failure: WearSyncError | None = None
        actor: Actor | None = None
        wrong: User | None = None
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == name)) if name else None
            if user is None:
                failure = self._phantom_attempt(s, name, password, now, source)
            elif user.locked_until is not None and user.locked_until > now:
                failure = AccountLocked(user.locked_until - now)
                self._audit.record_in(s, Actor(name, user.role, source), "user.sign_in_failed", name, "while locked")
            else:
                ok, new_hash = passwords.verify_password(user.password_hash, password)
                if not ok:
                    wrong = user  # counted below, in a transaction of its own that starts with the write
                elif user.disabled:
                    failure = AccountDisabled("This account is disabled. Ask an administrator to enable it.")
                    self._audit.record_in(s, Actor(name, user.role, source), "user.sign_in_refused", name, "disabled")
                else:
                    if new_hash is not None:
                        user.password_hash = new_hash  # parameters changed since it was made
                    user.failed_attempts = 0
                    user.locked_until = None
                    user.last_login_at = now
                    actor = Actor(name, user.role, source)
                    if action is not None:
                        self._audit.record_in(s, actor, action, name, "")
        if wrong is not None:
            failure = self._count_failure(wrong, now, source)
        if failure is not None:
            raise failure
        assert actor is not None
        return actor

    def reauthenticate(self, actor: Actor, password: str) -> Actor:
        """Unlock after the idle lock: the same user's password, with the same lockout; the role is
        re-read, so a change made meanwhile takes effect."""
        return self._check_credentials(actor.username, password, actor.source, "user.unlock_session")

    def _count_failure(self, user: User, now: dt.datetime, source: str) -> WearSyncError:
        """One more failed attempt, counted atomically: parallel wrong passwords each count (a single
        `UPDATE ... SET failed_attempts = failed_attempts + 1`, which also holds the row until commit,
        so the count read back and the lock decided on it are this attempt's own)."""
        with self._db.session() as s:
            s.execute(update(User).where(User.id == user.id)
                      .values(failed_attempts=User.failed_attempts + 1))
            count = int(s.scalar(select(User.failed_attempts).where(User.id == user.id)) or 0)
            lock = lock_duration(count)
            who = Actor(user.username, user.role, source)
            self._audit.record_in(s, who, "user.sign_in_failed", user.username, f"wrong password ({count} in a row)")
            if lock is None:
                return SignInFailed(WRONG)
            s.execute(update(User).where(User.id == user.id).values(locked_until=now + lock))
            self._audit.record_in(s, who, "user.locked", user.username, f"for {int(lock.total_seconds() // 60)} min")
        log.warning("an account was locked after %d failed sign-ins", count)
        return AccountLocked(lock)

    def _phantom_attempt(self, s: Session, name: str, password: str, now: dt.datetime,
                         source: str) -> WearSyncError:
        with self._phantom_lock:
            failures, until = self._phantoms.get(name, (0, None))
        if until is not None and until > now:
            self._audit.record_in(s, Actor("-", "", source), "user.sign_in_failed", "", "unknown username")
            return AccountLocked(until - now)
        passwords.burn_verify(password)
        failures += 1
        lock = lock_duration(failures)
        with self._phantom_lock:
            if len(self._phantoms) >= _PHANTOM_LIMIT:
                self._phantoms.clear()
            self._phantoms[name] = (failures, now + lock if lock else None)
        # the attempted name is not recorded: people type their password into the username box
        self._audit.record_in(s, Actor("-", "", source), "user.sign_in_failed", "", "unknown username")
        return AccountLocked(lock) if lock else SignInFailed(WRONG)

    # ------------------------------------------------------------------ registration
    def register(self, key: str, username: str, password: str) -> Actor:
        """Create an account with a one-time registration key; the key's role becomes the user's."""
        with self._db.session() as s:
            k = self._keys.check(s, key)
            role, hint = k.role, k.key_hint
        name = normalize_username(username)
        passwords.check_password(password, name)
        digest = passwords.hash_password(password)
        actor = Actor(name, role, "gui")
        try:
            with self._db.session() as s:
                self._require_free(s, name)
                k = self._keys.check(s, key)  # again: it may have been used or revoked meanwhile
                self._keys.consume(s, k, name)
                self._insert(s, name, role, digest)
                self._audit.record_in(s, actor, "user.register", name, f"role {role}, key {hint}")
        except IntegrityError:
            raise Conflict(f"The username {name!r} is taken. Choose another.") from None
        log.info("an account was registered with a key")
        return actor

    # ------------------------------------------------------------------ administration
    def list_users(self, actor: Actor) -> list[UserInfo]:
        actor.require("users")
        with self._db.session() as s:
            return [_info(u) for u in s.scalars(select(User).order_by(User.username))]

    def get_user(self, username: str, actor: Actor) -> UserInfo:
        """One account: your own, or anyone's with the "users" permission."""
        name = (username or "").strip().lower()
        if name != actor.username:
            actor.require("users")
        with self._db.session() as s:
            return _info(self._require(s, name))

    def add_user(self, username: str, role: str, password: str, actor: Actor,
                 must_change_password: bool = False) -> UserInfo:
        actor.require("users")
        name = normalize_username(username)
        _check_role(role)
        passwords.check_password(password, name)
        digest = passwords.hash_password(password)
        try:
            with self._db.session() as s:
                self._require_free(s, name)
                u = self._insert(s, name, role, digest, must_change_password)
                self._audit.record_in(s, actor, "user.add", name, f"role {role}")
                return _info(u)
        except IntegrityError:
            raise Conflict(f"The username {name!r} is taken. Choose another.") from None

    def reset_password(self, username: str, actor: Actor, new_password: str | None = None) -> str:
        """Set a temporary password (generated unless given) the user must change at next sign-in;
        also lifts a lockout. Returns the temporary password, to show once."""
        actor.require("users")
        with self._db.session() as s:
            name = self._require(s, username).username
        temp = new_password if new_password is not None else passwords.temporary_password(name)
        passwords.check_password(temp, name)
        digest = passwords.hash_password(temp)
        with self._db.session() as s:
            u = self._require(s, name)
            u.password_hash = digest
            u.must_change_password = True
            u.failed_attempts = 0
            u.locked_until = None
            self._audit.record_in(s, actor, "user.reset_password", name, "temporary password set")
        return temp

    def change_password(self, actor: Actor, old_password: str, new_password: str) -> None:
        """A user changes their own password; the old one must be right (it counts toward lockout)."""
        if new_password == old_password:
            raise InvalidInput("Choose a new password that differs from the current one.")
        passwords.check_password(new_password, actor.username)
        self._check_credentials(actor.username, old_password, actor.source, None)
        digest = passwords.hash_password(new_password)
        with self._db.session() as s:
            u = self._require(s, actor.username)
            u.password_hash = digest
            u.must_change_password = False
            self._audit.record_in(s, actor, "user.change_password", actor.username, "")

    def unlock(self, username: str, actor: Actor) -> None:
        actor.require("users")
        with self._db.session() as s:
            u = self._require(s, username)
            u.failed_attempts = 0
            u.locked_until = None
            self._audit.record_in(s, actor, "user.unlock", u.username, "")
        with self._phantom_lock:
            self._phantoms.pop(username.strip().lower(), None)

    def set_role(self, username: str, role: str, actor: Actor) -> None:
        actor.require("users")
        _check_role(role)
        with self._db.session() as s:
            u = self._require(s, username)
            if u.role == role:
                return
            if u.role == "admin":
                self._keep_an_admin(s, u, "change the role of")
            old = u.role
            u.role = role
            self._audit.record_in(s, actor, "user.set_role", u.username, f"{old} -> {role}")

    def set_disabled(self, username: str, disabled: bool, actor: Actor) -> None:
        actor.require("users")
        with self._db.session() as s:
            u = self._require(s, username)
            if bool(u.disabled) == disabled:
                return
            if disabled and u.role == "admin":
                self._keep_an_admin(s, u, "disable")
            u.disabled = disabled
            self._audit.record_in(s, actor, "user.disable" if disabled else "user.enable", u.username, "")

    def remove_user(self, username: str, actor: Actor) -> None:
        """Delete an account (its audit entries stay). Disabling is usually the better choice."""
        actor.require("users")
        with self._db.session() as s:
            u = self._require(s, username)
            if u.role == "admin":
                self._keep_an_admin(s, u, "remove")
            s.delete(u)
            self._audit.record_in(s, actor, "user.remove", u.username, f"role {u.role}")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _keep_an_admin(s: Session, u: User, verb: str) -> None:
        others = s.scalar(
            select(func.count()).select_from(User)
            .where(User.role == "admin", User.disabled.is_(False), User.id != u.id)
        )
        if not others and not u.disabled:
            raise InvalidInput(
                f"You cannot {verb} {u.username}: it is the last administrator. Make another user an "
                "administrator first."
            )

    def _insert(self, s: Session, name: str, role: str, digest: str, must_change: bool = False) -> User:
        u = User(username=name, password_hash=digest, role=role, created_at=self.clock.utcnow(), disabled=False,
                 failed_attempts=0, must_change_password=must_change)
        s.add(u)
        s.flush()
        return u

    @staticmethod
    def _require_free(s: Session, name: str) -> None:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            raise Conflict(f"The username {name!r} is taken. Choose another.")

    @staticmethod
    def _require(s: Session, username: str) -> User:
        name = (username or "").strip().lower()
        u = s.scalar(select(User).where(User.username == name)) if name else None
        if u is None:
            raise NotFound(f"There is no user {name!r}.")
        return u
