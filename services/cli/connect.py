"""`main.py connect VENDOR PATIENT [--no-browser] [--timeout S]` — connect a patient's vendor account.

Starts the callback listener, prints the vendor's consent URL alone on one line of stdout, waits
for the answer, stores the connection (Polar: registers the user) and exits 0; anything else is a
non-zero exit with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from services.cli.common import open_app, out


def register(sub: Any) -> None:
    p = sub.add_parser("connect", help="connect a patient's Fitbit, Withings or Polar account")
    p.add_argument("vendor", metavar="VENDOR", help="fitbit, withings or polar")
    p.add_argument("patient", metavar="PATIENT", help="patient ID (created if it does not exist)")
    p.add_argument("--no-browser", action="store_true", help="only print the consent URL; do not open a browser")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds to wait for the patient's consent (default 600)")
    p.set_defaults(func=_connect)


def _connect(args: argparse.Namespace) -> int:
    from services import config
    from services.accounts.actor import HOST
    from services.connect.service import ConnectFailed
    from services.errors import InvalidInput
    from services.logging_setup import setup_logging

    vendor = config.check_vendor(args.vendor)
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise InvalidInput(f"--timeout must be a positive number of seconds, not {args.timeout}.")
    setup_logging(config.paths().ensure().logs)
    app = open_app()
    try:
        svc = app.connections
        svc.start_listener()  # first: a busy port must fail before anything is created
        pending = svc.begin(args.patient, vendor, HOST)
        out(pending.authorize_url)
        if pending.warning:
            sys.stderr.write(pending.warning + "\n")
        if not args.no_browser:
            _open_browser(pending.authorize_url)
        outcome = svc.wait(pending, timeout=args.timeout)
    finally:
        app.close()  # stops the listener after the patient's page was sent
    if not outcome.ok:
        raise ConnectFailed(outcome.message)
    sys.stderr.write(outcome.message + "\n")
    return 0


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        if not webbrowser.open(url):
            sys.stderr.write("Open the address above in a browser to continue.\n")
    except Exception:
        sys.stderr.write("Open the address above in a browser to continue.\n")
