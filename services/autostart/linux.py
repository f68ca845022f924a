"""Linux (and any XDG desktop): an autostart desktop entry, $XDG_CONFIG_HOME/autostart/wearsync.desktop.

The desktop environment reads every `.desktop` file in that folder at sign-in and runs its `Exec` line
(Desktop Entry Specification, "Autostart of applications during startup").
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from services.autostart import AutostartStatus

FILE_NAME = "wearsync.desktop"
_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def quote_exec_arg(arg: str) -> str:
    """One argument of an Exec line, quoted as the Desktop Entry Specification says."""
    if arg and not any(c in _RESERVED for c in arg) and "%" not in arg and "=" not in arg:
        return arg
    inner = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
    return f'"{inner}"'


def split_exec(line: str) -> list[str]:
    """The arguments of an Exec line (the reverse of quote_exec_arg; field codes are not used here)."""
    args: list[str] = []
    cur: list[str] = []
    quoted = False
    started = False
    i = 0
    while i < len(line):
        c = line[i]
        if quoted:
            if c == "\\" and i + 1 < len(line):
                cur.append(line[i + 1])
                i += 2
                continue
            if c == '"':
                quoted = False
            else:
                cur.append(c)
        elif c == '"':
            quoted = started = True
        elif c in " \t":
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    if quoted:
        raise ValueError("unterminated quote in Exec line")
    if started:
        args.append("".join(cur))
    return [a.replace("%%", "%") for a in args]


def read_desktop_entry(text: str) -> dict[str, str]:
    """The keys of the [Desktop Entry] group (escape sequences of string values decoded)."""
    entry: dict[str, str] = {}
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            key, value = line.split("=", 1)
            entry[key.strip()] = _unescape(value.strip())
    return entry


_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def _unescape(value: str) -> str:
    """A string value's escape sequences (\\s \\n \\t \\r \\\\), decoded left to right."""
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in _ESCAPES:
            out.append(_ESCAPES[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


class XdgAutostart:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME

    @classmethod
    def from_environment(cls, home: Path, environ: Mapping[str, str] | None = None) -> XdgAutostart:
        env = os.environ if environ is None else environ
        config = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
        return cls(config / "autostart")

    def render(self, command: list[str]) -> str:
        # quoted per argument, then escaped as a string value (the spec's two layers: a literal backslash
        # inside a quoted argument is written as four)
        exec_line = _escape(" ".join(quote_exec_arg(a) for a in command))
        return "\n".join([
            "[Desktop Entry]",
            "Type=Application",
            "Name=WearSync",
            "Comment=Downloads the enrolled patients' wearable data on schedule",
            f"Exec={exec_line}",
            "Terminal=false",
            "X-GNOME-Autostart-enabled=true",
            "X-GNOME-Autostart-Delay=10",
            "",
        ])

    def enable(self, command: list[str]) -> AutostartStatus:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".wearsync-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.render(command))
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)  # a half-written entry is never read at sign-in
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.status()

    def disable(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def status(self) -> AutostartStatus:
        try:
            entry = read_desktop_entry(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return AutostartStatus(False, str(self.path), None)
        on = entry.get("Hidden", "false").lower() != "true" and \
            entry.get("X-GNOME-Autostart-enabled", "true").lower() != "false"
        return AutostartStatus(on, str(self.path), tuple(split_exec(entry.get("Exec", ""))) if on else None)
