"""Start at sign-in: what each OS's writer leaves behind (path, content, removal, idempotence), and that the
Linux entry, read back as a desktop entry, really starts this WearSync."""

from __future__ import annotations

import os
import plistlib
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.autostart import APP_ID, MINIMIZED, for_this_computer, launch_command
from services.autostart.linux import XdgAutostart, quote_exec_arg, read_desktop_entry, split_exec
from services.autostart.macos import LaunchAgent
from services.autostart.windows import RUN_KEY, WindowsRunKey, split_cmdline
from tests.conftest import ROOT

ODD = ["/opt/Clinic Apps/WearSync/wearsync", "--data", 'C:\\x "quoted" $HOME 100%', MINIMIZED]


# ---------------------------------------------------------------- Linux (for real)
def test_linux_entry_path_content_idempotence_and_removal(tmp_path: Path) -> None:
    auto = XdgAutostart.from_environment(tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert auto.path == tmp_path / "cfg" / "autostart" / "wearsync.desktop"
    assert not auto.status().enabled and auto.disable() is False

    st = auto.enable(ODD)
    first = auto.path.read_text()
    assert st.enabled and st.command == tuple(ODD)
    entry = read_desktop_entry(first)
    assert entry["Type"] == "Application" and entry["Name"] == "WearSync" and entry["Terminal"] == "false"
    assert split_exec(entry["Exec"]) == ODD
    assert stat.S_IMODE(auto.path.stat().st_mode) == 0o644
    assert auto.enable(ODD).enabled and auto.path.read_text() == first  # again: the same single entry
    assert [p.name for p in auto.path.parent.iterdir()] == ["wearsync.desktop"]  # no temporary left

    assert auto.disable() is True and not auto.path.exists() and not auto.status().enabled
    assert XdgAutostart.from_environment(tmp_path, {}).path == tmp_path / ".config" / "autostart" / "wearsync.desktop"


def test_exec_quoting_round_trips() -> None:
    for arg in ["plain", "with space", 'q"uote', "back\\slash", "$VAR", "`tick`", "50%", "a=b", ""]:
        assert split_exec(quote_exec_arg(arg)) == [arg], arg


def test_linux_entry_starts_this_wearsync(tmp_path: Path) -> None:
    """Read the entry back as the desktop does and run its Exec line (asking only for --version, which
    answers before any window would open): the command starts this checkout's WearSync."""
    auto = XdgAutostart.from_environment(tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    auto.enable(launch_command(frozen=False, executable=sys.executable))
    argv = split_exec(read_desktop_entry(auto.path.read_text())["Exec"])
    assert argv[-1] == MINIMIZED and Path(argv[1]) == ROOT / "bootstrap.py"
    r = subprocess.run([*argv, "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("WearSync ")


def test_launch_command_bundled_or_from_source() -> None:
    assert launch_command(frozen=True, executable="/opt/WearSync/wearsync") == ["/opt/WearSync/wearsync", MINIMIZED]
    assert launch_command(frozen=False, executable="/usr/bin/python3", root=Path("/srv/ws")) == [
        "/usr/bin/python3", "/srv/ws/bootstrap.py", "run", "main.py", MINIMIZED]


# ---------------------------------------------------------------- macOS (temporary home, fake launchctl)
def test_macos_launch_agent(tmp_path: Path) -> None:
    calls: list[list[str]] = []
    agent = LaunchAgent(tmp_path, runner=lambda args: calls.append(args) or 0, uid=501)
    assert agent.path == tmp_path / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    assert not agent.status().enabled and agent.disable() is False and calls == []

    st = agent.enable(ODD)
    data = plistlib.loads(agent.path.read_bytes())
    assert data["Label"] == APP_ID and data["ProgramArguments"] == ODD and data["RunAtLoad"] is True
    assert st.enabled and st.command == tuple(ODD)
    assert calls == [["bootout", f"gui/501/{APP_ID}"], ["bootstrap", "gui/501", str(agent.path)]]
    first = agent.path.read_bytes()
    agent.enable(ODD)
    assert agent.path.read_bytes() == first and len(list(agent.path.parent.iterdir())) == 1

    calls.clear()
    assert agent.disable() is True and not agent.path.exists()
    assert calls == [["bootout", f"gui/501/{APP_ID}"]]


# ---------------------------------------------------------------- Windows (a fake registry)
class FakeRegistry:
    """The part of `winreg` the writer uses, over a dict: {(hive, key path): {value name: (type, data)}}."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    KEY_READ = 1
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, tuple[int, Any]]] = {}

    @contextmanager
    def _key(self, hive: str, path: str, create: bool) -> Any:
        if (hive, path) not in self.keys:
            if not create:
                raise FileNotFoundError(path)
            self.keys[(hive, path)] = {}
        yield (hive, path)

    def CreateKeyEx(self, hive: str, path: str, reserved: int, access: int) -> Any:
        return self._key(hive, path, True)

    def OpenKey(self, hive: str, path: str, reserved: int, access: int) -> Any:
        return self._key(hive, path, False)

    def SetValueEx(self, key: Any, name: str, reserved: int, kind: int, data: Any) -> None:
        self.keys[key][name] = (kind, data)

    def QueryValueEx(self, key: Any, name: str) -> tuple[Any, int]:
        if name not in self.keys[key]:
            raise FileNotFoundError(name)
        kind, data = self.keys[key][name]
        return data, kind

    def DeleteValue(self, key: Any, name: str) -> None:
        if name not in self.keys[key]:
            raise FileNotFoundError(name)
        del self.keys[key][name]


def test_windows_run_key() -> None:
    reg = FakeRegistry()
    reg.keys[("HKCU", RUN_KEY)] = {"OtherApp": (1, "C:\\other.exe")}  # someone else's entry stays untouched
    run = WindowsRunKey(reg)
    assert not run.status().enabled and run.disable() is False
    command = ["C:\\Program Files\\WearSync\\WearSync.exe", 'a "b"', "tail\\", MINIMIZED]
    st = run.enable(command)
    kind, line = reg.keys[("HKCU", RUN_KEY)]["WearSync"]
    assert kind == reg.REG_SZ and line.startswith('"C:\\Program Files\\WearSync\\WearSync.exe" ')
    assert split_cmdline(line) == command and st.command == tuple(command)
    run.enable(command)
    assert list(reg.keys[("HKCU", RUN_KEY)]) == ["OtherApp", "WearSync"]
    assert run.disable() is True and list(reg.keys[("HKCU", RUN_KEY)]) == ["OtherApp"]
    assert not run.status().enabled


def test_windows_command_line_split_matches_list2cmdline() -> None:
    for args in (["a b", "c"], ['x"y', "z\\"], ["\\\\server\\share\\wearsync.exe", "--minimized"], ["", "e"]):
        assert split_cmdline(subprocess.list2cmdline(args)) == args


# ---------------------------------------------------------------- choice of writer, CLI
@pytest.mark.parametrize(("platform", "kind"), [("linux", XdgAutostart), ("darwin", LaunchAgent)])
def test_the_writer_for_each_os(platform: str, kind: type, tmp_path: Path) -> None:
    assert isinstance(for_this_computer(platform, tmp_path), kind)


def test_autostart_cli(run_cli, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    r = run_cli("autostart", "status", env=env)
    assert r.returncode == 0 and "does not start" in r.stdout
    r = run_cli("autostart", "enable", env=env)
    assert r.returncode == 0 and "starts in the tray" in r.stdout
    entry = read_desktop_entry((tmp_path / "cfg" / "autostart" / "wearsync.desktop").read_text())
    assert split_exec(entry["Exec"])[-1] == MINIMIZED
    assert "starts in the tray" in run_cli("autostart", "status", env=env).stdout
    assert "autostart.enabled" in run_cli("audit").stdout
    r = run_cli("autostart", "disable", env=env)
    assert r.returncode == 0 and not (tmp_path / "cfg" / "autostart" / "wearsync.desktop").exists()
    assert "nothing changed" in run_cli("autostart", "disable", env=env).stdout
