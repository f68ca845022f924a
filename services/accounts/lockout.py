"""How long a sign-in is refused after failed attempts: free tries, then a lock that doubles.

Five wrong passwords in a row lock the account for 1 minute; each further failure (after the lock
has run out) doubles it, up to 1 hour. A successful sign-in or an admin's unlock resets the count.
"""

from __future__ import annotations

import datetime as dt
import math

FREE_ATTEMPTS = 5
FIRST_LOCK = dt.timedelta(minutes=1)
MAX_LOCK = dt.timedelta(hours=1)


def lock_duration(failures: int) -> dt.timedelta | None:
    """The lock that `failures` consecutive failures earn, or None while still within the free tries."""
    if failures < FREE_ATTEMPTS:
        return None
    doublings = min(failures - FREE_ATTEMPTS, 12)  # 2**12 minutes is far past the cap already
    return min(FIRST_LOCK * (1 << doublings), MAX_LOCK)


def wait_text(remaining: dt.timedelta) -> str:
    """'1 minute', '8 minutes': always rounded up, so 'try again in 1 minute' never comes too early."""
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def locked_message(remaining: dt.timedelta) -> str:
    return f"Too many failed attempts; try again in {wait_text(remaining)}."
