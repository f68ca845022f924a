"""`main.py keys generate|list|revoke` — registration keys from the command line (acts as HOST)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.accounts.actor import HOST, ROLES
from services.cli.common import opened_app, out


def register(sub: Any) -> None:
    p = sub.add_parser("keys", help="generate, list or revoke one-time registration keys")
    ks = p.add_subparsers(dest="keys_command", required=True, metavar="{generate,list,revoke}")
    g = ks.add_parser("generate", help="make a one-time key (printed once); default expiry: next midnight")
    g.add_argument("--role", choices=ROLES, default="coordinator", help="role of the account it creates")
    g.add_argument("--hours", type=int, help="valid for this many hours instead of until midnight")
    g.set_defaults(func=_generate)
    ls = ks.add_parser("list", help="list keys: hint, role, state, expiry")
    ls.add_argument("--active", action="store_true", help="only keys that can still be used")
    ls.set_defaults(func=_list)
    rv = ks.add_parser("revoke", help="withdraw an unused key, by its hint or id")
    rv.add_argument("key", metavar="HINT_OR_ID")
    rv.set_defaults(func=_revoke)


def _generate(args: argparse.Namespace) -> int:
    from services.accounts.keys import local_text

    with opened_app() as app:
        new = app.keys.generate(HOST, role=args.role, hours=args.hours)
    out(new.key)  # alone on the first line, for scripts
    sys.stderr.write(f"One-time key for a {new.role} account, valid until {local_text(new.expires_at)} "
                     "(local time). It is shown only now: copy it.\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    from services.accounts.keys import local_text

    with opened_app() as app:
        keys = app.keys.list_keys(HOST, include_spent=not args.active)
    if not keys:
        out("No registration keys. Make one with: main.py keys generate --role coordinator")
        return 0
    out("id\thint\trole\tstate\texpires (local)\tcreated by\tused by")
    for k in keys:
        out(f"{k.id}\t{k.hint}\t{k.role}\t{k.state}\t{local_text(k.expires_at)}\t{k.created_by}\t{k.used_by or ''}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with opened_app() as app:
        info = app.keys.revoke(args.key, HOST)
    out(f"Revoked key {info.hint} ({info.role}).")
    return 0
