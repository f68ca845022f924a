"""`main.py links create|list|revoke` — enrolment links a patient opens on their own phone.

`links create PATIENT --vendor V [--expires HOURS] [--qr FILE.png]` prints the address alone on standard
output (what else it says goes to standard error), so a script can pass it on; `links list` shows the open
links (`--all`: used, expired and cancelled too); `links revoke ID` cancels one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from services.cli.common import opened_app, out
from services.config import VENDORS


def register(sub: Any) -> None:
    p = sub.add_parser("links", help="enrolment links for patients to connect on their own phone",
                       description="Create, list or cancel enrolment links. A patient opens the link on their "
                       "own phone, reads what is shared, and connects their device account; it works from "
                       "outside the clinic only while the tunnel runs.")
    ps = p.add_subparsers(dest="links_command", required=True, metavar="{create,list,revoke}")
    c = ps.add_parser("create", help="make a link for one patient and device type")
    c.add_argument("patient", metavar="PATIENT")
    c.add_argument("--vendor", required=True, choices=VENDORS, help="the patient's device type")
    c.add_argument("--expires", type=int, metavar="HOURS", help="valid for this many hours (default: the setting)")
    c.add_argument("--qr", metavar="FILE.png", help="also write the link as a QR code picture")
    c.set_defaults(func=_create)
    ls = ps.add_parser("list", help="the open links (--all: used, expired and cancelled too)")
    ls.add_argument("--all", action="store_true")
    ls.set_defaults(func=_list)
    rv = ps.add_parser("revoke", help="cancel a link so it can no longer be used")
    rv.add_argument("id", metavar="ID", help="the link's id from `links list`")
    rv.set_defaults(func=_revoke)


def _write_qr(path: Path, png: bytes) -> None:
    from services.errors import InvalidInput

    if not path.parent.is_dir():
        raise InvalidInput(f"The folder {path.parent} does not exist; the QR code was not written.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".wearsync-qr-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(png)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST
    from services.errors import InvalidInput

    qr = Path(args.qr) if args.qr else None
    if qr is not None and (qr.is_dir() or not qr.parent.is_dir()):
        raise InvalidInput(f"Cannot write the QR code to {qr}: give a file name in an existing folder.")
    with opened_app() as app:
        info = app.connections.create_enrolment_link(args.patient, args.vendor, HOST, hours=args.expires)
    if qr is not None:
        _write_qr(qr, info.qr_png())
    out(info.url)
    sys.stderr.write(f"Link for {info.patient_code} ({info.vendor}), valid until {info.expires_at:%Y-%m-%d %H:%M} UTC."
                     + (f" QR code: {qr}." if qr else "") + "\n")
    if not info.reachable_from_phone:
        sys.stderr.write("Note: the tunnel is not running, so this address only works on this computer. "
                         "Start it with: main.py tunnel start\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    with opened_app() as app:
        rows = app.connections.enrolment_links(include_closed=args.all)
    if not rows:
        out("No open enrolment links." if not args.all else "No enrolment links.")
        return 0
    out("ID          PATIENT       DEVICE    STATE      EXPIRES (UTC)     MADE BY")
    for r in rows:
        out(f"{r.id:<11} {r.patient_code:<13} {r.vendor:<9} {r.state:<10} "
            f"{r.expires_at:%Y-%m-%d %H:%M}  {r.created_by}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST

    with opened_app() as app:
        row = app.connections.revoke_enrolment_link(args.id, HOST)
    out(f"Cancelled the link for {row.patient_code} ({row.vendor}); it can no longer be used.")
    return 0
