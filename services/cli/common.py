"""Shared pieces of the command-line handlers."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING

from services.errors import InvalidInput

if TYPE_CHECKING:
    from services.app import WearSync


def open_app() -> WearSync:
    from services.app import WearSync

    return WearSync.open()


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_day(raw: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{what} must be a date like 2026-11-28, not {raw!r}.") from None
