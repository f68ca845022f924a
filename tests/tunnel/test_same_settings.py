"""`main.py tunnel start` uses exactly the tunnel settings saved in the window (auth token, static
domains, Grafana's protection); Grafana through the tunnel is protected by default, with a password
shown once, and a plain notice when protection is turned off on purpose (issue 12, low items)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest

from tests.tunnel.conftest import TOKEN, recorded_calls
from tests.tunnel.test_cli import cli


@pytest.fixture
def shared_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test process and the CLI processes share one password store, as they do on a computer."""
    from tests.support.keyrings import FileKeyring

    path = tmp_path / "keyring.json"
    monkeypatch.setenv("WEARSYNC_TEST_KEYRING_FILE", str(path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.keyrings.FileKeyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    yield path
    keyring.set_keyring(previous)


@pytest.fixture
def env(fake_ngrok: Path, state_dir: Path, shared_keyring: Path) -> dict[str, str]:
    """Only what locates WearSync and the fake agent: no tunnel option comes from the environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WEARSYNC_", "NGROK_"))}
    return {**base, "WEARSYNC_HOME": str(state_dir), "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
            "WEARSYNC_TEST_KEYRING_FILE": str(shared_keyring), "WEARSYNC_CALLBACK_PORT": "8765",
            "FAKE_NGROK_RECORD": os.environ["FAKE_NGROK_RECORD"]}


def _save(state_dir: Path, fake_ngrok: Path, **options: Any) -> None:
    """What Tunnel → Tunnel settings → Save does, as an administrator in the window."""
    from services.accounts.actor import HOST
    from services.app import WearSync
    from services.reach.tunnel_setup import save_options

    app = WearSync.open({**os.environ, "WEARSYNC_HOME": str(state_dir)})
    try:
        save_options(app, **{"start_with_app": False, "domain": "", "ngrok_path": str(fake_ngrok),
                             "grafana_user": "", "allow_cidrs": "", "authtoken": TOKEN, "actor": HOST, **options})
    finally:
        app.close()


def _posts(tmp_path: Path) -> dict[str, dict[str, Any]]:
    return {c["body"]["name"]: c["body"] for c in recorded_calls(tmp_path) if c.get("method") == "POST"}


def test_cli_start_uses_the_settings_saved_in_the_window(env: dict[str, str], state_dir: Path, fake_ngrok: Path,
                                                         tmp_path: Path) -> None:
    _save(state_dir, fake_ngrok, domain="clinic-x.ngrok-free.app", grafana_domain="grafana-x.ngrok-free.app",
          grafana_user="viewer", grafana_password="correct-horse-battery")

    started = cli(env, "start")

    assert started.returncode == 0, started.stderr
    assert "Callback address: https://clinic-x.ngrok-free.app" in started.stdout
    assert "Grafana address: https://grafana-x.ngrok-free.app" in started.stdout
    posts = _posts(tmp_path)
    assert posts["wearsync-callback"]["domain"] == "clinic-x.ngrok-free.app"
    assert posts["wearsync-grafana"]["domain"] == "grafana-x.ngrok-free.app"
    assert posts["wearsync-grafana"]["basic_auth"] == ["viewer:correct-horse-battery"]
    assert "correct-horse-battery" not in started.stdout + started.stderr
    assert cli(env, "stop").returncode == 0


def test_grafana_is_protected_by_default_and_the_password_is_shown_once(
        env: dict[str, str], state_dir: Path, fake_ngrok: Path, tmp_path: Path) -> None:
    _save(state_dir, fake_ngrok)  # nothing about Grafana chosen

    first = cli(env, "start")

    assert first.returncode == 0, first.stderr
    line = next(x for x in first.stdout.splitlines() if "asks for a sign-in" in x)
    password = line.split("password ", 1)[1].split(" ", 1)[0]
    assert len(password) >= 16
    assert _posts(tmp_path)["wearsync-grafana"]["basic_auth"] == [f"wearsync:{password}"]
    assert password not in (state_dir / "tunnel.log").read_text()
    assert cli(env, "stop").returncode == 0

    second = cli(env, "start")  # the same sign-in, not shown again
    assert second.returncode == 0, second.stderr
    assert password not in second.stdout and "asks for a sign-in" not in second.stdout
    grafana_posts = [c["body"] for c in recorded_calls(tmp_path)
                     if c.get("method") == "POST" and c["body"]["name"] == "wearsync-grafana"]
    assert grafana_posts[-1]["basic_auth"] == [f"wearsync:{password}"]
    assert cli(env, "stop").returncode == 0


def test_turning_protection_off_is_said_plainly(env: dict[str, str], state_dir: Path, fake_ngrok: Path,
                                                tmp_path: Path) -> None:
    from services.reach.tunnel_setup import OPEN_NOTICE

    _save(state_dir, fake_ngrok, grafana_open=True)

    started = cli(env, "start")

    assert started.returncode == 0, started.stderr
    assert OPEN_NOTICE in started.stdout
    grafana = _posts(tmp_path)["wearsync-grafana"]
    assert "basic_auth" not in grafana and "ip_restriction" not in grafana
    assert cli(env, "stop").returncode == 0


def test_the_window_and_headless_get_the_same_tunnel_as_the_cli(sqlite_app: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """One builder: the Grafana domain from WEARSYNC_GRAFANA_DOMAIN or the settings, and the protection."""
    from services.reach.tunnel_setup import build_tunnel, load_options, save_options

    save_options(sqlite_app, start_with_app=False, domain="clinic-x.ngrok-free.app", ngrok_path="", grafana_user="",
                 allow_cidrs="203.0.113.0/24", grafana_domain="grafana-x.ngrok-free.app")
    options = load_options(sqlite_app)
    assert options.grafana_domain == "grafana-x.ngrok-free.app" and not options.protection_notice
    service = build_tunnel(sqlite_app)
    assert service._grafana_options()["domain"] == "grafana-x.ngrok-free.app"
    assert service._grafana_options()["ip_restriction"] == {"allow_cidrs": ["203.0.113.0/24"]}
    assert "basic_auth" not in service._grafana_options()  # the address list protects it: no sign-in made
    sqlite_app.environ["WEARSYNC_GRAFANA_DOMAIN"] = "other-grafana.ngrok-free.app"
    assert build_tunnel(sqlite_app)._grafana_options()["domain"] == "other-grafana.ngrok-free.app"

    with pytest.raises(Exception, match="two different static domains"):
        save_options(sqlite_app, start_with_app=False, domain="same.ngrok-free.app", ngrok_path="",
                     grafana_user="", allow_cidrs="", grafana_domain="same.ngrok-free.app")
    assert load_options(sqlite_app).domain == "clinic-x.ngrok-free.app"  # nothing changed
