"""Where WearSync keeps its files and how the environment contract of DESIGN.md is read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from services.errors import InvalidInput

APP_NAME = "WearSync"
VERSION = "0.1.0"
DEFAULT_CALLBACK_PORT = 8765
VENDORS = ("fitbit", "withings", "polar")


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def database(self) -> Path:
        return self.home / "wearsync.sqlite3"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def state(self) -> Path:
        return self.home / "state"

    @property
    def backups(self) -> Path:
        return self.home / "backups"

    def ensure(self) -> Paths:
        for p in (self.home, self.logs, self.state, self.backups):
            p.mkdir(parents=True, exist_ok=True)
        return self


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("WEARSYNC_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def paths(environ: Mapping[str, str] | None = None) -> Paths:
    return Paths(data_home(environ))


def database_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = env.get("WEARSYNC_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{paths(env).database}"


def callback_port(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get("WEARSYNC_CALLBACK_PORT", "")
    if not raw:
        return DEFAULT_CALLBACK_PORT
    try:
        port = int(raw)
    except ValueError:
        raise InvalidInput(f"WEARSYNC_CALLBACK_PORT must be a port number, not {raw!r}.") from None
    if not 1 <= port <= 65535:
        raise InvalidInput(f"WEARSYNC_CALLBACK_PORT must be between 1 and 65535, not {port}.")
    return port


def public_base_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    url = env.get("WEARSYNC_PUBLIC_URL", "").strip().rstrip("/")
    return url or f"http://127.0.0.1:{callback_port(env)}"


def redirect_uri(environ: Mapping[str, str] | None = None) -> str:
    return public_base_url(environ) + "/oauth2_callback"


def check_vendor(vendor: str) -> str:
    v = vendor.strip().lower()
    if v not in VENDORS:
        raise InvalidInput(f"Unknown device type {vendor!r}. Choose one of: {', '.join(VENDORS)}.")
    return v
