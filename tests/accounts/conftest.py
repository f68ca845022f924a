"""Accounts fixtures: a cheap argon2 hasher (same algorithm, tiny cost) and a clock tests move."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher

ADMIN_PASSWORD = "amber falcon quietly sings"
USER_PASSWORD = "seven blue lanterns drift"


class FakeClock:
    """Naive UTC, like db.engine.utcnow; tests advance it instead of sleeping."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += dt.timedelta(**kw)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """argon2id still, but with costs that keep a lockout test in milliseconds."""
    import services.accounts.passwords as pw

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(pw, "HASHER", hasher)
    return hasher


@pytest.fixture
def clock(app) -> FakeClock:  # type: ignore[no-untyped-def]
    from db.engine import utcnow

    c = FakeClock(utcnow())
    app.accounts.clock = c
    app.keys.clock = c
    return c


@pytest.fixture
def admin(app):  # type: ignore[no-untyped-def]
    return app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)
