"""Typed errors with a user-facing title and message.

Every failure a coordinator can meet is one of these; the GUI maps the type to the dialog that
fixes it and the CLI prints the message on one line.
"""

from __future__ import annotations


class WearSyncError(Exception):
    """Base of all errors a user may see. `message` says what happened and how to fix it."""

    title = "WearSync"

    def __init__(self, message: str, *, title: str | None = None, terminal_hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        # what to do from a terminal instead (main.py adds it on the command line; the window says
        # where in the window, in plain words, and never shows variable names)
        self.terminal_hint = terminal_hint
        if title is not None:
            self.title = title


class InvalidInput(WearSyncError):
    title = "Please check what you entered"


class NotFound(WearSyncError):
    title = "Not found"


class Conflict(WearSyncError):
    title = "Already exists"


class PermissionDenied(WearSyncError):
    title = "Not allowed"


class SecretsUnavailable(WearSyncError):
    """No usable keyring backend on this machine."""

    title = "No secure password store"


class SecretsLocked(WearSyncError):
    """A keyring exists but is locked; the user must unlock it."""

    title = "Password store is locked"


class MissingSecret(WearSyncError):
    title = "A setting is missing"


class DatabaseError(WearSyncError):
    title = "Database problem"
