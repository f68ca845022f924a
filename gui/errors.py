"""What the window does with an error: each WearSyncError type maps to the advice that fixes it.

Pure mapping (no widgets) so it is tested without a display; `gui/dialogs.py` turns the advice
into a message box, and dialogs that can show a message inline do so for `inline` errors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.errors import (
    Conflict,
    DatabaseError,
    InvalidInput,
    MissingSecret,
    NotFound,
    PermissionDenied,
    SecretsLocked,
    SecretsUnavailable,
    WearSyncError,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorAdvice:
    title: str
    message: str
    level: str  # info | warning | critical
    action: str | None = None  # "settings": offer to open Settings; "retry": offer to try again
    action_label: str = ""
    inline: bool = False  # a form can show it under the field instead of a dialog


def advice_for(error: BaseException) -> ErrorAdvice:
    if isinstance(error, SecretsLocked):
        return ErrorAdvice(error.title, error.message + "\n\nUnlock your keyring, then press Try again.",
                           "warning", "retry", "Try again")
    if isinstance(error, SecretsUnavailable):
        return ErrorAdvice(error.title, error.message, "warning")
    if isinstance(error, MissingSecret):
        return ErrorAdvice(error.title, error.message, "warning", "settings", "Open Settings")
    if isinstance(error, PermissionDenied):
        return ErrorAdvice(error.title, error.message, "info")
    if isinstance(error, InvalidInput | Conflict | NotFound):
        return ErrorAdvice(error.title, error.message, "warning", inline=True)
    if isinstance(error, DatabaseError):
        return ErrorAdvice(error.title, error.message + "\n\nCheck the database in Settings → Database.",
                           "critical", "settings", "Open Settings")
    if isinstance(error, WearSyncError):
        return ErrorAdvice(error.title, error.message, "warning")
    # Not one of ours: a bug or an unexpected failure. Say so plainly; the details go to the log.
    log.error("unexpected error in a background task", exc_info=(type(error), error, error.__traceback__))
    summary = f"{type(error).__name__}: {error}"
    return ErrorAdvice(
        "Something went wrong",
        "WearSync met an unexpected problem and did not finish this action. Nothing else was changed.\n\n"
        f"{summary[:300]}\n\nThe details are in the log (Log page).",
        "critical",
    )
