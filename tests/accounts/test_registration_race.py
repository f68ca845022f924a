"""Two people registering with the same one-time key at the same moment: exactly one account is made
(SQLite and MariaDB). Both have passed the key check before either uses the key, so only the
database's conditional "mark used" can keep the second one out."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from db.models import RegistrationKey, User
from services.accounts.actor import Actor
from services.accounts.keys import KeyRefused, KeyService
from tests.accounts.conftest import USER_PASSWORD


def test_two_registrations_with_one_key_at_once_one_wins(app: Any, admin: Actor,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    new = app.keys.generate(admin, role="coordinator", hours=4)
    both_checked = threading.Barrier(2, timeout=20)
    real_consume = KeyService.consume

    def consume_together(self: KeyService, s: Any, k: RegistrationKey, username: str) -> None:
        both_checked.wait()  # each has seen the key unused inside its own transaction
        real_consume(self, s, k, username)

    monkeypatch.setattr(KeyService, "consume", consume_together)
    won: list[str] = []
    refused: list[KeyRefused] = []
    other: list[BaseException] = []

    def register(name: str) -> None:
        try:
            won.append(app.accounts.register(new.key, name, USER_PASSWORD).username)
        except KeyRefused as exc:
            refused.append(exc)
        except BaseException as exc:
            other.append(exc)

    threads = [threading.Thread(target=register, args=(name,)) for name in ("first.fay", "second.sam")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert other == [] and len(won) == 1 and len(refused) == 1
    assert refused[0].reason == "used" and "already been used" in refused[0].message
    with app.db.session() as s:
        users = list(s.scalars(select(User.username).where(User.username != admin.username)))
        key = s.scalar(select(RegistrationKey).where(RegistrationKey.id == new.id))
        assert key is not None
        assert users == won and key.used_by == won[0]
    assert [e.action for e in app.audit.entries()].count("user.register") == 1
