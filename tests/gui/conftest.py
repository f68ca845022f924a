"""GUI fixtures: the real Shell and window offscreen on a fresh SQLite database per test, with the
modal questions answered by `FakeDialogs` and quitting recorded instead of ending the test run.

The window opens signed out, like the real app. `make_shell()` signs in a real administrator
account first (created in the test database, as the first-run form would), so page tests start on
the pages; `make_shell(actor=...)` signs in that role's account instead, and
`make_shell(signed_in=False)` leaves the sign-in screen up for the sign-in tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher

from gui.dialogs import Dialogs
from services.accounts.actor import Actor

ADMIN_PASSWORD = "amber falcon quietly sings"
USER_PASSWORD = "seven blue lanterns drift"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """argon2id still, with costs that keep sign-in tests in milliseconds."""
    import services.accounts.passwords as pw

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(pw, "HASHER", hasher)
    return hasher


def account_for(app, actor: Actor | None) -> Actor:  # type: ignore[no-untyped-def]
    """A real account behind `actor` (default: the first administrator), signed in as the GUI does."""
    if app.accounts.needs_first_admin():
        admin = app.accounts.create_first_admin("admin.anna", ADMIN_PASSWORD)
    else:
        admin = Actor("admin.anna", "admin", "gui")
    if actor is None or actor.username == admin.username:
        return admin
    try:
        app.accounts.get_user(actor.username, admin)
    except Exception:
        app.accounts.add_user(actor.username, actor.role, USER_PASSWORD, admin)
    return app.accounts.authenticate(actor.username, USER_PASSWORD)


@dataclass
class FakeDialogs(Dialogs):
    confirm_answer: bool = True
    close_answer: str | None = "tray"
    text_answer: str | None = None
    confirms: list[tuple[str, str]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    infos: list[tuple[str, str]] = field(default_factory=list)
    close_asks: int = 0
    unsaved_answer: str | None = "discard"
    unsaved_asks: list[str] = field(default_factory=list)

    def confirm(self, parent, title, text, ok_label="OK", danger=False):  # type: ignore[no-untyped-def]
        self.confirms.append((title, text))
        return self.confirm_answer

    def error(self, parent, error, actions=None):  # type: ignore[no-untyped-def]
        self.errors.append(error)

    def info(self, parent, title, text):  # type: ignore[no-untyped-def]
        self.infos.append((title, text))

    def ask_text(self, parent, title, label, secret=False):  # type: ignore[no-untyped-def]
        return self.text_answer

    def ask_close_behaviour(self, parent):  # type: ignore[no-untyped-def]
        self.close_asks += 1
        return self.close_answer

    def ask_unsaved(self, parent, page_title):  # type: ignore[no-untyped-def]
        self.unsaved_asks.append(page_title)
        return self.unsaved_answer


def wait_idle(qtbot, shell) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: shell.bridge.pending == 0, timeout=10_000)


@pytest.fixture
def make_shell(qtbot, sqlite_app) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    from gui.session import UserSession
    from gui.shell import Shell

    made = []

    def make(tray: bool = False, actor: Actor | None = None, close_to_tray: str = "ask",  # type: ignore[no-untyped-def]
             signed_in: bool = True):
        dialogs = FakeDialogs()
        quits: list[bool] = []
        session = UserSession(account_for(sqlite_app, actor)) if signed_in else None
        shell = Shell(sqlite_app, tray_available=tray, dialogs=dialogs, session=session,
                      close_to_tray=close_to_tray, quit_fn=lambda: quits.append(True))
        shell.quits = quits  # type: ignore[attr-defined]
        shell.dialogs = dialogs  # type: ignore[attr-defined]
        qtbot.addWidget(shell.window)
        shell.window.show()
        wait_idle(qtbot, shell)
        made.append(shell)
        return shell

    yield make
    for shell in made:
        shell.quitting = True  # the window's teardown close must not ask anything
        shell.bridge.shutdown()
        if shell.tray is not None:
            shell.tray.hide()
