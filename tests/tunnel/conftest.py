"""Fixtures for the tunnel tests: a fake ngrok executable and services that always clean up."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.reach.tunnel import TunnelService, TunnelStatus

FAKE_NGROK = Path(__file__).resolve().parents[1] / "fakes" / "fake_ngrok.py"
TOKEN = "2fAkEtOkEn_1234567890abcdefghijk"  # shaped like an ngrok authtoken


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def kill_recorded(state_dir: Path) -> None:
    """Last-resort cleanup: end whatever the state file says is running."""
    try:
        record: dict[str, Any] = json.loads((state_dir / "tunnel.json").read_text())
    except (OSError, ValueError):
        return
    for key in ("pid", "agent_pid"):
        pid = record.get(key)
        if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def fake_ngrok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable ``ngrok`` in tmp_path that runs the fake agent with this interpreter."""
    for name in list(os.environ):
        if name.startswith("FAKE_NGROK_") or name in ("NGROK_AUTHTOKEN", "NGROK_API_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FAKE_NGROK_RECORD", str(tmp_path / "ngrok-calls.jsonl"))
    wrapper = tmp_path / "bin" / "ngrok"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_NGROK}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def recorded_calls(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "ngrok-calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    yield path
    kill_recorded(path)


class Events:
    def __init__(self) -> None:
        self.items: list[TunnelStatus] = []

    def __call__(self, status: TunnelStatus) -> None:
        self.items.append(status)

    @property
    def states(self) -> list[str]:
        return [s.state for s in self.items]


@pytest.fixture
def make_service(fake_ngrok: Path, state_dir: Path) -> Iterator[Callable[..., TunnelService]]:
    made: list[TunnelService] = []

    def make(**overrides: Any) -> TunnelService:
        options: dict[str, Any] = {
            "state_dir": state_dir,
            "ngrok_path": str(fake_ngrok),
            "authtoken": TOKEN,
            "callback_port": 8765,
            "grafana_port": 3000,
            "startup_timeout": 10,
            "request_timeout": 2,
        }
        options.update(overrides)
        service = TunnelService(**options)
        made.append(service)
        return service

    yield make
    for service in made:
        with contextlib.suppress(Exception):
            service.stop()
