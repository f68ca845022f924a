"""`main.py export --vendor V --patient P --metric M --start D --end D [--out FILE]` — CSV export.

To stdout without --out, and nothing else on stdout; a header-only CSV when there are no rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.cli.common import opened_app, parse_day

# the names of services.data.export.METRICS, spelled out so `--help` does not import the database layer
METRIC_NAMES = ("heart_rate", "steps", "resting_heart_rate", "sleep", "sleep_stages", "respiratory_rate",
                "exercises", "snoring", "daily_activity", "body_measures")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export one metric of one patient as CSV")
    p.add_argument("--vendor", required=True, metavar="V", help="fitbit, withings or polar")
    p.add_argument("--patient", required=True, metavar="P", help="patient ID")
    p.add_argument("--metric", required=True, metavar="M", help="one of: " + ", ".join(METRIC_NAMES))
    p.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first patient-local day")
    p.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="last patient-local day")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from services import config
    from services.accounts.actor import HOST
    from services.data.export import check_metric, export_to_file, record_export, write_csv
    from services.errors import InvalidInput

    vendor = config.check_vendor(args.vendor)
    metric = check_metric(args.metric)
    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    if end < start:
        raise InvalidInput(f"--end {end} is before --start {start}. Swap the two dates.")
    with opened_app() as app:
        if not args.out:
            n = write_csv(app.db, sys.stdout, vendor, args.patient, metric, start, end)
            sys.stdout.flush()
            record_export(app.audit, HOST, vendor, args.patient, metric, start, end, n, "standard output")
            return 0
        export_to_file(app.db, app.audit, HOST, Path(args.out), vendor, args.patient, metric, start, end)
    return 0
