"""A Shell on the app's own default database (no WEARSYNC_DATABASE_URL), as a clinic runs it: the
database wizard and the tunnel need that, while `make_shell` pins the URL in the environment."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.gui.conftest import FakeDialogs, account_for, wait_idle


@pytest.fixture
def home_shell(qtbot) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    from gui.shell import Shell
    from services.app import WearSync

    made: list[tuple[object, object]] = []

    def make(app: WearSync | None = None, signed_in: bool = True):  # type: ignore[no-untyped-def]
        from gui.session import UserSession

        app = app or WearSync.open()
        dialogs = FakeDialogs()
        quits: list[bool] = []
        session = UserSession(account_for(app, None)) if signed_in else None  # signed in as an admin
        shell = Shell(app, tray_available=False, dialogs=dialogs, session=session,
                      quit_fn=lambda: quits.append(True))
        shell.quits = quits  # type: ignore[attr-defined]
        shell.dialogs = dialogs  # type: ignore[attr-defined]
        qtbot.addWidget(shell.window)
        shell.window.show()
        wait_idle(qtbot, shell)
        made.append((shell, app))
        return shell

    yield make
    for shell, app in made:
        shell.quitting = True  # type: ignore[attr-defined]
        shell.ctx.tunnel.stop_polling()  # type: ignore[attr-defined]
        shell.bridge.shutdown()  # type: ignore[attr-defined]
        shell.ctx.tunnel.shutdown()  # type: ignore[attr-defined]
        app.stop_background()  # type: ignore[attr-defined]
        app.close()  # type: ignore[attr-defined]
