"""`main.py autostart enable|disable|status` — start WearSync (in the tray) when you sign in."""

from __future__ import annotations

import argparse
from typing import Any

from services.accounts.actor import HOST
from services.autostart import for_this_computer, launch_command
from services.cli.common import opened_app, out


def register(sub: Any) -> None:
    p = sub.add_parser("autostart", help="start WearSync by itself when you sign in to this computer",
                       description="Make WearSync start in the tray when you sign in (Windows: the Run key of "
                       "your user; macOS: a LaunchAgent; Linux: a desktop autostart entry), stop that, or "
                       "say whether it is on.")
    ps = p.add_subparsers(dest="autostart_command", required=True, metavar="{enable,disable,status}")
    ps.add_parser("enable", help="start WearSync when you sign in").set_defaults(func=_enable)
    ps.add_parser("disable", help="do not start WearSync when you sign in").set_defaults(func=_disable)
    ps.add_parser("status", help="say whether WearSync starts when you sign in").set_defaults(func=_status)


def _enable(args: argparse.Namespace) -> int:
    st = for_this_computer().enable(launch_command())
    with opened_app() as app:
        app.audit.record(HOST, "autostart.enabled", st.where)
    out(st.describe())
    return 0


def _disable(args: argparse.Namespace) -> int:
    auto = for_this_computer()
    removed = auto.disable()
    if removed:
        with opened_app() as app:
            app.audit.record(HOST, "autostart.disabled", auto.status().where)
    out("WearSync no longer starts when you sign in." if removed
        else "WearSync was not set to start when you sign in; nothing changed.")
    return 0


def _status(args: argparse.Namespace) -> int:
    out(for_this_computer().status().describe())
    return 0
