"""The audit trail records each account action with user and time, and cannot be edited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from db.models import AuditEntry
from services.accounts.actor import HOST
from services.accounts.audit import AuditTrailReadOnly
from services.accounts.service import SignInFailed
from tests.accounts.conftest import ADMIN_PASSWORD, USER_PASSWORD


def test_each_account_action_is_recorded_with_user_and_time(app, clock) -> None:
    start = app.clock.utcnow()
    admin = app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)
    app.accounts.authenticate("admin.anna", ADMIN_PASSWORD)
    with pytest.raises(SignInFailed):
        app.accounts.authenticate("admin.anna", "wrong wrong wrong")
    with pytest.raises(SignInFailed):
        app.accounts.authenticate("no.such.user", "wrong wrong wrong")
    key = app.keys.generate(admin, role="viewer")
    revoked = app.keys.generate(admin)
    app.keys.revoke(revoked.hint, admin)
    app.accounts.register(key.key, "viewer.vic", USER_PASSWORD)
    app.accounts.add_user("coord.carla", "coordinator", USER_PASSWORD, HOST)
    app.accounts.reset_password("coord.carla", admin)
    app.accounts.unlock("coord.carla", admin)
    app.accounts.set_role("coord.carla", "viewer", admin)
    app.accounts.set_disabled("coord.carla", True, admin)
    app.accounts.set_disabled("coord.carla", False, admin)
    app.accounts.change_password(admin, ADMIN_PASSWORD, "a completely new passphrase")
    app.accounts.remove_user("coord.carla", admin)

    rows = [(e.actor, e.source, e.action, e.target) for e in app.audit.entries()]
    assert rows == [
        ("admin.anna", "gui", "user.first_admin", "admin.anna"),
        ("admin.anna", "gui", "user.sign_in", "admin.anna"),
        ("admin.anna", "gui", "user.sign_in_failed", "admin.anna"),
        ("-", "gui", "user.sign_in_failed", ""),
        ("admin.anna", "gui", "key.generate", key.hint),
        ("admin.anna", "gui", "key.generate", revoked.hint),
        ("admin.anna", "gui", "key.revoke", revoked.hint),
        ("viewer.vic", "gui", "user.register", "viewer.vic"),
        ("host", "cli", "user.add", "coord.carla"),
        ("admin.anna", "gui", "user.reset_password", "coord.carla"),
        ("admin.anna", "gui", "user.unlock", "coord.carla"),
        ("admin.anna", "gui", "user.set_role", "coord.carla"),
        ("admin.anna", "gui", "user.disable", "coord.carla"),
        ("admin.anna", "gui", "user.enable", "coord.carla"),
        ("admin.anna", "gui", "user.change_password", "admin.anna"),
        ("admin.anna", "gui", "user.remove", "coord.carla"),
    ]
    for e in app.audit.entries():
        assert start <= e.at <= app.clock.utcnow() + dt.timedelta(seconds=1)
    csv_lines = app.audit.to_csv(actor=admin).splitlines()
    assert csv_lines[0] == "time_utc,user,source,action,target,detail"
    assert len(csv_lines) == 1 + len(rows)
    assert app.audit.to_csv(since=app.clock.utcnow().date() + dt.timedelta(days=1), actor=admin).count("\n") == 1


def test_the_orm_cannot_edit_or_delete_entries(app) -> None:
    app.audit.record(HOST, "patient.add", "P-001", "fitbit")
    with pytest.raises(AuditTrailReadOnly), app.db.session() as s:
        s.scalars(select(AuditEntry)).one().detail = "nothing to see"
    with pytest.raises(AuditTrailReadOnly), app.db.session() as s:
        s.delete(s.scalars(select(AuditEntry)).one())
    with pytest.raises(AuditTrailReadOnly), app.db.session() as s:
        s.execute(update(AuditEntry).values(actor="someone else"))
    with pytest.raises(AuditTrailReadOnly), app.db.session() as s:
        s.execute(delete(AuditEntry))
    [e] = app.audit.entries()
    assert (e.actor, e.action, e.target, e.detail) == ("host", "patient.add", "P-001", "fitbit")


def test_the_database_refuses_plain_sql_edits(app) -> None:
    """The triggers from migration 0002 guard against SQL that bypasses the ORM."""
    app.audit.record(HOST, "patient.add", "P-001", "fitbit")
    for sql in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), app.db.engine.begin() as c:
            c.execute(text(sql))
    assert len(app.audit.entries()) == 1
    # appending still works
    app.audit.record(HOST, "patient.add", "P-002", "polar")
    assert len(app.audit.entries()) == 2
