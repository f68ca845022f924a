"""`main.py data delete|undo` — delete part of a patient's data (a device type, a metric, some days), undo it.

    main.py data delete --patient P [--vendor V] [--metric M] [--start D --end D] [--dry-run] [--exclude]

prints what goes (rows per table, days); without --dry-run it deletes (asking first unless --yes) and prints
the undo command. `main.py data undo` restores the last deletion within 24 hours.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.cli.common import opened_app, out, parse_day

METRIC_NAMES = ("heart_rate", "steps", "resting_heart_rate", "sleep", "sleep_stages", "respiratory_rate",
                "exercises", "snoring", "daily_activity", "body_measures")


def register(sub: Any) -> None:
    p = sub.add_parser("data", help="delete part of a patient's data (with undo for 24 hours)",
                       description="Delete one device type's data, one metric, or some days of one patient "
                       "(patient-local days), after showing exactly what goes. Undo within 24 hours with "
                       "`main.py data undo`.")
    ps = p.add_subparsers(dest="data_command", required=True, metavar="{delete,undo}")
    d = ps.add_parser("delete", help="show what goes, then delete it")
    d.add_argument("--patient", required=True, metavar="P", help="patient ID")
    d.add_argument("--vendor", metavar="V", help="only this device type: fitbit, withings or polar")
    d.add_argument("--metric", metavar="M", help="only this kind of data: " + ", ".join(METRIC_NAMES))
    d.add_argument("--start", metavar="YYYY-MM-DD", help="first patient-local day (with --end)")
    d.add_argument("--end", metavar="YYYY-MM-DD", help="last patient-local day (with --start)")
    d.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    d.add_argument("--exclude", action="store_true", help="do not download these days again")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    d.set_defaults(func=_delete)
    u = ps.add_parser("undo", help="restore the last deletion (within 24 hours)")
    u.set_defaults(func=_undo)


def _delete(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST
    from services.data.deletion import Selection

    start = parse_day(args.start, "--start") if args.start else None
    end = parse_day(args.end, "--end") if args.end else None
    with opened_app() as app:
        preview = app.deletions.preview(Selection(args.patient, args.vendor, args.metric, start, end))
        for table, n in preview.rows.items():
            out(f"{table}\t{n}")
        out(preview.describe())
        if args.dry_run or not preview.total:
            return 0
        if not args.yes:
            if sys.stdin is None or not sys.stdin.isatty():
                sys.stderr.write("wearsync: nothing deleted; add --yes to confirm.\n")
                return 1
            if input("Delete? [y/N] ").strip().lower() not in ("y", "yes"):
                out("Nothing deleted.")
                return 1
        result = app.deletions.delete(preview.selection, HOST, exclude=args.exclude)
    out(result.describe() + " Undo with: main.py data undo")
    return 0


def _undo(args: argparse.Namespace) -> int:
    from services.accounts.actor import HOST

    with opened_app() as app:
        out(app.deletions.undo(HOST))
    return 0
