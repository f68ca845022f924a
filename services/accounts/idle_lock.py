"""The idle lock policy: when the window should hide behind the sign-in screen. No Qt here.

The GUI feeds it activity (key presses, mouse moves) and asks `is_locked(now)` from a timer; the
tray keeps syncing meanwhile, since the lock only covers the window. Unlocking needs the same
user's password: `actor = app.accounts.reauthenticate(actor, password)` (lockout applies), then
`idle.unlock(now)`. A different user signing in instead is a new session, not an unlock.

`now` is seconds on a wall clock that keeps counting through sleep — the app clock's `timestamp()`:
a laptop that slept for an hour comes back locked. Once locked it stays locked until `unlock`,
so a clock that jumps backwards cannot reopen the window.
"""

from __future__ import annotations

from typing import Any, Protocol


class _SettingsReader(Protocol):
    """services.settings.Settings (accounts sit below settings, which records changes in the audit trail)."""

    def get(self, key: str) -> Any: ...


class IdleLock:
    def __init__(self, timeout_minutes: float, now: float) -> None:
        """`timeout_minutes` <= 0 means never lock on idle (the "Lock now" action still works)."""
        self.timeout_s = max(0.0, float(timeout_minutes) * 60.0)
        self.last_activity = now
        self._locked = False

    @classmethod
    def from_settings(cls, settings: _SettingsReader, now: float) -> IdleLock:
        return cls(settings.get("idle_lock_minutes"), now)

    def set_timeout(self, minutes: float) -> None:
        """The setting changed while signed in: applies from the last activity."""
        self.timeout_s = max(0.0, float(minutes) * 60.0)

    def activity(self, now: float) -> None:
        """The user did something. Ignored while locked: typing on the lock screen does not unlock."""
        if not self._locked:
            self.last_activity = max(self.last_activity, now)

    def is_locked(self, now: float) -> bool:
        if not self._locked and self.timeout_s > 0 and now - self.last_activity >= self.timeout_s:
            self._locked = True
        return self._locked

    def seconds_left(self, now: float) -> float | None:
        """Until the lock (for a countdown), None when idle locking is off; 0 when locked."""
        if self.is_locked(now):
            return 0.0
        if self.timeout_s <= 0:
            return None
        return max(0.0, self.timeout_s - (now - self.last_activity))

    def lock_now(self) -> None:
        self._locked = True

    def unlock(self, now: float) -> None:
        """Call only after `reauthenticate` succeeded."""
        self._locked = False
        self.last_activity = now
