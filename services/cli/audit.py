"""`main.py audit [--since YYYY-MM-DD]` — the audit trail as CSV on stdout (acts as HOST)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from services.accounts.actor import HOST
from services.cli.common import opened_app, parse_day


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="print the audit trail (who did what and when) as CSV")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only entries from this day on (UTC)")
    p.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> int:
    since = parse_day(args.since, "--since") if args.since else None
    with opened_app() as app:
        text = app.audit.to_csv(since, actor=HOST)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0
