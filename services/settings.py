"""Non-secret settings, declared once with key, default, type and label; stored in the database."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from db.engine import Database
from db.models import Setting
from db.upsert import upsert
from services.accounts.actor import Actor
from services.accounts.audit import AuditLog
from services.clock import Clock
from services.errors import InvalidInput


@dataclass(frozen=True)
class SettingSpec:
    key: str
    default: Any
    type: type
    label: str
    help: str = ""
    # normalises a value or raises InvalidInput saying how to fix it
    check: Callable[[Any], Any] | None = None


_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_hhmm(raw: object, label: str = "The daily download time") -> tuple[int, int]:
    """'7:05' -> (7, 5); anything that is not a time of day -> InvalidInput."""
    m = _HHMM.match(raw) if isinstance(raw, str) else None
    if m is not None:
        hour, minute = int(m.group(1)), int(m.group(2))
        if hour < 24 and minute < 60:
            return hour, minute
    raise InvalidInput(
        f"{label} must be a time of day written HH:MM (24-hour clock), for example 00:00 or 18:30; "
        f"{raw!r} is not."
    )


def _check_hhmm(raw: Any) -> str:
    hour, minute = parse_hhmm(raw)
    return f"{hour:02d}:{minute:02d}"


def parse_cidrs(raw: object) -> tuple[str, ...]:
    """'203.0.113.0/24, 2001:db8::/32' -> normalised ranges; anything else -> InvalidInput."""
    import ipaddress

    text = raw if isinstance(raw, str) else ""
    ranges: list[str] = []
    for part in text.replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ranges.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise InvalidInput(
                f"{part!r} is not an address range. Write ranges like 203.0.113.0/24 or a single address "
                "like 198.51.100.7, separated by commas."
            ) from None
    return tuple(ranges)


def _check_close(raw: Any) -> str:
    word = str(raw).strip().lower()
    if word not in ("ask", "tray", "quit"):
        raise InvalidInput(f"When the window is closed WearSync can ask, tray or quit; {raw!r} is none of these.")
    return word


def _check_cidrs(raw: Any) -> str:
    return ", ".join(parse_cidrs(raw))


def _check_text(raw: Any, label: str, limit: int) -> str:
    value = " ".join(str(raw or "").split())
    if len(value) > limit:
        raise InvalidInput(f"{label} is {len(value)} characters long; keep it to {limit} at most.")
    return value


def _check_clinic_name(raw: Any) -> str:
    return _check_text(raw, "The clinic name", 80)


def _check_contact(raw: Any) -> str:
    return _check_text(raw, "The clinic's phone or e-mail", 120)


LOGO_SUFFIXES = (".png", ".jpg", ".jpeg")
LOGO_MAX_BYTES = 512 * 1024


def _check_logo(raw: Any) -> str:
    """Empty (no logo) or an existing PNG/JPEG file of at most 512 KB, stored as its absolute path."""
    from pathlib import Path

    value = str(raw or "").strip()
    if not value:
        return ""
    path = Path(value).expanduser()
    if path.suffix.lower() not in LOGO_SUFFIXES:
        raise InvalidInput(f"The clinic logo must be a PNG or JPEG picture; {path.name!r} is not. "
                           "Choose a .png or .jpg file, or leave the field empty.")
    if not path.is_file():
        raise InvalidInput(f"There is no file {str(path)!r}. Choose the logo file again, or leave the field empty.")
    if path.stat().st_size > LOGO_MAX_BYTES:
        raise InvalidInput(f"The clinic logo {path.name!r} is larger than 512 KB; patients on a phone would wait "
                           "for it. Save a smaller version of the picture and choose that.")
    return str(path.resolve())


def _check_day_minutes(raw: Any) -> int:
    minutes = int(raw)
    if not 1 <= minutes <= 1440:
        raise InvalidInput(f"A day has 1,440 minutes: choose between 1 and 1440 for a valid Fitbit day, not {minutes}.")
    return minutes


CATCHUP_DAYS_RANGE = (1, 365)
NOT_RUN_DAYS_RANGE = (1, 60)


def _check_catchup_days(raw: Any) -> int:
    days = int(raw)
    low, high = CATCHUP_DAYS_RANGE
    if not low <= days <= high:
        raise InvalidInput(f"The daily download can go back between {low} and {high} days, not {days}. "
                           "Days further back are fetched with Backfill on the Sync page.")
    return days


def _check_not_run_days(raw: Any) -> int:
    days = int(raw)
    low, high = NOT_RUN_DAYS_RANGE
    if not low <= days <= high:
        raise InvalidInput(f"Choose between {low} and {high} days for the \"WearSync did not run\" alert, not {days}.")
    return days


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("sync_time", "00:00", str, "Daily download time", "Local time, HH:MM.", check=_check_hhmm),
    SettingSpec("lookback_days", 3, int, "Re-check the last N days",
                "Devices that sync late are re-downloaded for this many days."),
    SettingSpec("catchup_max_days", 31, int, "Daily download goes back at most (days)",
                "After WearSync was off, it fetches up to this many past days by itself; the Sync page "
                "asks you to backfill any older days. 1 to 365.", check=_check_catchup_days),
    SettingSpec("alert_after_days", 3, int, "Alert when a device has not synced for (days)"),
    SettingSpec("not_run_alert_days", 2, int, "Alert when WearSync did not download for (days)",
                "An e-mail says so when WearSync was off or closed this long. 1 to 60.",
                check=_check_not_run_days),
    SettingSpec("close_to_tray", "ask", str, "When the window is closed", "ask, tray or quit.",
                check=_check_close),
    SettingSpec("start_tunnel_with_app", False, bool, "Start the tunnel with WearSync"),
    SettingSpec("ngrok_domain", "", str, "ngrok static domain", "e.g. clinic-name.ngrok-free.app"),
    SettingSpec("ngrok_path", "", str, "Path to the ngrok program", "Leave empty to use the bundled one."),
    SettingSpec("grafana_port", 3000, int, "Local Grafana port"),
    SettingSpec("grafana_tunnel_user", "", str, "Grafana tunnel sign-in user",
                "Asks for this user and GRAFANA_TUNNEL_PASSWORD before Grafana opens through the tunnel."),
    SettingSpec("grafana_tunnel_allow", "", str, "Grafana tunnel allowed addresses",
                "Comma-separated ranges such as 203.0.113.0/24; empty lets any address reach Grafana.",
                check=_check_cidrs),
    SettingSpec("grafana_tunnel_open", False, bool, "Grafana through the tunnel without protection",
                "On: no tunnel sign-in and no address list; anyone with the address reaches Grafana's own "
                "sign-in page. Off (default): WearSync makes a sign-in if none is set."),
    SettingSpec("grafana_domain", "", str, "ngrok static domain for Grafana",
                "A second static domain, so Grafana's address stays the same too."),
    SettingSpec("idle_lock_minutes", 15, int, "Lock the window after idle minutes"),
    SettingSpec("enrol_link_hours", 72, int, "Enrolment links expire after (hours)"),
    SettingSpec("clinic_name", "", str, "Clinic name (shown to patients)",
                "On every page a patient sees, e.g. City Hospital Sleep Clinic.", check=_check_clinic_name),
    SettingSpec("clinic_contact", "", str, "Clinic phone or e-mail (shown to patients)",
                "Where patients can ask questions, e.g. 030 1234 5678 or study@clinic.example.", check=_check_contact),
    SettingSpec("clinic_logo", "", str, "Clinic logo (optional)",
                "A PNG or JPEG file on this computer, at most 512 KB.", check=_check_logo),
    SettingSpec("sandbox_mode", False, bool, "Use sandbox vendors (demo)"),
    SettingSpec("valid_day_minutes", 600, int, "Fitbit valid day: minutes with heart rate",
                "A Fitbit day counts as worn when at least this many minutes hold a heart-rate reading.",
                check=_check_day_minutes),
)
BY_KEY = {s.key: s for s in SPECS}


def _parse(spec: SettingSpec, raw: str) -> Any:
    if spec.type is bool:
        return raw.lower() in ("1", "true", "yes", "on")
    if spec.type is int:
        return int(raw)
    return raw


class Settings:
    def __init__(self, db: Database, audit: AuditLog | None = None) -> None:
        self._db = db
        # the app passes its audit trail (on the app's clock); alone, one on a clock from the environment
        self._audit = audit or AuditLog(db, Clock.from_environ(os.environ))

    def get(self, key: str) -> Any:
        spec = BY_KEY[key]
        with self._db.session() as s:
            raw = s.scalar(select(Setting.value).where(Setting.key == key))
        if raw is None:
            return spec.default
        try:
            return _parse(spec, raw)
        except ValueError:
            return spec.default

    def set(self, key: str, value: Any, *, actor: Actor | None = None) -> None:
        """Store one setting. With `actor` (a user in the GUI): refused unless that role may change
        settings, and recorded in the audit trail with the new value (settings hold no secrets).
        Without: an internal caller (CLI, scheduler, another service that checked already)."""
        self.set_many({key: value}, actor=actor)

    def set_many(self, values: dict[str, Any], *, actor: Actor | None = None) -> None:
        """Store several settings at once: every value is checked first, so one bad value changes nothing."""
        if actor is not None:
            actor.require("settings")
        raws = {key: self._normalise(key, value) for key, value in values.items()}
        with self._db.session() as s:
            for key, raw in raws.items():
                stored = s.get(Setting, key)
                default = BY_KEY[key].default
                current = stored.value if stored is not None else (
                    ("true" if default else "false") if BY_KEY[key].type is bool else str(default))
                if current == raw:
                    continue  # the same value again (a Save of a whole form): nothing changes, nothing recorded
                upsert(s, Setting, [{"key": key, "value": raw}], key=["key"])
                if actor is not None:
                    self._audit.record_in(s, actor, "setting.changed", key, f"new value: {raw}")

    @staticmethod
    def _normalise(key: str, value: Any) -> str:
        spec = BY_KEY.get(key)
        if spec is None:
            raise InvalidInput(f"Unknown setting {key!r}.")
        if spec.type is int:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"{spec.label} must be a whole number.") from None
            if value < 0:
                raise InvalidInput(f"{spec.label} cannot be negative.")
        if spec.check is not None:
            value = spec.check(value)
        return ("true" if value else "false") if spec.type is bool else str(value)

    def all(self) -> dict[str, Any]:
        return {s.key: self.get(s.key) for s in SPECS}
