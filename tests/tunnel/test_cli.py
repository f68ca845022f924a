"""``tunnel start|status|stop`` as separate processes, the way a script or systemd runs them."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli.tunnel import register
from tests.tunnel.conftest import TOKEN, pid_alive, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(fake_ngrok: Path, state_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WEARSYNC_HOME": str(state_dir),
        "WEARSYNC_NGROK_PATH": str(fake_ngrok),
        "NGROK_AUTHTOKEN": TOKEN,
        "WEARSYNC_CALLBACK_PORT": "8765",
        "WEARSYNC_GRAFANA_PORT": "3000",
        # one password store for the CLI and the keeper it starts, as the OS keyring is
        "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
        "WEARSYNC_TEST_KEYRING_FILE": str(state_dir.parent / "keyring.json"),
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.tunnel", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def record(state_dir: Path) -> dict[str, object]:
    return json.loads((state_dir / "tunnel.json").read_text())


def test_start_status_stop_across_processes_leaves_nothing_running(env, state_dir: Path) -> None:
    started = cli(env, "start")
    assert started.returncode == 0, started.stderr
    assert "Tunnel: up" in started.stdout
    callback = next(
        line.split(": ", 1)[1]
        for line in started.stdout.splitlines()
        if line.startswith("Callback address: ")
    )
    assert callback.startswith("https://") and callback.endswith(".ngrok-free.app")
    assert "Grafana address: https://" in started.stdout
    assert f"polar: {callback}/oauth2_callback" in started.stdout  # first start: register them
    keeper, agent = record(state_dir)["pid"], record(state_dir)["agent_pid"]
    assert isinstance(keeper, int) and isinstance(agent, int)
    assert pid_alive(keeper) and pid_alive(agent), "the tunnel outlives the CLI process"

    status = cli(env, "status")
    assert status.returncode == 0, status.stderr
    assert "Tunnel: up" in status.stdout and f"Callback address: {callback}" in status.stdout

    again = cli(env, "start")
    assert again.returncode == 0 and f"Callback address: {callback}" in again.stdout
    assert record(state_dir)["pid"] == keeper, "a second start reuses the running tunnel"

    stopped = cli(env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert wait_for(lambda: not pid_alive(keeper) and not pid_alive(agent), timeout=10)

    down = cli(env, "status")
    assert down.returncode == 1
    assert "Tunnel: down" in down.stdout
    assert down.stderr.strip() == "wearsync: The tunnel is not running."
    log = (state_dir / "tunnel.log").read_text()
    assert "Tunnel up" in log and TOKEN not in log


def test_stop_also_ends_an_agent_whose_keeper_was_killed(env, state_dir: Path) -> None:
    assert cli(env, "start").returncode == 0
    keeper, agent = record(state_dir)["pid"], record(state_dir)["agent_pid"]
    assert isinstance(keeper, int) and isinstance(agent, int)
    os.kill(keeper, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(keeper))

    assert cli(env, "stop").returncode == 0
    assert wait_for(lambda: not pid_alive(agent), timeout=10)
    assert cli(env, "status").returncode == 1


def test_rejected_authtoken_gives_one_clear_line_and_no_process(env, state_dir: Path) -> None:
    env["FAKE_NGROK_VALID_AUTHTOKEN"] = "a-different-token"

    result = cli(env, "start")

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "did not accept the authtoken" in result.stderr
    failure = record(state_dir)["last_error"]
    assert isinstance(failure, dict)
    assert wait_for(lambda: not pid_alive(int(failure["pid"])))
    for text in (
        result.stdout,
        result.stderr,
        (state_dir / "tunnel.log").read_text(),
        (state_dir / "tunnel.json").read_text(),
    ):
        assert TOKEN not in text


def test_missing_token_and_missing_agent_fail_before_starting_anything(env, state_dir: Path) -> None:
    no_token = {k: v for k, v in env.items() if k != "NGROK_AUTHTOKEN"}
    result = cli(no_token, "start")
    assert result.returncode == 1 and "NGROK_AUTHTOKEN" in result.stderr

    result = cli({**env, "WEARSYNC_NGROK_PATH": str(state_dir / "missing" / "ngrok")}, "start")
    assert result.returncode == 1
    assert "ngrok program was not found" in result.stderr
    assert not (state_dir / "tunnel.json").exists()


def test_bad_port_variable_is_explained(env) -> None:
    result = cli({**env, "WEARSYNC_CALLBACK_PORT": "eighty"}, "status")
    assert result.returncode == 1
    assert "WEARSYNC_CALLBACK_PORT must be a port number" in result.stderr


def test_register_adds_the_tunnel_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="main.py")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["tunnel", "status"])
    assert args.tunnel_action == "status" and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["tunnel", "explode"])
