"""Who is using the window: the signed-in user, or nobody (signed out), and whether the idle lock
covers the window.

The window opens signed out: every permission check answers no until the sign-in screen
(gui/signin.py) calls `set_actor`. While locked the actor stays (unlocking needs the same user's
password) but `can()` answers no, so nothing a tray menu or a stray shortcut reaches is allowed.
Pages re-check what they may show when `changed` fires — at sign-in, sign-out, lock and unlock.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from services.accounts.actor import Actor

SIGNED_OUT = Actor("", "", "gui")  # no role: no permission at all


class UserSession(QObject):
    """The current actor; pages re-check what they may show when `changed` fires."""

    changed = Signal(Actor)
    locked_changed = Signal(bool)

    def __init__(self, actor: Actor = SIGNED_OUT, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._actor = actor
        self._locked = False

    @property
    def actor(self) -> Actor:
        return self._actor

    @property
    def signed_in(self) -> bool:
        return bool(self._actor.username) and bool(self._actor.role)

    @property
    def locked(self) -> bool:
        return self._locked

    def can(self, permission: str) -> bool:
        return self.signed_in and not self._locked and self._actor.can(permission)

    def set_actor(self, actor: Actor) -> None:
        """Sign in (or re-read the role after an unlock); lifts the lock."""
        self._actor = actor
        was_locked, self._locked = self._locked, False
        self.changed.emit(actor)
        if was_locked:
            self.locked_changed.emit(False)

    def sign_out(self) -> None:
        self.set_actor(SIGNED_OUT)

    def set_locked(self, locked: bool) -> None:
        if locked == self._locked or (locked and not self.signed_in):
            return
        self._locked = locked
        self.changed.emit(self._actor)
        self.locked_changed.emit(locked)
