"""Idle lock policy: the GUI feeds activity and a clock; unlocking needs the same user's password."""

from __future__ import annotations

import pytest

from services.accounts.idle_lock import IdleLock
from services.accounts.service import AccountLocked, SignInFailed
from tests.accounts.conftest import ADMIN_PASSWORD


def test_locks_after_the_idle_time_and_activity_postpones_it() -> None:
    lock = IdleLock(timeout_minutes=15, now=1000.0)
    assert not lock.is_locked(1000.0 + 14 * 60)
    lock.activity(1000.0 + 14 * 60)
    assert not lock.is_locked(1000.0 + 28 * 60)
    assert lock.seconds_left(1000.0 + 28 * 60) == pytest.approx(60)
    assert lock.is_locked(1000.0 + 29 * 60)
    # typing on the lock screen does not unlock, nor does a clock jumping back
    lock.activity(1000.0 + 30 * 60)
    assert lock.is_locked(0.0)
    lock.unlock(5000.0)
    assert not lock.is_locked(5000.0 + 60)


def test_zero_means_never_and_lock_now_still_works() -> None:
    lock = IdleLock(timeout_minutes=0, now=0.0)
    assert not lock.is_locked(10**9) and lock.seconds_left(10**9) is None
    lock.lock_now()
    assert lock.is_locked(0.0)


def test_timeout_comes_from_settings(app) -> None:
    app.settings.set("idle_lock_minutes", 2)
    lock = IdleLock.from_settings(app.settings, now=0.0)
    assert not lock.is_locked(119.0) and lock.is_locked(120.0)


def test_unlock_needs_the_same_users_password_with_lockout(app, admin, clock) -> None:
    lock = IdleLock(timeout_minutes=1, now=0.0)
    assert lock.is_locked(60.0)
    for _ in range(4):
        with pytest.raises(SignInFailed):
            app.accounts.reauthenticate(admin, "not my password here")
    with pytest.raises(AccountLocked):
        app.accounts.reauthenticate(admin, "not my password here")
    clock.advance(minutes=1, seconds=1)
    assert app.accounts.reauthenticate(admin, ADMIN_PASSWORD) == admin
    lock.unlock(200.0)
    assert not lock.is_locked(200.0)
    assert [e.action for e in app.audit.entries()][-1] == "user.unlock_session"
