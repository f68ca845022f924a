"""The password rule users are asked to follow, argon2id hashes, and the upgrade on sign-in."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from db.models import User
from services.accounts import passwords
from services.accounts.actor import HOST
from services.accounts.passwords import check_password, common_passwords, password_problem, temporary_password
from services.errors import InvalidInput


@pytest.mark.parametrize("password, username, fragment", [
    ("Tr0ub4dor&3", "", "at least 12 characters"),
    ("password1234", "", "common passwords"),
    ("Password1234!", "", "common passwords"),
    ("   Clinic2027!!", "", "spaces at the start or end"),
    ("!!Hospital2031", "", "common passwords"),
    ("qwertyuiopas", "", "common passwords"),
    ("123456789012", "", "common passwords"),
    ("abababababababab", "", "more different characters"),
    ("carla.jones is my login", "carla.jones", "must not contain the username"),
    ("x" * 300, "", "at most 256"),
])
def test_refused_passwords_say_what_to_do(password, username, fragment) -> None:
    assert fragment in (password_problem(password, username) or "")
    with pytest.raises(InvalidInput, match=fragment):
        check_password(password, username)


@pytest.mark.parametrize("password", [
    "correct horse battery staple",
    "my cat naps on the printer",
    "Gw7#kP2!qZ9m",
    "winter jacket near the bus stop 2026",
])
def test_accepted_passwords(password) -> None:
    assert password_problem(password, "carla.jones") is None


def test_the_common_list_is_shipped_and_sized() -> None:
    common = common_passwords()
    assert 900 <= len(common) <= 2000
    for p in ("password", "123456", "qwerty", "clinic2024", "letmein", "1qaz2wsx"):
        assert p in common


def test_temporary_passwords_pass_the_rule_and_differ() -> None:
    made = {temporary_password("carla") for _ in range(20)}
    assert len(made) == 20
    assert all(password_problem(p, "carla") is None for p in made)


def test_hashes_are_argon2id_and_upgraded_on_sign_in(app, monkeypatch) -> None:
    app.accounts.add_user("carla", "coordinator", "correct horse battery staple", HOST)
    with app.db.session() as s:
        old = s.scalar(select(User.password_hash).where(User.username == "carla"))
    assert old.startswith("$argon2id$") and "m=1024,t=1,p=1" in old
    # the app now asks for stronger parameters: the next sign-in re-hashes, the password still works
    monkeypatch.setattr(passwords, "HASHER", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    app.accounts.authenticate("carla", "correct horse battery staple")
    with app.db.session() as s:
        new = s.scalar(select(User.password_hash).where(User.username == "carla"))
    assert new.startswith("$argon2id$") and "m=2048,t=2,p=1" in new
    assert app.accounts.authenticate("carla", "correct horse battery staple").username == "carla"


def test_default_hasher_is_rfc9106_low_memory() -> None:
    import importlib

    fresh = importlib.reload(passwords)
    try:
        h = fresh.HASHER.hash("correct horse battery staple")
        assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    finally:
        importlib.reload(passwords)
