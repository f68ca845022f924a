"""Who is using the window. One place holds the acting user, so sign-in (issue 6) can replace it.

Until accounts exist the window acts as the host's owner with the admin role, recorded in the
audit trail as source "gui".
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from services.actor import Actor

DEFAULT_ACTOR = Actor("host", "admin", "gui")


class UserSession(QObject):
    """The current actor; pages re-check what they may show when `changed` fires."""

    changed = Signal(Actor)

    def __init__(self, actor: Actor = DEFAULT_ACTOR, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._actor = actor

    @property
    def actor(self) -> Actor:
        return self._actor

    def can(self, permission: str) -> bool:
        return self._actor.can(permission)

    def set_actor(self, actor: Actor) -> None:
        self._actor = actor
        self.changed.emit(actor)
