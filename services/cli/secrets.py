"""`main.py secrets list|set|test|remove|import-env` — the Settings → Secrets box, from a terminal.

The host's owner acts here (no sign-in), so the calls go through services/secret_admin.py as HOST: the
same code the window uses, each change recorded in the audit trail by name, never by value. A value is
read from standard input or a no-echo prompt, never from the command line, so it stays out of the shell
history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from services.accounts.actor import HOST
from services.cli.common import opened_app, out
from services.errors import InvalidInput
from services.secret_specs import SECRETS, SPEC_BY_NAME

NAMES = [s.name for s in SECRETS]
# kept only for the old scripts: never needed by WearSync itself
LEGACY = {"EMAIL_LIST", "DATAPLATFORM_URL"}


def register(sub: Any) -> None:
    p = sub.add_parser("secrets", help="client IDs, passwords and tokens in the password store",
                       description="See, set, test or remove WearSync's secrets (vendor client IDs and "
                       "secrets, the alert sender's password, the ngrok token, ...). Values are kept in "
                       "this computer's password store; an environment variable of the same name wins.")
    ps = p.add_subparsers(dest="secrets_command", required=True, metavar="{list,set,test,remove,import-env}")
    ls = ps.add_parser("list", help="every secret: needed or optional, where it is stored, its value masked")
    ls.set_defaults(func=_list)
    st = ps.add_parser("set", help="store a secret (the value is read from standard input or asked for)",
                       description="Store one secret in the password store. The value is read from standard "
                       "input when it is piped (printf %%s VALUE | main.py secrets set NAME), otherwise asked "
                       "for without showing what you type. It is never taken from the command line.")
    st.add_argument("name", metavar="NAME", help="one of: " + ", ".join(NAMES))
    st.set_defaults(func=_set)
    te = ps.add_parser("test", help="check a secret: ask the vendor about a client ID, or log in to the mail server")
    te.add_argument("name", metavar="NAME")
    te.set_defaults(func=_test)
    rm = ps.add_parser("remove", help="remove a secret from the password store")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(func=_remove)
    im = ps.add_parser("import-env", help="copy the old system's environment variables into the password store")
    im.set_defaults(func=_import)


def _spec(name: str) -> str:
    name = name.strip().upper()
    if name not in SPEC_BY_NAME:
        raise InvalidInput(f"{name!r} is not a WearSync secret. Known names: {', '.join(NAMES)}.")
    return name


def _list(args: argparse.Namespace) -> int:
    with opened_app() as app:
        states = app.secrets.states()
    width = max(len(s.spec.name) for s in states)
    group_w = max(len(s.spec.group) for s in states)
    out(f"{'NAME'.ljust(width)}  {'USED FOR'.ljust(group_w)}  {'STORED':20}  VALUE")
    for st in states:
        used_for = "old system (optional)" if st.spec.name in LEGACY else st.spec.group
        where = {"environment": "environment variable", "keyring": "password store", "missing": "not set"}[st.source]
        out(f"{st.spec.name.ljust(width)}  {used_for.ljust(group_w)}  {where:20}  {st.masked}".rstrip())
    return 0


def _read_value(name: str) -> str:
    if sys.stdin is None or not sys.stdin.isatty():
        raw = sys.stdin.read() if sys.stdin is not None else ""
        value = raw.rstrip("\r\n")
    else:
        value = getpass.getpass(f"{SPEC_BY_NAME[name].label} (typing is not shown): ")
    if not value:
        raise InvalidInput("No value was given, so nothing was stored. Pipe the value in or type it at the prompt.")
    return value


def _set(args: argparse.Namespace) -> int:
    from services import secret_admin

    name = _spec(args.name)
    value = _read_value(name)
    with opened_app() as app:
        secret_admin.set_secret(app, HOST, name, value)
    out(f"{SPEC_BY_NAME[name].label} stored in the password store.")
    return 0


def _test(args: argparse.Namespace) -> int:
    from services import secret_admin

    name = _spec(args.name)
    with opened_app() as app:
        out(secret_admin.test_secret(app, HOST, name))
    return 0


def _remove(args: argparse.Namespace) -> int:
    from services import secret_admin

    name = _spec(args.name)
    with opened_app() as app:
        removed = secret_admin.delete_secret(app, HOST, name)
    out(f"{SPEC_BY_NAME[name].label} removed." if removed else f"{SPEC_BY_NAME[name].label} was not stored.")
    return 0


def _import(args: argparse.Namespace) -> int:
    from services import secret_admin

    with opened_app() as app:
        done = secret_admin.import_secrets(app, HOST)
    out(f"Imported: {', '.join(done)}." if done else "None of the old environment variables is set; nothing imported.")
    return 0
