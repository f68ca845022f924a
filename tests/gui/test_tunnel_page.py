"""The Tunnel page with the stand-in ngrok agent: start shows the addresses, a changed address shows
the redirect-URI notice, the app's redirect URIs follow the tunnel, health is live, the tray toggles
it, its settings are checked, and "start with WearSync" is honoured by the window and --headless."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import wait_idle
from tests.gui.shells import home_shell  # noqa: F401 - fixture
from tests.tunnel.conftest import FAKE_NGROK, TOKEN, kill_recorded, wait_for


@pytest.fixture
def ngrok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An `ngrok` wrapper running the stand-in agent; whatever it started is ended afterwards."""
    for name in list(os.environ):
        if name.startswith("FAKE_NGROK_") or name in ("NGROK_AUTHTOKEN", "NGROK_API_KEY", "WEARSYNC_NGROK_PATH"):
            monkeypatch.delenv(name)
    wrapper = tmp_path / "bin" / "ngrok"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_NGROK}" "$@"\n')
    wrapper.chmod(0o755)
    yield wrapper
    kill_recorded(tmp_path / "home")


def configure(app, ngrok: Path, **settings: object) -> None:  # type: ignore[no-untyped-def]
    app.settings.set("ngrok_path", str(ngrok))
    app.secrets.set("NGROK_AUTHTOKEN", TOKEN)
    for key, value in settings.items():
        app.settings.set(key, value)


def tunnel_page(qtbot, shell):  # type: ignore[no-untyped-def]
    page = shell.window.show_page("tunnel")
    wait_idle(qtbot, shell)
    return page


def start(qtbot, shell, page) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shell.ctx.tunnel.status.state == "up" and not shell.ctx.tunnel.busy, timeout=20_000)


def stop(qtbot, shell, page) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: shell.ctx.tunnel.status.state == "down" and not shell.ctx.tunnel.busy, timeout=20_000)


def text_of(page, name: str) -> str:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLabel

    shown = [w for w in page.findChildren(QLabel, name) if w.isVisibleTo(page)]
    return shown[0].text() if shown else ""


def test_start_shows_addresses_notice_and_redirects_follow_the_tunnel(qtbot, home_shell, ngrok) -> None:  # noqa: F811
    shell = home_shell()
    configure(shell.app, ngrok)
    connections = shell.app.connections
    assert connections.redirect_uri() == "http://127.0.0.1:8765/oauth2_callback"
    page = tunnel_page(qtbot, shell)

    start(qtbot, shell, page)
    first = shell.ctx.tunnel.status.callback_url
    assert first and first.startswith("https://")
    assert page.badge.text() == "Running"
    assert text_of(page, "callbackUrl") == first
    assert text_of(page, "redirectUri") == first + "/oauth2_callback"
    assert text_of(page, "grafanaUrl").startswith("https://")
    assert page.stop_button.isVisible() and not page.start_button.isVisible()
    # enrolment links and redirect URIs now use the tunnel's address
    assert connections.redirect_uri() == first + "/oauth2_callback"
    assert connections.public_url() == first
    assert shell.app.secrets.get("DATAPLATFORM_URL") == first  # the seed's name, for the old scripts
    # the first address ever: register it in the portals
    assert page.portals.isVisible()
    assert text_of(page, "redirect_withings") == first + "/oauth2_callback"

    stop(qtbot, shell, page)
    assert page.badge.text() == "Stopped"
    assert connections.redirect_uri() == "http://127.0.0.1:8765/oauth2_callback"
    assert not page.portals.isVisible()

    start(qtbot, shell, page)  # a free-plan restart: a new address
    second = shell.ctx.tunnel.status.callback_url
    assert second != first
    assert shell.ctx.tunnel.status.previous_url == first
    assert page.portals.isVisible()
    for vendor in ("fitbit", "withings", "polar"):
        assert text_of(page, f"redirect_{vendor}") == second + "/oauth2_callback"
    assert connections.redirect_uri() == second + "/oauth2_callback"
    assert shell.app.secrets.get("DATAPLATFORM_URL") == second

    done = page.findChild(type(page.start_button), "portalsDone")
    qtbot.mouseClick(done, Qt.MouseButton.LeftButton)
    assert not page.portals.isVisible()
    stop(qtbot, shell, page)


def test_health_is_live_reconnecting_then_up(qtbot, home_shell, ngrok, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("FAKE_NGROK_RECONNECT_AFTER", "0.5")
    monkeypatch.setenv("FAKE_NGROK_RECONNECT_FOR", "1.5")
    shell = home_shell()
    configure(shell.app, ngrok)
    page = tunnel_page(qtbot, shell)
    seen: list[str] = []
    shell.ctx.tunnel.status_changed.connect(lambda s: seen.append(s.state))
    start(qtbot, shell, page)
    qtbot.waitUntil(lambda: "reconnecting" in seen, timeout=10_000)
    qtbot.waitUntil(lambda: seen[-1] == "up" and seen.index("reconnecting") < len(seen) - 1, timeout=10_000)
    assert page.badge.text() == "Running"
    stop(qtbot, shell, page)


def test_polling_notices_a_tunnel_that_died(qtbot, home_shell, ngrok, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("FAKE_NGROK_EXIT_AFTER", "1")
    shell = home_shell()
    configure(shell.app, ngrok)
    page = tunnel_page(qtbot, shell)
    start(qtbot, shell, page)
    shell.ctx.tunnel.start_polling(200)
    qtbot.waitUntil(lambda: shell.ctx.tunnel.status.state == "down", timeout=10_000)
    assert page.badge.text() == "Stopped"
    assert "stopped unexpectedly" in page.message.text()
    assert shell.app.connections.redirect_uri() == "http://127.0.0.1:8765/oauth2_callback"


def test_tray_starts_and_stops_the_tunnel(qtbot, home_shell, ngrok) -> None:  # noqa: F811
    from gui.tray import Tray

    shell = home_shell()
    configure(shell.app, ngrok)
    tray = Tray(shell.ctx)
    tray.build_menu()
    tray.actions()["Start tunnel"].trigger()
    qtbot.waitUntil(lambda: shell.ctx.tunnel.status.state == "up" and not shell.ctx.tunnel.busy, timeout=20_000)
    tray.build_menu()
    tray.actions()["Stop tunnel"].trigger()
    qtbot.waitUntil(lambda: shell.ctx.tunnel.status.state == "down" and not shell.ctx.tunnel.busy, timeout=20_000)
    tray.hide()


def test_start_with_app_is_honoured_by_the_window(qtbot, home_shell, ngrok) -> None:  # noqa: F811
    from gui.application import open_facade
    from services.app import WearSync

    app = WearSync.open()
    configure(app, ngrok)
    page_settings_saved = app.settings.get("start_tunnel_with_app")
    assert page_settings_saved is False
    app.settings.set("start_tunnel_with_app", True)
    app.close()
    started = open_facade(sandbox=False)  # what run_gui does
    assert started.start_tunnel is True
    shell = home_shell(started.app)
    shell.start(start_tunnel=started.start_tunnel)
    qtbot.waitUntil(lambda: shell.ctx.tunnel.status.state == "up" and not shell.ctx.tunnel.busy, timeout=20_000)
    assert shell.app.connections.public_url() == shell.ctx.tunnel.status.callback_url


def test_start_with_app_is_honoured_headless(ngrok, monkeypatch, tmp_path) -> None:
    from services.app import WearSync
    from services.headless import run_headless

    app = WearSync.open()
    configure(app, ngrok, start_tunnel_with_app=True)
    app.close()
    with socket.socket() as probe:  # a free port for the callback listener
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("WEARSYNC_CALLBACK_PORT", str(probe.getsockname()[1]))
    state = tmp_path / "home" / "tunnel.json"
    stop = threading.Event()
    runner = threading.Thread(target=run_headless, args=(stop,), daemon=True)
    runner.start()
    try:
        assert wait_for(lambda: state.exists() and json.loads(state.read_text()).get("state") == "up", 20)
        assert json.loads(state.read_text())["callback_url"].startswith("https://")
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()
    assert json.loads(state.read_text())["state"] == "down"


def test_tunnel_settings_are_checked_then_saved(qtbot, home_shell, ngrok) -> None:  # noqa: F811
    shell = home_shell()
    page = tunnel_page(qtbot, shell)
    card = page.settings
    wait_idle(qtbot, shell)
    card.allow.setText("203.0.113.0/24, not-a-range")
    card.domain.setText("clinic-name.ngrok-free.app")
    qtbot.mouseClick(card.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "'not-a-range' is not an address range" in card.error.text()
    assert shell.app.settings.get("ngrok_domain") == ""  # nothing stored

    card.allow.setText("203.0.113.7/24,198.51.100.7")
    card.grafana_user.setText("clinic")
    card.grafana_password.setText("short")
    qtbot.mouseClick(card.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert "8 to 128 characters" in card.error.text()

    card.grafana_password.setText("Invented-tunnel-pw")
    card.pick_file = lambda: str(ngrok)
    page.findChild(type(card.save_button), "tunnelChoosePath").click()
    card.start_with_app.setChecked(True)
    qtbot.mouseClick(card.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert not card.error.isVisible()
    s = shell.app.settings
    assert (s.get("ngrok_domain"), s.get("ngrok_path"), s.get("grafana_tunnel_allow"), s.get("start_tunnel_with_app")) \
        == ("clinic-name.ngrok-free.app", str(ngrok), "203.0.113.0/24, 198.51.100.7/32", True)
    assert shell.app.secrets.get("GRAFANA_TUNNEL_PASSWORD") == "Invented-tunnel-pw"
    assert card.grafana_password.text() == "" and "stored" in card.grafana_password.placeholderText()


def test_grafana_protection_reaches_the_agent(qtbot, home_shell, ngrok, tmp_path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("FAKE_NGROK_RECORD", str(tmp_path / "calls.jsonl"))
    shell = home_shell()
    configure(shell.app, ngrok, grafana_tunnel_user="clinic", grafana_tunnel_allow="203.0.113.0/24")
    shell.app.secrets.set("GRAFANA_TUNNEL_PASSWORD", "Invented-tunnel-pw")
    page = tunnel_page(qtbot, shell)
    start(qtbot, shell, page)
    stop(qtbot, shell, page)
    calls = (tmp_path / "calls.jsonl").read_text()
    assert "203.0.113.0/24" in calls and "clinic:Invented-tunnel-pw" in calls


def test_grafana_is_protected_by_default_and_the_sign_in_is_shown_once(qtbot, home_shell, ngrok, tmp_path,  # noqa: F811
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_RECORD", str(tmp_path / "calls.jsonl"))
    shell = home_shell()
    configure(shell.app, ngrok)  # nothing set for Grafana
    page = tunnel_page(qtbot, shell)
    assert not shell.dialogs.infos  # opening the page makes nothing

    start(qtbot, shell, page)
    qtbot.waitUntil(lambda: bool(shell.dialogs.infos), timeout=5_000)
    title, text = shell.dialogs.infos[-1]
    password = shell.app.secrets.get("GRAFANA_TUNNEL_PASSWORD")
    assert title == "Grafana is protected" and password and f"Password: {password}" in text
    assert "User: wearsync" in text and "not shown again" in text
    stop(qtbot, shell, page)
    start(qtbot, shell, page)  # the same sign-in, not shown again
    stop(qtbot, shell, page)
    assert len(shell.dialogs.infos) == 1
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    grafana = [c["body"] for c in calls if c.get("method") == "POST" and c["body"]["name"] == "wearsync-grafana"]
    assert len(grafana) == 2 and all(g["basic_auth"] == [f"wearsync:{password}"] for g in grafana)


def test_turning_grafana_protection_off_shows_a_notice(qtbot, home_shell, ngrok) -> None:  # noqa: F811
    shell = home_shell()
    page = tunnel_page(qtbot, shell)
    card = page.settings
    wait_idle(qtbot, shell)
    assert not card.open_notice.isVisible()
    card.grafana_open.setChecked(True)
    card.grafana_domain.setText("grafana-x.ngrok-free.app")
    qtbot.mouseClick(card.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, shell)
    assert not card.error.isVisible()
    assert card.open_notice.isVisible() and "anyone who has its address" in card.open_notice.text()
    assert shell.app.settings.get("grafana_domain") == "grafana-x.ngrok-free.app"
