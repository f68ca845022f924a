"""`main.py compliance --start D --end D [--vendor V] [--patient P] [--csv]` — wear per patient ×
device type × patient-local day (the clinic compliance grid, as text).

With --csv, stdout is exactly a CSV: header `patient,vendor,date,wear_minutes,valid` (valid 1/0),
one row per patient × device type × day. Without, a table a coordinator can read.
"""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from services.cli.common import opened_app, out, parse_day

HEADER = ("patient", "vendor", "date", "wear_minutes", "valid")


def register(sub: Any) -> None:
    p = sub.add_parser("compliance", help="wear per patient, device type and day (valid days)")
    p.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first patient-local day")
    p.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="last patient-local day")
    p.add_argument("--vendor", metavar="V", help="only this device type: fitbit, withings or polar")
    p.add_argument("--patient", metavar="P", help="only this patient ID")
    p.add_argument("--csv", action="store_true", help="write CSV to standard output")
    p.set_defaults(func=_compliance)


def _compliance(args: argparse.Namespace) -> int:
    from services import config
    from services.data.sqltime import check_range

    vendor = config.check_vendor(args.vendor) if args.vendor else None
    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    check_range(start, end)
    with opened_app() as app:
        rows = app.compliance.rows(start, end, vendor=vendor, patient=args.patient)
        if args.csv:
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow(HEADER)
            for r in rows:
                w.writerow((r.patient, r.vendor, r.date.isoformat(), r.wear_minutes, 1 if r.valid else 0))
            sys.stdout.flush()
            return 0
        if not rows:
            out("No patient is enrolled for that device type.")
            return 0
        threshold = app.compliance.threshold()
        out(f"Wear from {start} to {end} (Fitbit: minutes with heart rate, valid at {threshold}; "
            "Withings: minutes of the night; Polar: exercise minutes). * = valid day")
        out()
        width = max(len(r.patient) for r in rows)
        out(f"{'Patient':<{width}}  {'Device':<8}  {'Date':<10}  {'Minutes':>7}")
        for r in rows:
            out(f"{r.patient:<{width}}  {r.vendor:<8}  {r.date.isoformat():<10}  {r.wear_minutes:>7}"
                f"{' *' if r.valid else ''}")
        out()
        out("Valid days, worst first:")
        for c in app.compliance.summary(rows):
            out(f"  {c.patient:<{width}}  {c.vendor:<8}  {c.valid_days} of {c.days}")
    return 0
