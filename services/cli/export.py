"""`main.py export` — CSV export.

One patient, one device type, one metric: `export --vendor V --patient P --metric M --start D --end D
[--out FILE]`, to stdout without --out (and nothing else on stdout); a header-only CSV when there are no rows.

For a study: several `--patient` and/or `--metric` (or `--metric all`), optional `--vendor` filters, and
`--out` a new folder or a `.zip` file: one CSV per patient, device type and metric plus `manifest.csv`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.cli.common import opened_app, out, parse_day

# the names of services.data.export.METRICS, spelled out so `--help` does not import the database layer
METRIC_NAMES = ("heart_rate", "steps", "resting_heart_rate", "sleep", "sleep_stages", "respiratory_rate",
                "exercises", "snoring", "daily_activity", "body_measures")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export data as CSV: one metric of one patient, or a study's selection",
                       description="Export stored data as CSV. Timestamps are UTC (ending in Z), each with the "
                       "patient's local time beside it; a row belongs to the patient-local day it falls on (a "
                       "night to the morning it ends). Several --patient or --metric, or --out ending in .zip or "
                       "naming a folder, write one file per patient, device type and metric plus manifest.csv.")
    p.add_argument("--vendor", action="append", metavar="V",
                   help="fitbit, withings or polar (required for a single CSV; a filter for a study export)")
    p.add_argument("--patient", action="append", required=True, metavar="P", help="patient ID; repeat for several")
    p.add_argument("--metric", action="append", required=True, metavar="M",
                   help="one of: " + ", ".join(METRIC_NAMES) + "; repeat for several, or 'all'")
    p.add_argument("--start", required=True, metavar="YYYY-MM-DD", help="first patient-local day")
    p.add_argument("--end", required=True, metavar="YYYY-MM-DD", help="last patient-local day")
    p.add_argument("--out", metavar="FILE|FOLDER|FILE.zip",
                   help="write to this file (one CSV), new folder or ZIP (a study export) instead of stdout")
    p.set_defaults(func=_export)


def _is_study(args: argparse.Namespace, metrics: list[str]) -> bool:
    if len(args.patient) > 1 or len(metrics) > 1 or (args.vendor and len(args.vendor) > 1):
        return True
    if not args.out:
        return False
    target = Path(args.out)
    return target.suffix.lower() == ".zip" or target.is_dir() or args.out.endswith(("/", "\\"))


def _export(args: argparse.Namespace) -> int:
    from services import config
    from services.accounts.actor import HOST
    from services.data.export import check_metric, export_to_file, record_export, write_csv
    from services.errors import InvalidInput

    metrics = list(METRIC_NAMES) if [m.strip().lower() for m in args.metric] == ["all"] else \
        [check_metric(m) for m in args.metric]
    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    if end < start:
        raise InvalidInput(f"--end {end} is before --start {start}. Swap the two dates.")
    if _is_study(args, metrics):
        from services.data.study_export import export_study

        if not args.out:
            raise InvalidInput("Several patients or metrics go into a folder or a ZIP: add --out FOLDER or "
                               "--out FILE.zip.")
        with opened_app() as app:
            result = export_study(app.db, app.audit, HOST, Path(args.out), args.patient, metrics, start, end,
                                  vendors=args.vendor)
        out(result.describe())
        return 0
    if not args.vendor:
        raise InvalidInput("Say which device type to export with --vendor fitbit, withings or polar.")
    vendor = config.check_vendor(args.vendor[0])
    metric, patient = metrics[0], args.patient[0]
    with opened_app() as app:
        if not args.out:
            n = write_csv(app.db, sys.stdout, vendor, patient, metric, start, end)
            sys.stdout.flush()
            record_export(app.audit, HOST, vendor, patient, metric, start, end, n, "standard output")
            return 0
        export_to_file(app.db, app.audit, HOST, Path(args.out), vendor, patient, metric, start, end)
    return 0
