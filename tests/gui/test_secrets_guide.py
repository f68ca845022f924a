"""Settings → Secrets: every secret's "How do I get this?" opens docs/vendor-setup.md at a section that
exists and is about that secret; with no browser answering, the address is shown with Copy."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QUrl

from gui import widgets
from gui.pages.settings.secrets import GUIDE, guide_address
from services.secrets import SECRETS, SPEC_BY_NAME
from tests.gui.conftest import wait_idle

pytestmark = pytest.mark.gui


def anchors() -> dict[str, str]:
    """Each anchor of the guide and the heading that follows it."""
    text = GUIDE.read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(r'<a id="([\w-]+)"></a>\s*\n## (.+)', text)}


def test_every_secret_has_a_section_that_exists_and_fits() -> None:
    found = anchors()
    for spec in SECRETS:
        section = spec.guide
        assert section in found, f"{spec.name}: no section {section!r} in {GUIDE.name}"
    # the vendor secrets point at their own vendor, not just any section
    assert "Fitbit" in found[SPEC_BY_NAME["FITBIT_CLIENT_SECRET"].guide]
    assert "Withings" in found[SPEC_BY_NAME["WITHINGS_CLIENT_ID"].guide]
    assert "Polar" in found[SPEC_BY_NAME["POLAR_CLIENT_ID"].guide]
    assert "mail" in found[SPEC_BY_NAME["DATA_PLATFORM_PASSWORD"].guide]
    assert "ngrok" in found[SPEC_BY_NAME["NGROK_AUTHTOKEN"].guide]


def test_link_opens_the_guide_at_the_secret_section(qtbot, make_shell, monkeypatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(widgets, "desktop_open", lambda url: opened.append(url) or True)
    shell = make_shell()
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    # the rows are built when the keyring has answered, and shown when the section is (under load: later)
    qtbot.waitUntil(lambda: "WITHINGS_CLIENT_SECRET" in page.secrets.rows
                    and page.secrets.rows["WITHINGS_CLIENT_SECRET"].guide.isVisible(), timeout=10_000)
    row = page.secrets.rows["WITHINGS_CLIENT_SECRET"]
    assert "How do I get this?" in row.guide.text()
    row.guide.linkActivated.emit("guide")
    assert len(opened) == 1
    assert opened[0].toLocalFile() == str(GUIDE) and opened[0].fragment() == "withings"
    assert not page.findChildren(widgets.CopyTargetDialog)


def test_without_a_browser_the_address_is_shown_with_copy(qtbot, make_shell, monkeypatch) -> None:
    monkeypatch.setattr(widgets, "desktop_open", lambda url: False)
    shell = make_shell()
    page = shell.window.show_page("settings")
    wait_idle(qtbot, shell)
    qtbot.waitUntil(lambda: "POLAR_CLIENT_ID" in page.secrets.rows, timeout=10_000)
    page.secrets.rows["POLAR_CLIENT_ID"].guide.linkActivated.emit("guide")
    dialogs = page.secrets.findChildren(widgets.CopyTargetDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    assert dialogs[0].field.text() == guide_address("POLAR_CLIENT_ID")
    assert dialogs[0].field.text().endswith("vendor-setup.md#polar")


def test_test_button_asks_the_vendor(qtbot, make_shell) -> None:
    """ "Test" on a client ID: the sandbox's Google answers; a known client reads as known, an unknown one as
    an error that says where to check it — never as "stored"."""
    from services.sandbox import SandboxServer

    with SandboxServer(seed=1) as srv:
        shell = make_shell()
        shell.app.environ.update({**srv.environ(), **srv.credentials_environ()})  # the mapping the app reads
        page = shell.window.show_page("settings")
        wait_idle(qtbot, shell)
        qtbot.waitUntil(lambda: page.secrets.rows["FITBIT_CLIENT_ID"].test_button.isEnabled(), timeout=10_000)
        page.secrets.rows["FITBIT_CLIENT_ID"].test_button.click()
        qtbot.waitUntil(lambda: bool(shell.dialogs.infos), timeout=10_000)
        assert shell.dialogs.infos[-1][1] == "Google knows this client ID."

        shell.app.environ["FITBIT_CLIENT_ID"] = "invented-unknown-client"
        page.secrets.rows["FITBIT_CLIENT_ID"].test_button.click()
        qtbot.waitUntil(lambda: bool(shell.dialogs.errors), timeout=10_000)
        message = shell.dialogs.errors[-1].message
        assert message.startswith("Google does not know this client ID") and "Google Cloud console" in message
        assert len(shell.dialogs.infos) == 1
