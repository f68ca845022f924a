"""Settings: secrets set / masked / removed through the page, the general form, the database box."""

from __future__ import annotations

import keyring
import pytest
from PySide6.QtCore import Qt

from services.secrets import SERVICE
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui

NAME = "WITHINGS_CLIENT_SECRET"


def open_settings(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    return page


def test_secret_set_masked_and_removed(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_settings(qtbot, shell)
    row = page.secrets.rows[NAME]
    assert row.badge.status == "missing"
    assert not row.remove_button.isEnabled()

    shell.dialogs.text_answer = "invented-secret-123"
    qtbot.mouseClick(row.set_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert keyring.get_password(SERVICE, NAME) == "invented-secret-123"
    assert row.badge.status == "keyring"
    assert "invented-secret-123" not in row.value.text()
    assert row.value.text().startswith("in") and "•" in row.value.text()

    qtbot.mouseClick(row.reveal_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert row.value.text() == "invented-secret-123"  # after the confirmation
    page.secrets.remask.timeout.emit()
    assert "•" in row.value.text()

    qtbot.mouseClick(row.remove_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert keyring.get_password(SERVICE, NAME) is None
    assert row.badge.status == "missing"


def test_bad_secret_value_is_refused(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_settings(qtbot, shell)
    shell.dialogs.text_answer = "two\nlines"
    qtbot.mouseClick(page.secrets.rows[NAME].set_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert shell.dialogs.errors and "line breaks" in shell.dialogs.errors[0].message
    assert keyring.get_password(SERVICE, NAME) is None


def test_environment_secret_is_shown_as_such(qtbot, make_shell) -> None:
    shell = make_shell()
    shell.app.environ["POLAR_CLIENT_ID"] = "invented-client"  # the same mapping the SecretStore reads
    page = open_settings(qtbot, shell)
    row = page.secrets.rows["POLAR_CLIENT_ID"]
    assert row.badge.status == "environment"
    assert not row.remove_button.isEnabled()
    assert page.secrets.import_button.isEnabled()
    qtbot.mouseClick(page.secrets.import_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert keyring.get_password(SERVICE, "POLAR_CLIENT_ID") == "invented-client"


def test_locked_keyring_shows_banner(qtbot, make_shell, monkeypatch) -> None:
    from services.errors import SecretsLocked

    shell = make_shell()

    def locked(*_a, **_k):  # type: ignore[no-untyped-def]
        raise SecretsLocked("The computer's password store is locked.")

    monkeypatch.setattr(shell.app.secrets, "get", locked)
    page = open_settings(qtbot, shell)
    assert page.secrets.banner.isVisible()
    assert "locked" in page.secrets.banner.text.text()


def test_viewer_cannot_touch_secrets_or_settings(qtbot, make_shell) -> None:
    from services.accounts.actor import Actor

    shell = make_shell(actor=Actor("vera", "viewer", "gui"))
    page = open_settings(qtbot, shell)
    assert not page.secrets.rows[NAME].set_button.isEnabled()
    assert not page.general.save_button.isEnabled()


def test_general_settings_form_saves_and_validates(qtbot, make_shell) -> None:
    shell = make_shell(tray=True)
    page = open_settings(qtbot, shell)
    fields = page.general.fields
    fields["lookback_days"].setValue(7)
    fields["close_to_tray"].setCurrentIndex(fields["close_to_tray"].findData("quit"))
    qtbot.mouseClick(page.general.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert shell.app.settings.get("lookback_days") == 7
    assert shell.close_to_tray == "quit"  # the shell follows the new choice at once


def test_database_box_hides_password(qtbot, make_shell) -> None:
    shell = make_shell()
    page = open_settings(qtbot, shell)
    assert page.database.url.text().startswith("sqlite:///")
    assert not page.database.wizard_button.isEnabled()
