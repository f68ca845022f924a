"""`main.py users ...` — the host owner's recovery path for accounts (no sign-in: acts as HOST).

Passwords never come from the command line (they would sit in shell history and `ps`): they are
read from standard input when it is not a terminal (one line), or asked for twice with getpass.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from services.accounts.actor import HOST, ROLES
from services.cli.common import opened_app, out
from services.errors import InvalidInput


def register(sub: Any) -> None:
    p = sub.add_parser("users", help="list, add, reset or unlock user accounts (host owner's recovery path)")
    us = p.add_subparsers(dest="users_command", required=True,
                          metavar="{list,add,reset-password,unlock,set-role,disable,enable,remove}")
    ls = us.add_parser("list", help="list accounts with role and state")
    ls.set_defaults(func=_list)
    add = us.add_parser("add", help="add an account; the password is read from stdin or asked for")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--must-change", action="store_true", help="require a new password at first sign-in")
    add.set_defaults(func=_add)
    rp = us.add_parser("reset-password", help="set a one-time temporary password (printed once)")
    rp.add_argument("username")
    rp.add_argument("--stdin", action="store_true",
                    help="read the temporary password from stdin instead of generating one")
    rp.set_defaults(func=_reset)
    un = us.add_parser("unlock", help="lift a lockout after failed sign-ins")
    un.add_argument("username")
    un.set_defaults(func=_unlock)
    sr = us.add_parser("set-role", help="change an account's role")
    sr.add_argument("username")
    sr.add_argument("role", choices=ROLES)
    sr.set_defaults(func=_set_role)
    for name, disabled in (("disable", True), ("enable", False)):
        d = us.add_parser(name, help=f"{name} an account")
        d.add_argument("username")
        d.set_defaults(func=_set_disabled, disabled=disabled)
    rm = us.add_parser("remove", help="delete an account (its audit entries stay)")
    rm.add_argument("username")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(func=_remove)


def read_password(prompt: str) -> str:
    """One line from stdin when piped, else asked twice on the terminal."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise InvalidInput("No password on standard input: pipe one line, or run in a terminal to be asked.")
        return password
    first = getpass.getpass(prompt)
    if getpass.getpass("Type it again: ") != first:
        raise InvalidInput("The two passwords differ; nothing changed. Try again.")
    return first


def _list(args: argparse.Namespace) -> int:
    from services.accounts.keys import local_text

    with opened_app() as app:
        users = app.accounts.list_users(HOST)
        now = app.clock.utcnow()
    if not users:
        out("No accounts yet. The first start of the window creates the administrator, or run: "
            "main.py users add NAME --role admin")
        return 0
    out("username\trole\tstate\tlast sign-in")
    for u in users:
        state = u.state(now)
        if state == "locked" and u.locked_until is not None:
            state += f" until {local_text(u.locked_until)}"
        if u.must_change_password:
            state += ", must change password"
        last = local_text(u.last_login_at) if u.last_login_at else "never"
        out(f"{u.username}\t{u.role}\t{state}\t{last}")
    return 0


def _add(args: argparse.Namespace) -> int:
    password = read_password(f"Password for {args.username}: ")
    with opened_app() as app:
        info = app.accounts.add_user(args.username, args.role, password, HOST,
                                     must_change_password=args.must_change)
    out(f"Added {info.username} ({info.role}).")
    return 0


def _reset(args: argparse.Namespace) -> int:
    given = read_password(f"Temporary password for {args.username}: ") if args.stdin else None
    with opened_app() as app:
        temp = app.accounts.reset_password(args.username, HOST, new_password=given)
    if given is None:
        out(temp)
        sys.stderr.write("This temporary password is shown once; the user must choose a new one at sign-in.\n")
    else:
        out(f"Temporary password set for {args.username.strip().lower()}; they must change it at sign-in.")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    with opened_app() as app:
        app.accounts.unlock(args.username, HOST)
    out(f"Unlocked {args.username.strip().lower()}.")
    return 0


def _set_role(args: argparse.Namespace) -> int:
    with opened_app() as app:
        app.accounts.set_role(args.username, args.role, HOST)
    out(f"{args.username.strip().lower()} is now {args.role}.")
    return 0


def _set_disabled(args: argparse.Namespace) -> int:
    with opened_app() as app:
        app.accounts.set_disabled(args.username, args.disabled, HOST)
    out(f"{'Disabled' if args.disabled else 'Enabled'} {args.username.strip().lower()}.")
    return 0


def _remove(args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            sys.stderr.write(f"This deletes the account {args.username}. Add --yes to confirm.\n")
            return 1
        if input(f"Delete the account {args.username}? [y/N] ").strip().lower() not in ("y", "yes"):
            out("Nothing deleted.")
            return 1
    with opened_app() as app:
        app.accounts.remove_user(args.username, HOST)
    out(f"Removed {args.username.strip().lower()}.")
    return 0
