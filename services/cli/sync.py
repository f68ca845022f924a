"""`main.py sync [--vendor V] [--patient P] [--start D] [--end D]` — download in the foreground.

Dates are patient-local days, inclusive; without dates the daily incremental sync runs. Prints one
line per connection; exit 0 when every download succeeded (days without data are not failures).
A range is a backfill: days already complete are skipped, so a run that was killed or cancelled is
resumed by running the same command again. `--estimate` prints the requests and time it would take
(under each vendor's quota) and downloads nothing. A download that a shutdown or a crash cut short is
recorded as interrupted; the next `sync` says so first (as the window and `--headless` do at start).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from services.cli.common import opened_app, out, parse_day


def register(sub: Any) -> None:
    p = sub.add_parser("sync", help="download data now (all connected patients, or a selection)")
    p.add_argument("--vendor", metavar="V", help="only this device type (fitbit, withings, polar)")
    p.add_argument("--patient", metavar="P", help="only this patient ID")
    p.add_argument("--start", metavar="YYYY-MM-DD", help="first patient-local day")
    p.add_argument("--end", metavar="YYYY-MM-DD", help="last patient-local day (default: today)")
    p.add_argument("--estimate", action="store_true",
                   help="only print how many requests and how long the download would take")
    p.set_defaults(func=_sync)


def _sync(args: argparse.Namespace) -> int:
    from services import config
    from services.errors import InvalidInput
    from services.logging_setup import setup_logging

    vendor = config.check_vendor(args.vendor) if args.vendor else None
    start = parse_day(args.start, "--start") if args.start else None
    end = parse_day(args.end, "--end") if args.end else None
    if end is not None and start is None:
        raise InvalidInput("Give --start too when you give --end (for example --start 2026-11-01).")
    if start is not None and end is not None and end < start:
        raise InvalidInput(f"--end {end} is before --start {start}. Swap the two dates.")
    if args.estimate:
        return _estimate(vendor, args.patient.strip() if args.patient else None, start, end)
    setup_logging(config.paths().ensure().logs)
    with opened_app() as app:
        for note in app.interruptions():  # a download the last WearSync process left unfinished
            out(note.replace("; it was resumed.", "; the next download of those days fetches what it left."))
        run = app.sync.sync_all(vendor=vendor, patient=args.patient.strip() if args.patient else None,
                                start=start, end=end, trigger="cli")
    if not run.results:
        out("Nothing to download: no patient has a connected device yet.")
        return 0
    for r in run.results:
        out(r.summary)
    failed = [r for r in run.results if not r.ok]
    if failed:
        sys.stderr.write(f"wearsync: {len(failed)} of {len(run.results)} downloads did not complete; "
                         "see the lines above.\n")
        return 1
    return 0


def _estimate(vendor: str | None, patient: str | None, start: dt.date | None, end: dt.date | None) -> int:
    from services.errors import InvalidInput
    from services.sync.backfill_estimate import estimate_range, history_warnings
    from services.sync.quota import format_duration

    if start is None:
        raise InvalidInput("Give the days to estimate: --start YYYY-MM-DD (and --end, default today).")
    with opened_app() as app:
        end = end or app.clock.today()
        codes = [patient] if patient else None
        est = estimate_range(app.db, start, end, patient_codes=codes, vendor=vendor)
        warnings = history_warnings(app.db, start, app.clock.today(), patient_codes=codes, vendor=vendor)
    out(est.describe())
    for warning in warnings:
        out(f"Warning: {warning}")
    for v in est.vendors:
        out(f"  {v.vendor}: {v.connections} connection(s), {v.requests:,} requests, "
            f"about {format_duration(v.seconds)}")
    return 0
