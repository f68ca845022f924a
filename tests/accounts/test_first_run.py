"""First run: no default account or key exists; the first admin is created once, then refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import RegistrationKey, User
from services.accounts.service import SignInFailed
from services.errors import Conflict, InvalidInput
from tests.accounts.conftest import ADMIN_PASSWORD


def _count(app, model) -> int:
    with app.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_fresh_database_has_no_account_and_no_key(app) -> None:
    assert app.accounts.needs_first_admin()
    assert _count(app, User) == 0 and _count(app, RegistrationKey) == 0
    # the seed's "admin"/"admin" and key "0123456789" must not open anything
    with pytest.raises(SignInFailed):
        app.accounts.authenticate("admin", "admin")
    from services.accounts.keys import KeyRefused

    with pytest.raises(KeyRefused):
        app.accounts.register("0123456789", "someone", "a perfectly fine passphrase")


def test_first_admin_is_created_once(app) -> None:
    actor = app.accounts.create_first_admin("  Admin.Anna ", ADMIN_PASSWORD)
    assert (actor.username, actor.role) == ("admin.anna", "admin")
    assert not app.accounts.needs_first_admin()
    assert app.accounts.authenticate("admin.anna", ADMIN_PASSWORD).role == "admin"
    with pytest.raises(Conflict, match="already exists"):
        app.accounts.create_first_admin("mallory", "another decent passphrase")
    assert _count(app, User) == 1


@pytest.mark.parametrize("name, password, message", [
    ("anna", "short", "at least 12 characters"),
    ("anna", "password1234", "common passwords"),
    ("anna", "my name is anna ok", "must not contain the username"),
    ("a", ADMIN_PASSWORD, "3 to 64 characters"),
    ("anna smith", ADMIN_PASSWORD, "letters a-z"),
])
def test_bad_first_admin_is_refused_and_nothing_is_created(sqlite_app, name, password, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        sqlite_app.accounts.create_first_admin(name, password)
    assert sqlite_app.accounts.needs_first_admin()
