"""TunnelService against the fake ngrok agent, driven the way pyngrok drives the real one."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from pyngrok import conf, installer

from services.errors import WearSyncError
from services.reach.tunnel import (
    NOT_INSTALLED_MESSAGE,
    NgrokAuthtokenMissingError,
    NgrokAuthtokenRejectedError,
    NgrokNotInstalledError,
    TunnelConfigError,
    TunnelNotRunningError,
    TunnelStartError,
    vendor_portal_instructions,
)
from tests.tunnel.conftest import TOKEN, Events, pid_alive, recorded_calls, wait_for

URL = re.compile(r"^https://[a-z0-9-]+\.ngrok-free\.app$")


def test_start_shows_both_urls_then_stop_brings_it_down(make_service, state_dir: Path) -> None:
    events = Events()
    service = make_service(on_event=events)

    status = service.start()

    assert status.state == "up"
    assert URL.match(status.callback_url or "")
    assert URL.match(status.grafana_url or "")
    assert status.callback_url != status.grafana_url
    assert status.pid == os.getpid()
    live = service.status()
    assert live.state == "up"
    assert (live.callback_url, live.grafana_url) == (status.callback_url, status.grafana_url)
    assert service.redirect_uris() == {
        vendor: f"{status.callback_url}/oauth2_callback" for vendor in ("fitbit", "withings", "polar")
    }
    record = json.loads((state_dir / "tunnel.json").read_text())
    agent_pid = record["agent_pid"]
    assert pid_alive(agent_pid)
    assert not (state_dir / "ngrok.yml").exists(), "the agent config holding the token is removed"

    service.stop()

    assert service.status().state == "down"
    assert wait_for(lambda: not pid_alive(agent_pid))
    assert events.states == ["starting", "up", "down"]


def test_no_grafana_port_means_only_the_callback_is_shared(make_service) -> None:
    status = make_service(grafana_port=None).start()
    assert status.callback_url and status.grafana_url is None


def test_a_new_random_url_asks_for_the_redirect_uris_again(make_service) -> None:
    service = make_service()
    first = service.start()
    assert first.url_changed and first.previous_url is None  # first ever: register them once
    service.stop()

    second = make_service().start()

    assert second.callback_url != first.callback_url
    assert second.url_changed is True
    assert second.previous_url == first.callback_url
    assert "changed" in second.message
    steps = vendor_portal_instructions(second.callback_url or "")
    assert [s.vendor for s in steps] == ["fitbit", "withings", "polar"]
    assert {s.redirect_uri for s in steps} == {f"{second.callback_url}/oauth2_callback"}
    links = {s.vendor: s.portal_link for s in steps}
    assert links["fitbit"].startswith("https://console.cloud.google.com/apis/credentials")
    assert "developer.withings.com" in links["withings"]
    assert links["polar"] == "https://admin.polaraccesslink.com/"
    assert all(s.note and s.portal_name for s in steps)


def test_a_static_domain_keeps_the_url_and_needs_no_notice(make_service) -> None:
    domain = "clinic-example.ngrok-free.app"
    first = make_service(domain=f"https://{domain}/").start()
    assert first.callback_url == f"https://{domain}"
    make_service().stop()

    second = make_service(domain=domain).start()

    assert second.callback_url == f"https://{domain}"
    assert second.url_changed is False
    assert "changed" not in second.message
    assert URL.match(second.grafana_url or "")  # the one static domain goes to the callback


def test_start_when_already_running_returns_the_running_tunnel(make_service, tmp_path: Path) -> None:
    first = make_service().start()
    other = make_service()

    assert other.status().callback_url == first.callback_url
    assert other.start().callback_url == first.callback_url
    starts = [c for c in recorded_calls(tmp_path) if c.get("argv", [""])[0] == "start"]
    assert len(starts) == 1, "the free plan allows one agent session: never start a second"


def test_missing_binary_path_says_where_to_fix_it(make_service, tmp_path: Path) -> None:
    service = make_service(ngrok_path=str(tmp_path / "nowhere" / "ngrok"))
    with pytest.raises(NgrokNotInstalledError) as caught:
        service.start()
    assert "nowhere" in caught.value.message
    assert "WEARSYNC_NGROK_PATH" in caught.value.message


def test_no_binary_and_no_internet_gives_the_plain_message(
    make_service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf, "DEFAULT_NGROK_PATH", str(tmp_path / "pyngrok" / "ngrok"))
    # A download URL that refuses at once, as an offline machine does.
    monkeypatch.setattr(installer, "get_ngrok_cdn_url", lambda version: "http://127.0.0.1:9/ngrok.tgz")
    events = Events()
    service = make_service(ngrok_path=None, on_event=events)

    with pytest.raises(NgrokNotInstalledError) as caught:
        service.start()

    assert caught.value.message == NOT_INSTALLED_MESSAGE
    assert isinstance(caught.value, WearSyncError) and caught.value.title == "Tunnel"
    assert events.states == ["error"]


def test_missing_authtoken_says_where_to_set_it(make_service) -> None:
    with pytest.raises(NgrokAuthtokenMissingError) as caught:
        make_service(authtoken=None).start()
    assert "Tunnel settings" in caught.value.message  # where, in the window's words
    assert "NGROK_AUTHTOKEN" not in caught.value.message  # no variable names in the window
    assert "main.py secrets set NGROK_AUTHTOKEN" in caught.value.terminal_hint  # the command line's way


def test_rejected_authtoken_is_explained_and_never_logged(
    make_service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, state_dir: Path
) -> None:
    monkeypatch.setenv("FAKE_NGROK_VALID_AUTHTOKEN", "a-different-token")
    caplog.set_level(logging.DEBUG)
    service = make_service()

    with pytest.raises(NgrokAuthtokenRejectedError) as caught:
        service.start()

    assert "did not accept the authtoken" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "ERR_NGROK_107" in caplog.text, "the agent's reason is logged..."
    assert TOKEN not in caplog.text, "...but the token it quotes back is not"
    assert TOKEN not in str(caught.value)
    assert service.status().state == "down"
    assert TOKEN not in (state_dir / "tunnel.json").read_text()


def test_secrets_reach_ngrok_as_documented_but_not_the_logs(
    make_service, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    service = make_service(basic_auth="grafana:correct-horse-battery", allow_cidrs=["192.0.2.7/24", "::1"])

    service.start()

    calls = recorded_calls(tmp_path)
    argv = next(c["argv"] for c in calls if c.get("argv", [""])[0] == "start")
    assert argv[:4] == ["start", "--none", "--log", "stdout"] and "--config" in argv
    assert TOKEN not in " ".join(argv), "the token is not on the agent's command line"
    posts = {c["body"]["name"]: c["body"] for c in calls if c.get("method") == "POST"}
    grafana = posts["wearsync-grafana"]
    assert grafana["basic_auth"] == ["grafana:correct-horse-battery"]
    assert grafana["ip_restriction"] == {"allow_cidrs": ["192.0.2.0/24", "::1/128"]}
    assert grafana["inspect"] is False
    assert "basic_auth" not in posts["wearsync-callback"]
    assert TOKEN not in caplog.text
    assert "correct-horse-battery" not in caplog.text


def test_reconnecting_is_reported_and_recovery_too(make_service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_RECONNECT_AFTER", "0.3")
    monkeypatch.setenv("FAKE_NGROK_RECONNECT_FOR", "0.6")
    events = Events()
    service = make_service(on_event=events)
    service.start()

    assert wait_for(lambda: "reconnecting" in events.states)
    assert service.status().state in ("reconnecting", "up")
    assert wait_for(lambda: events.states[-1] == "up" and "reconnecting" in events.states)
    assert service.status().state == "up"


def test_reconnecting_is_visible_from_another_instance(make_service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_RECONNECT_AFTER", "0.2")
    events = Events()
    make_service(on_event=events).start()
    assert wait_for(lambda: "reconnecting" in events.states)
    assert make_service().status().state == "reconnecting"


def test_an_agent_that_dies_is_reported_down(make_service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NGROK_EXIT_AFTER", "0.3")
    events = Events()
    service = make_service(on_event=events)
    service.start()

    assert wait_for(lambda: service.status().state == "down")
    assert "stopped unexpectedly" in events.items[-1].message


def test_a_refused_domain_fails_clearly_and_leaves_nothing_running(make_service, state_dir: Path) -> None:
    # Asking for the same domain twice is what an account with the domain in use elsewhere sees.
    service = make_service(domain="clinic-example.ngrok-free.app")
    service._callback_options = lambda: {"domain": "clinic-example.ngrok-free.app"}  # type: ignore[method-assign]
    service._grafana_options = lambda: {"domain": "clinic-example.ngrok-free.app"}  # type: ignore[method-assign]
    with pytest.raises(TunnelStartError) as caught:
        service.start()
    assert "already used" in caught.value.message
    assert service.status().state == "down"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"basic_auth": "admin:short"}, "8 to 128"),
        ({"basic_auth": "no-colon"}, "user:password"),
        ({"allow_cidrs": ["not-an-ip"]}, "address range"),
        ({"callback_port": 70000}, "1 to 65535"),
        ({"domain": "nodots"}, "static domain"),
    ],
)
def test_bad_settings_are_refused_up_front(make_service, overrides: dict[str, object], words: str) -> None:
    with pytest.raises(TunnelConfigError) as caught:
        make_service(**overrides)
    assert words in caught.value.message


def test_redirect_uris_before_any_start(make_service) -> None:
    with pytest.raises(TunnelNotRunningError):
        make_service().redirect_uris()
    uris = make_service(domain="clinic-example.ngrok-free.app").redirect_uris()
    assert uris["polar"] == "https://clinic-example.ngrok-free.app/oauth2_callback"


def test_status_during_a_slow_start_answers_starting_without_blocking(
    make_service, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    service = make_service()
    gate = threading.Event()
    real_open = service._open_tunnels

    def slow_open(config):  # type: ignore[no-untyped-def]
        gate.wait(5)
        return real_open(config)

    monkeypatch.setattr(service, "_open_tunnels", slow_open)
    worker = threading.Thread(target=service.start)
    worker.start()
    try:
        assert wait_for(lambda: service._starting)
        began = time.monotonic()
        assert service.status().state == "starting"
        assert time.monotonic() - began < 0.5
    finally:
        gate.set()
        worker.join(15)
    assert service.status().state == "up"


def test_services_never_import_qt() -> None:
    import subprocess
    import sys

    code = (
        "import sys, services.reach.tunnel, services.cli.tunnel; "
        "sys.exit(any(m.startswith(('PySide6', 'PyQt')) for m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, timeout=30).returncode == 0
