"""`main.py alerts list|add|remove|import|test` — who receives the alert e-mails (acts as HOST)."""

from __future__ import annotations

import argparse
from typing import Any

from services.cli.common import opened_app, out


def register(sub: Any) -> None:
    p = sub.add_parser("alerts", help="manage who receives the alert e-mails, send a test e-mail")
    al = p.add_subparsers(dest="alerts_command", required=True, metavar="{list,add,remove,import,test}")
    al.add_parser("list", help="list the recipients, one per line").set_defaults(func=_list)
    a = al.add_parser("add", help="add a recipient")
    a.add_argument("email", metavar="EMAIL")
    a.set_defaults(func=_add)
    r = al.add_parser("remove", help="remove a recipient")
    r.add_argument("email", metavar="EMAIL")
    r.set_defaults(func=_remove)
    al.add_parser("import", help="add the addresses of the old EMAIL_LIST secret").set_defaults(func=_import)
    t = al.add_parser("test", help="send a test e-mail to EMAIL (checks the mail server and password)")
    t.add_argument("email", metavar="EMAIL")
    t.set_defaults(func=_test)


def _list(_args: argparse.Namespace) -> int:
    with opened_app() as app:
        for address in app.alerts.recipients():
            out(address)
    return 0


def _add(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST

    with opened_app() as app:
        out(f"Added {app.alerts.add_recipient(args.email, HOST)}.")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST

    with opened_app() as app:
        app.alerts.remove_recipient(args.email, HOST)
        out(f"Removed {args.email.strip().lower()}.")
    return 0


def _import(_args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST

    with opened_app() as app:
        added = app.alerts.import_legacy_list(HOST)
    out(f"Added {len(added)} address(es) from EMAIL_LIST." if added else "EMAIL_LIST held no new address.")
    for address in added:
        out(address)
    return 0


def _test(args: argparse.Namespace) -> int:
    from services import config
    from services.alerts.service import validate_email
    from services.logging_setup import setup_logging

    address = validate_email(args.email)
    setup_logging(config.paths().ensure().logs)  # details to the log file; the reason alone to stderr
    with opened_app() as app:
        out(app.alerts.send_test_email(address))
    return 0
