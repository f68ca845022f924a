"""Shared pieces of the command-line handlers."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from services.errors import InvalidInput

if TYPE_CHECKING:
    from services.app import WearSync


def open_app() -> WearSync:
    from services.app import WearSync

    return WearSync.open()


@contextmanager
def opened_app() -> Iterator[WearSync]:
    """The app for one command, closed however the command ends."""
    app = open_app()
    try:
        yield app
    finally:
        app.close()


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_day(raw: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{what} must be a date like 2026-11-28, not {raw!r}.") from None


def audit_host(action: str, target: str = "", detail: str = "") -> None:
    """Record a host (CLI) action in the audit trail of the configured database; best effort, for
    commands whose work does not need the database (files written, another database set up)."""
    import logging

    from db.engine import Database
    from services import config
    from services.accounts.actor import HOST
    from services.accounts.audit import AuditLog
    from services.clock import Clock

    try:
        db = Database(config.database_url())
        try:
            AuditLog(db, Clock.from_environ(os.environ)).record(HOST, action, target, detail)
        finally:
            db.dispose()
    except Exception:
        logging.getLogger(__name__).warning("could not record %s in the audit trail", action)
