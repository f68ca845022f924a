"""Lockout: five failures lock for a minute, each further failure doubles it up to an hour; an
unknown username behaves exactly like a wrong password."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher

from services.accounts import passwords
from services.accounts.actor import HOST
from services.accounts.lockout import lock_duration, locked_message
from services.accounts.service import AccountDisabled, AccountLocked, SignInFailed
from tests.accounts.conftest import ADMIN_PASSWORD, USER_PASSWORD

WRONG_PW = "not the password at all"


def _fail(app, name: str, times: int) -> list[Exception]:
    seen = []
    for _ in range(times):
        with pytest.raises(SignInFailed) as e:
            app.accounts.authenticate(name, WRONG_PW)
        seen.append(e.value)
    return seen


def test_lock_durations() -> None:
    assert [lock_duration(n) for n in range(5)] == [None] * 5
    minutes = [lock_duration(n).total_seconds() / 60 for n in range(5, 13)]  # type: ignore[union-attr]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60]
    assert lock_duration(10_000) == dt.timedelta(hours=1)
    assert locked_message(dt.timedelta(seconds=61)) == "Too many failed attempts; try again in 2 minutes."
    assert locked_message(dt.timedelta(seconds=5)) == "Too many failed attempts; try again in 1 minute."


def test_five_failures_lock_and_the_lock_expires(app, admin, clock) -> None:
    app.accounts.add_user("coord.carla", "coordinator", USER_PASSWORD, HOST)
    seen = _fail(app, "coord.carla", 5)
    assert [type(e) for e in seen] == [SignInFailed] * 4 + [AccountLocked]
    assert seen[-1].message == "Too many failed attempts; try again in 1 minute."
    # even the right password is refused while locked
    with pytest.raises(AccountLocked):
        app.accounts.authenticate("coord.carla", USER_PASSWORD)
    last = app.audit.entries()[-1]
    assert (last.action, last.target, last.detail) == ("user.sign_in_failed", "coord.carla", "while locked")
    assert app.accounts.get_user("coord.carla", admin).state(clock.utcnow()) == "locked"
    clock.advance(seconds=61)
    # the next failure after the lock doubles it
    [again] = _fail(app, "coord.carla", 1)
    assert isinstance(again, AccountLocked) and again.retry_after == dt.timedelta(minutes=2)
    clock.advance(minutes=2)
    assert app.accounts.authenticate("coord.carla", USER_PASSWORD).role == "coordinator"
    # success resets the count: four more failures do not lock
    assert [type(e) for e in _fail(app, "coord.carla", 4)] == [SignInFailed] * 4


def test_other_accounts_are_not_affected_and_admin_unlock(app, admin, clock) -> None:
    app.accounts.add_user("coord.carla", "coordinator", USER_PASSWORD, HOST)
    _fail(app, "coord.carla", 5)
    assert app.accounts.authenticate("admin.anna", ADMIN_PASSWORD).role == "admin"
    app.accounts.unlock("coord.carla", admin)
    assert app.accounts.authenticate("coord.carla", USER_PASSWORD).username == "coord.carla"


def test_unknown_username_behaves_like_a_wrong_password(app, admin, clock, monkeypatch) -> None:
    app.accounts.add_user("coord.carla", "coordinator", USER_PASSWORD, HOST)
    verifications: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verifications.append(str(password))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "HASHER", CountingHasher(time_cost=1, memory_cost=1024, parallelism=1))
    known = _fail(app, "coord.carla", 6)
    known_verifications = len(verifications)
    verifications.clear()
    unknown = _fail(app, "nobody.here", 6)
    # same messages, same types, same lock, and the same argon2 work per attempt (same time)
    assert [(type(e), e.message) for e in unknown] == [(type(e), e.message) for e in known]
    assert len(verifications) == known_verifications == 5
    clock.advance(minutes=1, seconds=1)
    [after] = _fail(app, "nobody.here", 1)
    assert isinstance(after, AccountLocked) and after.retry_after == dt.timedelta(minutes=2)


def test_disabled_account_is_refused_only_with_the_right_password(app, admin, clock) -> None:
    app.accounts.add_user("coord.carla", "coordinator", USER_PASSWORD, HOST)
    app.accounts.set_disabled("coord.carla", True, admin)
    with pytest.raises(SignInFailed) as wrong:
        app.accounts.authenticate("coord.carla", WRONG_PW)
    assert not isinstance(wrong.value, AccountDisabled)
    with pytest.raises(AccountDisabled, match="disabled"):
        app.accounts.authenticate("coord.carla", USER_PASSWORD)
    app.accounts.set_disabled("coord.carla", False, admin)
    assert app.accounts.authenticate("coord.carla", USER_PASSWORD).role == "coordinator"


def test_changing_your_password_counts_toward_lockout(app, admin, clock) -> None:
    for _ in range(4):
        with pytest.raises(SignInFailed):
            app.accounts.change_password(admin, WRONG_PW, "a brand new passphrase here")
    with pytest.raises(AccountLocked):
        app.accounts.change_password(admin, WRONG_PW, "a brand new passphrase here")
    clock.advance(minutes=2)
    app.accounts.change_password(admin, ADMIN_PASSWORD, "a brand new passphrase here")
    assert app.accounts.authenticate("admin.anna", "a brand new passphrase here").role == "admin"


def test_parallel_wrong_passwords_each_count(app, admin, clock) -> None:
    """20 wrong passwords at once: 20 failures counted (not 2), and the account locked (issue 12)."""
    import threading

    from sqlalchemy import select

    from db.models import User

    app.accounts.add_user("coord.pia", "coordinator", USER_PASSWORD, HOST)
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            app.accounts.authenticate("coord.pia", WRONG_PW)
        except (SignInFailed, AccountLocked) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 20  # every attempt answered as a refusal, none failed on the database
    failed = [e.detail for e in app.audit.entries() if e.action == "user.sign_in_failed" and e.target == "coord.pia"]
    counted = [d for d in failed if d.startswith("wrong password")]
    # each attempt either counted (1, 2, 3, ... with no number twice) or came while already locked
    assert sorted(counted) == sorted(f"wrong password ({n} in a row)" for n in range(1, len(counted) + 1))
    assert len(counted) + failed.count("while locked") == 20
    with app.db.session() as s:
        user = s.scalars(select(User).where(User.username == "coord.pia")).one()
        assert user.failed_attempts == len(counted) >= 5
        assert user.locked_until is not None and user.locked_until > clock.utcnow()
    assert outcomes.count("SignInFailed") == 4
