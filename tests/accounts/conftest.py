"""Accounts fixtures: a cheap argon2 hasher (same algorithm, tiny cost) and the app's clock, pinned
so tests move it instead of sleeping."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from services.clock import Clock

ADMIN_PASSWORD = "amber falcon quietly sings"
USER_PASSWORD = "seven blue lanterns drift"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """argon2id still, but with costs that keep a lockout test in milliseconds."""
    import services.accounts.passwords as pw

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(pw, "HASHER", hasher)
    return hasher


@pytest.fixture
def clock(app) -> Clock:  # type: ignore[no-untyped-def]
    """The app's own clock (every service reads it), pinned where it stands."""
    app.clock.pin(app.clock.utcnow())
    return app.clock


@pytest.fixture
def admin(app):  # type: ignore[no-untyped-def]
    return app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)
