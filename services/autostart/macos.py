"""macOS: a LaunchAgent, ~/Library/LaunchAgents/org.wearsync.WearSync.plist, with RunAtLoad.

launchd loads every agent in that folder at sign-in; `launchctl bootstrap gui/<uid> PLIST` loads it at
once as well (and `bootout` unloads it), where launchctl exists.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from services.autostart import APP_ID, AutostartStatus

Runner = Callable[[list[str]], int]


def _launchctl(args: list[str]) -> int:
    exe = shutil.which("launchctl")
    if exe is None:
        return -1
    return subprocess.run([exe, *args], capture_output=True, check=False, timeout=30).returncode


class LaunchAgent:
    def __init__(self, home: Path, runner: Runner = _launchctl, uid: int | None = None) -> None:
        self.path = home / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
        self.runner = runner
        self.uid = os.getuid() if uid is None and hasattr(os, "getuid") else (uid or 0)

    def render(self, command: list[str]) -> bytes:
        return plistlib.dumps({
            "Label": APP_ID,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        })

    def enable(self, command: list[str]) -> AutostartStatus:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".wearsync-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self.render(command))
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # load it now as well; it is read at every sign-in whatever launchctl says
        self.runner(["bootout", f"gui/{self.uid}/{APP_ID}"])
        self.runner(["bootstrap", f"gui/{self.uid}", str(self.path)])
        return self.status()

    def disable(self) -> bool:
        if not self.path.exists():
            return False
        self.runner(["bootout", f"gui/{self.uid}/{APP_ID}"])
        self.path.unlink()
        return True

    def status(self) -> AutostartStatus:
        try:
            data = plistlib.loads(self.path.read_bytes())
        except FileNotFoundError:
            return AutostartStatus(False, str(self.path), None)
        on = bool(data.get("RunAtLoad")) and not data.get("Disabled", False)
        return AutostartStatus(on, str(self.path), tuple(data.get("ProgramArguments", ())) if on else None)
