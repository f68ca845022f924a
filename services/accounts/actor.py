"""Who is acting: a signed-in user in the GUI, or the host's owner on the command line.

Roles and what each may do live here, so the GUI (which hides what a role may not do) and the
services (which refuse it) read the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.errors import PermissionDenied

ROLES = ("admin", "coordinator", "viewer")

PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"view"}),
    "coordinator": frozenset({"view", "patients.edit", "connections.edit", "sync.run", "export"}),
    "admin": frozenset(
        {
            "view",
            "patients.edit",
            "patients.delete",
            "connections.edit",
            "sync.run",
            "export",
            "secrets",
            "users",
            "keys",
            "tunnel",
            "database",
            "settings",
            "audit",
        }
    ),
}

PERMISSION_LABELS = {
    "view": "view status and charts",
    "patients.edit": "add or rename patients",
    "patients.delete": "delete or withdraw patients",
    "connections.edit": "connect vendor accounts",
    "sync.run": "start downloads",
    "export": "export data",
    "secrets": "view or change secrets",
    "users": "manage users",
    "keys": "manage registration keys",
    "tunnel": "control the tunnel",
    "database": "change the database",
    "settings": "change settings",
    "audit": "read the audit trail",
}


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    source: str  # gui | cli | system

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            what = PERMISSION_LABELS.get(permission, permission)
            raise PermissionDenied(
                f"Your role ({self.role}) may not {what}. Ask an administrator if you need to."
            )


HOST = Actor("host", "admin", "cli")
SYSTEM = Actor("system", "admin", "system")
