"""`main.py patients list|add|rename|delete|undo` — the host owner's patient management."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from services.accounts.actor import HOST
from services.cli.common import opened_app, out
from services.config import VENDORS
from services.errors import InvalidInput


def register(sub: Any) -> None:
    p = sub.add_parser("patients", help="list, add, rename or delete patients")
    ps = p.add_subparsers(dest="patients_command", required=True,
                          metavar="{list,add,rename,delete,undo,withdraw}")
    ls = ps.add_parser("list", help="list patients and their device connections")
    ls.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    ls.set_defaults(func=_list)
    add = ps.add_parser("add", help="add a patient ID (optionally with device types)")
    add.add_argument("patient")
    add.add_argument("--vendor", action="append", choices=VENDORS, default=[],
                     help="device type; repeat for several")
    add.set_defaults(func=_add)
    rn = ps.add_parser("rename", help="change a patient ID (all device types, or one with --vendor)")
    rn.add_argument("old")
    rn.add_argument("new")
    rn.add_argument("--vendor", choices=VENDORS, help="move only this device type's data to NEW")
    rn.set_defaults(func=_rename)
    de = ps.add_parser("delete", help="delete a patient and its data (undo possible for 24 h)")
    de.add_argument("patient")
    de.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    de.set_defaults(func=_delete)
    un = ps.add_parser("undo", help="undo the last rename or delete")
    un.set_defaults(func=_undo)
    wd = ps.add_parser(
        "withdraw", help="the patient withdraws consent: revoke access at the vendors, keep or delete the data",
        description="Withdraw a patient's consent, as the window's Withdraw dialog does: WearSync revokes its "
        "access at each connected vendor, forgets the tokens, voids enrolment links, and keeps or deletes the "
        "data as the patient agreed. With --vendor only that device type is withdrawn (its data is kept).")
    wd.add_argument("patient")
    wd.add_argument("--vendor", choices=VENDORS, help="withdraw only this device type")
    keep = wd.add_mutually_exclusive_group(required=True)
    keep.add_argument("--keep-data", action="store_true", help="keep the data already downloaded")
    keep.add_argument("--delete-data", action="store_true", help="delete all of the patient's data at once (no undo)")
    wd.add_argument("--force", action="store_true",
                    help="finish even when a vendor cannot be told "
                    "(the patient then removes access in the vendor's app)")
    wd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    wd.set_defaults(func=_withdraw)


def _list(args: argparse.Namespace) -> int:
    with opened_app() as app:
        patients = app.patients.list_patients()
    if args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["patient", "vendor", "status", "last_sync_utc"])
        for p in patients:
            for c in p.connections or []:
                w.writerow([p.code, c.vendor, c.status,
                            c.last_sync_at.strftime("%Y-%m-%dT%H:%M:%SZ") if c.last_sync_at else ""])
            if not p.connections:
                w.writerow([p.code, "", "", ""])
        return 0
    if not patients:
        out("No patients yet. Add one with: main.py patients add P-001 --vendor fitbit")
        return 0
    from services.patients.service import CODE_RULE, is_valid_code

    for p in patients:
        devices = ", ".join(f"{c.vendor} ({c.status.replace('_', ' ')})" for c in p.connections) or "no device"
        mark = "" if is_valid_code(p.code) else "\t[rename this ID: use only " + CODE_RULE + "]"
        out(f"{p.code}\t{devices}{mark}")
    return 0


def _add(args: argparse.Namespace) -> int:
    with opened_app() as app:
        info = app.patients.add(args.patient, args.vendor, HOST)
    out(f"Added patient {info.code}" + (f" ({', '.join(info.vendors)})" if info.vendors else "") + ".")
    return 0


def _rename(args: argparse.Namespace) -> int:
    with opened_app() as app:
        desc = app.patients.rename(args.old, args.new, HOST, vendor=args.vendor)
    out(desc + ". Undo with: main.py patients undo")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with opened_app() as app:
        preview = app.patients.preview_delete(args.patient)
        if not args.yes:
            if not sys.stdin.isatty():
                sys.stderr.write(preview.describe() + " Add --yes to confirm.\n")
                return 1
            answer = input(preview.describe() + " Delete? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                out("Nothing deleted.")
                return 1
        app.patients.delete(args.patient, HOST)
    out(f"Deleted {preview.code} ({preview.total_rows:,} data rows). Undo with: main.py patients undo")
    return 0


def _undo(args: argparse.Namespace) -> int:
    with opened_app() as app:
        desc = app.patients.undo(HOST)
    out(f"Undone: {desc}.")
    return 0


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if sys.stdin is None or not sys.stdin.isatty():
        sys.stderr.write(f"wearsync: {question} Add --yes to confirm.\n")
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _withdraw(args: argparse.Namespace) -> int:
    from services.patients.withdrawal import vendor_revoke, withdraw_patient

    if args.vendor and args.delete_data:
        raise InvalidInput("--delete-data removes all of a patient's data, so it cannot be combined with --vendor. "
                           "Withdraw one device type with --keep-data, or the whole patient with --delete-data.")
    with opened_app() as app:
        preview = app.patients.preview_delete(args.patient)  # unknown patient: one sentence, nothing done
        if args.vendor:
            question = f"Withdraw {args.vendor} for patient {preview.code} (the data is kept)?"
            if not _confirm(question, args.yes):
                return 1
            out(app.connections.revoke(preview.code, args.vendor, HOST).message)
            return 0
        what = (f"and delete all {preview.total_rows:,} data rows at once" if args.delete_data
                else "and keep the data already downloaded")
        if not _confirm(f"Withdraw patient {preview.code} {what}?", args.yes):
            return 1
        withdrawn = withdraw_patient(app, preview.code, HOST, keep_data=args.keep_data,
                                     revoke=vendor_revoke(app, HOST), force=args.force)
    out(withdrawn.describe())
    return 0
