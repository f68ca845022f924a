"""Each role can do exactly its set: every permission × every role, at the service level.

A permission whose service lives on another branch (connections, sync, export, secrets, tunnel,
database, settings) is checked through Actor.require until that service lands; PENDING names them
so the merge can swap in the real call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from services.actor import PERMISSION_LABELS, PERMISSIONS, ROLES, Actor
from services.errors import PermissionDenied
from services.withdrawal import withdraw_patient
from tests.accounts.conftest import USER_PASSWORD

ISSUE_SETS = {
    "viewer": {"view"},
    "coordinator": {"view", "patients.edit", "connections.edit", "sync.run", "export"},
    "admin": set(PERMISSION_LABELS),
}


def _setup(app: Any) -> None:
    from services.actor import HOST

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
PENDING = {"view", "connections.edit", "sync.run", "export", "secrets", "tunnel", "database", "settings"}


def test_roles_match_the_issue() -> None:
    assert set(ROLES) == set(PERMISSIONS) == set(ISSUE_SETS)
    for role, perms in ISSUE_SETS.items():
        assert PERMISSIONS[role] == perms, role
    assert set(SERVICE_CALLS) | PENDING == set(PERMISSION_LABELS)
    assert PERMISSIONS["viewer"] < PERMISSIONS["coordinator"] < PERMISSIONS["admin"]


@pytest.mark.parametrize("permission", sorted(PERMISSION_LABELS))
def test_permission_by_role(sqlite_app, permission: str) -> None:
    _setup(sqlite_app)
    call = SERVICE_CALLS.get(permission) or (lambda _app, a: a.require(permission))
    for role in ROLES:
        actor = Actor(f"{role}.user", role, "gui")
        allowed = permission in PERMISSIONS[role]
        assert actor.can(permission) is allowed
        if allowed:
            call(sqlite_app, actor)
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
