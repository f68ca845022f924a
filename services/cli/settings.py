"""`main.py settings list|get KEY|set KEY VALUE` — every non-secret setting the window offers.

The same declarations (services/settings.py SPECS) and the same validation as the window: a bad value
gets the window's sentence, exit 1, and nothing changes. A change is recorded in the audit trail as done
from the host.
"""

from __future__ import annotations

import argparse
from typing import Any

from services.accounts.actor import HOST
from services.cli.common import opened_app, out
from services.errors import InvalidInput


def register(sub: Any) -> None:
    p = sub.add_parser("settings", help="daily download time, alert days and the other settings",
                       description="List, read or change WearSync's settings (the same as in the window's "
                       "Settings, Tunnel and Alerts pages). Secrets are not settings: see `main.py secrets`.")
    ps = p.add_subparsers(dest="settings_command", required=True, metavar="{list,get,set}")
    ls = ps.add_parser("list", help="every setting with its current value and what it means")
    ls.set_defaults(func=_list)
    g = ps.add_parser("get", help="print one setting's value")
    g.add_argument("key", metavar="KEY")
    g.set_defaults(func=_get)
    s = ps.add_parser("set", help="change one setting (checked as in the window)")
    s.add_argument("key", metavar="KEY")
    s.add_argument("value", metavar="VALUE")
    s.set_defaults(func=_set)


def _key(raw: str) -> str:
    from services.settings import BY_KEY

    key = raw.strip()
    if key not in BY_KEY:
        raise InvalidInput(f"There is no setting {key!r}. `main.py settings list` shows them all.")
    return key


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _list(args: argparse.Namespace) -> int:
    from services.settings import SPECS

    with opened_app() as app:
        values = app.settings.all()
    width = max(len(s.key) for s in SPECS)
    for spec in SPECS:
        hint = f" — {spec.help}" if spec.help else ""
        out(f"{spec.key.ljust(width)}  {_shown(values[spec.key])!s:12}  {spec.label}{hint}")
    return 0


def _get(args: argparse.Namespace) -> int:
    key = _key(args.key)
    with opened_app() as app:
        out(_shown(app.settings.get(key)))
    return 0


def _parse(key: str, raw: str) -> Any:
    from services.settings import BY_KEY

    spec = BY_KEY[key]
    if spec.type is bool:
        word = raw.strip().lower()
        if word in ("1", "true", "yes", "on"):
            return True
        if word in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"{spec.label} is yes or no, not {raw!r}.")
    return raw


def _set(args: argparse.Namespace) -> int:
    from services.settings import BY_KEY

    key = _key(args.key)
    value = _parse(key, args.value)
    with opened_app() as app:
        app.settings.set(key, value, actor=HOST)
        out(f"{BY_KEY[key].label}: {_shown(app.settings.get(key))}")
    return 0
