"""tests/support/main_py.py runs `main.py` commands in children forked from one process that imported
everything once: what a command prints, reads and exits with must be what `python main.py` gives."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.main_py import MainPy

ROOT = Path(__file__).resolve().parents[2]


def test_a_command_behaves_as_in_a_fresh_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the runner starts with a secret in its own environment; the commands are given an environment
    # without it, so it must not show as set (the environment is the one given, not added to)
    monkeypatch.setenv("GRAFANA_URL", "http://runner-only.example:3000")
    runner = MainPy()

    def env(name: str) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if k != "GRAFANA_URL"}
        e.update({"WEARSYNC_HOME": str(tmp_path / name), "PYTHONPATH": str(ROOT),
                  "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
                  "WEARSYNC_TEST_KEYRING_FILE": str(tmp_path / f"{name}-keyring.json")})
        return e

    steps: list[tuple[list[str], str | None]] = [
        (["--version"], None),
        (["users", "add", "someone", "--role", "nobody"], None),  # an argument error: exit 2, usage on stderr
        (["secrets", "set", "GRAFANA_URL"], "http://grafana.example:3000\n"),  # read from standard input
        (["secrets", "list"], None),
        (["patients", "rename", "P-NONE", "P-NEW"], None),  # a WearSyncError: one line, exit 1
        (["users", "remove", "nobody"], None),  # asks for confirmation on the standard input it has
    ]
    try:
        for argv, given in steps:
            real = subprocess.run([sys.executable, str(ROOT / "main.py"), *argv], cwd=ROOT, env=env("real"),
                                  input=given, text=True, capture_output=True, timeout=120)
            forked = runner.run(argv, env=env("forked"), input=given, timeout=120)
            shown = (forked.returncode, forked.stdout, forked.stderr.replace(str(tmp_path / "forked"), "HOME"))
            assert shown == (real.returncode, real.stdout, real.stderr.replace(str(tmp_path / "real"), "HOME")), argv
        assert "runner-only" not in forked.stdout + forked.stderr
    finally:
        runner.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_command_that_outlives_its_timeout_is_ended(tmp_path: Path) -> None:
    runner = MainPy()
    env = {**os.environ, "WEARSYNC_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "PYTHON_KEYRING_BACKEND": "tests.support.keyrings.FileKeyring",
           "WEARSYNC_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
           "FITBIT_CLIENT_ID": "invented-client", "FITBIT_CLIENT_SECRET": "invented-secret",
           "WEARSYNC_CALLBACK_PORT": str(_free_port())}
    try:
        with pytest.raises(subprocess.TimeoutExpired) as ended:  # waits for a consent that never comes
            runner.run(["connect", "fitbit", "P-1", "--no-browser", "--timeout", "60"], env=env, timeout=3)
        assert str(ended.value.output).startswith("https://")  # what it printed before it was ended
        assert runner.run(["--version"], env=env).returncode == 0  # and the runner goes on
    finally:
        runner.close()
