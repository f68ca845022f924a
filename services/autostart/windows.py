"""Windows: a value named "WearSync" in the per-user Run key.

HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run holds one command line per value;
Windows runs each at sign-in. Only the current user's key is touched (no administrator rights needed).
The registry module is handed in (the standard `winreg` on Windows), so the writer is tested anywhere.
"""

from __future__ import annotations

import subprocess
from typing import Any

from services.autostart import AutostartStatus

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE = "WearSync"


class WindowsRunKey:
    def __init__(self, registry: Any = None) -> None:
        if registry is None:
            import winreg as registry  # only on Windows
        self.reg = registry

    @property
    def where(self) -> str:
        return rf"HKEY_CURRENT_USER\{RUN_KEY}\{VALUE}"

    def enable(self, command: list[str]) -> AutostartStatus:
        line = subprocess.list2cmdline(command)  # Windows' own quoting rules
        with self.reg.CreateKeyEx(self.reg.HKEY_CURRENT_USER, RUN_KEY, 0, self.reg.KEY_SET_VALUE) as key:
            self.reg.SetValueEx(key, VALUE, 0, self.reg.REG_SZ, line)
        return self.status()

    def disable(self) -> bool:
        try:
            with self.reg.OpenKey(self.reg.HKEY_CURRENT_USER, RUN_KEY, 0, self.reg.KEY_SET_VALUE) as key:
                self.reg.DeleteValue(key, VALUE)
        except FileNotFoundError:
            return False
        return True

    def status(self) -> AutostartStatus:
        try:
            with self.reg.OpenKey(self.reg.HKEY_CURRENT_USER, RUN_KEY, 0, self.reg.KEY_READ) as key:
                line, _kind = self.reg.QueryValueEx(key, VALUE)
        except FileNotFoundError:
            return AutostartStatus(False, self.where, None)
        return AutostartStatus(True, self.where, tuple(split_cmdline(str(line))))


def split_cmdline(line: str) -> list[str]:
    """Split a Windows command line the way the C runtime does (the reverse of list2cmdline)."""
    args: list[str] = []
    cur: list[str] = []
    in_quotes = False
    has = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            n = 0
            while i < len(line) and line[i] == "\\":
                n += 1
                i += 1
            if i < len(line) and line[i] == '"':
                cur.append("\\" * (n // 2))
                if n % 2:
                    cur.append('"')
                    i += 1
                has = True
                continue
            cur.append("\\" * n)
            has = True
            continue
        if c == '"':
            in_quotes = not in_quotes
            has = True
        elif c in " \t" and not in_quotes:
            if has:
                args.append("".join(cur))
                cur, has = [], False
        else:
            cur.append(c)
            has = True
        i += 1
    if has:
        args.append("".join(cur))
    return args
