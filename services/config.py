"""Where WearSync keeps its files and how the environment contract of DESIGN.md is read."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.errors import InvalidInput, MissingSecret

log = logging.getLogger(__name__)

APP_NAME = "WearSync"
VERSION = "0.1.0"
DEFAULT_CALLBACK_PORT = 8765
# the device types, in the order they are offered, with the name a coordinator reads (a vendor's
# module is registered in services/vendors; tests/core/test_vendor_registry.py keeps the two in step)
VENDOR_LABELS: dict[str, str] = {"fitbit": "Fitbit", "withings": "Withings", "polar": "Polar"}
VENDORS = tuple(VENDOR_LABELS)


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def database(self) -> Path:
        return self.home / "wearsync.sqlite3"

    @property
    def config_file(self) -> Path:
        """Start-up settings read before the database can be (the database URL, without password)."""
        return self.home / "wearsync.json"

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
        """Create the data folder (owner-only, 0700) and tighten what an older version left readable."""
        from services.filemodes import make_private_dir, tighten

        for p in (self.home, self.logs, self.state, self.backups):
            make_private_dir(p)
        tighten(self.home)
        return self


def data_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("WEARSYNC_HOME")
    if configured:
        return Path(configured).expanduser()
    import platformdirs  # only here: `main.py --help` and most tests (WEARSYNC_HOME set) never need it

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def paths(environ: Mapping[str, str] | None = None) -> Paths:
    return Paths(data_home(environ))


def read_config_file(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The contents of `wearsync.json` in the data directory; {} when there is none."""
    path = paths(environ).config_file
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidInput(
            f"The settings file {path} is damaged (not valid JSON). Fix or delete it; without it "
            "WearSync uses its built-in SQLite database."
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"The settings file {path} must hold a JSON object. Fix or delete it.")
    return data


def write_config_file(updates: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Path:
    """Merge `updates` into `wearsync.json` (a value of None removes the key); atomic replace."""
    p = paths(environ)
    p.home.mkdir(parents=True, exist_ok=True)
    data = read_config_file(environ)
    for key, value in updates.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    tmp = p.config_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, p.config_file)
    return p.config_file


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The one SQLAlchemy URL: WEARSYNC_DATABASE_URL, else `database_url` in wearsync.json (its
    password comes from the SECRET_PASSWORD secret, never from the file), else SQLite at home."""
    env = os.environ if environ is None else environ
    url = env.get("WEARSYNC_DATABASE_URL")
    if url:
        return url
    configured = read_config_file(env).get("database_url")
    if isinstance(configured, str) and configured.strip():
        return with_stored_password(configured.strip(), env)
    return f"sqlite:///{paths(env).database}"


def with_stored_password(url: str, env: Mapping[str, str]) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(
            f"The database address in {paths(env).config_file} is not valid. Run the database set-up "
            "again in Settings → Database (or `main.py mysql setup`)."
        ) from None
    if parsed.get_backend_name() == "sqlite" or parsed.password:
        return url
    from services.secrets import SecretStore

    store = SecretStore(env)
    if not parsed.username:
        parsed = parsed.set(username=store.require("SECRET_USER", "open the MySQL database"))
    try:
        password = store.require("SECRET_PASSWORD", "open the MySQL database")
    except MissingSecret:
        log.warning("the configured MySQL database has no stored password")
        raise
    return parsed.set(password=password).render_as_string(hide_password=False)


OWNER_USER_SECRET = "WEARSYNC_DB_OWNER_USER"
OWNER_PASSWORD_SECRET = "WEARSYNC_DB_OWNER_PASSWORD"


def owner_database_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The configured MySQL database as its owner (schema changes only: upgrades, the move), when the
    set-up stored the owner's login (kept apart from the Settings page); else None."""
    from sqlalchemy.engine import make_url

    env = os.environ if environ is None else environ
    url = env.get("WEARSYNC_DATABASE_URL") or read_config_file(env).get("database_url")
    if not isinstance(url, str) or not url.strip():
        return None
    parsed = make_url(url.strip())
    if parsed.get_backend_name() != "mysql":
        return None
    from services.errors import WearSyncError
    from services.secrets import SecretStore

    store = SecretStore(env)
    try:
        user, password = store.get(OWNER_USER_SECRET), store.get(OWNER_PASSWORD_SECRET)
    except WearSyncError:
        return None
    if not user or not password:
        return None
    return parsed.set(username=user, password=password).render_as_string(hide_password=False)


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
