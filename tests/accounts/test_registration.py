"""Registration keys: one-time, expiring, revocable; a refused key changes nothing."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select

from db.models import RegistrationKey, User
from services.accounts.actor import Actor
from services.accounts.keys import KeyRefused, next_local_midnight
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.accounts.conftest import USER_PASSWORD


def _users(app) -> list[str]:
    with app.db.session() as s:
        return list(s.scalars(select(User.username).order_by(User.username)))


def test_valid_key_creates_an_account_with_the_keys_role(app, admin, clock) -> None:
    new = app.keys.generate(admin, role="viewer", hours=4)
    assert new.key.startswith("WS-") and new.hint in new.key
    # typed by hand: lower case, spaces instead of dashes, O for 0
    typed = new.key.lower().replace("-", " ").replace("0", "o")
    actor = app.accounts.register(typed, "Viewer.Vic", USER_PASSWORD)
    assert (actor.username, actor.role) == ("viewer.vic", "viewer")
    assert app.accounts.authenticate("viewer.vic", USER_PASSWORD) == actor
    [info] = app.keys.list_keys(admin)
    assert (info.state, info.used_by, info.role) == ("used", "viewer.vic", "viewer")


def test_used_key_is_refused(app, admin, clock) -> None:
    new = app.keys.generate(admin, role="coordinator")
    app.accounts.register(new.key, "first.user", USER_PASSWORD)
    with pytest.raises(KeyRefused, match="already been used") as e:
        app.accounts.register(new.key, "second.user", USER_PASSWORD)
    assert e.value.reason == "used"
    assert _users(app) == ["admin.anna", "first.user"]


def test_expired_key_is_refused(app, admin, clock) -> None:
    new = app.keys.generate(admin, role="coordinator", hours=2)
    clock.advance(hours=2)
    with pytest.raises(KeyRefused, match="expired on") as e:
        app.accounts.register(new.key, "late.user", USER_PASSWORD)
    assert e.value.reason == "expired"
    assert _users(app) == ["admin.anna"]
    assert app.keys.list_keys(admin)[0].state == "expired"


def test_revoked_key_is_refused(app, admin, clock) -> None:
    new = app.keys.generate(admin)
    other = app.keys.generate(admin)
    app.keys.revoke(new.hint, admin)
    app.keys.revoke(str(other.id), admin)
    for k in (new, other):
        with pytest.raises(KeyRefused, match="withdrawn") as e:
            app.accounts.register(k.key, "too.late", USER_PASSWORD)
        assert e.value.reason == "revoked"
    assert _users(app) == ["admin.anna"]
    with pytest.raises(InvalidInput, match="revoked already"):
        app.keys.revoke(new.hint, admin)
    with pytest.raises(NotFound):
        app.keys.revoke("ZZZZZ", admin)


def test_unknown_key_is_refused(app, admin) -> None:
    with pytest.raises(KeyRefused, match="not valid") as e:
        app.accounts.register("WS-AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", "who.ever", USER_PASSWORD)
    assert e.value.reason == "unknown"


def test_a_bad_password_or_taken_name_leaves_the_key_usable(app, admin, clock) -> None:
    new = app.keys.generate(admin)
    with pytest.raises(InvalidInput, match="at least 12"):
        app.accounts.register(new.key, "new.user", "short")
    with pytest.raises(Conflict, match="taken"):
        app.accounts.register(new.key, "ADMIN.ANNA", USER_PASSWORD)
    assert app.keys.list_keys(admin)[0].state == "active"
    assert app.accounts.register(new.key, "new.user", USER_PASSWORD).role == "coordinator"


def test_only_admins_handle_keys_and_bad_input_is_refused(app, admin) -> None:
    coordinator = Actor("c", "coordinator", "gui")
    with pytest.raises(PermissionDenied):
        app.keys.generate(coordinator)
    with pytest.raises(PermissionDenied):
        app.keys.list_keys(coordinator)
    with pytest.raises(InvalidInput, match="role"):
        app.keys.generate(admin, role="superuser")
    for hours in (0, -1, 10_000):
        with pytest.raises(InvalidInput, match="1 to 720 hours"):
            app.keys.generate(admin, hours=hours)
    with app.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RegistrationKey)) == 0


def test_default_expiry_is_the_next_local_midnight(app, admin, clock) -> None:
    new = app.keys.generate(admin)
    assert new.expires_at == next_local_midnight(clock.utcnow())
    assert dt.timedelta(0) < new.expires_at - clock.utcnow() <= dt.timedelta(hours=25)


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset")
def test_next_local_midnight_follows_the_local_zone_and_dst(monkeypatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        # 22:30 UTC on 28 Oct 2023 is 00:30 local on the 29th (CEST); that night's midnight
        # is the next one, 30 Oct 00:00 CET = 29 Oct 23:00 UTC (the clocks went back in between)
        assert next_local_midnight(dt.datetime(2023, 10, 28, 22, 30)) == dt.datetime(2023, 10, 29, 23, 0)
        assert next_local_midnight(dt.datetime(2023, 7, 1, 12, 0)) == dt.datetime(2023, 7, 1, 22, 0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_purge_removes_expired_unused_keys_only(app, admin, clock) -> None:
    used = app.keys.generate(admin, hours=1)
    app.accounts.register(used.key, "kept.user", USER_PASSWORD)
    app.keys.generate(admin, hours=1)
    revoked = app.keys.generate(admin, hours=1)
    app.keys.revoke(revoked.hint, admin)
    live = app.keys.generate(admin, hours=48)
    assert app.keys.purge_expired_keys() == 0
    clock.advance(hours=2)
    assert app.keys.purge_expired_keys() == 2
    assert sorted((k.hint, k.state) for k in app.keys.list_keys(admin)) == sorted(
        [(used.hint, "used"), (live.hint, "active")])
    assert [k.hint for k in app.keys.list_keys(admin, include_spent=False)] == [live.hint]
