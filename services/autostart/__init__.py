"""Start WearSync when the user signs in to the computer, on Windows, macOS and Linux.

One interface (`Autostart`: enable / disable / status) with one small module per OS:
- Windows (`windows.py`): a value in the per-user Run key, HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run;
- macOS (`macos.py`): a LaunchAgent in ~/Library/LaunchAgents (RunAtLoad), loaded with `launchctl bootstrap`;
- Linux and other XDG desktops (`linux.py`): an autostart desktop entry in ~/.config/autostart.

The entry runs the same program the user runs (`launch_command()`): the bundled executable when WearSync
is bundled, otherwise `python3 bootstrap.py run main.py` from this folder, with `--minimized` so it starts
in the tray. The OS specifics (registry, home folder, launchctl) are handed in, so every writer can be
tested on any OS.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from services.errors import WearSyncError

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "org.wearsync.WearSync"
MINIMIZED = "--minimized"


@dataclass(frozen=True)
class AutostartStatus:
    enabled: bool
    where: str  # the file or registry value that holds the entry, in words a person can look up
    command: tuple[str, ...] | None  # what it starts, when enabled

    def describe(self) -> str:
        if not self.enabled:
            return f"WearSync does not start by itself when you sign in (it would be kept in {self.where})."
        return f"WearSync starts in the tray when you sign in ({self.where})."


class Autostart(Protocol):
    def enable(self, command: list[str]) -> AutostartStatus: ...
    def disable(self) -> bool: ...
    def status(self) -> AutostartStatus: ...


def launch_command(frozen: bool | None = None, executable: str | None = None, root: Path = ROOT) -> list[str]:
    """The command line that starts this WearSync minimised to the tray."""
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    exe = executable or sys.executable
    if frozen:  # PyInstaller: the executable is the app
        return [exe, MINIMIZED]
    return [exe, str(root / "bootstrap.py"), "run", "main.py", MINIMIZED]


def for_this_computer(platform: str | None = None, home: Path | None = None) -> Autostart:
    """The writer for this OS."""
    platform = platform or sys.platform
    home = home or Path.home()
    if platform.startswith("win"):
        from services.autostart.windows import WindowsRunKey

        return WindowsRunKey()
    if platform == "darwin":
        from services.autostart.macos import LaunchAgent

        return LaunchAgent(home)
    from services.autostart.linux import XdgAutostart

    return XdgAutostart.from_environment(home)


class AutostartError(WearSyncError):
    title = "Start at sign-in not changed"


def switch(auto: Autostart, on: bool, command: list[str] | None = None) -> AutostartStatus:
    """Turn start-at-sign-in on or off and return the state read back afterwards. A failure (a folder or
    registry key that cannot be written) becomes an AutostartError in plain words; nothing half-done stays."""
    try:
        if on:
            auto.enable(command if command is not None else launch_command())
        else:
            auto.disable()
        return auto.status()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = exc.filename or "the place where this computer keeps the programs that start at sign-in"
        raise AutostartError(
            f"WearSync could not {'turn on' if on else 'turn off'} starting when you sign in: {where} could not "
            f"be changed ({reason}). Check that your user may write there, then try again."
        ) from None


def read_status(auto: Autostart) -> AutostartStatus:
    """The current state; an unreadable entry is reported in plain words, not as a crash."""
    try:
        return auto.status()
    except OSError as exc:
        raise AutostartError(
            f"WearSync could not tell whether it starts when you sign in ({exc.strerror or type(exc).__name__}).",
            title="Start at sign-in unknown") from None
