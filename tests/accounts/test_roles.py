"""Each role can do exactly its set: every permission × every role, at the service level.

Every permission has at least one real service call here (SERVICE_CALLS, plus MORE_CALLS for the
other entry points behind the same permission); PENDING names those that have none ("view": reading
is not refused to anyone signed in). An allowed call may still fail for another reason (no vendor
credentials in a test): only a PermissionDenied counts as a refusal.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from services import secret_admin
from services.accounts.actor import PERMISSION_LABELS, PERMISSIONS, ROLES, Actor
from services.data.export import export_to_file
from services.errors import PermissionDenied, WearSyncError
from services.patients.withdrawal import withdraw_patient
from services.reach.database_switch import switch_app_to_sqlite
from services.reach.tunnel import TunnelStatus
from services.reach.tunnel_setup import start_tunnel, stop_tunnel
from services.sync.backfill import BackfillPlan, run_backfill
from services.sync.backfill_estimate import estimate_range
from tests.accounts.conftest import USER_PASSWORD

ISSUE_SETS = {
    "viewer": {"view"},
    "coordinator": {"view", "patients.edit", "connections.edit", "sync.run", "export"},
    "admin": set(PERMISSION_LABELS),
}


def _setup(app: Any) -> None:
    from services.accounts.actor import HOST

    app.accounts.add_user("target.user", "coordinator", USER_PASSWORD, HOST)
    app.accounts.add_user("spare.admin", "admin", USER_PASSWORD, HOST)
    app.patients.add("P-100", ["fitbit"], HOST)


SERVICE_CALLS: dict[str, Callable[[Any, Actor], object]] = {
    "patients.edit": lambda app, a: app.patients.add(f"P-{a.role}", ["polar"], a),
    "patients.delete": lambda app, a: withdraw_patient(app, "P-100", a, keep_data=True, revoke=lambda c, v: None),
    "users": lambda app, a: app.accounts.list_users(a),
    "keys": lambda app, a: app.keys.generate(a),
    "audit": lambda app, a: app.audit.to_csv(actor=a),
}
DAY = dt.date(2026, 3, 2)


class FakeTunnel:
    """Stands in for TunnelService: the role check happens before the agent would start."""

    def start(self) -> TunnelStatus:
        return TunnelStatus("up", callback_url="https://invented.example/oauth2_callback")

    def stop(self) -> None:
        return None


def _backfill(app: Any, a: Actor) -> object:
    plan = BackfillPlan(DAY, DAY, None, None, (), estimate_range(app.db, DAY, DAY))
    return run_backfill(app, plan, actor=a)


SERVICE_CALLS.update({
    "connections.edit": lambda app, a: app.connections.begin("P-100", "fitbit", a),
    "sync.run": lambda app, a: app.sync.update_now(actor=a),
    "export": lambda app, a: export_to_file(app.db, app.audit, a, app.paths.home / f"{a.role}.csv", "fitbit",
                                            "P-100", "steps", DAY, DAY),
    "secrets": lambda app, a: secret_admin.set_secret(app, a, "NGROK_AUTHTOKEN", "invented-token-1234"),
    "tunnel": lambda app, a: start_tunnel(app, FakeTunnel(), a),  # type: ignore[arg-type]
    "database": lambda app, a: switch_app_to_sqlite(app, a),
    "settings": lambda app, a: app.settings.set("lookback_days", 5, actor=a),
})
MORE_CALLS: list[tuple[str, Callable[[Any, Actor], object]]] = [
    ("sync.run", _backfill),
    ("sync.run", lambda app, a: app.sync.sync_all(patient="P-100", actor=a)),
    ("secrets", lambda app, a: secret_admin.reveal_secret(app, a, "NGROK_AUTHTOKEN")),
    ("secrets", lambda app, a: secret_admin.delete_secret(app, a, "NGROK_AUTHTOKEN")),
    ("secrets", lambda app, a: secret_admin.import_secrets(app, a, [])),
    ("tunnel", lambda app, a: stop_tunnel(app, FakeTunnel(), a)),  # type: ignore[arg-type]
]
PENDING = {"view"}


def test_roles_match_the_issue() -> None:
    assert set(ROLES) == set(PERMISSIONS) == set(ISSUE_SETS)
    for role, perms in ISSUE_SETS.items():
        assert PERMISSIONS[role] == perms, role
    assert set(SERVICE_CALLS) | PENDING == set(PERMISSION_LABELS)
    assert PERMISSIONS["viewer"] < PERMISSIONS["coordinator"] < PERMISSIONS["admin"]


def _calls(permission: str) -> list[Callable[[Any, Actor], object]]:
    first = SERVICE_CALLS.get(permission) or (lambda _app, a: a.require(permission))
    return [first] + [call for perm, call in MORE_CALLS if perm == permission]


@pytest.mark.parametrize("permission", sorted(PERMISSION_LABELS))
def test_permission_by_role(sqlite_app, permission: str) -> None:
    _setup(sqlite_app)
    for role, call in itertools.product(ROLES, _calls(permission)):
        actor = Actor(f"{role}.user", role, "gui")
        allowed = permission in PERMISSIONS[role]
        assert actor.can(permission) is allowed
        if allowed:
            try:
                call(sqlite_app, actor)
            except PermissionDenied:
                pytest.fail(f"{role} was refused {permission}")
            except WearSyncError:
                pass  # refused for another reason (no vendor credentials in a test): allowed
        else:
            with pytest.raises(PermissionDenied, match=f"Your role \\({role}\\) may not"):
                call(sqlite_app, actor)


MANAGEMENT = [
    lambda app, a: app.accounts.add_user("x.user", "viewer", USER_PASSWORD, a),
    lambda app, a: app.accounts.reset_password("target.user", a),
    lambda app, a: app.accounts.unlock("target.user", a),
    lambda app, a: app.accounts.set_role("target.user", "admin", a),
    lambda app, a: app.accounts.set_disabled("target.user", True, a),
    lambda app, a: app.accounts.remove_user("target.user", a),
    lambda app, a: app.accounts.get_user("target.user", a),
    lambda app, a: app.keys.list_keys(a),
    lambda app, a: app.keys.revoke("1", a),
]


def test_account_management_needs_admin(app) -> None:
    _setup(app)
    admin = Actor("x", "admin", "gui")
    before = app.accounts.list_users(admin)
    for action, role in itertools.product(MANAGEMENT, ("coordinator", "viewer")):
        with pytest.raises(PermissionDenied):
            action(app, Actor("other.user", role, "gui"))
    assert app.accounts.list_users(admin) == before


def test_a_user_reads_their_own_account(app) -> None:
    _setup(app)
    me = Actor("target.user", "coordinator", "gui")
    assert app.accounts.get_user("target.user", me).role == "coordinator"


def test_the_audit_trail_records_who_viewed_or_changed_secrets_tunnel_settings_and_sync(sqlite_app) -> None:
    app = sqlite_app
    _setup(app)
    anna = Actor("admin.anna", "admin", "gui")
    cora = Actor("coord.cora", "coordinator", "gui")
    value = "invented-token-98765"
    secret_admin.set_secret(app, anna, "NGROK_AUTHTOKEN", value)
    assert secret_admin.reveal_secret(app, anna, "NGROK_AUTHTOKEN") == value
    secret_admin.delete_secret(app, anna, "NGROK_AUTHTOKEN")
    start_tunnel(app, FakeTunnel(), anna)  # type: ignore[arg-type]
    stop_tunnel(app, FakeTunnel(), anna)  # type: ignore[arg-type]
    app.settings.set("lookback_days", 5, actor=anna)
    app.sync.update_now(actor=cora)
    _backfill(app, cora)
    app.settings.set("lookback_days", 6)  # internal (CLI, scheduler): no person to record

    got = [(e.actor, e.action, e.target, e.detail) for e in app.audit.entries()
           if e.action.startswith(("secret.", "tunnel.", "setting.", "sync."))]
    assert got == [
        ("admin.anna", "secret.changed", "NGROK_AUTHTOKEN", "stored in the keyring"),
        ("admin.anna", "secret.viewed", "NGROK_AUTHTOKEN", ""),
        ("admin.anna", "secret.changed", "NGROK_AUTHTOKEN", "removed from the keyring"),
        ("admin.anna", "tunnel.started", "https://invented.example/oauth2_callback", "up"),
        ("admin.anna", "tunnel.stopped", "", ""),
        ("admin.anna", "setting.changed", "lookback_days", "new value: 5"),
        ("coord.cora", "sync.started", "all", "update now"),
        ("coord.cora", "sync.started", "all patients", "backfill 2026-03-02..2026-03-02"),
    ]
    assert value not in app.audit.to_csv()


def test_a_refused_change_changes_nothing_and_records_nothing(sqlite_app) -> None:
    app = sqlite_app
    viewer = Actor("val.viewer", "viewer", "gui")
    before = len(app.audit.entries())
    for call in (lambda: app.settings.set("lookback_days", 9, actor=viewer),
                 lambda: secret_admin.set_secret(app, viewer, "NGROK_AUTHTOKEN", "invented-token-1234"),
                 lambda: app.sync.update_now(actor=viewer)):
        with pytest.raises(PermissionDenied):
            call()
    assert app.settings.get("lookback_days") != 9
    assert app.secrets.get("NGROK_AUTHTOKEN") is None
    assert len(app.audit.entries()) == before
